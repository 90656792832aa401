DROP INDEX cases_activity_idx;
