//! Requests a program manager approves or rejects (DESIGN §2): an aftercare officer's closure of
//! a survivor's restoration. Who requested, approved or rejected, and when, is kept and audited.

use actix_web::{HttpResponse, get, post, web};
use diesel_async::AsyncConnection;
use serde_json::json;

use super::{
    closure::{apply_closure, check_closable},
    dto::{Approval, ApprovalFilter, Approve, Reject},
    models::{ApprovalRow, ApprovalStatus},
    queries, trimmed,
};
use crate::{
    audit::AuditEvent,
    auth::{AuthUser, policy},
    db::pagination::{Page, PageParams},
    error::{ApiError, ApiResult, ErrorCode, Problem},
    extract::{IfMatch, ValidatedJson, ok_with_etag},
    ids::ApprovalId,
    state::AppState,
    survivors::{self, queries as survivor_queries},
};

/// Requests about the survivors within reach, newest first; `status=pending` is what awaits a
/// decision (program managers see all, aftercare officers those about their survivors).
#[utoipa::path(
    tag = "restoration",
    operation_id = "list_approvals",
    params(ApprovalFilter, PageParams),
    responses((status = 200, body = Page<Approval>))
)]
#[get("/approvals")]
pub async fn list_approvals(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: crate::extract::Query<ApprovalFilter>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let scope = policy::survivor_scope(&user)?;
    policy::may_manage_restoration(&user)?;
    let limit = page.limit()?;
    let mut conn = state.conn().await?;
    let rows = queries::list_approvals(
        &mut conn,
        scope,
        filter.status,
        filter.survivor_id,
        page.after()?,
        limit,
    )
    .await?;
    let page = Page::from_rows(rows, limit, |a| a.id, Approval::from);
    let reads = page
        .data
        .iter()
        .map(|a| AuditEvent::by(&user, "approval.list", "survivor", a.survivor_id))
        .collect();
    AuditEvent::record_all(reads, &mut conn).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// 404 unless the request is about a survivor within reach.
async fn in_reach(
    conn: &mut diesel_async::AsyncPgConnection,
    user: &AuthUser,
    id: ApprovalId,
) -> ApiResult<ApprovalRow> {
    let row = queries::find_approval(conn, id).await?;
    survivors::ensure_restoration(conn, user, row.survivor_id).await?;
    Ok(row)
}

/// One request.
#[utoipa::path(
    tag = "restoration",
    operation_id = "get_approval",
    params(("id" = ApprovalId, Path)),
    responses((status = 200, body = Approval, headers(("ETag" = String))))
)]
#[get("/approvals/{id}")]
pub async fn get_approval(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ApprovalId>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let row = in_reach(&mut conn, &user, *id).await?;
    AuditEvent::by(&user, "approval.read", "survivor", row.survivor_id)
        .details(json!({"approval_id": row.id}))
        .record(&conn)
        .await?;
    Ok(ok_with_etag(row.version, &Approval::from(row)))
}

/// The pending request, locked, after the caller's permission and If-Match.
async fn pending(
    conn: &mut diesel_async::AsyncPgConnection,
    id: ApprovalId,
    if_match: &IfMatch,
    user: crate::ids::UserId,
) -> ApiResult<ApprovalRow> {
    let row = queries::lock_approval(conn, id).await?;
    if_match.check_if_sent(row.version)?;
    if row.requested_by == user {
        return Err(ApiError::conflict(
            ErrorCode::SelfApproval,
            "A request is decided by someone other than who made it.",
        ));
    }
    if row.status != ApprovalStatus::Pending {
        return Err(ApiError::conflict(
            ErrorCode::ApprovalDecided,
            format!("This request was already {}.", row.status),
        ));
    }
    Ok(row)
}

/// Approve a request (program managers): the survivor's restoration closes as requested, checked
/// again now (still active; `restored` still backed by a recent assessment).
#[utoipa::path(
    tag = "restoration",
    operation_id = "approve",
    request_body = Approve,
    params(("id" = ApprovalId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses(
        (status = 200, body = Approval, headers(("ETag" = String))),
        (status = 409, description = "Already decided, or the closure no longer possible (already closed, threshold unmet)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/approvals/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ApprovalId>,
    if_match: IfMatch,
    body: ValidatedJson<Approve>,
) -> ApiResult<HttpResponse> {
    let note = trimmed(body.0.note);
    let threshold = state.config.assessment_threshold;
    let mut conn = state.conn().await?;
    in_reach(&mut conn, &user, *id).await?;
    policy::require(&user, policy::Permission::ApproveClosures)?;
    let row = conn
        .transaction(async |conn| {
            // The survivor first, as every closure locks it, then the request: the same order as
            // a closure request, so the two never deadlock.
            let request = queries::find_approval(conn, *id).await?;
            let current = survivor_queries::lock(conn, request.survivor_id).await?;
            let request = pending(conn, *id, &if_match, user.id).await?;
            check_closable(conn, &current, request.closed_on, request.reason, threshold).await?;
            let due_on = apply_closure(
                conn,
                request.survivor_id,
                request.closed_on,
                request.reason,
                request.note.clone(),
                request.requested_by,
            )
            .await?;
            let row = queries::decide_approval(conn, request.id, ApprovalStatus::Approved, user.id, note.clone()).await?;
            AuditEvent::by(&user, "approval.approve", "survivor", row.survivor_id)
                .details(json!({"approval_id": row.id, "requested_by": row.requested_by}))
                .record(conn)
                .await?;
            AuditEvent::by(&user, "survivor.close", "survivor", row.survivor_id)
                .details(json!({"reason": row.reason, "follow_up_due_on": due_on, "requested_by": row.requested_by, "approval_id": row.id}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(ok_with_etag(row.version, &Approval::from(row)))
}

/// Reject a request with a reason (program managers); the survivor stays active.
#[utoipa::path(
    tag = "restoration",
    operation_id = "reject",
    request_body = Reject,
    params(("id" = ApprovalId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses(
        (status = 200, body = Approval, headers(("ETag" = String))),
        (status = 409, description = "Already decided", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/approvals/{id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ApprovalId>,
    if_match: IfMatch,
    body: ValidatedJson<Reject>,
) -> ApiResult<HttpResponse> {
    let reason = body.0.reason.trim().to_string();
    let mut conn = state.conn().await?;
    in_reach(&mut conn, &user, *id).await?;
    policy::require(&user, policy::Permission::ApproveClosures)?;
    let row = conn
        .transaction(async |conn| {
            let request = pending(conn, *id, &if_match, user.id).await?;
            let row = queries::decide_approval(
                conn,
                request.id,
                ApprovalStatus::Rejected,
                user.id,
                Some(reason.clone()),
            )
            .await?;
            AuditEvent::by(&user, "approval.reject", "survivor", row.survivor_id)
                .details(json!({"approval_id": row.id, "requested_by": row.requested_by}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(ok_with_etag(row.version, &Approval::from(row)))
}
