//! Closing a survivor's restoration, reopening it, and the follow-up two years after closure.

use actix_web::{HttpResponse, get, post, web};
use chrono::{Duration, Months, NaiveDate, Utc};
use diesel_async::AsyncConnection;
use serde_json::json;

use super::{
    dto::{Approval, CloseSurvivor, FollowUp, FollowUpFilter, FollowUpView, RecordFollowUp, ReopenSurvivor},
    models::{ApprovalKind, ApprovalRow, ApprovalStatus, ClosureRow, FollowUpRow, FollowUpStatus},
    queries, trimmed,
};
use crate::{
    audit::AuditEvent,
    auth::{AuthUser, policy},
    db::pagination::{Page, PageParams},
    error::{ApiError, ApiResult, ErrorCode, Problem},
    extract::{IfMatch, ValidatedJson, ok_with_etag},
    ids::{ApprovalId, ClosureId, FollowUpId, SurvivorId},
    state::AppState,
    survivors::{
        self,
        dto::Survivor,
        models::{RestorationStatus, SurvivorChanges, SurvivorClosureReason},
        queries as survivor_queries,
    },
};

/// How long after closure a survivor is checked on again.
const FOLLOW_UP_AFTER: Months = Months::new(24);
/// The follow-up may be recorded this many days before it is due, and no earlier: a contact the day
/// after closure is not the check two years later.
pub const FOLLOW_UP_EARLY_DAYS: i64 = 60;
/// A `restored` closure needs a threshold-meeting assessment this recent.
const RESTORED_WITHIN_DAYS: i64 = 90;

/// 409 unless the survivor's restoration can close on `closed_on` for `reason`: still active, not
/// before intake, and `restored` only with a recent assessment meeting the threshold.
pub(crate) async fn check_closable(
    conn: &mut diesel_async::AsyncPgConnection,
    current: &crate::survivors::models::SurvivorRow,
    closed_on: NaiveDate,
    reason: SurvivorClosureReason,
    threshold: f64,
) -> ApiResult<()> {
    if current.restoration_status != RestorationStatus::Active {
        return Err(ApiError::conflict(
            ErrorCode::AlreadyClosed,
            "This survivor's restoration is already closed; reopen it first.",
        ));
    }
    if closed_on < current.intake_on {
        return Err(ApiError::invalid_field(
            "closed_on",
            "before_intake",
            "must not be before intake_on",
        ));
    }
    if reason == SurvivorClosureReason::Restored {
        let since = closed_on - Duration::days(RESTORED_WITHIN_DAYS);
        let recent = queries::assessments_between(conn, current.id, since, closed_on).await?;
        if !recent.iter().any(|a| a.meets(threshold)) {
            return Err(ApiError::conflict(
                ErrorCode::RestorationThresholdUnmet,
                format!(
                    "Closing as restored needs an assessment from {since} to {closed_on} with every domain at {threshold:.1} or above."
                ),
            ));
        }
    }
    Ok(())
}

