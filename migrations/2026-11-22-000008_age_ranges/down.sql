-- Age in whole years on a day, from the birth year or from the age at intake.
CREATE FUNCTION survivor_age_on(birth_year integer, age_at_intake integer, intake_on date, day date)
RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN birth_year IS NOT NULL THEN extract(year FROM day)::integer - birth_year
                ELSE age_at_intake - (extract(year FROM intake_on)::integer - extract(year FROM day)::integer) END
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
                  -- Ages from years alone are the computed one or one year less: flag only when
                  -- neither fits the subsection.
                  AND NOT EXISTS (SELECT 1 FROM case_survivors cv JOIN survivors sv ON sv.id = cv.survivor_id
                                   WHERE cv.case_id = c.id AND cv.role <> 'witness'
                                     AND survivor_age_on(sv.birth_year, sv.age_at_intake, sv.intake_on,
                                                         coalesce(c.incident_on, c.reported_on))
                                         BETWEEN o.child_age_min AND o.child_age_max + 1)) AS age_charge_mismatch
FROM cases c;

DROP FUNCTION survivor_age_range(integer, integer, date, date);
