ALTER TABLE idempotency_keys DROP COLUMN claim_id, DROP COLUMN committed;
