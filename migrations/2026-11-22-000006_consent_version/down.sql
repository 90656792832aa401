ALTER TABLE consents DROP COLUMN version;
