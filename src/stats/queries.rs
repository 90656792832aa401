//! The dashboard's figures, summed by the database from the tallies it keeps as records change
//! (migration `tallies`): one statement for every table the caller sees (grouped counts, never
//! rows), one for the medians. Parameters: `$1` first day, `$2` last
//! day, `$3` county or NULL, `$4` the partner organisation a partner user is limited to, or NULL.

use chrono::NaiveDate;
use diesel::{
    QueryResult, QueryableByName,
    sql_types::{BigInt, Date, Double, Nullable, Text, Uuid},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::{ids::PartnerId, vocab::County};

/// The sections of the overview, each a grouped count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Cases,
    Suspects,
    Court,
    Survivors,
    Services,
    Referrals,
    Trained,
    Partners,
}

impl Section {
    pub const ALL: [Section; 8] = [
        Section::Cases,
        Section::Suspects,
        Section::Court,
        Section::Survivors,
        Section::Services,
        Section::Referrals,
        Section::Trained,
        Section::Partners,
    ];

    fn name(self) -> &'static str {
        match self {
            Section::Cases => "cases",
            Section::Suspects => "suspects",
            Section::Court => "court",
            Section::Survivors => "survivors",
            Section::Services => "services",
            Section::Referrals => "referrals",
            Section::Trained => "trained",
            Section::Partners => "partners",
        }
    }

    /// `section, a, b, label, n`: the count of records with values `a` (and `b`) in this section,
    /// summed from the tallies the database keeps (migration `tallies`): the cost of a period
    /// is the number of days, counties and values in it, not the number of records.
    fn sql(self) -> &'static str {
        match self {
            Section::Cases => {
                "SELECT 'cases', t.county, t.a, NULL, sum(t.n)::bigint
                   FROM tallies t
                  WHERE t.measure = 'case' AND t.day BETWEEN $1::date AND $2::date AND ($3::text IS NULL OR t.county = $3::text)
                  GROUP BY t.county, t.a HAVING sum(t.records) > 0"
            }
            Section::Suspects => {
                "SELECT 'suspects', t.a, NULL, NULL, sum(t.n)::bigint
                   FROM tallies t
                  WHERE t.measure = 'suspect' AND t.day BETWEEN $1::date AND $2::date AND ($3::text IS NULL OR t.county = $3::text)
                  GROUP BY t.a HAVING sum(t.records) > 0"
            }
            Section::Court => {
                "SELECT 'court', t.a, t.b, NULL, sum(t.n)::bigint
                   FROM tallies t
                  WHERE t.measure = 'court_session' AND t.day BETWEEN $1::date AND $2::date AND ($3::text IS NULL OR t.county = $3::text)
                  GROUP BY t.a, t.b HAVING sum(t.records) > 0"
            }
            Section::Survivors => {
                "SELECT 'survivors', t.a, NULL, NULL, sum(t.n)::bigint
                   FROM tallies t
                  WHERE t.measure = 'survivor' AND t.day BETWEEN $1::date AND $2::date AND ($3::text IS NULL OR t.county = $3::text)
                  GROUP BY t.a HAVING sum(t.records) > 0"
            }
            // Services running on some day of the period: started by its last day, less those
            // ended before its first.
            Section::Services => {
                "SELECT 'services', t.a, NULL, NULL, sum(CASE t.measure WHEN 'service_start' THEN t.n ELSE -t.n END)::bigint
                   FROM tallies t
                  WHERE ((t.measure = 'service_start' AND t.day <= $2::date) OR (t.measure = 'service_end' AND t.day < $1::date))
                    AND ($3::text IS NULL OR t.county = $3::text)
                  GROUP BY t.a HAVING sum(CASE t.measure WHEN 'service_start' THEN t.records ELSE -t.records END) > 0"
            }
            Section::Referrals => {
                "SELECT 'referrals'::text AS section, t.a AS a, t.b AS b, p.name AS label, sum(t.n)::bigint AS n
                   FROM tallies t JOIN partners p ON p.id = t.a::uuid
                  WHERE t.measure = 'referral' AND t.day BETWEEN $1::date AND $2::date
                    AND ($3::text IS NULL OR t.county = $3::text) AND ($4::uuid IS NULL OR t.a = $4::uuid::text)
                  GROUP BY t.a, t.b, p.name HAVING sum(t.records) > 0"
            }
            Section::Trained => {
                "SELECT 'trained', t.a, t.b, NULL, sum(t.n)::bigint
                   FROM tallies t
                  WHERE t.measure = 'trained' AND t.day BETWEEN $1::date AND $2::date AND ($3::text IS NULL OR t.county = $3::text)
                  GROUP BY t.a, t.b HAVING sum(t.records) > 0"
            }
            Section::Partners => {
                "SELECT 'partners', p.kind, NULL, NULL, count(*)
                   FROM partners p
                  WHERE p.active AND ($3::text IS NULL OR $3::text = ANY (p.counties))
                  GROUP BY p.kind"
            }
        }
    }
}