/// Closes the restoration (checked beforehand): the closure record, the follow-up two years
/// later, the survivor's status. `closed_by` is who decided the closure.
pub(crate) async fn apply_closure(
    conn: &mut diesel_async::AsyncPgConnection,
    id: SurvivorId,
    closed_on: NaiveDate,
    reason: SurvivorClosureReason,
    note: Option<String>,
    closed_by: crate::ids::UserId,
) -> ApiResult<NaiveDate> {
    let closure = queries::insert_closure(
        conn,
        &ClosureRow {
            id: ClosureId::new(),
            survivor_id: id,
            closed_on,
            reason,
            note: trimmed(note),
            closed_by: Some(closed_by),
            reopened_on: None,
            reopen_reason: None,
            reopened_by: None,
            created_at: Utc::now(),
        },
    )
    .await?;
    let now = Utc::now();
    let due_on = closed_on.checked_add_months(FOLLOW_UP_AFTER).unwrap_or(NaiveDate::MAX);
    queries::insert_follow_up(
        conn,
        &FollowUpRow {
            id: FollowUpId::new(),
            survivor_id: id,
            closure_id: Some(closure.id),
            due_on,
            status: FollowUpStatus::Scheduled,
            conducted_on: None,
            outcome: None,
            notes: None,
            assessment_id: None,
            recorded_by: Some(closed_by),
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    survivor_queries::update(
        conn,
        id,
        &SurvivorChanges {
            restoration_status: Some(RestorationStatus::Closed),
            closed_on: Some(Some(closed_on)),
            closure_reason: Some(Some(reason)),
            ..Default::default()
        },
    )
    .await?;
    Ok(due_on)
}

/// Close the survivor's restoration. `restored` needs an assessment meeting the threshold within
/// the 90 days before closure (409 otherwise); every closure schedules a follow-up two years later.
/// A program manager's closure takes effect at once (200). An aftercare officer's is a request a
/// program manager approves or rejects (202, `GET /approvals?status=pending`); until then the
/// survivor stays active.
#[utoipa::path(
    tag = "restoration",
    operation_id = "close_survivor",
    request_body = CloseSurvivor,
    params(("id" = SurvivorId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses(
        (status = 200, description = "Closed (a program manager's closure)", body = Survivor, headers(("ETag" = String))),
        (status = 202, description = "Requested: a program manager approves or rejects it", body = Approval, headers(("Location" = String))),
        (status = 409, description = "Already closed, a closure request already pending, or `restored` without a recent assessment meeting the threshold", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/survivors/{id}/close")]
pub async fn close_survivor(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
    if_match: IfMatch,
    body: ValidatedJson<CloseSurvivor>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    crate::cases::dto::check_not_future("closed_on", input.closed_on)?;
    let threshold = state.config.assessment_threshold;
    let mut conn = state.conn().await?;
    survivors::ensure_restoration(&mut conn, &user, id).await?;
    policy::require(&user, policy::Permission::ChangeRestoration)?;
    if !policy::allows(user.role, policy::Permission::ApproveClosures) {
        let request = conn
            .transaction(async |conn| {
                let current = survivor_queries::lock(conn, id).await?;
                if_match.check_if_sent(current.version)?;
                check_closable(conn, &current, input.closed_on, input.reason, threshold).await?;
                let row = queries::insert_approval(
                    conn,
                    &ApprovalRow {
                        id: ApprovalId::new(),
                        kind: ApprovalKind::SurvivorClosure,
                        survivor_id: id,
                        status: ApprovalStatus::Pending,
                        closed_on: input.closed_on,
                        reason: input.reason,
                        note: trimmed(input.note.clone()),
                        requested_by: user.id,
                        requested_at: Utc::now(),
                        decided_by: None,
                        decided_at: None,
                        decision_reason: None,
                        version: 1,
                    },
                )
                .await
                .map_err(|e| {
                    ApiError::from(e).or_conflict(
                        ErrorCode::ApprovalPending,
                        "A closure of this survivor is already awaiting approval.",
                    )
                })?;
                AuditEvent::by(&user, "survivor.close_requested", "survivor", id)
                    .details(json!({"approval_id": row.id, "reason": row.reason, "closed_on": row.closed_on}))
                    .record(conn)
                    .await?;
                Ok::<_, ApiError>(row)
            })
            .await?;
        return Ok(HttpResponse::Accepted()
            .insert_header((
                actix_web::http::header::LOCATION,
                format!("/api/v1/approvals/{}", request.id),
            ))
            .json(Approval::from(request)));
    }
    let survivor = conn
        .transaction(async |conn| {
            let current = survivor_queries::lock(conn, id).await?;
            if_match.check_if_sent(current.version)?;
            check_closable(conn, &current, input.closed_on, input.reason, threshold).await?;
            let due_on = apply_closure(conn, id, input.closed_on, input.reason, input.note.clone(), user.id).await?;
            let superseded = queries::supersede_pending(conn, id, user.id).await?;
            AuditEvent::by(&user, "survivor.close", "survivor", id)
                .details(json!({"reason": input.reason, "follow_up_due_on": due_on, "requests_superseded": superseded}))
                .record(conn)
                .await?;
            survivors::load(conn, &user, id).await
        })
        .await?;
    Ok(ok_with_etag(survivor.version, &survivor))
}

/// Reopen a closed restoration. The closure stays in the history; its pending follow-up is cancelled.
#[utoipa::path(
    tag = "restoration",
    operation_id = "reopen_survivor",
    request_body = ReopenSurvivor,
    params(("id" = SurvivorId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses(
        (status = 200, body = Survivor, headers(("ETag" = String))),
        (status = 409, description = "Not closed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/survivors/{id}/reopen")]
pub async fn reopen_survivor(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
    if_match: IfMatch,
    body: ValidatedJson<ReopenSurvivor>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    crate::cases::dto::check_not_future("reopened_on", input.reopened_on)?;
    let mut conn = state.conn().await?;
    survivors::ensure_restoration(&mut conn, &user, id).await?;
    crate::auth::policy::require(&user, crate::auth::policy::Permission::ChangeRestoration)?;
    let survivor = conn
        .transaction(async |conn| {
            let current = survivor_queries::lock(conn, id).await?;
            if_match.check_if_sent(current.version)?;
            if current.restoration_status == RestorationStatus::Active {
                return Err(ApiError::conflict(
                    ErrorCode::NotClosed,
                    "This survivor's restoration is open.",
                ));
            }
            if current.closed_on.is_some_and(|closed| input.reopened_on < closed) {
                return Err(ApiError::invalid_field(
                    "reopened_on",
                    "before_closure",
                    "must not be before the closure",
                ));
            }
            queries::mark_reopened(conn, id, input.reopened_on, input.reason.trim(), user.id).await?;
            queries::cancel_follow_ups(conn, id).await?;
            survivor_queries::update(
                conn,
                id,
                &SurvivorChanges {
                    restoration_status: Some(RestorationStatus::Active),
                    closed_on: Some(None),
                    closure_reason: Some(None),
                    ..Default::default()
                },
            )
            .await?;
            AuditEvent::by(&user, "survivor.reopen", "survivor", id)
                .record(conn)
                .await?;
            survivors::load(conn, &user, id).await
        })
        .await?;
    Ok(ok_with_etag(survivor.version, &survivor))
}

/// Follow-ups of the survivors within reach, by due date: `due` (within 30 days), `overdue`, `done`.
#[utoipa::path(
    tag = "restoration",
    operation_id = "list_follow_ups",
    params(FollowUpFilter, PageParams),
    responses((status = 200, body = Page<FollowUp>))
)]
#[get("/follow-ups")]
pub async fn list_follow_ups(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: crate::extract::Query<FollowUpFilter>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let scope = policy::survivor_scope(&user)?;
    policy::may_manage_restoration(&user)?;
    let limit = page.limit()?;
    let today = crate::vocab::today();
    let (status, from, before) = match filter.status {
        Some(FollowUpView::Due) => (
            Some(FollowUpStatus::Scheduled),
            Some(today),
            Some(today + Duration::days(31)),
        ),
        Some(FollowUpView::Overdue) => (Some(FollowUpStatus::Scheduled), None, Some(today)),
        Some(FollowUpView::Done) => (Some(FollowUpStatus::Done), None, None),
        None => (None, None, None),
    };
    let mut conn = state.conn().await?;
    let rows = queries::list_follow_ups(&mut conn, scope, status, from, before, page.after()?, limit).await?;
    let page = Page::from_rows(rows, limit, |f| (f.due_on, f.id), FollowUp::from);
    let reads = page
        .data
        .iter()
        .map(|f| AuditEvent::by(&user, "follow_up.list", "survivor", f.survivor_id))
        .collect();
    AuditEvent::record_all(reads, &mut conn).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One follow-up.
#[utoipa::path(
    tag = "restoration",
    operation_id = "get_follow_up",
    params(("id" = FollowUpId, Path)),
    responses((status = 200, body = FollowUp))
)]
#[get("/follow-ups/{id}")]
pub async fn get_follow_up(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<FollowUpId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let row = queries::find_follow_up(&mut conn, id).await?;
    survivors::ensure_restoration(&mut conn, &user, row.survivor_id).await?;
    AuditEvent::by(&user, "follow_up.read", "survivor", row.survivor_id)
        .details(json!({"follow_up_id": id}))
        .record(&conn)
        .await?;
    Ok(HttpResponse::Ok().json(FollowUp::from(row)))
}

/// Record the follow-up of a closed survivor, two years after closure (completes the scheduled
/// one). It may be recorded from 60 days before its due date; earlier is a 422.
#[utoipa::path(
    tag = "restoration",
    operation_id = "record_follow_up",
    request_body = RecordFollowUp,
    params(("id" = SurvivorId, Path), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe.")),
    responses(
        (status = 201, body = FollowUp, headers(("Location" = String))),
        (status = 409, description = "The survivor's restoration is not closed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/survivors/{id}/follow-ups")]
pub async fn record_follow_up(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
    body: ValidatedJson<RecordFollowUp>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    crate::cases::dto::check_not_future("conducted_on", input.conducted_on)?;
    let mut conn = state.conn().await?;
    survivors::ensure_restoration(&mut conn, &user, id).await?;
    crate::auth::policy::require(&user, crate::auth::policy::Permission::ChangeRestoration)?;
    let row = conn
        .transaction(async |conn| {
            let survivor = survivor_queries::lock(conn, id).await?;
            if survivor.restoration_status == RestorationStatus::Active {
                return Err(ApiError::conflict(
                    ErrorCode::NotClosed,
                    "Follow-ups are recorded after a survivor's restoration is closed.",
                ));
            }
            if survivor.closed_on.is_some_and(|closed| input.conducted_on < closed) {
                return Err(ApiError::invalid_field(
                    "conducted_on",
                    "before_closure",
                    "must not be before the closure",
                ));
            }
            if let Some(assessment) = input.assessment_id {
                match queries::find_assessment(conn, assessment).await? {
                    Some(a) if a.survivor_id == id => {}
                    _ => {
                        return Err(ApiError::invalid_field(
                            "assessment_id",
                            "unknown_assessment",
                            "is not an assessment of this survivor",
                        ));
                    }
                }
            }
            let now = Utc::now();
            let Some(scheduled) = queries::scheduled_follow_up(conn, id).await? else {
                return Err(ApiError::conflict(
                    ErrorCode::NoFollowUpDue,
                    "This survivor has no scheduled follow-up; it was already recorded.",
                ));
            };
            let earliest = scheduled.due_on - Duration::days(FOLLOW_UP_EARLY_DAYS);
            if input.conducted_on < earliest {
                return Err(ApiError::invalid_field(
                    "conducted_on",
                    "before_due",
                    &format!(
                        "the follow-up is due on {}; it can be recorded from {earliest} ({FOLLOW_UP_EARLY_DAYS} days before)",
                        scheduled.due_on
                    ),
                ));
            }
            let done = FollowUpRow {
                id: scheduled.id,
                survivor_id: id,
                closure_id: scheduled.closure_id,
                due_on: scheduled.due_on,
                status: FollowUpStatus::Done,
                conducted_on: Some(input.conducted_on),
                outcome: Some(input.outcome),
                notes: trimmed(input.notes.clone()),
                assessment_id: input.assessment_id,
                recorded_by: Some(user.id),
                created_at: now,
                updated_at: now,
            };
            let row = queries::complete_follow_up(conn, &done).await?;
            survivor_queries::update(
                conn,
                id,
                &SurvivorChanges {
                    restoration_status: Some(RestorationStatus::FollowUpDone),
                    ..Default::default()
                },
            )
            .await?;
            AuditEvent::by(&user, "survivor.follow_up", "survivor", id)
                .details(json!({"follow_up_id": row.id, "outcome": input.outcome}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/follow-ups/{}", row.id),
        ))
        .json(FollowUp::from(row)))
}
