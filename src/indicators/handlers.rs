use actix_web::{HttpRequest, HttpResponse, get, put, web};
use chrono::Utc;
use diesel_async::AsyncConnection;
use serde_json::json;
use strum::VariantArray;

use super::{
    dto::{
        IndicatorDefinition, IndicatorReport, IndicatorResult, IndicatorTarget, PutTargets, ReportParams, TargetFilter,
    },
    models::{Indicator, TargetRow},
    queries,
};
use crate::{
    audit::AuditEvent,
    auth::{AuthUser, Role, policy},
    db::pagination::{Page, PageParams},
    error::{ApiError, ApiResult},
    exports::csv,
    extract::{ValidatedJson, trimmed},
    ids::IndicatorTargetId,
    state::AppState,
};

/// The indicators the program reports on, each with its precise definition.
#[utoipa::path(
    tag = "indicators",
    operation_id = "list_indicators",
    responses((status = 200, body = Page<IndicatorDefinition>))
)]
#[get("/indicators")]
pub async fn list_indicators(user: AuthUser) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ReadIndicators)?;
    Ok(HttpResponse::Ok().json(Page {
        data: Indicator::VARIANTS.iter().map(|i| i.definition()).collect(),
        next_cursor: None,
    }))
}

/// Targets set for the indicators, latest set first; filter by indicator, county or period.
#[utoipa::path(
    tag = "indicators",
    operation_id = "list_indicator_targets",
    params(TargetFilter, PageParams),
    responses((status = 200, body = Page<IndicatorTarget>))
)]
#[get("/indicator-targets")]
pub async fn list_targets(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: crate::extract::Query<TargetFilter>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ReadIndicators)?;
    let limit = page.limit()?;
    let mut conn = state.conn().await?;
    let rows = queries::list(&mut conn, &filter, page.after::<IndicatorTargetId>()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |t| t.id, IndicatorTarget::from)))
}

/// Set targets (program managers, analysts): each replaces the target for the same indicator,
/// period and county, with its narrative note. All or nothing.
#[utoipa::path(
    tag = "indicators",
    operation_id = "put_indicator_targets",
    request_body = PutTargets,
    responses((status = 200, description = "The targets as set", body = Page<IndicatorTarget>))
)]
#[put("/indicator-targets")]
pub async fn put_targets(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidatedJson<PutTargets>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::SetIndicatorTargets)?;
    let targets = body.0.targets;
    for (i, t) in targets.iter().enumerate() {
        if t.to < t.from {
            return Err(ApiError::invalid_field(
                &format!("targets[{i}].to"),
                "before_start",
                "must not be before from",
            ));
        }
        if targets[..i]
            .iter()
            .any(|o| (o.indicator, o.from, o.to, o.county) == (t.indicator, t.from, t.to, t.county))
        {
            return Err(ApiError::invalid_field(
                &format!("targets[{i}]"),
                "duplicate",
                "sets the same indicator, period and county as an earlier entry",
            ));
        }
    }
    let mut conn = state.conn().await?;
    let rows = conn
        .transaction(async |conn| {
            let mut rows = Vec::with_capacity(targets.len());
            for t in targets {
                let now = Utc::now();
                let row = queries::upsert(
                    conn,
                    &TargetRow {
                        id: IndicatorTargetId::new(),
                        indicator: t.indicator,
                        period_from: t.from,
                        period_to: t.to,
                        county: t.county,
                        target: t.target,
                        note: trimmed(t.note),
                        updated_by: Some(user.id),
                        version: 1,
                        created_at: now,
                        updated_at: now,
                    },
                )
                .await?;
                AuditEvent::by(&user, "indicator_target.set", "indicator_target", row.id)
                    .details(json!({
                        "indicator": row.indicator, "from": row.period_from, "to": row.period_to,
                        "county": row.county, "target": row.target,
                    }))
                    .record(conn)
                    .await?;
                rows.push(IndicatorTarget::from(row));
            }
            Ok::<_, ApiError>(rows)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page {
        data: rows,
        next_cursor: None,
    }))
}

/// The report as CSV rows, in the order of the JSON rows.
fn csv_rows(report: &IndicatorReport) -> impl Iterator<Item = Vec<String>> + '_ {
    let number = |n: Option<String>| n.unwrap_or_default();
    report.rows.iter().map(move |row| {
        vec![
            row.indicator.as_ref().to_string(),
            csv::cell(&row.title),
            number(row.target.map(|t| t.to_string())),
            number(row.result.map(|r| r.to_string())),
            row.suppressed.to_string(),
            number(row.percentage.map(|p| format!("{p:.1}"))),
            csv::cell(row.note.as_deref().unwrap_or("")),
        ]
    })
}

/// The indicator report: for each indicator its target for exactly this period (and county), the
/// result computed now, the percentage and the note. `Accept: text/csv` gives the same table as
/// CSV. Small results are suppressed for analysts (see `suppressed_when_small`).
#[utoipa::path(
    tag = "indicators",
    operation_id = "indicator_report",
    params(ReportParams),
    responses((status = 200, content(
        (IndicatorReport = "application/json"),
        (String = "text/csv", example = "indicator,title,target,result,suppressed,percentage,note\nsurvivors_relieved,Survivors relieved,17,16,false,94.1,\n"),
    )))
)]
#[get("/reports/indicators")]
pub async fn indicator_report(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    params: crate::extract::Query<ReportParams>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ReadIndicators)?;
    crate::extract::check_period(Some(params.from), Some(params.to))?;
    let k = state.config.small_cell_k;
    let suppress = matches!(user.role, Role::Analyst | Role::Partner) && k > 1;
    if suppress {
        crate::extract::check_whole_months(params.from, params.to)?;
    }
    let mut conn = state.conn().await?;
    let results = queries::results(&mut conn, params.from, params.to, params.county).await?;
    let targets = queries::for_period(&mut conn, params.from, params.to, params.county).await?;
    let rows = Indicator::VARIANTS
        .iter()
        .map(|&indicator| {
            let definition = indicator.definition();
            let target = targets.iter().find(|t| t.indicator == indicator);
            let value = results.get(indicator);
            let suppressed = suppress && definition.suppressed_when_small && value >= 1 && value < i64::from(k);
            let result = (!suppressed).then_some(value);
            let percentage = match (target.map(|t| t.target), result) {
                (Some(t), Some(r)) if t > 0 => Some((r as f64 * 1000.0 / f64::from(t)).round() / 10.0),
                _ => None,
            };
            IndicatorResult {
                indicator,
                title: definition.title,
                target: target.map(|t| t.target),
                result,
                suppressed,
                percentage,
                note: target.and_then(|t| t.note.clone()),
                counts: definition.counts,
            }
        })
        .collect();
    let report = IndicatorReport {
        from: params.from,
        to: params.to,
        county: params.county,
        small_cell_k: suppress.then_some(k),
        generated_at: Utc::now(),
        rows,
    };
    let wants_csv = csv::wanted(&req);
    AuditEvent::by(&user, "report.indicators", "report", "indicators")
        .details(json!({"from": report.from, "to": report.to, "county": report.county, "csv": wants_csv}))
        .record(&conn)
        .await?;
    if wants_csv {
        return csv::attachment(
            &format!("indicators-{}-{}.csv", report.from, report.to),
            &[
                "indicator",
                "title",
                "target",
                "result",
                "suppressed",
                "percentage",
                "note",
            ],
            csv_rows(&report),
        );
    }
    Ok(HttpResponse::Ok().json(report))
}
