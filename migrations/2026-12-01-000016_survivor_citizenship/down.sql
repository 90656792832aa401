ALTER TABLE survivors DROP COLUMN citizenship;
