//! `haki seed-bench --cases N`: a synthetic dataset for the benchmarks, at the scale of years of
//! records (10,000 to 1,000,000 cases). Generated inside PostgreSQL (`INSERT … SELECT` over
//! `generate_series`), in chunks of one transaction each, so that a million cases take minutes;
//! nothing identifying, no real document bytes (metadata only). Never on a database with records.

use diesel::{
    QueryableByName,
    sql_types::{BigInt, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use crate::db::BoxError;

/// The chunk of cases and what hangs off them.
const CHUNK_SQL: &str = include_str!("seed_bench.sql");
/// Cases per transaction.
pub const CHUNK: u64 = 10_000;
/// The tables a chunk fills whose rows are tallied (migration `tallies`). Within a chunk their
/// per-statement tally triggers are off and the chunk's records are tallied once at its end, in
/// the same transaction: the same tallies, at about half the cost (100,000 cases: 29.8 s without
/// tallies, 47 s with the triggers on, 39 s this way).
const TALLIED: [&str; 8] = [
    "cases",
    "suspects",
    "charges",
    "court_sessions",
    "survivors",
    "survivor_services",
    "follow_ups",
    "referrals",
];

/// The people and organisations a dataset of `cases` cases needs: about a hundred cases per case
/// worker and per aftercare officer, as in a real caseload.
pub struct Scale {
    pub cases: u64,
    pub case_workers: u64,
    pub aftercare_officers: u64,
    pub partners: u64,
}

impl Scale {
    pub fn new(cases: u64) -> Self {
        Scale {
            cases,
            case_workers: (cases / 100).max(10),
            aftercare_officers: (cases / 100).max(10),
            partners: (cases / 100).clamp(60, 2000),
        }
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Fills an empty, migrated database. `password_hash` is given to every generated account (the
/// benchmark signs in as some of them); `progress` is told the cases done after each chunk.
pub async fn seed(
    conn: &mut AsyncPgConnection,
    scale: &Scale,
    password_hash: &str,
    mut progress: impl FnMut(u64),
) -> Result<(), BoxError> {
    let existing: Count = diesel::sql_query("SELECT count(*) AS n FROM cases")
        .get_result(conn)
        .await?;
    if existing.n > 0 {
        return Err(format!(
            "the database already holds {} cases: seed-bench fills an empty database only",
            existing.n
        )
        .into());
    }
    // The people: one admin, a program manager, analysts, case workers, aftercare officers, and
    // the partner organisations with one user each.
    let mut people = String::new();
    for (role, count) in [
        ("admin", 1),
        ("program_manager", 5),
        ("analyst", 5),
        ("case_worker", scale.case_workers),
        ("aftercare_officer", scale.aftercare_officers),
    ] {
        people.push_str(&format!(
            "INSERT INTO users (id, email, display_name, password_hash, role)
             SELECT md5('user-{role}-' || g)::uuid, '{role}' || g || '@bench.haki.test', 'Bench {role} ' || g, $hash$, '{role}'
             FROM generate_series(0, {last}) AS g;\n",
            last = count - 1
        ));
    }
    people.push_str(&format!(
        "INSERT INTO partners (id, name, kind, counties, services_offered, mou_signed_on, active)
         SELECT md5('partner-' || g)::uuid, 'Bench partner ' || g,
                (ARRAY['community_justice_centre','ngo','shelter','police_unit','prosecution'])[1 + g % 5],
                ARRAY[(ARRAY['mombasa','kwale','kilifi'])[1 + g % 3]], ARRAY['legal_support'],
                DATE '2024-01-01' + (g % 365), true
         FROM generate_series(0, {last}) AS g;
         INSERT INTO users (id, email, display_name, password_hash, role, organization_id)
         SELECT md5('user-partner-' || g)::uuid, 'partner' || g || '@bench.haki.test', 'Bench partner desk ' || g,
                $hash$, 'partner', md5('partner-' || g)::uuid
         FROM generate_series(0, {last}) AS g;
         INSERT INTO trainings (id, title, format, topics, starts_on, ends_on, county, participants)
         SELECT md5('training-' || g)::uuid, 'Bench training ' || g, 'workshop', '{{csec_identification}}',
                current_date - (g % 2000), current_date - (g % 2000), (ARRAY['mombasa','kwale','kilifi'])[1 + g % 3],
                '[{{\"audience\": \"police\", \"female\": 6, \"male\": 14}}]'
         FROM generate_series(0, {trainings}) AS g;
         CREATE TEMP TABLE bench_people AS
           SELECT id, role, row_number() OVER (PARTITION BY role ORDER BY email) - 1 AS n FROM users;
         CREATE INDEX ON bench_people (role, n);
         CREATE TEMP TABLE bench_partners AS
           SELECT id, row_number() OVER (ORDER BY name) - 1 AS n FROM partners;
         CREATE INDEX ON bench_partners (n);",
        last = scale.partners - 1,
        trainings = (scale.cases / 20).max(100),
    ));
    let quoted = format!("'{}'", password_hash.replace('\'', "''"));
    conn.batch_execute(&format!("BEGIN; {} COMMIT;", people.replace("$hash$", &quoted)))
        .await?;

    let mut done = 0;
    while done < scale.cases {
        let hi = (done + CHUNK).min(scale.cases);
        let chunk = CHUNK_SQL
            .replace("{lo}", &(done + 1).to_string())
            .replace("{hi}", &hi.to_string())
            .replace("{case_workers}", &scale.case_workers.to_string())
            .replace("{aftercare_officers}", &scale.aftercare_officers.to_string())
            .replace("{partners}", &scale.partners.to_string());
        let triggers = |verb: &str| {
            TALLIED
                .iter()
                .map(|t| format!("ALTER TABLE {t} {verb} TRIGGER {t}_tally_insert;"))
                .collect::<String>()
        };
        conn.batch_execute(&format!(
            "BEGIN; {} {chunk} {} COMMIT;",
            triggers("DISABLE"),
            triggers("ENABLE")
        ))
        .await?;
        done = hi;
        progress(done);
    }
    conn.batch_execute("DROP TABLE bench_people; DROP TABLE bench_partners; ANALYZE;")
        .await?;
    Ok(())
}

/// The email of the `n`-th generated account of `role` (the benchmark signs in as them).
pub fn email(role: &str, n: u64) -> String {
    format!("{role}{n}@bench.haki.test")
}

#[derive(QueryableByName)]
pub struct TableSize {
    #[diesel(sql_type = Text)]
    pub table: String,
    #[diesel(sql_type = BigInt)]
    pub rows: i64,
}

/// Rows per table after seeding (estimates from the statistics `ANALYZE` just gathered).
pub async fn table_sizes(conn: &mut AsyncPgConnection) -> Result<Vec<TableSize>, BoxError> {
    Ok(diesel::sql_query(
        "SELECT relname::text AS table, reltuples::bigint AS rows FROM pg_class c
         JOIN pg_namespace s ON s.oid = c.relnamespace
         WHERE s.nspname = 'public' AND c.relkind = 'r' AND reltuples > 0 ORDER BY reltuples DESC",
    )
    .load(conn)
    .await?)
}
