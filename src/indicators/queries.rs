use chrono::NaiveDate;
use diesel::{
    prelude::*,
    sql_types::{BigInt, Date, Nullable, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    dto::TargetFilter,
    models::{Indicator, TargetRow},
};
use crate::{db::schema::indicator_targets, ids::IndicatorTargetId, vocab::County};

/// Every indicator's result over a period, in one statement (see `definitions.rs`).
#[derive(Debug, QueryableByName)]
pub struct Results {
    #[diesel(sql_type = BigInt)]
    pub survivors_relieved: i64,
    #[diesel(sql_type = BigInt)]
    pub perpetrators_restrained: i64,
    #[diesel(sql_type = BigInt)]
    pub people_trained: i64,
    #[diesel(sql_type = BigInt)]
    pub active_partnerships: i64,
    #[diesel(sql_type = BigInt)]
    pub cases_reported: i64,
    #[diesel(sql_type = BigInt)]
    pub suspects_charged: i64,
    #[diesel(sql_type = BigInt)]
    pub convictions: i64,
    #[diesel(sql_type = BigInt)]
    pub survivors_restored: i64,
    #[diesel(sql_type = BigInt)]
    pub court_sessions_supported: i64,
    #[diesel(sql_type = BigInt)]
    pub follow_ups_sustained: i64,
    #[diesel(sql_type = BigInt)]
    pub referrals_received: i64,
}

impl Results {
    pub fn get(&self, indicator: Indicator) -> i64 {
        use Indicator::*;
        match indicator {
            SurvivorsRelieved => self.survivors_relieved,
            PerpetratorsRestrained => self.perpetrators_restrained,
            PeopleTrained => self.people_trained,
            ActivePartnerships => self.active_partnerships,
            CasesReported => self.cases_reported,
            SuspectsCharged => self.suspects_charged,
            Convictions => self.convictions,
            SurvivorsRestored => self.survivors_restored,
            CourtSessionsSupported => self.court_sessions_supported,
            FollowUpsSustained => self.follow_ups_sustained,
            ReferralsReceived => self.referrals_received,
        }
    }
}

const RESULTS: &str = "
SELECT
  (SELECT count(*) FROM survivors s
    WHERE s.intake_on BETWEEN $1 AND $2 AND ($3::text IS NULL OR s.county = $3)) AS survivors_relieved,
  (SELECT count(*) FROM suspects x JOIN cases c ON c.id = x.case_id
    WHERE x.arrested_on BETWEEN $1 AND $2 AND ($3::text IS NULL OR c.county = $3)) AS perpetrators_restrained,
  (SELECT coalesce(sum(coalesce((p->>'female')::bigint, 0) + coalesce((p->>'male')::bigint, 0)), 0)::bigint
     FROM trainings t CROSS JOIN LATERAL jsonb_array_elements(t.participants) p
    WHERE t.starts_on BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.county = $3)) AS people_trained,
  (SELECT count(*) FROM partners p
    WHERE p.active AND p.mou_signed_on <= $2 AND (p.mou_expires_on IS NULL OR p.mou_expires_on >= $1)
      AND ($3::text IS NULL OR $3 = ANY (p.counties))) AS active_partnerships,
  (SELECT count(*) FROM cases c
    WHERE c.reported_on BETWEEN $1 AND $2 AND ($3::text IS NULL OR c.county = $3)) AS cases_reported,
  (SELECT count(*) FROM (
     SELECT ch.suspect_id FROM charges ch JOIN cases c ON c.id = ch.case_id
      WHERE ($3::text IS NULL OR c.county = $3)
      GROUP BY ch.suspect_id HAVING min(ch.filed_on) BETWEEN $1 AND $2) first_charges) AS suspects_charged,
  (SELECT count(*) FROM (
     SELECT ch.suspect_id FROM charges ch JOIN cases c ON c.id = ch.case_id
      WHERE ch.status = 'convicted' AND ch.decided_on IS NOT NULL AND ($3::text IS NULL OR c.county = $3)
      GROUP BY ch.suspect_id HAVING min(ch.decided_on) BETWEEN $1 AND $2) first_convictions) AS convictions,
  (SELECT count(DISTINCT cl.survivor_id) FROM survivor_closures cl JOIN survivors s ON s.id = cl.survivor_id
    WHERE cl.reason = 'restored' AND cl.reopened_on IS NULL AND cl.closed_on BETWEEN $1 AND $2
      AND ($3::text IS NULL OR s.county = $3)) AS survivors_restored,
  (SELECT count(*) FROM court_sessions cs JOIN cases c ON c.id = cs.case_id
    WHERE cs.status = 'held' AND cs.survivor_accompanied AND cs.scheduled_on BETWEEN $1 AND $2
      AND ($3::text IS NULL OR c.county = $3)) AS court_sessions_supported,
  (SELECT count(*) FROM follow_ups f JOIN survivors s ON s.id = f.survivor_id
    WHERE f.status = 'done' AND f.outcome = 'sustained' AND f.conducted_on BETWEEN $1 AND $2
      AND ($3::text IS NULL OR s.county = $3)) AS follow_ups_sustained,
  (SELECT count(*) FROM referrals r
    WHERE (r.created_at AT TIME ZONE 'Africa/Nairobi')::date BETWEEN $1 AND $2
      AND ($3::text IS NULL OR r.county = $3)) AS referrals_received
