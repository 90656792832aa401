//! Court sessions of a case: the ten or so sittings of a trial, adjournments, survivor support.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use super::{
    dto::{CourtSession, CreateCourtSession, UpdateCourtSession, check_adjournment},
    models::{CourtSessionChanges, CourtSessionRow, SessionStatus},
    queries, trimmed,
};
use crate::{
    audit::AuditEvent,
    auth::AuthUser,
    cases::{
        self,
        models::{EventKind, EventRow},
    },
    db::pagination::{Page, PageParams},
    error::{ApiError, ApiResult, ErrorCode, Problem},
    extract::{IfMatch, ValidatedJson, created_with_etag, ok_with_etag},
    ids::{CaseId, CourtSessionId, UserId},
    state::AppState,
};

/// A session scheduled in the future cannot have been held or adjourned yet.
fn check_outcome_date(status: SessionStatus, scheduled_on: chrono::NaiveDate) -> ApiResult<()> {
    if matches!(status, SessionStatus::Held | SessionStatus::Adjourned) && scheduled_on > crate::vocab::today() {
        return Err(ApiError::invalid_field(
            "status",
            "in_future",
            "a session scheduled in the future cannot be held or adjourned yet",
        ));
    }
    Ok(())
}

/// A held or adjourned session goes on the case's timeline.
async fn record_outcome(conn: &mut AsyncPgConnection, row: &CourtSessionRow, by: UserId) -> ApiResult<()> {
    check_outcome_date(row.status, row.scheduled_on)?;
    if matches!(row.status, SessionStatus::Held | SessionStatus::Adjourned) {
        let note = match row.adjournment_reason {
            Some(reason) => format!("{} at {}: adjourned ({reason})", row.purpose, row.court),
            None => format!("{} at {}: {}", row.purpose, row.court, row.status),
        };
        cases::queries::insert_event(
            conn,
            &EventRow::new(row.case_id, EventKind::CourtSession, row.scheduled_on, Some(note), by),
        )
        .await?;
    }
    Ok(())
}

/// The court sessions of a case, by scheduled date (earliest first).
#[utoipa::path(
    tag = "prosecution",
    operation_id = "list_court_sessions",
    params(("id" = CaseId, Path), PageParams),
    responses((status = 200, body = Page<CourtSession>))
)]
#[get("/cases/{id}/court-sessions")]
pub async fn list_court_sessions(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CaseId>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let limit = page.limit()?;
    let after = page.after()?;
    let mut conn = state.conn().await?;
    cases::ensure_visible(&mut conn, &user, id).await?;
    let rows = queries::sessions_of_case(&mut conn, id, after, limit).await?;
    AuditEvent::by(&user, "court_session.list", "case", id)
        .record(&conn)
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |s| (s.scheduled_on, s.id),
        CourtSession::from,
    )))
}

/// One court session.
#[utoipa::path(
    tag = "prosecution",
    operation_id = "get_court_session",
    params(("id" = CourtSessionId, Path)),
    responses(
        (status = 200, body = CourtSession, headers(("ETag" = String))),
    )
)]
#[get("/court-sessions/{id}")]
pub async fn get_court_session(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CourtSessionId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let case_id = queries::session_case(&mut conn, id).await?;
    cases::ensure_visible(&mut conn, &user, case_id).await?;
    let row = queries::find_session(&mut conn, id).await?;
    AuditEvent::by(&user, "court_session.read", "case", case_id)
        .details(json!({"court_session_id": id}))
        .record(&conn)
        .await?;
    Ok(ok_with_etag(row.version, &CourtSession::from(row)))
}

