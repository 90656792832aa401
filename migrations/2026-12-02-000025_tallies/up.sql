-- Tallies: the counts behind the dashboard overview and the indicator report, kept by the
-- database as records change, so a period's figures cost the same however many records fill it.
--
-- `tallies` holds, per measure, day, county and up to two values (a, b), how many records count
-- (`records`) and what they add up to (`n`: the same, or people trained), spread over shards: a
-- connection adds to the shard of its own (the server's process id, modulo 64), so writers at the
-- same moment never queue for the same row (all referrals of today from one partner would), and
-- a reader sums the shards. `tally_source` says
-- what every record contributes, straight from the records: it is the definition, the tallies
-- only its sum kept up to date. `tally_ledger` keeps each root record's last counted
-- contribution (a case with its suspects, charges and court sessions; a survivor with her
-- services, closures and follow-ups; a referral; a training), so a change is counted as the
-- difference between the root's new contribution and its old one.

CREATE TABLE tallies (
    measure text   NOT NULL,
    day     date   NOT NULL,
    county  text   NOT NULL,
    a       text   NOT NULL,
    b       text   NOT NULL,
    shard   smallint NOT NULL,
    n       bigint NOT NULL,
    records bigint NOT NULL,
    PRIMARY KEY (measure, day, county, a, b, shard)
);

CREATE TABLE tally_ledger (
    kind    text   NOT NULL,
    root    uuid   NOT NULL,
    measure text   NOT NULL,
    day     date   NOT NULL,
    county  text   NOT NULL,
    a       text   NOT NULL,
    b       text   NOT NULL,
    n       bigint NOT NULL,
    records bigint NOT NULL
);
CREATE INDEX tally_ledger_root_idx ON tally_ledger (root);

-- A survivor has at most one closure in force (closing needs an active restoration, reopening
-- ends the closure), which makes "survivors restored" a count of closures.
CREATE UNIQUE INDEX survivor_closures_in_force_idx ON survivor_closures (survivor_id) WHERE reopened_on IS NULL;

CREATE VIEW tally_source AS
-- Cases by report date, county and stage.
SELECT 'case' AS kind, c.id AS root, 'case' AS measure, c.reported_on AS day, c.county,
       c.stage AS a, '' AS b, 1::bigint AS n, 1::bigint AS records
  FROM cases c
UNION ALL
-- Suspects by their case's report date and county, and status.
SELECT 'case', x.case_id, 'suspect', c.reported_on, c.county, x.status, '', count(*), count(*)
  FROM suspects x JOIN cases c ON c.id = x.case_id
 GROUP BY x.case_id, c.reported_on, c.county, x.status
UNION ALL
-- Suspects by arrest date.
SELECT 'case', x.case_id, 'arrest', x.arrested_on, c.county, '', '', count(*), count(*)
  FROM suspects x JOIN cases c ON c.id = x.case_id
 WHERE x.arrested_on IS NOT NULL
 GROUP BY x.case_id, x.arrested_on, c.county
UNION ALL
-- Court sessions by date, status and whether the survivor is accompanied.
SELECT 'case', cs.case_id, 'court_session', cs.scheduled_on, c.county, cs.status,
       CASE WHEN cs.survivor_accompanied THEN 'accompanied' ELSE 'not_accompanied' END, count(*), count(*)
  FROM court_sessions cs JOIN cases c ON c.id = cs.case_id
 GROUP BY cs.case_id, cs.scheduled_on, c.county, cs.status, 7
UNION ALL
-- Suspects by the filing date of their first charge.
SELECT 'case', f.case_id, 'first_charge', f.day, c.county, '', '', count(*), count(*)
  FROM (SELECT case_id, suspect_id, min(filed_on) AS day FROM charges GROUP BY case_id, suspect_id) f
  JOIN cases c ON c.id = f.case_id
 GROUP BY f.case_id, f.day, c.county
UNION ALL
-- Suspects by the decision date of their first conviction.
SELECT 'case', f.case_id, 'first_conviction', f.day, c.county, '', '', count(*), count(*)
  FROM (SELECT case_id, suspect_id, min(decided_on) AS day FROM charges
         WHERE status = 'convicted' AND decided_on IS NOT NULL GROUP BY case_id, suspect_id) f
  JOIN cases c ON c.id = f.case_id
 GROUP BY f.case_id, f.day, c.county
UNION ALL
-- Cases by report date and the days from the report to the first arrest (for the median).
SELECT 'case', f.case_id, 'days_to_arrest', c.reported_on, c.county, (f.day - c.reported_on)::text, '', 1, 1
  FROM (SELECT case_id, min(arrested_on) AS day FROM suspects GROUP BY case_id) f
  JOIN cases c ON c.id = f.case_id
 WHERE f.day IS NOT NULL
UNION ALL
-- ... and to the first charge.
SELECT 'case', f.case_id, 'days_to_charge', c.reported_on, c.county, (f.day - c.reported_on)::text, '', 1, 1
  FROM (SELECT case_id, min(filed_on) AS day FROM charges GROUP BY case_id) f
  JOIN cases c ON c.id = f.case_id
UNION ALL
-- Survivors by intake date, county and restoration status.
SELECT 'survivor', s.id, 'survivor', s.intake_on, coalesce(s.county, ''), s.restoration_status, '', 1, 1
  FROM survivors s
UNION ALL
-- Services that count (active, or completed or discontinued with an end date), by the day they
-- started and the day they ended: those running on some day of a period are the ones started by
-- its last day less the ones ended before its first.
SELECT 'survivor', v.survivor_id, 'service_start', v.start_on, coalesce(s.county, ''), v.kind, '', count(*), count(*)
  FROM survivor_services v JOIN survivors s ON s.id = v.survivor_id
 WHERE v.start_on IS NOT NULL
   AND (v.status = 'active' OR (v.status IN ('completed', 'discontinued') AND v.end_on IS NOT NULL))
 GROUP BY v.survivor_id, v.start_on, s.county, v.kind
UNION ALL
SELECT 'survivor', v.survivor_id, 'service_end', v.end_on, coalesce(s.county, ''), v.kind, '', count(*), count(*)
  FROM survivor_services v JOIN survivors s ON s.id = v.survivor_id
 WHERE v.start_on IS NOT NULL AND v.end_on IS NOT NULL
   AND v.status IN ('active', 'completed', 'discontinued')
 GROUP BY v.survivor_id, v.end_on, s.county, v.kind
UNION ALL
-- Restorations closed as restored and not reopened, by closure date.
SELECT 'survivor', cl.survivor_id, 'restored', cl.closed_on, coalesce(s.county, ''), '', '', count(*), count(*)
  FROM survivor_closures cl JOIN survivors s ON s.id = cl.survivor_id
 WHERE cl.reason = 'restored' AND cl.reopened_on IS NULL
 GROUP BY cl.survivor_id, cl.closed_on, s.county
UNION ALL
-- Follow-ups done finding restoration sustained, by the date conducted.
SELECT 'survivor', f.survivor_id, 'follow_up_sustained', f.conducted_on, coalesce(s.county, ''), '', '', count(*), count(*)
  FROM follow_ups f JOIN survivors s ON s.id = f.survivor_id
 WHERE f.status = 'done' AND f.outcome = 'sustained'
 GROUP BY f.survivor_id, f.conducted_on, s.county
UNION ALL
-- Referrals by submission day (East Africa Time), county, partner and status.
SELECT 'referral', r.id, 'referral', (r.created_at AT TIME ZONE 'Africa/Nairobi')::date, r.county,
       r.partner_id::text, r.status, 1, 1
  FROM referrals r
UNION ALL
-- People trained by the training's start date, county, audience and sex.
SELECT 'training', t.id, 'trained', t.starts_on, t.county, p->>'audience', v.sex,
       sum(coalesce(v.n, 0))::bigint, count(*)
  FROM trainings t
       CROSS JOIN LATERAL jsonb_array_elements(t.participants) p
       CROSS JOIN LATERAL (VALUES ('female', (p->>'female')::bigint), ('male', (p->>'male')::bigint)) v(sex, n)
 GROUP BY t.id, t.starts_on, t.county, p->>'audience', v.sex;

-- Counts again what the records of `roots` (all of one kind) contribute, and adds the difference
-- to the tallies. Recounts of the same root take turns (the root's row lock), so each one sees
-- what the one before it wrote. A statement updates its tallies in key order, so two statements
-- of writers sharing a shard cannot deadlock each other; a transaction of several counted
-- statements takes their rows statement by statement (every write of the service today either
-- has one counted statement or runs them in key order).
-- Planned once per connection for every kind (a plan for one kind would be made anew each time).
CREATE FUNCTION tally_recount(recount_kind text, roots uuid[]) RETURNS void LANGUAGE plpgsql
    SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF coalesce(cardinality(roots), 0) = 0 THEN
        RETURN;
    END IF;
    CASE recount_kind
        WHEN 'case' THEN PERFORM 1 FROM cases WHERE id = ANY (roots) ORDER BY id FOR NO KEY UPDATE;
        WHEN 'survivor' THEN PERFORM 1 FROM survivors WHERE id = ANY (roots) ORDER BY id FOR NO KEY UPDATE;
        WHEN 'referral' THEN PERFORM 1 FROM referrals WHERE id = ANY (roots) ORDER BY id FOR NO KEY UPDATE;
        WHEN 'training' THEN PERFORM 1 FROM trainings WHERE id = ANY (roots) ORDER BY id FOR NO KEY UPDATE;
    END CASE;
    WITH gone AS (
        DELETE FROM tally_ledger l WHERE l.root = ANY (roots) AND l.kind = recount_kind
        RETURNING l.measure, l.day, l.county, l.a, l.b, l.n, l.records),
    fresh AS (
        INSERT INTO tally_ledger (kind, root, measure, day, county, a, b, n, records)
        SELECT s.kind, s.root, s.measure, s.day, s.county, s.a, s.b, s.n, s.records
          FROM tally_source s WHERE s.kind = recount_kind AND s.root = ANY (roots)
        RETURNING tally_ledger.measure, tally_ledger.day, tally_ledger.county, tally_ledger.a,
                  tally_ledger.b, tally_ledger.n, tally_ledger.records),
    delta AS (
        SELECT d.measure, d.day, d.county, d.a, d.b, sum(d.n) AS n, sum(d.records) AS records
          FROM (SELECT * FROM fresh
                UNION ALL
                SELECT g.measure, g.day, g.county, g.a, g.b, -g.n, -g.records FROM gone g) d
         GROUP BY d.measure, d.day, d.county, d.a, d.b
        HAVING sum(d.n) <> 0 OR sum(d.records) <> 0)
    INSERT INTO tallies AS t (measure, day, county, a, b, shard, n, records)
    SELECT measure, day, county, a, b, pg_backend_pid() % 64, n, records FROM delta ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (measure, day, county, a, b, shard)
    DO UPDATE SET n = t.n + excluded.n, records = t.records + excluded.records;
END;
$$;

-- Folds the shards of each key into shard 0, `batch` rows at a time (`haki serve` runs it with
-- its periodic purges), so a key keeps one row once its writers have moved on. Rows a writer holds
-- are skipped, left for the next round; a writer only ever waits for rows of its own shard, so the
-- fold never deadlocks with one. Returns the rows folded.
CREATE FUNCTION tally_merge_shards(batch integer) RETURNS bigint LANGUAGE sql AS $$
    WITH picked AS (
        SELECT ctid FROM tallies WHERE shard <> 0 LIMIT batch FOR UPDATE SKIP LOCKED),
    gone AS (
        DELETE FROM tallies t USING picked p WHERE t.ctid = p.ctid
        RETURNING t.measure, t.day, t.county, t.a, t.b, t.n, t.records),
    folded AS (
        INSERT INTO tallies AS t (measure, day, county, a, b, shard, n, records)
        SELECT measure, day, county, a, b, 0, sum(n), sum(records) FROM gone
         GROUP BY measure, day, county, a, b ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (measure, day, county, a, b, shard)
        DO UPDATE SET n = t.n + excluded.n, records = t.records + excluded.records
        RETURNING 1)
    SELECT count(*) FROM gone;
$$;

-- After each statement on a counted table, its trigger function (one per table, made below, so
-- its statements are planned once per connection) recounts the roots of the rows inserted or
-- deleted, or whose counted columns changed.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('cases', 'case', 'id', 'id,reported_on,county,stage'),
        ('suspects', 'case', 'case_id', 'case_id,status,arrested_on'),
        ('charges', 'case', 'case_id', 'case_id,suspect_id,filed_on,status,decided_on'),
        ('court_sessions', 'case', 'case_id', 'case_id,scheduled_on,status,survivor_accompanied'),
        ('survivors', 'survivor', 'id', 'id,intake_on,county,restoration_status'),
        ('survivor_services', 'survivor', 'survivor_id', 'survivor_id,kind,status,start_on,end_on'),
        ('survivor_closures', 'survivor', 'survivor_id', 'survivor_id,reason,reopened_on,closed_on'),
        ('follow_ups', 'survivor', 'survivor_id', 'survivor_id,status,outcome,conducted_on'),
        ('referrals', 'referral', 'id', 'id,created_at,county,partner_id,status'),
        ('trainings', 'training', 'id', 'id,starts_on,county,participants')) v(tbl, kind, root, cols)
    LOOP
        EXECUTE format($f$
            CREATE FUNCTION %1$s_tally_changed() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    PERFORM tally_recount(%2$L, (SELECT array_agg(DISTINCT %3$I) FROM new_rows));
                ELSIF TG_OP = 'DELETE' THEN
                    PERFORM tally_recount(%2$L, (SELECT array_agg(DISTINCT %3$I) FROM old_rows));
                ELSE
                    PERFORM tally_recount(%2$L, (
                        SELECT array_agg(DISTINCT r)
                          FROM old_rows o JOIN new_rows n ON n.id = o.id, LATERAL (VALUES (o.%3$I), (n.%3$I)) v(r)
                         WHERE (%4$s) IS DISTINCT FROM (%5$s)));
                END IF;
                RETURN NULL;
            END;
            $body$
            $f$,
            t.tbl, t.kind, t.root,
            (SELECT string_agg(format('o.%I', c), ', ') FROM unnest(string_to_array(t.cols, ',')) c),
            (SELECT string_agg(format('n.%I', c), ', ') FROM unnest(string_to_array(t.cols, ',')) c));
        EXECUTE format('CREATE TRIGGER %1$s_tally_insert AFTER INSERT ON %1$I REFERENCING NEW TABLE AS new_rows
                          FOR EACH STATEMENT EXECUTE FUNCTION %1$s_tally_changed()', t.tbl);
        EXECUTE format('CREATE TRIGGER %1$s_tally_update AFTER UPDATE ON %1$I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                          FOR EACH STATEMENT EXECUTE FUNCTION %1$s_tally_changed()', t.tbl);
        EXECUTE format('CREATE TRIGGER %1$s_tally_delete AFTER DELETE ON %1$I REFERENCING OLD TABLE AS old_rows
                          FOR EACH STATEMENT EXECUTE FUNCTION %1$s_tally_changed()', t.tbl);
    END LOOP;
END;
$$;

-- What is already there.
INSERT INTO tally_ledger (kind, root, measure, day, county, a, b, n, records)
SELECT kind, root, measure, day, county, a, b, n, records FROM tally_source;
INSERT INTO tallies (measure, day, county, a, b, shard, n, records)
SELECT measure, day, county, a, b, 0, sum(n), sum(records) FROM tally_ledger GROUP BY measure, day, county, a, b;
