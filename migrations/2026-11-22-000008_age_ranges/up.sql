-- Ages known only from a birth year or an age at intake are ranges, not points: born some day of
-- the birth year, or between A+1 years less a day and A years before intake. Age on a day is the
-- range of whole years completed across those birth dates (never below 0).
CREATE FUNCTION survivor_age_range(birth_year integer, age_at_intake integer, intake_on date, day date)
RETURNS int4range LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN birth_year IS NOT NULL THEN
            int4range(greatest(0, date_part('year', age(day::timestamp, make_date(birth_year, 12, 31)::timestamp))::integer),
                      greatest(0, date_part('year', age(day::timestamp, make_date(birth_year, 1, 1)::timestamp))::integer), '[]')
        WHEN age_at_intake IS NOT NULL THEN
            int4range(greatest(0, date_part('year', age(day::timestamp, (intake_on - make_interval(years => age_at_intake))::date::timestamp))::integer),
                      greatest(0, date_part('year', age(day::timestamp, ((intake_on - make_interval(years => age_at_intake + 1))::date + 1)::timestamp))::integer), '[]')
    END
$$;

CREATE OR REPLACE VIEW case_facts AS
SELECT c.id AS case_id,
       (SELECT min(s.arrested_on) FROM suspects s WHERE s.case_id = c.id) - c.reported_on AS days_to_first_arrest,
       (SELECT min(ch.filed_on) FROM charges ch WHERE ch.case_id = c.id) - c.reported_on AS days_to_first_charge,
       (SELECT count(*) FROM court_sessions cs WHERE cs.case_id = c.id AND cs.status = 'held') AS court_sessions_held,
       (SELECT count(*) FROM court_sessions cs WHERE cs.case_id = c.id AND cs.status = 'adjourned') AS court_sessions_adjourned,
       (SELECT min(cs.scheduled_on) FROM court_sessions cs
         WHERE cs.case_id = c.id AND cs.status = 'scheduled' AND cs.scheduled_on >= (now() AT TIME ZONE 'Africa/Nairobi')::date) AS next_court_date,
       (c.stage <> 'closed' AND c.last_activity_on < (now() AT TIME ZONE 'Africa/Nairobi')::date - 30) AS stalled,
       (EXISTS (SELECT 1 FROM suspects s
                 WHERE s.case_id = c.id
                   AND (s.role IN ('recruiter', 'agent', 'pimp', 'transporter', 'harbourer', 'facilitator')
                        OR s.relationship IN ('parent', 'caregiver')))
        AND NOT EXISTS (SELECT 1 FROM charges ch JOIN offences o ON o.code = ch.offence_code
                         WHERE ch.case_id = c.id AND o.statute = 'counter_trafficking_act_2010'
                           AND ch.status <> 'withdrawn')) AS ctip_gap,
       EXISTS (SELECT 1 FROM charges ch JOIN offences o ON o.code = ch.offence_code
                WHERE ch.case_id = c.id AND ch.status <> 'withdrawn'
                  AND o.child_age_min IS NOT NULL AND o.child_age_max IS NOT NULL
                  AND EXISTS (SELECT 1 FROM case_survivors cv
                               WHERE cv.case_id = c.id AND cv.role <> 'witness')
                  -- Ages known only from a birth year or an age at intake are ranges: flag only
                  -- when no victim's range meets the subsection's ages (an unknown age never flags).
                  AND NOT EXISTS (SELECT 1 FROM case_survivors cv JOIN survivors sv ON sv.id = cv.survivor_id
                                   WHERE cv.case_id = c.id AND cv.role <> 'witness'
                                     AND coalesce(survivor_age_range(sv.birth_year, sv.age_at_intake, sv.intake_on,
                                                                     coalesce(c.incident_on, c.reported_on))
                                                  && int4range(o.child_age_min, o.child_age_max, '[]'), true))) AS age_charge_mismatch
FROM cases c;

DROP FUNCTION survivor_age_on(integer, integer, date, date);