/// Schedule (or record) a court session of the case.
#[utoipa::path(
    tag = "prosecution",
    operation_id = "create_court_session",
    request_body = CreateCourtSession,
    params(("id" = CaseId, Path), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe.")),
    responses(
        (status = 201, body = CourtSession, headers(("ETag" = String), ("Location" = String))),
    )
)]
#[post("/cases/{id}/court-sessions")]
pub async fn create_court_session(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CaseId>,
    body: ValidatedJson<CreateCourtSession>,
) -> ApiResult<HttpResponse> {
    let case_id = id.into_inner();
    let input = body.0;
    check_adjournment(input.status, input.adjournment_reason)?;
    let mut conn = state.conn().await?;
    cases::ensure_changeable(&mut conn, &user, case_id).await?;
    let row = conn
        .transaction(async |conn| {
            let case = cases::queries::find_for_update(conn, case_id).await?;
            if input.scheduled_on < case.reported_on {
                return Err(ApiError::invalid_field(
                    "scheduled_on",
                    "before_report",
                    "must not be before the case was reported",
                ));
            }
            let now = Utc::now();
            let cost = input.support_cost.clone();
            let row = queries::insert_session(
                conn,
                &CourtSessionRow {
                    id: CourtSessionId::new(),
                    case_id,
                    court: input.court.trim().to_string(),
                    scheduled_on: input.scheduled_on,
                    purpose: input.purpose,
                    status: input.status,
                    adjournment_reason: input.adjournment_reason,
                    survivor_attended: input.survivor_attended,
                    survivor_accompanied: input.survivor_accompanied,
                    intermediary_used: input.intermediary_used,
                    support_cost_minor: cost.as_ref().map(|m| m.amount_minor),
                    support_cost_currency: cost.map(|m| m.currency),
                    notes: trimmed(input.notes.clone()),
                    version: 1,
                    created_at: now,
                    updated_at: now,
                },
            )
            .await?;
            record_outcome(conn, &row, user.id).await?;
            if row.status == crate::prosecution::models::SessionStatus::Scheduled {
                crate::webhooks::court_session_scheduled(conn, row.id, case_id, row.scheduled_on).await?;
            }
            AuditEvent::by(&user, "court_session.create", "case", case_id)
                .details(json!({"court_session_id": row.id, "status": row.status}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    let location = format!("/api/v1/court-sessions/{}", row.id);
    Ok(created_with_etag(location, row.version, &CourtSession::from(row)))
}

/// Record what happened at a session (held, adjourned and why, survivor support) or reschedule it.
#[utoipa::path(
    tag = "prosecution",
    operation_id = "update_court_session",
    request_body = UpdateCourtSession,
    params(("id" = CourtSessionId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses(
        (status = 200, body = CourtSession, headers(("ETag" = String))),
        (status = 409, description = "The outcome is recorded; the session cannot go back to scheduled", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/court-sessions/{id}")]
pub async fn update_court_session(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CourtSessionId>,
    if_match: IfMatch,
    body: ValidatedJson<UpdateCourtSession>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    let mut conn = state.conn().await?;
    let case_id = queries::session_case(&mut conn, id).await?;
    cases::ensure_changeable(&mut conn, &user, case_id).await?;
    let row = conn
        .transaction(async |conn| {
            let case = cases::queries::find_for_update(conn, case_id).await?;
            let current = queries::lock_session(conn, id).await?;
            if_match.check(current.version)?;
            let status = input.status.unwrap_or(current.status);
            // What happened at a sitting is history: it can be corrected (held ↔ adjourned) but the
            // sitting does not go back to being scheduled; a new date is a new session.
            if status == SessionStatus::Scheduled && current.status != SessionStatus::Scheduled {
                return Err(ApiError::conflict(
                    ErrorCode::SessionOutcomeRecorded,
                    "This session's outcome is recorded; schedule the next sitting as a new session.",
                ));
            }
            check_adjournment(status, input.adjournment_reason.unwrap_or(current.adjournment_reason))?;
            if input.scheduled_on.is_some_and(|d| d < case.reported_on) {
                return Err(ApiError::invalid_field(
                    "scheduled_on",
                    "before_report",
                    "must not be before the case was reported",
                ));
            }
            let cost = input.support_cost.clone();
            let changes = CourtSessionChanges {
                court: input.court.as_deref().map(|c| c.trim().to_string()),
                scheduled_on: input.scheduled_on,
                purpose: input.purpose,
                status: input.status,
                adjournment_reason: input.adjournment_reason,
                survivor_attended: input.survivor_attended,
                survivor_accompanied: input.survivor_accompanied,
                intermediary_used: input.intermediary_used,
                support_cost_minor: cost.as_ref().map(|c| c.as_ref().map(|m| m.amount_minor)),
                support_cost_currency: cost.map(|c| c.map(|m| m.currency)),
                notes: input.notes.clone().map(trimmed),
            };
            let row = queries::update_session(conn, id, &changes).await?;
            check_outcome_date(row.status, row.scheduled_on)?;
            if row.status != current.status {
                record_outcome(conn, &row, user.id).await?;
            }
            AuditEvent::by(&user, "court_session.update", "case", case_id)
                .details(json!({"court_session_id": id, "status": row.status}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(ok_with_etag(row.version, &CourtSession::from(row)))
}
