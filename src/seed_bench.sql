-- One chunk of the synthetic benchmark dataset (`haki seed-bench`): the cases numbered
-- {lo} to {hi} and everything that hangs off them. Ids are derived from the case's number, so a
-- chunk joins its own rows without looking anything up; the people and partners it refers to
-- were made first (`bench_people`). Realistic shares: two thirds of the cases have a suspect,
-- most of those a charge and court sessions; every case has a survivor with services and
-- assessments; half a referral, a document and five audit entries per case.

INSERT INTO cases (id, reference, county, sub_county, location_type, exploitation_types, reported_on,
                   incident_on, risk_level, summary, stage, closure_reason, closed_on, last_activity_on,
                   created_by, created_at)
SELECT md5('case' || g)::uuid, 'BENCH-' || lpad(g::text, 8, '0'),
       (ARRAY['mombasa','kwale','kilifi','mombasa','kilifi','lamu','tana_river'])[1 + g % 7],
       NULL,
       (ARRAY['hotel','villa_short_term_rental','private_home','street','online','brothel'])[1 + g % 6],
       ARRAY['sexual_exploitation_in_prostitution'],
       current_date - (g % 2000), current_date - (g % 2000) - 3,
       (ARRAY['low','medium','high','critical'])[1 + g % 4], 'Synthetic case ' || g,
       (ARRAY['reported','investigation','suspect_arrested','charged','trial','judgment','closed'])[1 + g % 7],
       CASE WHEN g % 7 = 6 THEN (ARRAY['convicted','acquitted','withdrawn'])[1 + g % 3] END,
       CASE WHEN g % 7 = 6 THEN LEAST(current_date - (g % 2000) + 400, current_date) END,
       current_date - (g % 300),
       p.id,
       now() - (g % 2000) * interval '1 day'
FROM generate_series({lo}, {hi}) AS g
JOIN bench_people p ON p.role = 'case_worker' AND p.n = g % {case_workers};

INSERT INTO case_assignments (id, case_id, user_id, role)
SELECT md5('assign' || g)::uuid, md5('case' || g)::uuid, p.id, 'lead_investigator'
FROM generate_series({lo}, {hi}) AS g
JOIN bench_people p ON p.role = 'case_worker' AND p.n = g % {case_workers};

INSERT INTO suspects (id, case_id, name, role, relationship, status, arrested_on)
SELECT md5('suspect' || g)::uuid, md5('case' || g)::uuid, 'Suspect ' || g,
       (ARRAY['customer','recruiter','agent','pimp'])[1 + g % 4],
       (ARRAY['tourist','caregiver','stranger','neighbour'])[1 + g % 4],
       CASE WHEN g % 3 = 1 THEN 'at_large' ELSE 'arrested' END,
       CASE WHEN g % 3 = 1 THEN NULL ELSE current_date - (g % 2000) + 20 END
FROM generate_series({lo}, {hi}) AS g WHERE g % 3 <> 0 AND current_date - (g % 2000) + 20 <= current_date;

INSERT INTO charges (id, suspect_id, case_id, offence_code, filed_on)
SELECT md5('charge' || g)::uuid, md5('suspect' || g)::uuid, md5('case' || g)::uuid, 'soa-8-3',
       current_date - (g % 2000) + 25
FROM generate_series({lo}, {hi}) AS g WHERE g % 3 = 2 AND current_date - (g % 2000) + 25 <= current_date;

INSERT INTO court_sessions (id, case_id, court, scheduled_on, purpose, status, adjournment_reason)
SELECT md5('session' || g || '-' || k)::uuid, md5('case' || g)::uuid, 'Mombasa Law Courts',
       current_date - (g % 2000) + 25 + 30 * k,
       (ARRAY['plea','mention','hearing','hearing','survivor_testimony'])[k],
       CASE WHEN current_date - (g % 2000) + 25 + 30 * k > current_date THEN 'scheduled'
            WHEN k % 2 = 0 THEN 'adjourned' ELSE 'held' END,
       CASE WHEN current_date - (g % 2000) + 25 + 30 * k <= current_date AND k % 2 = 0 THEN 'prosecution_not_ready' END
FROM generate_series({lo}, {hi}) AS g CROSS JOIN generate_series(1, 5) AS k
WHERE g % 3 = 2 AND current_date - (g % 2000) + 25 <= current_date;

INSERT INTO survivors (id, pseudonym, sex, birth_year, intake_on, county, restoration_status, closed_on, closure_reason, created_at)
SELECT md5('survivor' || g)::uuid, 'Survivor ' || g, 'female', extract(year FROM current_date)::int - 12 - g % 6,
       current_date - (g % 2000), (ARRAY['mombasa','kwale','kilifi'])[1 + g % 3],
       CASE WHEN g % 10 = 0 THEN 'closed' ELSE 'active' END,
       CASE WHEN g % 10 = 0 THEN current_date - (g % 2000) / 2 END,
       CASE WHEN g % 10 = 0 THEN 'restored' END,
       now() - (g % 2000) * interval '1 day'
FROM generate_series({lo}, {hi}) AS g;

INSERT INTO case_survivors (case_id, survivor_id)
SELECT md5('case' || g)::uuid, md5('survivor' || g)::uuid FROM generate_series({lo}, {hi}) AS g;

INSERT INTO survivor_assignments (id, survivor_id, user_id, role)
SELECT md5('sassign' || g)::uuid, md5('survivor' || g)::uuid, p.id, 'counsellor'
FROM generate_series({lo}, {hi}) AS g
JOIN bench_people p ON p.role = 'aftercare_officer' AND p.n = g % {aftercare_officers};

