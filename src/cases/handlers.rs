use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{Datelike, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use super::{
    dto::{Case, CaseFilter, CaseKey, CreateCase, Transition, UpdateCase, check_case_dates, check_not_future},
    models::{AssignmentRole, AssignmentRow, CaseChanges, ClosureReason, EventKind, EventRow, NewCase, Stage},
    queries,
    stages::{self, Requirement},
};
use crate::prosecution::models::ChargeStatus;
use crate::{
    audit::{self, AuditEvent},
    auth::{AuthUser, Role, policy},
    db::pagination::{Page, PageParams},
    error::{ApiError, ApiResult, ErrorCode, Problem},
    extract::{IfMatch, ValidatedJson, assignee, created_with_etag, dedup, ok_with_etag, trimmed},
    ids::{AssignmentId, CaseId},
    state::AppState,
};

async fn load(conn: &AsyncPgConnection, id: CaseId) -> ApiResult<Case> {
    let (row, facts) = queries::find_with_facts(conn, id).await?;
    Ok(Case::from_rows(row, facts))
}

/// Opens a case inside the caller's transaction: the reference, the opening event, the audit
/// entry, and for a case worker her assignment as lead investigator.
pub async fn open(conn: &mut AsyncPgConnection, user: &AuthUser, input: CreateCase) -> ApiResult<CaseId> {
    check_case_dates(input.reported_on, input.incident_on)?;
    input.county.check_sub_county(input.sub_county.as_deref())?;
    let id = CaseId::new();
    let reference = queries::next_reference(conn, input.county, input.reported_on.year()).await?;
    let row = queries::insert(
        conn,
        &NewCase {
            id,
            reference,
            county: input.county,
            sub_county: trimmed(input.sub_county),
            location_type: input.location_type,
            exploitation_types: dedup(input.exploitation_types),
            reported_on: input.reported_on,
            incident_on: input.incident_on,
            referral_source: input.referral_source,
            referral_partner_id: input.referral_partner_id,
            risk_level: input.risk_level,
            summary: trimmed(input.summary),
            last_activity_on: input.reported_on,
            created_by: Some(user.id),
        },
    )
    .await?;
    let mut opened = EventRow::new(
        id,
        EventKind::StageChange,
        row.reported_on,
        Some("Case opened".into()),
        user.id,
    );
    opened.stage_to = Some(Stage::Reported);
    queries::insert_event(conn, &opened).await?;
    if user.role == Role::CaseWorker {
        queries::insert_assignment(
            conn,
            &AssignmentRow {
                id: AssignmentId::new(),
                case_id: id,
                user_id: user.id,
                role: AssignmentRole::LeadInvestigator,
                assigned_by: Some(user.id),
                assigned_at: Utc::now(),
                ended_at: None,
                ended_by: None,
            },
        )
        .await?;
    }
    AuditEvent::by(user, "case.create", "case", id)
        .details(json!({"reference": row.reference, "county": row.county}))
        .record(conn)
        .await?;
    Ok(id)
}

/// Cases within the caller's reach with their derived facts: newest first, or in the order `sort`
/// names (report date, last activity, reference).
#[utoipa::path(
    tag = "cases",
    operation_id = "list_cases",
    params(CaseFilter, PageParams),
    responses((status = 200, body = Page<Case>))
)]
#[get("/cases")]
pub async fn list_cases(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: crate::extract::Query<CaseFilter>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let scope = policy::case_scope(&user)?;
    let limit = page.limit()?;
    let assigned_to = assignee(filter.assigned_to.as_deref(), user.id)?;
    let mut conn = state.conn().await?;
    let sort = filter.sort.unwrap_or_default();
    let after: Option<CaseKey> = page.after()?;
    if after.as_ref().is_some_and(|k| !sort.fits(k)) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidCursor,
            "This cursor was taken in another order; pass the same `sort` as for the first page.",
        ));
    }
    let rows = queries::list(&mut conn, scope, &filter, assigned_to, after, limit).await?;
    let ids: Vec<CaseId> = rows.iter().map(|c| c.id).collect();
    let mut facts = queries::facts_for(&mut conn, &ids).await?;
    let rows = Page::from_rows(rows, limit, |c| sort.key(c), |c| c);
    let data = rows
        .data
        .into_iter()
        .map(|c| {
            // The view covers every case, so a case without facts is a bug, not a client error.
            let f = facts
                .remove(&c.id)
                .ok_or_else(|| ApiError::internal(format!("no facts for case {}", c.id)))?;
            Ok(Case::from_rows(c, f))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let page = Page {
        data,
        next_cursor: rows.next_cursor,
    };
    let reads = page
        .data
        .iter()
        .map(|c| AuditEvent::by(&user, "case.list", "case", c.id))
        .collect();
    drop(conn);
    audit::record_reads(&state, reads).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Open a case. The server assigns its reference; a case worker who opens a case is assigned to
/// it as lead investigator.
#[utoipa::path(
    tag = "cases",
    operation_id = "create_case",
    request_body = CreateCase,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe: the first response is replayed.")),
    responses(
        (status = 201, body = Case, headers(("ETag" = String), ("Location" = String))),
    )
)]
#[post("/cases")]
pub async fn create_case(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidatedJson<CreateCase>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::CreateCases)?;
    let input = body.0;
    let mut conn = state.conn().await?;
    let case = conn
        .transaction(async |conn| {
            let id = open(conn, &user, input).await?;
            load(conn, id).await
        })
        .await?;
    Ok(created_with_etag(
        format!("/api/v1/cases/{}", case.id),
        case.version,
        &case,
    ))
}

