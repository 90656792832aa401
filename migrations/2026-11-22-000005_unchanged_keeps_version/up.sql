-- An UPDATE that changes nothing a client can see keeps the row's version and updated_at: a
-- `PATCH {}` (or one repeating the current values) must not invalidate the ETag another client
-- holds. Every versioned table already runs this function before each UPDATE.
CREATE OR REPLACE FUNCTION haki_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (to_jsonb(NEW) - 'version' - 'updated_at' - 'updated_by')
       = (to_jsonb(OLD) - 'version' - 'updated_at' - 'updated_by') THEN
        NEW := OLD;
    ELSE
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;
