use actix_web::{HttpResponse, get, web};

use super::{
    dto::{Alert, AlertFilter, AlertRecord},
    queries::{self, Audience, Key, Reach},
};
use crate::{
    auth::{
        AuthUser,
        policy::{self, CaseScope, Permission, SurvivorScope},
    },
    db::pagination::{Page, PageParams},
    error::ApiResult,
    state::AppState,
};

/// What the caller's alerts cover: the cases and survivors within their reach, referrals if they
/// triage them, closures if they approve them.
fn audience(user: &AuthUser, state: &AppState) -> Audience {
    let cases = match policy::case_scope(user) {
        Ok(CaseScope::All) => Reach::All,
        Ok(CaseScope::AssignedTo(_)) => Reach::Assigned,
        Err(_) => Reach::None,
    };
    // Case workers see survivors through their cases, but restoration is not theirs to act on.
    let survivors = match policy::may_manage_restoration(user).and_then(|()| policy::survivor_scope(user)) {
        Ok(SurvivorScope::All) => Reach::All,
        Ok(SurvivorScope::AssignedTo(_)) => Reach::Assigned,
        Ok(SurvivorScope::ThroughCasesOf(_)) | Err(_) => Reach::None,
    };
    Audience {
        user: user.id,
        cases,
        survivors,
        triage: policy::allows(user.role, Permission::TriageReferrals),
        approve: policy::allows(user.role, Permission::ApproveClosures),
        urgent_window: state.config.referral_urgent_window,
        emergency_window: state.config.referral_emergency_window,
    }
}

/// What needs action now, for the caller, within their reach: stalled cases, suspects at large
/// more than 90 days after the report, urgent and emergency referrals past their acknowledgement
/// window (for those who triage them), court sessions in the next 7 days with no accompaniment
/// planned, follow-ups due within 30 days or overdue, assessments due, survivors with no active
/// counselling, `ctip_gap`, `age_charge_mismatch`, consents expiring within 30 days, closures
/// awaiting approval (for program managers). Most pressing first (`high`, then `medium`, then
/// `low`), oldest first within a severity.
#[utoipa::path(
    tag = "reports",
    operation_id = "list_alerts",
    params(AlertFilter, PageParams),
    responses((status = 200, body = Page<Alert>))
)]
#[get("/alerts")]
pub async fn list_alerts(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: crate::extract::Query<AlertFilter>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, Permission::ReadAlerts)?;
    let limit = page.limit()?;
    let after = page.after::<Key>()?;
    let who = audience(&user, &state);
    let mut conn = state.conn().await?;
    let rows = queries::page(&mut conn, &who, filter.kind, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| r.key(),
        |r| Alert {
            kind: r.kind,
            severity: r.severity,
            record: AlertRecord {
                record_type: r.record_type,
                id: r.record_id,
                reference: r.reference,
            },
            case_id: r.case_id,
            survivor_id: r.survivor_id,
            since: r.since,
            reason: r.reason,
        },
    )))
}