#[derive(Debug, QueryableByName)]
pub struct Count {
    #[diesel(sql_type = Text)]
    pub section: String,
    #[diesel(sql_type = Text)]
    pub a: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub b: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub label: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// The grouped counts of `sections` (the referrals always among them), in one statement.
pub async fn counts(
    conn: &mut AsyncPgConnection,
    sections: &[Section],
    (from, to, county): (NaiveDate, NaiveDate, Option<County>),
    partner: Option<PartnerId>,
) -> QueryResult<Vec<Count>> {
    // The referrals use every parameter, so each is typed whatever the other sections.
    let sql = std::iter::once(Section::Referrals)
        .chain(sections.iter().copied().filter(|s| *s != Section::Referrals))
        .map(Section::sql)
        .collect::<Vec<_>>()
        .join("\nUNION ALL\n");
    crate::db::prepared(sql)
        .bind::<Date, _>(from)
        .bind::<Date, _>(to)
        .bind::<Nullable<Text>, _>(county.map(|c| c.as_ref().to_string()))
        .bind::<Nullable<Uuid>, _>(partner.map(|p| p.0))
        .load(conn)
        .await
}

impl Count {
    pub fn of(rows: &[Count], section: Section) -> impl Iterator<Item = &Count> {
        rows.iter().filter(move |r| r.section == section.name())
    }
}

#[derive(Debug, QueryableByName)]
pub struct Medians {
    #[diesel(sql_type = Nullable<Double>)]
    pub days_to_arrest: Option<f64>,
    #[diesel(sql_type = BigInt)]
    pub arrested_cases: i64,
    #[diesel(sql_type = Nullable<Double>)]
    pub days_to_charge: Option<f64>,
    #[diesel(sql_type = BigInt)]
    pub charged_cases: i64,
}

/// Median days from report to first arrest and to first charge over the cases reported in the
/// period, with how many cases each rests on: the median of the tallied days (`percentile_cont`
/// over the histogram: the mean of the two middle values, or the middle one).
pub async fn medians(
    conn: &mut AsyncPgConnection,
    (from, to, county): (NaiveDate, NaiveDate, Option<County>),
) -> QueryResult<Medians> {
    crate::db::prepared(
        "WITH days AS (
             SELECT t.measure, t.a::integer AS days, sum(t.n) AS n
               FROM tallies t
              WHERE t.measure IN ('days_to_arrest', 'days_to_charge') AND t.day BETWEEN $1 AND $2
                AND ($3::text IS NULL OR t.county = $3)
              GROUP BY t.measure, t.a HAVING sum(t.n) > 0),
         running AS (
             SELECT measure, days, sum(n) OVER (PARTITION BY measure ORDER BY days) AS upto,
                    sum(n) OVER (PARTITION BY measure) AS total
               FROM days),
         medians AS (
             SELECT measure, max(total) AS total,
                    (min(days) FILTER (WHERE upto > floor((total - 1) / 2.0))
                     + min(days) FILTER (WHERE upto > ceil((total - 1) / 2.0))) / 2.0 AS median
               FROM running GROUP BY measure)
         SELECT (SELECT median FROM medians WHERE measure = 'days_to_arrest')::float8 AS days_to_arrest,
                coalesce((SELECT total FROM medians WHERE measure = 'days_to_arrest'), 0)::bigint AS arrested_cases,
                (SELECT median FROM medians WHERE measure = 'days_to_charge')::float8 AS days_to_charge,
                coalesce((SELECT total FROM medians WHERE measure = 'days_to_charge'), 0)::bigint AS charged_cases",
    )
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .bind::<Nullable<Text>, _>(county.map(|c| c.as_ref().to_string()))
    .get_result(conn)
    .await
}
