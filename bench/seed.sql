-- Benchmark data: enough rows that list queries work against real indexes, not an empty table.
-- 2,000 partner organisations, 500 users, 200,000 audit entries. Run on a migrated, empty database.
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
