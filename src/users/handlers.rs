use actix_web::{HttpResponse, get, patch, post, web};
use chrono::Utc;
use diesel_async::AsyncConnection;
use serde_json::json;

use super::{
    dto::{CreateUser, UpdateUser, User, UserFilter},
    models::{NewUser, UserChanges},
    queries,
};
use crate::{
    audit::AuditEvent,
    auth::{AuthUser, Role, password, policy},
    db::pagination::{Page, PageParams},
    error::{ApiError, ApiResult, ErrorCode, Problem},
    extract::{IfMatch, ValidatedJson, created_with_etag, ok_with_etag},
    ids::UserId,
    state::AppState,
};

fn partner_needs_organization() -> ApiError {
    ApiError::invalid_field("organization_id", "required", "is required for the partner role")
}

/// List user accounts (admin), newest first.
#[utoipa::path(
    tag = "users",
    operation_id = "list_users",
    params(UserFilter, PageParams),
    responses(
        (status = 200, body = Page<User>),
    )
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: crate::extract::Query<UserFilter>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ManageUsers)?;
    let limit = page.limit()?;
    let mut conn = state.conn().await?;
    let rows = queries::list(&mut conn, &filter, page.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, User::from)))
}

/// Create a user account (admin, from a signed-in session: not with an API key).
#[utoipa::path(
    tag = "users",
    operation_id = "create_user",
    request_body = CreateUser,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe: the first response is replayed.")),
    responses(
        (status = 201, body = User, headers(("ETag" = String), ("Location" = String))),
        (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidatedJson<CreateUser>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ManageUsers)?;
    // Accounts are made and changed from a signed-in session: a key never passed a second
    // factor, and one that can create admins or set passwords would be a way into any account.
    crate::auth::api_keys::require_session(&user)?;
    let input = body.0;
    if input.role == Role::Partner && input.organization_id.is_none() {
        return Err(partner_needs_organization());
    }
    let hash = password::hash(input.password.clone()).await?;
    let mut conn = state.conn().await?;
    let created = conn
        .transaction(async |conn| {
            let row = queries::insert(
                conn,
                &NewUser {
                    id: UserId::new(),
                    email: input.email.trim(),
                    display_name: input.display_name.trim(),
                    password_hash: &hash,
                    role: input.role,
                    organization_id: input.organization_id,
                },
            )
            .await?;
            AuditEvent::by(&user, "user.create", "user", row.id)
                .details(json!({"role": row.role, "organization_id": row.organization_id}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    let location = format!("/api/v1/users/{}", created.id);
    Ok(created_with_etag(location, created.version, &User::from(created)))
}

/// Read a user account (admin).
#[utoipa::path(
    tag = "users",
    operation_id = "get_user",
    params(("id" = UserId, Path)),
    responses(
        (status = 200, body = User, headers(("ETag" = String))),
    )
)]
#[get("/users/{id}")]
pub async fn get_user(state: web::Data<AppState>, user: AuthUser, id: web::Path<UserId>) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ManageUsers)?;
    let mut conn = state.conn().await?;
    let row = queries::find(&mut conn, *id).await?;
    Ok(ok_with_etag(row.version, &User::from(row)))
}

/// Change a user account (admin, from a signed-in session: not with an API key): name, role,
/// organisation, active, unlock, password.
#[utoipa::path(
    tag = "users",
    operation_id = "update_user",
    request_body = UpdateUser,
    params(("id" = UserId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses(
        (status = 200, body = User, headers(("ETag" = String))),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<UserId>,
    if_match: IfMatch,
    body: ValidatedJson<UpdateUser>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ManageUsers)?;
    // Accounts are made and changed from a signed-in session: a key never passed a second
    // factor, and one that can create admins or set passwords would be a way into any account.
    crate::auth::api_keys::require_session(&user)?;
    let input = body.0;
    let id = id.into_inner();
    let self_lockout = id == user.id && (input.active == Some(false) || input.role.is_some_and(|r| r != user.role));
    // One's own password is changed where the current one is asked for: a stolen token must not
    // be enough to take the account over.
    if id == user.id && input.password.is_some() {
        return Err(ApiError::invalid_field(
            "password",
            "own_password",
            "change your own password with PUT /me/password, which asks for the current one",
        ));
    }
    let new_hash = match input.password.clone() {
        Some(p) => Some(password::hash(p).await?),
        None => None,
    };
    let mut conn = state.conn().await?;
    let updated = conn
        .transaction(async |conn| {
            let current = queries::find_for_update(conn, id).await?;
            if_match.check(current.version)?;
            if self_lockout {
                return Err(ApiError::conflict(
                    ErrorCode::SelfLockout,
                    "You cannot deactivate yourself or change your own role; ask another admin.",
                ));
            }
            let role = input.role.unwrap_or(current.role);
            let organization = input.organization_id.unwrap_or(current.organization_id);
            if role == Role::Partner && organization.is_none() {
                return Err(partner_needs_organization());
            }
            let unlock = input.unlock == Some(true);
            // A new password, or deactivation, ends every session and token of the account (and
            // they stay ended if it is reactivated).
            // So does a promotion into a role that must sign in with a second factor.
            let promoted = input
                .role
                .is_some_and(|r| r != current.role && state.config.mfa_required_roles.contains(&r));
            let ends_sessions = new_hash.is_some() || input.active == Some(false) || promoted;
            let changes = UserChanges {
                display_name: input.display_name.as_deref().map(|s| s.trim().to_string()),
                role: input.role,
                organization_id: input.organization_id,
                active: input.active,
                password_changed_at: new_hash.as_ref().map(|_| Utc::now()),
                token_version: ends_sessions.then_some(current.token_version + 1),
                password_hash: new_hash,
                failed_logins: unlock.then_some(0),
                locked_until: unlock.then_some(None),
            };
            let row = queries::update(conn, id, &changes).await?;
            if ends_sessions {
                crate::auth::sessions::revoke(conn, id, None, "password reset, deactivation or promotion").await?;
                crate::auth::reset::void_tokens(conn, id).await?;
            }
            let mut changed: Vec<&str> = Vec::new();
            for (name, present) in [
                ("display_name", changes.display_name.is_some()),
                ("role", changes.role.is_some()),
                ("organization_id", changes.organization_id.is_some()),
                ("active", changes.active.is_some()),
                ("password", changes.password_hash.is_some()),
                ("unlock", unlock),
            ] {
                if present {
                    changed.push(name);
                }
            }
            AuditEvent::by(&user, "user.update", "user", id)
                .details(json!({"changed": changed, "role": row.role, "active": row.active}))
                .record(conn)
                .await?;
            Ok(row)
        })
        .await?;
    Ok(ok_with_etag(updated.version, &User::from(updated)))
}
