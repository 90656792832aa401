-- Benchmark data: enough rows that list queries work against real indexes, not an empty table.
-- 2,000 partner organisations, 500 users, 200,000 audit entries, 20,000 cases. Run on a migrated, empty database.
INSERT INTO partners (id, name, kind, counties, services_offered, mou_signed_on, active)
SELECT gen_random_uuid(), 'Bench partner ' || g,
       (ARRAY['community_justice_centre','ngo','shelter','police_unit','prosecution'])[1 + g % 5],
       ARRAY[(ARRAY['mombasa','kwale','kilifi'])[1 + g % 3]],
       ARRAY['legal_support'], DATE '2024-01-01' + (g % 365), g % 10 <> 0
FROM generate_series(1, 2000) AS g;

-- Ids must be time-ordered like the service's UUIDv7s; gen_random_uuid() order is fine for a
-- benchmark because keyset pagination only needs a total order.
INSERT INTO users (id, email, display_name, password_hash, role)
SELECT gen_random_uuid(), 'bench' || g || '@haki.test', 'Bench user ' || g, 'not-a-real-hash',
       (ARRAY['program_manager','case_worker','aftercare_officer','analyst'])[1 + g % 4]
FROM generate_series(1, 500) AS g;

INSERT INTO audit_log (actor_id, actor_role, action, resource_type, resource_id, request_id, client_addr)
SELECT NULL, 'case_worker', (ARRAY['case.read','case.update','survivor.read'])[1 + g % 3], 'case',
       md5(g::text), md5((g * 7)::text), '10.0.0.' || (g % 250)
FROM generate_series(1, 200000) AS g;

ANALYZE;

-- 20,000 cases across the three coastal counties, a third of them with a suspect and a charge,
-- and court sessions for the charged ones; one case worker assigned to every tenth case.
INSERT INTO cases (id, reference, county, sub_county, location_type, exploitation_types, reported_on,
                   incident_on, risk_level, summary, stage, last_activity_on)
SELECT gen_random_uuid(), 'CSEC-BEN-' || g, (ARRAY['mombasa','kwale','kilifi'])[1 + g % 3], NULL,
       (ARRAY['hotel','villa_short_term_rental','private_home','street'])[1 + g % 4],
       ARRAY['sexual_exploitation_in_prostitution'], current_date - (g % 1500), current_date - (g % 1500) - 3,
       (ARRAY['low','medium','high','critical'])[1 + g % 4], 'Benchmark case ' || g,
       (ARRAY['reported','investigation','suspect_arrested','charged','trial'])[1 + g % 5],
       current_date - (g % 200)
FROM generate_series(1, 20000) AS g;

INSERT INTO suspects (id, case_id, name, role, relationship, status, arrested_on)
SELECT gen_random_uuid(), c.id, 'Suspect', (ARRAY['customer','recruiter','agent'])[1 + n % 3],
       (ARRAY['tourist','caregiver','stranger'])[1 + n % 3], 'arrested', c.reported_on + 30
FROM (SELECT id, reported_on, row_number() OVER () AS n FROM cases) c WHERE c.n % 3 = 0;

INSERT INTO charges (id, suspect_id, case_id, offence_code, filed_on)
SELECT gen_random_uuid(), s.id, s.case_id, 'soa-8-3', s.arrested_on + 5 FROM suspects s;

INSERT INTO court_sessions (id, case_id, court, scheduled_on, purpose, status, adjournment_reason)
SELECT gen_random_uuid(), ch.case_id, 'Mombasa Law Courts', ch.filed_on + 30 * k, 'hearing',
       CASE WHEN k % 2 = 0 THEN 'adjourned' ELSE 'held' END,
       CASE WHEN k % 2 = 0 THEN 'prosecution_not_ready' END
FROM charges ch CROSS JOIN generate_series(1, 4) AS k;

INSERT INTO case_assignments (id, case_id, user_id, role)
SELECT gen_random_uuid(), c.id, (SELECT id FROM users WHERE role = 'case_worker' ORDER BY id LIMIT 1), 'investigator'
FROM (SELECT id, row_number() OVER () AS n FROM cases) c WHERE c.n % 10 = 0;

