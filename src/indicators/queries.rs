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

/// Summed from the tallies the database keeps (migration `tallies`, whose `tally_source` view
/// counts each indicator's records as `definitions.rs` words them); active partnerships from the
/// partners themselves.
const RESULTS: &str = "
SELECT
  coalesce(sum(t.n) FILTER (WHERE t.measure = 'survivor'), 0)::bigint AS survivors_relieved,
  coalesce(sum(t.n) FILTER (WHERE t.measure = 'arrest'), 0)::bigint AS perpetrators_restrained,
  coalesce(sum(t.n) FILTER (WHERE t.measure = 'trained'), 0)::bigint AS people_trained,
  (SELECT count(*) FROM partners p
    WHERE p.active AND p.mou_signed_on <= $2 AND (p.mou_expires_on IS NULL OR p.mou_expires_on >= $1)
      AND ($3::text IS NULL OR $3 = ANY (p.counties))) AS active_partnerships,
  coalesce(sum(t.n) FILTER (WHERE t.measure = 'case'), 0)::bigint AS cases_reported,
  coalesce(sum(t.n) FILTER (WHERE t.measure = 'first_charge'), 0)::bigint AS suspects_charged,
  coalesce(sum(t.n) FILTER (WHERE t.measure = 'first_conviction'), 0)::bigint AS convictions,
  coalesce(sum(t.n) FILTER (WHERE t.measure = 'restored'), 0)::bigint AS survivors_restored,
  coalesce(sum(t.n) FILTER (WHERE t.measure = 'court_session' AND t.a = 'held' AND t.b = 'accompanied'), 0)::bigint
    AS court_sessions_supported,
  coalesce(sum(t.n) FILTER (WHERE t.measure = 'follow_up_sustained'), 0)::bigint AS follow_ups_sustained,
  coalesce(sum(t.n) FILTER (WHERE t.measure = 'referral'), 0)::bigint AS referrals_received
  FROM tallies t
 WHERE t.measure IN ('survivor', 'arrest', 'trained', 'case', 'first_charge', 'first_conviction', 'restored',
                     'court_session', 'follow_up_sustained', 'referral')
   AND t.day BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.county = $3)
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