";

pub async fn results(
    conn: &mut AsyncPgConnection,
    from: NaiveDate,
    to: NaiveDate,
    county: Option<County>,
) -> QueryResult<Results> {
    crate::db::prepared(RESULTS)
        .bind::<Date, _>(from)
        .bind::<Date, _>(to)
        .bind::<Nullable<Text>, _>(county.map(|c| c.as_ref().to_string()))
        .get_result(conn)
        .await
}

/// Sets a target: inserts it, or replaces the value and note of the one with the same indicator,
/// period and county.
pub async fn upsert(conn: &mut AsyncPgConnection, row: &TargetRow) -> QueryResult<TargetRow> {
    use diesel::upsert::excluded;
    diesel::insert_into(indicator_targets::table)
        .values(row)
        .on_conflict((
            indicator_targets::indicator,
            indicator_targets::period_from,
            indicator_targets::period_to,
            indicator_targets::county,
        ))
        .do_update()
        .set((
            indicator_targets::target.eq(excluded(indicator_targets::target)),
            indicator_targets::note.eq(excluded(indicator_targets::note)),
            indicator_targets::updated_by.eq(excluded(indicator_targets::updated_by)),
            indicator_targets::version.eq(indicator_targets::version + 1),
        ))
        .returning(TargetRow::as_returning())
        .get_result(conn)
        .await
}

/// The targets set for exactly this period and county.
pub async fn for_period(
    conn: &mut AsyncPgConnection,
    from: NaiveDate,
    to: NaiveDate,
    county: Option<County>,
) -> QueryResult<Vec<TargetRow>> {
    let mut query = indicator_targets::table
        .select(TargetRow::as_select())
        .filter(indicator_targets::period_from.eq(from))
        .filter(indicator_targets::period_to.eq(to))
        .into_boxed();
    query = match county {
        Some(county) => query.filter(indicator_targets::county.eq(county)),
        None => query.filter(indicator_targets::county.is_null()),
    };
    query.load(conn).await
}

/// One page of targets, latest set first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &TargetFilter,
    after: Option<IndicatorTargetId>,
    limit: i64,
) -> QueryResult<Vec<TargetRow>> {
    let mut query = indicator_targets::table.select(TargetRow::as_select()).into_boxed();
    if let Some(indicator) = filter.indicator {
        query = query.filter(indicator_targets::indicator.eq(indicator));
    }
    if let Some(county) = filter.county {
        query = query.filter(indicator_targets::county.eq(county));
    }
    if let Some(from) = filter.from {
        query = query.filter(indicator_targets::period_to.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(indicator_targets::period_from.le(to));
    }
    if let Some(after) = after {
        query = query.filter(indicator_targets::id.lt(after));
    }
    query
        .order(indicator_targets::id.desc())
        .limit(limit + 1)
        .load(conn)
        .await
}
