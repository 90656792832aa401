//! A case's timeline, its team (who may see it), and who has accessed it.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{NaiveDate, Utc};
use diesel_async::AsyncConnection;
use serde_json::json;

use super::{
    dto::{Assignment, CreateAssignment, CreateEvent, Event, check_not_future},
    ensure_visible,
    models::{AssignmentRow, EventKind, EventRow},
    queries,
};
use crate::{
    audit::{AuditEvent, handlers::AuditEntry},
    auth::{AuthUser, Role, policy},
    db::pagination::{Page, PageParams},
    error::{ApiError, ApiResult, ErrorCode, Problem},
    extract::ValidatedJson,
    ids::{AssignmentId, CaseId, EventId, UserId},
    state::AppState,
    users,
};

/// The case's timeline, latest first.
#[utoipa::path(
    tag = "cases",
    operation_id = "list_case_events",
    params(("id" = CaseId, Path), PageParams),
    responses((status = 200, body = Page<Event>))
)]
#[get("/cases/{id}/events")]
pub async fn list_events(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CaseId>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let limit = page.limit()?;
    let after: Option<(NaiveDate, EventId)> = page.after()?;
    let mut conn = state.conn().await?;
    ensure_visible(&mut conn, &user, id).await?;
    let rows = queries::list_events(&mut conn, id, after, limit).await?;
    AuditEvent::by(&user, "case.events_read", "case", id)
        .record(&conn)
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |e| (e.occurred_on, e.id), Event::from)))
}

/// Add an event to the case's timeline (a police follow-up, an escalation, a note…).
#[utoipa::path(
    tag = "cases",
    operation_id = "create_case_event",
    request_body = CreateEvent,
    params(("id" = CaseId, Path), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe.")),
    responses((status = 201, body = Event))
)]
#[post("/cases/{id}/events")]
pub async fn create_event(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CaseId>,
    body: ValidatedJson<CreateEvent>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    if input.kind == EventKind::StageChange {
        return Err(ApiError::invalid_field(
            "kind",
            "reserved",
            "stage changes are recorded through /transitions",
        ));
    }
    check_not_future("occurred_on", input.occurred_on)?;
    let mut conn = state.conn().await?;
    super::ensure_changeable(&mut conn, &user, id).await?;
    let event = conn
        .transaction(async |conn| {
            let case = queries::find_for_update(conn, id).await?;
            if input.occurred_on < case.reported_on {
                return Err(ApiError::invalid_field(
                    "occurred_on",
                    "before_report",
                    "must not be before the case was reported",
                ));
            }
            let note = input
                .note
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(String::from);
            let event =
                queries::insert_event(conn, &EventRow::new(id, input.kind, input.occurred_on, note, user.id)).await?;
            AuditEvent::by(&user, "case.event_add", "case", id)
                .details(json!({"event_id": event.id, "kind": event.kind}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(event)
        })
        .await?;
    Ok(HttpResponse::Created().json(Event::from(event)))
}

/// Who is on the case (current assignments), in the order they were assigned.
#[utoipa::path(
    tag = "cases",
    operation_id = "list_case_assignments",
    params(("id" = CaseId, Path), PageParams),
    responses((status = 200, body = Page<Assignment>))
)]
#[get("/cases/{id}/assignments")]
pub async fn list_assignments(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CaseId>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let limit = page.limit()?;
    let after: Option<AssignmentId> = page.after()?;
    let mut conn = state.conn().await?;
    ensure_visible(&mut conn, &user, id).await?;
    let rows = queries::active_assignments(&mut conn, id, after, limit).await?;
    AuditEvent::by(&user, "case.assignments_read", "case", id)
        .record(&conn)
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |(a, _)| a.id, Assignment::from)))
}

/// Assign a user to the case (program managers and admins). Case workers then see the case.
#[utoipa::path(
    tag = "cases",
    operation_id = "create_case_assignment",
    request_body = CreateAssignment,
    params(("id" = CaseId, Path), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe.")),
    responses(
        (status = 201, body = Assignment),
        (status = 409, description = "Already assigned", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/cases/{id}/assignments")]
pub async fn create_assignment(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CaseId>,
    body: ValidatedJson<CreateAssignment>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    let mut conn = state.conn().await?;
    ensure_visible(&mut conn, &user, id).await?;
    policy::require(&user, policy::Permission::ManageCaseTeams)?;
    let assignee = users::ensure_assignable(
        &mut conn,
        input.user_id,
        &[Role::CaseWorker, Role::AftercareOfficer, Role::ProgramManager],
        "a case",
    )
    .await?;
    let row = conn
        .transaction(async |conn| {
            let row = queries::insert_assignment(
                conn,
                &AssignmentRow {
                    id: AssignmentId::new(),
                    case_id: id,
                    user_id: input.user_id,
                    role: input.role,
                    assigned_by: Some(user.id),
                    assigned_at: Utc::now(),
                    ended_at: None,
                    ended_by: None,
                },
            )
            .await
            .map_err(|e| {
                ApiError::from(e).or_conflict(ErrorCode::AlreadyAssigned, "This user is already assigned to the case.")
            })?;
            AuditEvent::by(&user, "case.assign", "case", id)
                .details(json!({"user_id": row.user_id, "role": row.role}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(Assignment::from((row, assignee))))
}

/// End a user's assignment to the case (kept in its history).
#[utoipa::path(
    tag = "cases",
    operation_id = "delete_case_assignment",
    params(("id" = CaseId, Path), ("user_id" = UserId, Path)),
    responses(
        (status = 204, description = "Unassigned"),
    )
)]
#[delete("/cases/{id}/assignments/{user_id}")]
pub async fn delete_assignment(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(CaseId, UserId)>,
) -> ApiResult<HttpResponse> {
    let (id, assignee) = path.into_inner();
    let mut conn = state.conn().await?;
    ensure_visible(&mut conn, &user, id).await?;
    policy::require(&user, policy::Permission::ManageCaseTeams)?;
    conn.transaction(async |conn| {
        if queries::end_assignment(conn, id, assignee, user.id, Utc::now()).await? == 0 {
            return Err(ApiError::not_found());
        }
        AuditEvent::by(&user, "case.unassign", "case", id)
            .details(json!({"user_id": assignee}))
            .record(conn)
            .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who read or changed this case and its parts, newest first (program managers and admins).
#[utoipa::path(
    tag = "cases",
    operation_id = "get_case_access_log",
    params(("id" = CaseId, Path), PageParams),
    responses(
        (status = 200, body = Page<AuditEntry>),
    )
)]
#[get("/cases/{id}/access-log")]
pub async fn case_access_log(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CaseId>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let limit = page.limit()?;
    let mut conn = state.conn().await?;
    ensure_visible(&mut conn, &user, id).await?;
    policy::require(&user, policy::Permission::ReadCaseAccessLog)?;
    let rows = crate::audit::handlers::resource_log(&mut conn, "case", &id.to_string(), page.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, AuditEntry::from)))
}
