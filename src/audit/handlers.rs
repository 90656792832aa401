use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    auth::{AuthUser, Role, policy},
    db::{
        pagination::{Page, PageParams},
        schema::audit_log,
    },
    error::ApiResult,
    ids::UserId,
    state::AppState,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    at: DateTime<Utc>,
    actor_id: Option<UserId>,
    actor_role: Option<Role>,
    action: String,
    resource_type: String,
    resource_id: Option<String>,
    request_id: Option<String>,
    client_addr: Option<String>,
    details: serde_json::Value,
}

/// One entry of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<UserId>,
    pub actor_role: Option<Role>,
    /// What was done, e.g. `auth.login`, `auth.login_failed`, `user.create`, `case.read`.
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub details: serde_json::Value,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            id: r.id,
            at: r.at,
            actor_id: r.actor_id,
            actor_role: r.actor_role,
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            request_id: r.request_id,
            client_addr: r.client_addr,
            details: r.details,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    pub actor_id: Option<UserId>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// Entries at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this instant.
    pub to: Option<DateTime<Utc>>,
}

/// The audit trail, newest first (admin only).
#[utoipa::path(
    tag = "audit",
    operation_id = "list_audit_log",
    params(AuditFilter, PageParams),
    responses((status = 200, body = Page<AuditEntry>), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/audit-log")]
pub async fn list_audit_log(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: crate::extract::Query<AuditFilter>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ReadAuditLog)?;
    let limit = page.limit()?;
    let after: Option<i64> = page.after()?;
    let mut query = audit_log::table.select(AuditRow::as_select()).into_boxed();
    if let Some(actor) = filter.actor_id {
        query = query.filter(audit_log::actor_id.eq(actor));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_log::action.eq(action));
    }
    if let Some(kind) = &filter.resource_type {
        query = query.filter(audit_log::resource_type.eq(kind));
    }
    if let Some(id) = &filter.resource_id {
        query = query.filter(audit_log::resource_id.eq(id));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_log::at.lt(to));
    }
    if let Some(after) = after {
        query = query.filter(audit_log::id.lt(after));
    }
    let mut conn = state.conn().await?;
    let rows = query
        .order(audit_log::id.desc())
        .limit(limit + 1)
        .load(&mut conn)
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r: &AuditRow| r.id, AuditEntry::from)))
}

/// The entries about one record, newest first (its access log).
pub async fn resource_log(
    conn: &mut diesel_async::AsyncPgConnection,
    resource_type: &str,
    resource_id: &str,
    after: Option<i64>,
    limit: i64,
) -> diesel::QueryResult<Vec<AuditRow>> {
    let mut query = audit_log::table
        .filter(audit_log::resource_type.eq(resource_type))
        .filter(audit_log::resource_id.eq(resource_id))
        .select(AuditRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(audit_log::id.lt(after));
    }
    query.order(audit_log::id.desc()).limit(limit + 1).load(conn).await
}