ANALYZE;

-- 20,000 survivors, one on each case: counselling or other services for each, an intake
-- assessment for most, a research consent for a third, the closed tenth with a follow-up due;
-- 9,000 referrals from the partners and 1,000 trainings.
INSERT INTO survivors (id, pseudonym, sex, birth_year, intake_on, county, restoration_status, closed_on, closure_reason)
SELECT gen_random_uuid(), 'Bench survivor ' || g, 'female', 2008 + g % 8, current_date - (g % 1500),
       (ARRAY['mombasa','kwale','kilifi'])[1 + g % 3],
       CASE WHEN g % 10 = 0 THEN 'closed' ELSE 'active' END,
       CASE WHEN g % 10 = 0 THEN current_date - (g % 700) END,
       CASE WHEN g % 10 = 0 THEN 'restored' END
FROM generate_series(1, 20000) AS g;

INSERT INTO case_survivors (case_id, survivor_id)
SELECT c.id, s.id
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM cases) c
JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM survivors) s USING (n);

INSERT INTO survivor_services (id, survivor_id, kind, status, start_on, end_on)
SELECT gen_random_uuid(), s.id, (ARRAY['trauma_counselling','education','shelter','livelihood'])[1 + s.n % 4],
       CASE WHEN s.n % 3 = 0 THEN 'completed' ELSE 'active' END, s.intake_on + 5,
       CASE WHEN s.n % 3 = 0 THEN s.intake_on + 200 END
FROM (SELECT id, intake_on, row_number() OVER () AS n FROM survivors) s;

INSERT INTO assessments (id, survivor_id, kind, assessed_on, safety, legal_protection, mental_wellbeing,
                         economic_empowerment_education, social_support, physical_wellbeing)
SELECT gen_random_uuid(), s.id, 'intake', s.intake_on, 20, 20, 20, 20, 20, 20
FROM (SELECT id, intake_on, row_number() OVER () AS n FROM survivors) s WHERE s.n % 5 <> 0;

INSERT INTO consents (id, survivor_id, purpose, given_by, given_on, expires_on)
SELECT gen_random_uuid(), s.id, 'research', 'guardian', s.intake_on, s.intake_on + 1000
FROM (SELECT id, intake_on, row_number() OVER () AS n FROM survivors) s WHERE s.n % 3 = 0;

INSERT INTO follow_ups (id, survivor_id, due_on)
SELECT gen_random_uuid(), id, closed_on + 730 FROM survivors WHERE restoration_status = 'closed';

INSERT INTO referrals (id, partner_id, external_id, status, urgency, child_alias, sex, age, county, concern,
                       indicators, whereabouts, safe_tonight, consent_given_by, consent_obtained_on,
                       acknowledged_at, concluded_at, conclusion_reason, created_at)
SELECT gen_random_uuid(), p.id, 'B-' || g,
       (ARRAY['submitted','acknowledged','declined'])[1 + g % 3],
       (ARRAY['routine','urgent','emergency'])[1 + g % 3], 'B.R.', 'female', 14,
       (ARRAY['mombasa','kwale','kilifi'])[1 + g % 3], 'Benchmark referral', '{false_promises}',
       'with_family', true, 'guardian', current_date - (g % 1500),
       CASE WHEN g % 3 <> 0 THEN now() - (g % 1500) * interval '1 day' END,
       CASE WHEN g % 3 = 2 THEN now() - (g % 1500) * interval '1 day' END,
       CASE WHEN g % 3 = 2 THEN 'Outside the program' END,
       now() - (g % 1500) * interval '1 day' - interval '1 hour'
FROM generate_series(1, 9000) AS g
JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM partners) p ON p.n = 1 + g % 2000;

INSERT INTO trainings (id, title, format, topics, starts_on, ends_on, county, participants)
SELECT gen_random_uuid(), 'Bench training ' || g, 'workshop', '{csec_identification}',
       current_date - (g % 1500), current_date - (g % 1500), (ARRAY['mombasa','kwale','kilifi'])[1 + g % 3],
       '[{"audience": "police", "female": 6, "male": 14}]'
FROM generate_series(1, 1000) AS g;

ANALYZE;
