//! The dashboard's figures, counted by the database: one statement for every table the caller
//! sees (grouped counts, never rows), one for the medians. Parameters: `$1` first day, `$2` last
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

    /// `section, a, b, label, n`: the count of records with values `a` (and `b`) in this section.
    fn sql(self) -> &'static str {
        match self {
            Section::Cases => {
                "SELECT 'cases', c.county, c.stage, NULL, count(*)
                   FROM cases c
                  WHERE c.reported_on BETWEEN $1::date AND $2::date AND ($3::text IS NULL OR c.county = $3::text)
                  GROUP BY c.county, c.stage"
            }
            Section::Suspects => {
                "SELECT 'suspects', x.status, NULL, NULL, count(*)
                   FROM suspects x JOIN cases c ON c.id = x.case_id
                  WHERE c.reported_on BETWEEN $1::date AND $2::date AND ($3::text IS NULL OR c.county = $3::text)
                  GROUP BY x.status"
            }
            Section::Court => {
                "SELECT 'court', cs.status,
                        CASE WHEN cs.survivor_accompanied THEN 'accompanied' ELSE 'not_accompanied' END, NULL, count(*)
                   FROM court_sessions cs JOIN cases c ON c.id = cs.case_id
                  WHERE cs.scheduled_on BETWEEN $1::date AND $2::date AND ($3::text IS NULL OR c.county = $3::text)
                  GROUP BY 2, 3"
            }
            Section::Survivors => {
                "SELECT 'survivors', s.restoration_status, NULL, NULL, count(*)
                   FROM survivors s
                  WHERE s.intake_on BETWEEN $1::date AND $2::date AND ($3::text IS NULL OR s.county = $3::text)
                  GROUP BY s.restoration_status"
            }
            Section::Services => {
                "SELECT 'services', v.kind, NULL, NULL, count(*)
                   FROM survivor_services v JOIN survivors s ON s.id = v.survivor_id
                  WHERE v.start_on IS NOT NULL AND daterange(v.start_on, v.end_on, '[]') && daterange($1::date, $2::date, '[]')
                    AND (v.status = 'active' OR (v.status IN ('completed', 'discontinued') AND v.end_on IS NOT NULL))
                    AND ($3::text IS NULL OR s.county = $3::text)
                  GROUP BY v.kind"
            }
            Section::Referrals => {
                "SELECT 'referrals'::text AS section, r.partner_id::text AS a, r.status AS b, p.name AS label, count(*) AS n
                   FROM referrals r JOIN partners p ON p.id = r.partner_id
                  WHERE (r.created_at AT TIME ZONE 'Africa/Nairobi')::date BETWEEN $1::date AND $2::date
                    AND ($3::text IS NULL OR r.county = $3::text) AND ($4::uuid IS NULL OR r.partner_id = $4::uuid)
                  GROUP BY r.partner_id, r.status, p.name"
            }
            Section::Trained => {
                "SELECT 'trained', p->>'audience', v.sex, NULL, sum(v.n)::bigint
                   FROM trainings t
                        CROSS JOIN LATERAL jsonb_array_elements(t.participants) p
                        CROSS JOIN LATERAL (VALUES ('female', (p->>'female')::bigint), ('male', (p->>'male')::bigint)) v(sex, n)
                  WHERE t.starts_on BETWEEN $1::date AND $2::date AND ($3::text IS NULL OR t.county = $3::text)
                  GROUP BY 2, 3"
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
/// period, with how many cases each rests on.
pub async fn medians(
    conn: &mut AsyncPgConnection,
    (from, to, county): (NaiveDate, NaiveDate, Option<County>),
) -> QueryResult<Medians> {
    crate::db::prepared(
        "WITH reported AS (
             SELECT c.reported_on,
                    (SELECT min(s.arrested_on) FROM suspects s WHERE s.case_id = c.id) AS arrested_on,
                    (SELECT min(ch.filed_on) FROM charges ch WHERE ch.case_id = c.id) AS charged_on
               FROM cases c
              WHERE c.reported_on BETWEEN $1 AND $2 AND ($3::text IS NULL OR c.county = $3))
         SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY arrested_on - reported_on) AS days_to_arrest,
                count(arrested_on) AS arrested_cases,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY charged_on - reported_on) AS days_to_charge,
                count(charged_on) AS charged_cases
           FROM reported",
    )
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .bind::<Nullable<Text>, _>(county.map(|c| c.as_ref().to_string()))
    .get_result(conn)
    .await
}