INSERT INTO consents (id, survivor_id, purpose, given_by, given_on, expires_on)
SELECT md5('consent' || g || '-' || k)::uuid, md5('survivor' || g)::uuid,
       (ARRAY['services','research'])[k], 'guardian', current_date - (g % 2000), current_date - (g % 2000) + 1500
FROM generate_series({lo}, {hi}) AS g CROSS JOIN generate_series(1, 2) AS k WHERE k = 1 OR g % 3 = 0;

INSERT INTO survivor_services (id, survivor_id, kind, status, start_on, end_on)
SELECT md5('service' || g || '-' || k)::uuid, md5('survivor' || g)::uuid,
       (ARRAY['trauma_counselling','education','shelter','livelihood','medical'])[1 + (g + k) % 5],
       CASE WHEN k = 1 AND g % 3 = 0 THEN 'completed' ELSE 'active' END,
       current_date - (g % 2000) + 5,
       CASE WHEN k = 1 AND g % 3 = 0 THEN current_date - (g % 2000) + 200 END
FROM generate_series({lo}, {hi}) AS g CROSS JOIN generate_series(1, 2) AS k;

INSERT INTO assessments (id, survivor_id, kind, assessed_on, safety, legal_protection, mental_wellbeing,
                         economic_empowerment_education, social_support, physical_wellbeing)
SELECT md5('assessment' || g || '-' || k)::uuid, md5('survivor' || g)::uuid,
       (ARRAY['intake','six_month'])[k], current_date - (g % 2000) + (k - 1) * 180,
       20 + 5 * k, 20 + 5 * k, 20, 30, 30, 20 + 5 * k
FROM generate_series({lo}, {hi}) AS g CROSS JOIN generate_series(1, 2) AS k
WHERE current_date - (g % 2000) + (k - 1) * 180 <= current_date;

INSERT INTO follow_ups (id, survivor_id, due_on)
SELECT md5('followup' || g)::uuid, md5('survivor' || g)::uuid, current_date - (g % 2000) / 2 + 730
FROM generate_series({lo}, {hi}) AS g WHERE g % 10 = 0;

INSERT INTO referrals (id, partner_id, external_id, status, urgency, child_alias, sex, age, county, concern,
                       indicators, whereabouts, safe_tonight, consent_given_by, consent_obtained_on,
                       acknowledged_at, concluded_at, conclusion_reason, created_at)
SELECT md5('referral' || g)::uuid, p.id, 'BENCH-' || g,
       (ARRAY['submitted','acknowledged','declined'])[1 + g % 3],
       (ARRAY['routine','urgent','emergency'])[1 + g % 3], 'B.R.', 'female', 14,
       (ARRAY['mombasa','kwale','kilifi'])[1 + g % 3], 'Synthetic referral', '{false_promises}',
       'with_family', true, 'guardian', current_date - (g % 2000),
       CASE WHEN g % 3 <> 0 THEN now() - (g % 2000) * interval '1 day' END,
       CASE WHEN g % 3 = 2 THEN now() - (g % 2000) * interval '1 day' END,
       CASE WHEN g % 3 = 2 THEN 'Outside the program' END,
       now() - (g % 2000) * interval '1 day' - interval '1 hour'
FROM generate_series({lo}, {hi}) AS g
JOIN bench_partners p ON p.n = g % {partners}
WHERE g % 2 = 0;

INSERT INTO documents (id, case_id, kind, title, document_date, identifying, content_type, size_bytes,
                       sha256, key_id, key_nonce, wrapped_key, uploaded_by, created_at)
SELECT md5('document' || g)::uuid, md5('case' || g)::uuid, 'p3_form', 'P3 form', current_date - (g % 2000),
       false, 'application/pdf', 150000 + g % 50000,
       decode(md5('a' || g) || md5('b' || g), 'hex'), 'bench', decode(md5('n' || g), 'hex'),
       decode(md5('k' || g) || md5('w' || g), 'hex'), p.id, now() - (g % 2000) * interval '1 day'
FROM generate_series({lo}, {hi}) AS g
JOIN bench_people p ON p.role = 'case_worker' AND p.n = g % {case_workers};

INSERT INTO audit_log (at, actor_id, actor_role, action, resource_type, resource_id, request_id, client_addr)
SELECT now() - (g % 2000) * interval '1 day' + k * interval '1 minute', p.id, 'case_worker',
       (ARRAY['case.create','case.read','case.update','case.read','survivor.read'])[k], 'case',
       md5('case' || g)::uuid::text, md5('request' || g || '-' || k), '10.0.' || (g % 250) || '.' || k
FROM generate_series({lo}, {hi}) AS g CROSS JOIN generate_series(1, 5) AS k
JOIN bench_people p ON p.role = 'case_worker' AND p.n = g % {case_workers};

-- The chunk's tallies, counted once per record it tallies under (`seed_bench.rs`: the tally
-- triggers are off for the chunk).
SELECT tally_recount('case', ARRAY(SELECT md5('case' || g)::uuid FROM generate_series({lo}, {hi}) AS g));
SELECT tally_recount('survivor', ARRAY(SELECT md5('survivor' || g)::uuid FROM generate_series({lo}, {hi}) AS g));
SELECT tally_recount('referral', ARRAY(SELECT md5('referral' || g)::uuid FROM generate_series({lo}, {hi}) AS g WHERE g % 2 = 0));
