-- A claim on an Idempotency-Key names the request holding it, and records, in the same
-- transaction as the action, that the action committed. A claim whose request died is released
-- only if its action never committed, so no action runs twice.
ALTER TABLE idempotency_keys
    ADD COLUMN claim_id  uuid,
    ADD COLUMN committed boolean NOT NULL DEFAULT false;
