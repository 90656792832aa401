-- A consent is withdrawn once; its version lets a client withdraw exactly the consent it read
-- (If-Match), like every other state change on one record.
ALTER TABLE consents ADD COLUMN version integer NOT NULL DEFAULT 1;
