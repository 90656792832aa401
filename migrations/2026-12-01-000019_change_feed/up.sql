-- The change feed: every create and update of cases, survivors (the pseudonymous record; the
-- identity vault is not tracked), referrals, trainings and partners, written by triggers in the
-- transaction of the change. Entries are read in the order of their transaction ids, and only
-- once every transaction with a smaller id has finished (xid < the oldest one still running), so
-- a reader's position never skips an entry that commits later: no gaps, no repeats.
CREATE TABLE changes (
    seq           bigserial PRIMARY KEY,
    xid           xid8 NOT NULL DEFAULT pg_current_xact_id(),
    resource_type text NOT NULL CHECK (resource_type IN ('case', 'survivor', 'referral', 'training', 'partner')),
    resource_id   uuid NOT NULL,
    op            text NOT NULL CHECK (op IN ('create', 'update')),
    changed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX changes_order_idx ON changes (xid, seq);

CREATE FUNCTION haki_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO changes (resource_type, resource_id, op)
    VALUES (TG_ARGV[0], NEW.id, CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE 'update' END);
    RETURN NULL;
END;
$$;

-- An update that changes nothing (the touch trigger keeps such a row as it was) is no change.
CREATE TRIGGER cases_created AFTER INSERT ON cases
    FOR EACH ROW EXECUTE FUNCTION haki_record_change('case');
CREATE TRIGGER cases_changed AFTER UPDATE ON cases
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION haki_record_change('case');
CREATE TRIGGER survivors_created AFTER INSERT ON survivors
    FOR EACH ROW EXECUTE FUNCTION haki_record_change('survivor');
CREATE TRIGGER survivors_changed AFTER UPDATE ON survivors
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION haki_record_change('survivor');
CREATE TRIGGER referrals_created AFTER INSERT ON referrals
    FOR EACH ROW EXECUTE FUNCTION haki_record_change('referral');
CREATE TRIGGER referrals_changed AFTER UPDATE ON referrals
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION haki_record_change('referral');
CREATE TRIGGER trainings_created AFTER INSERT ON trainings
    FOR EACH ROW EXECUTE FUNCTION haki_record_change('training');
CREATE TRIGGER trainings_changed AFTER UPDATE ON trainings
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION haki_record_change('training');
CREATE TRIGGER partners_created AFTER INSERT ON partners
    FOR EACH ROW EXECUTE FUNCTION haki_record_change('partner');
CREATE TRIGGER partners_changed AFTER UPDATE ON partners
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION haki_record_change('partner');
