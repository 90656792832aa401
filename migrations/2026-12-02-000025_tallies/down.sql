DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['cases', 'suspects', 'charges', 'court_sessions', 'survivors', 'survivor_services',
                             'survivor_closures', 'follow_ups', 'referrals', 'trainings']
    LOOP
        EXECUTE format('DROP TRIGGER %1$s_tally_insert ON %1$I', t);
        EXECUTE format('DROP TRIGGER %1$s_tally_update ON %1$I', t);
        EXECUTE format('DROP TRIGGER %1$s_tally_delete ON %1$I', t);
        EXECUTE format('DROP FUNCTION %s_tally_changed()', t);
    END LOOP;
END;
$$;
DROP FUNCTION tally_merge_shards(integer);
DROP FUNCTION tally_recount(text, uuid[]);
DROP VIEW tally_source;
DROP INDEX survivor_closures_in_force_idx;
DROP TABLE tally_ledger;
DROP TABLE tallies;
