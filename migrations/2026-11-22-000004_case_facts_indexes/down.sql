DROP INDEX suspects_facilitator_idx;