/// One case with its derived facts.
#[utoipa::path(
    tag = "cases",
    operation_id = "get_case",
    params(("id" = CaseId, Path)),
    responses(
        (status = 200, body = Case, headers(("ETag" = String))),
        (status = 404, description = "No such case, or not within your reach", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/cases/{id}")]
pub async fn get_case(state: web::Data<AppState>, user: AuthUser, id: web::Path<CaseId>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let scope = policy::case_scope(&user).map_err(|_| ApiError::not_found())?;
    let mut conn = state.conn().await?;
    let (row, facts) = queries::find_visible_with_facts(&mut conn, scope, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let case = Case::from_rows(row, facts);
    drop(conn);
    audit::record_reads(&state, vec![AuditEvent::by(&user, "case.read", "case", id)]).await?;
    Ok(ok_with_etag(case.version, &case))
}

/// Change a case's details (the stage changes through transitions).
#[utoipa::path(
    tag = "cases",
    operation_id = "update_case",
    request_body = UpdateCase,
    params(("id" = CaseId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses(
        (status = 200, body = Case, headers(("ETag" = String))),
    )
)]
#[patch("/cases/{id}")]
pub async fn update_case(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CaseId>,
    if_match: IfMatch,
    body: ValidatedJson<UpdateCase>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    let scope = policy::case_scope(&user).map_err(|_| ApiError::not_found())?;
    let mut conn = state.conn().await?;
    let case = conn
        .transaction(async |conn| {
            // 404 out of reach, then 403 for a role that may not change cases, then 412.
            let current = queries::find_visible_for_update(conn, scope, id)
                .await?
                .ok_or_else(ApiError::not_found)?;
            policy::require(&user, policy::Permission::ChangeCases)?;
            if_match.check(current.version)?;
            let reported_on = input.reported_on.unwrap_or(current.reported_on);
            check_case_dates(reported_on, input.incident_on.unwrap_or(current.incident_on))?;
            let county = input.county.unwrap_or(current.county);
            let sub_county = input.sub_county.clone().unwrap_or(current.sub_county.clone());
            county.check_sub_county(sub_county.as_deref())?;
            let changes = CaseChanges {
                county: input.county,
                sub_county: input.sub_county.clone().map(trimmed),
                location_type: input.location_type,
                exploitation_types: input.exploitation_types.clone().map(dedup),
                reported_on: input.reported_on,
                incident_on: input.incident_on,
                referral_source: input.referral_source,
                referral_partner_id: input.referral_partner_id,
                risk_level: input.risk_level,
                summary: input.summary.clone().map(trimmed),
                ..Default::default()
            };
            if let Some(new) = input.reported_on.filter(|d| *d != current.reported_on) {
                if queries::earliest_activity(conn, id)
                    .await?
                    .is_some_and(|first| first < new)
                {
                    return Err(ApiError::invalid_field(
                        "reported_on",
                        "after_activity",
                        "must not be after the first event, arrest, charge or court session of the case",
                    ));
                }
            }
            let row = queries::update(conn, id, &changes).await?;
            if row.reported_on != current.reported_on {
                queries::move_report_date(conn, id, row.reported_on).await?;
            }
            let corrected_report = (row.reported_on != current.reported_on)
                .then(|| json!({"from": current.reported_on, "to": row.reported_on}));
            let audit = AuditEvent::by(&user, "case.update", "case", id)
                .details(json!({"version": row.version, "reported_on": corrected_report}))
                .record(conn);
            // The entry and the answer's read go out together.
            let (_, case) = futures_util::try_join!(async { Ok::<_, ApiError>(audit.await?) }, load(conn, id))?;
            Ok(case)
        })
        .await?;
    Ok(ok_with_etag(case.version, &case))
}

/// A closure reason must agree with the verdicts: `convicted` needs a conviction on a charge;
/// `acquitted` needs every charge decided (acquitted or withdrawn) and at least one acquittal;
/// `withdrawn` and `insufficient_evidence` need no conviction and no charge still pending.
fn check_closure_reason(charges: &[ChargeStatus], reason: ClosureReason) -> Result<(), &'static str> {
    let pending = charges
        .iter()
        .any(|c| matches!(c, ChargeStatus::Filed | ChargeStatus::Reduced));
    match reason {
        ClosureReason::Withdrawn | ClosureReason::InsufficientEvidence
            if charges.contains(&ChargeStatus::Convicted) || pending =>
        {
            Err(
                "A case with a conviction, or with charges still before the court, cannot close as withdrawn or for insufficient evidence: record the verdicts or withdraw the charges first.",
            )
        }
        ClosureReason::Convicted if !charges.contains(&ChargeStatus::Convicted) => {
            Err("A case closed as convicted needs a conviction: record the verdict on a charge first.")
        }
        ClosureReason::Acquitted
            if !charges.contains(&ChargeStatus::Acquitted)
                || charges
                    .iter()
                    .any(|c| !matches!(c, ChargeStatus::Acquitted | ChargeStatus::Withdrawn)) =>
        {
            Err("A case closed as acquitted needs every charge decided and none convicted: record the verdicts first.")
        }
        _ => Ok(()),
    }
}

/// Move a case to another stage. Only the moves of the stage machine are allowed (409 lists the
/// allowed ones); `charged` needs a filed charge, `suspect_arrested` an arrested suspect, and
/// `closed` a closure reason and a program manager. Writes a `stage_change` event.
#[utoipa::path(
    tag = "cases",
    operation_id = "transition_case",
    request_body = Transition,
    params(("id" = CaseId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses(
        (status = 200, body = Case, headers(("ETag" = String))),
        (status = 403, description = "Closing needs a program manager; admins do not change cases", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Move not allowed from the current stage, or its requirement unmet; `extensions.allowed` lists the allowed moves", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/cases/{id}/transitions")]
pub async fn transition_case(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CaseId>,
    if_match: IfMatch,
    body: ValidatedJson<Transition>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    check_not_future("occurred_on", input.occurred_on)?;
    let mut conn = state.conn().await?;
    super::ensure_changeable(&mut conn, &user, id).await?;
    let case = conn
        .transaction(async |conn| {
            let current = queries::find_for_update(conn, id).await?;
            if_match.check_if_sent(current.version)?;
            let allowed = stages::allowed_moves(current.stage);
            if !allowed.contains(&input.to) {
                return Err(ApiError::conflict(
                    ErrorCode::InvalidTransition,
                    format!("A case cannot move from {} to {}.", current.stage, input.to),
                )
                .with_extensions(json!({"from": current.stage, "to": input.to, "allowed": allowed})));
            }
            if input.occurred_on < current.reported_on {
                return Err(ApiError::invalid_field(
                    "occurred_on",
                    "before_report",
                    "must not be before the case was reported",
                ));
            }
            if let Some(previous) = queries::latest_stage_change_on(conn, id).await?
                && input.occurred_on < previous
            {
                return Err(ApiError::invalid_field(
                    "occurred_on",
                    "before_previous_stage",
                    &format!("must not be before the previous stage change ({previous})"),
                ));
            }
            let unmet = |detail: &'static str| {
                ApiError::conflict(ErrorCode::RequirementUnmet, detail)
                    .with_extensions(json!({"from": current.stage, "to": input.to, "allowed": allowed}))
            };
            match stages::requirement(input.to) {
                Requirement::None => {}
                Requirement::ArrestedSuspect => {
                    if !queries::has_arrested_suspect(conn, id).await? {
                        return Err(unmet("Record the arrest of a suspect (status and arrest date) first."));
                    }
                }
                Requirement::FiledCharge => {
                    if !queries::has_filed_charge(conn, id).await? {
                        return Err(unmet("File a charge against a suspect first."));
                    }
                }
                Requirement::ClosureReason => {
                    policy::require(&user, policy::Permission::CloseCases)?;
                    let Some(reason) = input.closure_reason else {
                        return Err(ApiError::invalid_field(
                            "closure_reason",
                            "required",
                            "is required to close a case",
                        ));
                    };
                    check_closure_reason(&queries::charge_statuses(conn, id).await?, reason).map_err(unmet)?;
                }
            }
            let closing = input.to == Stage::Closed;
            let changes = CaseChanges {
                stage: Some(input.to),
                closure_reason: closing.then_some(input.closure_reason),
                closed_on: closing.then_some(Some(input.occurred_on)),
                ..Default::default()
            };
            queries::update(conn, id, &changes).await?;
            let mut event = EventRow::new(
                id,
                EventKind::StageChange,
                input.occurred_on,
                trimmed(input.note.clone()),
                user.id,
            );
            event.stage_from = Some(current.stage);
            event.stage_to = Some(input.to);
            queries::insert_event(conn, &event).await?;
            crate::webhooks::case_stage_changed(conn, id, &current.reference, current.stage, input.to).await?;
            AuditEvent::by(&user, "case.transition", "case", id)
                .details(json!({"from": current.stage, "to": input.to, "closure_reason": input.closure_reason}))
                .record(conn)
                .await?;
            load(conn, id).await
        })
        .await?;
    Ok(ok_with_etag(case.version, &case))
}
