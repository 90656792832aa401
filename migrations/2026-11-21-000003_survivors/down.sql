CREATE OR REPLACE VIEW case_facts AS
SELECT c.id AS case_id,
       (SELECT min(s.arrested_on) FROM suspects s WHERE s.case_id = c.id) - c.reported_on AS days_to_first_arrest,
       (SELECT min(ch.filed_on) FROM charges ch WHERE ch.case_id = c.id) - c.reported_on AS days_to_first_charge,
       (SELECT count(*) FROM court_sessions cs WHERE cs.case_id = c.id AND cs.status = 'held') AS court_sessions_held,
       (SELECT count(*) FROM court_sessions cs WHERE cs.case_id = c.id AND cs.status = 'adjourned') AS court_sessions_adjourned,
       (SELECT min(cs.scheduled_on) FROM court_sessions cs
         WHERE cs.case_id = c.id AND cs.status = 'scheduled' AND cs.scheduled_on >= current_date) AS next_court_date,
       (c.stage <> 'closed' AND c.last_activity_on < current_date - 30) AS stalled,
       (EXISTS (SELECT 1 FROM suspects s
                 WHERE s.case_id = c.id
                   AND (s.role IN ('recruiter', 'agent', 'pimp', 'transporter', 'harbourer', 'facilitator')
                        OR s.relationship IN ('parent', 'caregiver')))
        AND NOT EXISTS (SELECT 1 FROM charges ch JOIN offences o ON o.code = ch.offence_code
                         WHERE ch.case_id = c.id AND o.statute = 'counter_trafficking_act_2010'
                           AND ch.status <> 'withdrawn')) AS ctip_gap,
       false AS age_charge_mismatch
FROM cases c;
DROP TABLE follow_ups;
DROP TABLE survivor_closures;
DROP TABLE assessments;
DROP TABLE service_sessions;
DROP TABLE survivor_services;
DROP TABLE consents;
DROP TABLE survivor_assignments;
DROP TABLE case_survivors;
DROP TABLE survivor_identities;
DROP FUNCTION survivor_age_on(integer, integer, date, date);
DROP TABLE survivors;
