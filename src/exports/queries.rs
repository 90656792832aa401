//! The survivor–case links an export is made from. Pseudonymous fields only go in; nothing that
//! names or locates a child comes out of `htcds`.

use chrono::NaiveDate;
use diesel::{
    QueryResult, QueryableByName,
    sql_types::{Array, BigInt, Date, Integer, Nullable, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::{
    cases::models::{ClosureReason, ExploitationType, Stage},
    prosecution::models::{Relationship, Sex},
    referrals::models::ExploitationIndicator,
};

/// One survivor (as victim) on one case reported in the period.
#[derive(Debug, QueryableByName)]
pub struct LinkRow {
    /// Counted, never exported: k-anonymity is about children, not rows.
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub survivor_id: uuid::Uuid,
    #[diesel(sql_type = Nullable<Text>)]
    pub sex: Option<Sex>,
    /// Her age at the incident (at the report when the incident date is unknown), as a range.
    #[diesel(sql_type = Nullable<Integer>)]
    pub age_min: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub age_max: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    pub citizenship: Option<String>,
    #[diesel(sql_type = Date)]
    pub reported_on: NaiveDate,
    #[diesel(sql_type = Text)]
    pub stage: Stage,
    #[diesel(sql_type = Nullable<Text>)]
    pub closure_reason: Option<ClosureReason>,
    #[diesel(sql_type = Array<Text>)]
    pub exploitation_types: Vec<ExploitationType>,
    /// How the case's recruiters were related to the child.
    #[diesel(sql_type = Array<Text>)]
    pub recruiter_relationships: Vec<Relationship>,
    /// The exploitation indicators of the referrals that brought her to this case.
    #[diesel(sql_type = Array<Text>)]
    pub indicators: Vec<ExploitationIndicator>,
}

/// Whether a survivor has a consent in force today for research or data sharing (and, given by a
/// guardian, not refused by the child).
const CONSENTED: &str = "EXISTS (SELECT 1 FROM consents k
    WHERE k.survivor_id = s.id AND k.purpose IN ('research', 'data_sharing') AND k.withdrawn_at IS NULL
      AND k.child_assent IS NOT FALSE
      AND k.given_on <= (now() AT TIME ZONE 'Africa/Nairobi')::date
      AND (k.expires_on IS NULL OR k.expires_on >= (now() AT TIME ZONE 'Africa/Nairobi')::date))";

const LINKS: &str = "
    FROM case_survivors cv JOIN cases c ON c.id = cv.case_id JOIN survivors s ON s.id = cv.survivor_id
   WHERE cv.role <> 'witness' AND c.reported_on BETWEEN $1 AND $2";

/// The survivor–case links of cases reported in the period whose survivor consented to research
/// or data sharing.
pub async fn consented_links(
    conn: &mut AsyncPgConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<LinkRow>> {
    diesel::sql_query(format!(
        "SELECT s.id AS survivor_id, s.sex,
                lower(survivor_age_range(s.birth_year, s.age_at_intake, s.intake_on, coalesce(c.incident_on, c.reported_on))) AS age_min,
                upper(survivor_age_range(s.birth_year, s.age_at_intake, s.intake_on, coalesce(c.incident_on, c.reported_on))) - 1 AS age_max,
                s.citizenship, c.reported_on, c.stage, c.closure_reason, c.exploitation_types,
                ARRAY(SELECT DISTINCT x.relationship FROM suspects x
                       WHERE x.case_id = c.id AND x.role = 'recruiter') AS recruiter_relationships,
                ARRAY(SELECT DISTINCT i FROM referrals r, unnest(r.indicators) i
                       WHERE r.case_id = c.id AND r.survivor_id = s.id) AS indicators
           {LINKS} AND {CONSENTED}"
    ))
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)
    .await
}

#[derive(Debug, QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many survivor–case links of the period lack that consent.
pub async fn links_without_consent(conn: &mut AsyncPgConnection, from: NaiveDate, to: NaiveDate) -> QueryResult<i64> {
    let count: Count = diesel::sql_query(format!("SELECT count(*) AS n {LINKS} AND NOT {CONSENTED}"))
        .bind::<Date, _>(from)
        .bind::<Date, _>(to)
        .get_result(conn)
        .await?;
    Ok(count.n)
}
