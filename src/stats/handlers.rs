use actix_web::{HttpResponse, get, web};
use chrono::Utc;
use serde_json::json;
use strum::VariantArray;

use super::{
    dto::{CaseStats, CourtStats, CrossTable, Measure, Overview, Published, RowCounts, Table},
    queries::{self, Count, Section},
};
use crate::{
    audit::AuditEvent,
    auth::{AuthUser, Role, policy},
    cases::models::Stage,
    error::ApiResult,
    indicators::dto::ReportParams,
    partners::models::PartnerKind,
    prosecution::models::{SessionStatus, SuspectStatus},
    referrals::models::ReferralStatus,
    state::AppState,
    survivors::models::RestorationStatus,
    trainings::models::Audience,
    vocab::ServiceKind,
};

fn keys<T: AsRef<str>>(values: &'static [T]) -> Vec<&'static str> {
    values.iter().map(AsRef::as_ref).collect()
}

/// The rows of a two-way section, in the order the rows are first met (the query orders them).
fn rows(counts: &[Count], section: Section) -> Vec<RowCounts> {
    let mut rows: Vec<RowCounts> = Vec::new();
    for c in Count::of(counts, section) {
        let cell = (c.b.clone().unwrap_or_default(), c.n);
        match rows.iter_mut().find(|r| r.key == c.a) {
            Some(row) => row.counts.push(cell),
            None => rows.push(RowCounts {
                key: c.a.clone(),
                label: c.label.clone(),
                counts: vec![cell],
            }),
        }
    }
    rows.sort_by(|a, b| a.label.cmp(&b.label).then_with(|| a.key.cmp(&b.key)));
    rows
}

fn table(counts: &[Count], section: Section, keys: &[&str], keep_total: bool, k: u32) -> Table {
    let pairs: Vec<(String, i64)> = Count::of(counts, section).map(|c| (c.a.clone(), c.n)).collect();
    Table::build(keys, &pairs, keep_total, k)
}

/// What a dashboard shows over a period (program managers, admins, analysts; a partner
/// organisation's user sees its own referrals only). Each section counts:
/// cases reported in the period (by county and current stage; median days from report to first
/// arrest and to first charge over those with one); the suspects of those cases by current
/// status; court sessions dated in the period by status and accompaniment, and the adjournment
/// rate; survivors whose intake falls in the period by restoration status; services running in
/// the period by kind; referrals submitted in the period (East Africa Time) by organisation and
/// status; participants of trainings starting in the period by audience and sex; active partner
/// organisations by kind. For analysts and partners a count from 1 to k−1 is withheld
/// (`null`, `suppressed: true`), and so is any other count that would give it away by
/// subtraction along a row, a column or a total; medians and rates resting on fewer than k
/// records or on a withheld count are withheld too.
#[utoipa::path(
    tag = "reports",
    operation_id = "get_stats_overview",
    params(ReportParams),
    responses((status = 200, body = Overview))
)]
#[get("/stats/overview")]
pub async fn overview(
    state: web::Data<AppState>,
    user: AuthUser,
    params: crate::extract::Query<ReportParams>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ReadStats)?;
    crate::extract::check_period(Some(params.from), Some(params.to))?;
    let small = state.config.small_cell_k;
    let k = if matches!(user.role, Role::Analyst | Role::Partner) && small > 1 {
        crate::extract::check_whole_months(params.from, params.to)?;
        small
    } else {
        0
    };
    let partner = policy::partner_scope(&user);
    let sections: &[Section] = if partner.is_some() {
        &[Section::Referrals]
    } else {
        &Section::ALL
    };
    let period = (params.from, params.to, params.county);
    let mut conn = state.conn().await?;
    let counts = queries::counts(&mut conn, sections, period, partner).await?;
    // Figures the indicator report publishes too (referrals_received, cases_reported,
    // survivors_relieved, court_sessions_supported) are never withheld to protect another.
    let referrals = CrossTable::build(
        &keys(ReferralStatus::VARIANTS),
        rows(&counts, Section::Referrals),
        &[Published::Total],
        k,
    );
    let mut overview = Overview {
        from: params.from,
        to: params.to,
        county: params.county,
        small_cell_k: (k > 1).then_some(k),
        generated_at: Utc::now(),
        cases: None,
        suspects_by_status: None,
        court_sessions: None,
        survivors_by_restoration_status: None,
        services_by_kind: None,
        referrals_by_partner_and_status: referrals,
        people_trained: None,
        partners_by_kind: None,
    };
    if partner.is_none() {
        let medians = queries::medians(&mut conn, period).await?;
        let rests_on_few = |n: i64| n < i64::from(k);
        overview.cases = Some(CaseStats {
            by_county_and_stage: CrossTable::build(
                &keys(Stage::VARIANTS),
                rows(&counts, Section::Cases),
                &[Published::Total],
                k,
            ),
            median_days_to_arrest: Measure::new(medians.days_to_arrest, rests_on_few(medians.arrested_cases)),
            median_days_to_charge: Measure::new(medians.days_to_charge, rests_on_few(medians.charged_cases)),
        });
        overview.suspects_by_status = Some(table(
            &counts,
            Section::Suspects,
            &keys(SuspectStatus::VARIANTS),
            false,
            k,
        ));
        let court = CrossTable::build(
            &["accompanied", "not_accompanied"],
            rows(&counts, Section::Court),
            &[Published::Cell("held", "accompanied")],
            k,
        );
        let (held, adjourned) = (
            court.row_total(SessionStatus::Held.as_ref()),
            court.row_total(SessionStatus::Adjourned.as_ref()),
        );
        let rate = match (held.count, adjourned.count) {
            (Some(h), Some(a)) if h + a > 0 => Some(((a as f64 / (h + a) as f64) * 1000.0).round() / 1000.0),
            _ => None,
        };
        let rate_hidden = held.suppressed || adjourned.suppressed;
        overview.court_sessions = Some(CourtStats {
            by_status_and_accompaniment: court,
            adjournment_rate: Measure::new(rate, rate_hidden),
        });
        overview.survivors_by_restoration_status = Some(table(
            &counts,
            Section::Survivors,
            &keys(RestorationStatus::VARIANTS),
            true,
            k,
        ));
        overview.services_by_kind = Some(table(
            &counts,
            Section::Services,
            &keys(ServiceKind::VARIANTS),
            false,
            k,
        ));
        // People trained and partner organisations count no child: never withheld.
        let mut trained = rows(&counts, Section::Trained);
        trained.sort_by_key(|r| Audience::VARIANTS.iter().position(|a| a.as_ref() == r.key));
        overview.people_trained = Some(CrossTable::build(&["female", "male"], trained, &[], 0));
        overview.partners_by_kind = Some(table(
            &counts,
            Section::Partners,
            &keys(PartnerKind::VARIANTS),
            false,
            0,
        ));
    }
    AuditEvent::by(&user, "report.overview", "report", "overview")
        .details(json!({"from": params.from, "to": params.to, "county": params.county}))
        .record(&conn)
        .await?;
    Ok(HttpResponse::Ok().json(overview))
}
