-- A survivor's citizenship (ISO 3166-1 alpha-2), as HTCDS records it: children are trafficked
-- into Kenya too. Unknown stays NULL.
ALTER TABLE survivors ADD COLUMN citizenship text CHECK (citizenship ~ '^[A-Z]{2}$');
