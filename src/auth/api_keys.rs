//! API keys for scripts and partner systems: `Authorization: Bearer haki_…` beside JWTs. A key acts
//! as its owner with the owner's role and organisation; its secret is shown once and kept only as
//! a SHA-256 hash (the secret is 256 random bits, so a plain hash cannot be reversed by guessing,
//! and keys survive a rotation of the JWT secret). Revocation and expiry take effect at once.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::{AuthUser, Role, policy};
use crate::{
    audit::AuditEvent,
    db::{
        pagination::{Page, PageParams},
        schema::{api_keys, users},
    },
    error::{ApiError, ApiResult, ErrorCode, Problem},
    extract::{RequestMeta, ValidatedJson},
    ids::{ApiKeyId, PartnerId, UserId},
    state::AppState,
};

/// Every secret starts with this, so that secret scanners can recognise a leaked key.
pub const PREFIX: &str = "haki_";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: ApiKeyId,
    pub owner_id: UserId,
    pub name: String,
    pub prefix: String,
    pub secret_sha256: Vec<u8>,
    pub role: Role,
    pub organization_id: Option<PartnerId>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_addr: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<UserId>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    /// The owner's token version when the key was made: a password change or deactivation since
    /// ends the key, as it ends the owner's sessions.
    pub token_version: i32,
}

/// An API key as its owner and admins see it: never the secret, once shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    /// The secret's first characters, to tell keys apart.
    pub prefix: String,
    /// Whom the key acts as.
    pub owner_id: UserId,
    pub role: Role,
    pub organization_id: Option<PartnerId>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// The client address of the last use.
    pub last_used_addr: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        ApiKey {
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            owner_id: r.owner_id,
            role: r.role,
            organization_id: r.organization_id,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            last_used_addr: r.last_used_addr,
            revoked_at: r.revoked_at,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

/// A new key, with its secret: shown this once, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// Send as `Authorization: Bearer <secret>`. Keep it in a secret store: it cannot be shown
    /// again.
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// What the key is for (`CJC referral sync`).
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// When the key stops working; leave out for a key that works until revoked.
    pub expires_at: Option<DateTime<Utc>>,
    /// Admins: the user the key acts as (default: yourself). Others may only create keys for
    /// themselves.
    pub owner_id: Option<UserId>,
    /// Your current password: a key outlives the session that creates it, so a signed-in
    /// session alone (a stolen access token) must not be enough to mint one.
    #[validate(length(min = 1, max = 256))]
    #[schema(format = "password", min_length = 1, max_length = 256)]
    pub current_password: String,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApiKeyFilter {
    /// Admins: one user's keys.
    pub owner_id: Option<UserId>,
    /// Include revoked keys (default: only usable ones and expired ones).
    pub include_revoked: Option<bool>,
}

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The caller a key stands for, or why it does not work. Marks the key used (at most once a
/// minute, so that a busy script does not write on every request).
pub async fn authenticate(conn: &mut AsyncPgConnection, secret: &str, meta: RequestMeta) -> Result<AuthUser, ApiError> {
    let found: Option<(ApiKeyRow, Role, Option<PartnerId>, bool, i32)> = api_keys::table
        .inner_join(users::table)
        .filter(api_keys::secret_sha256.eq(digest(secret)))
        .select((
            ApiKeyRow::as_select(),
            users::role,
            users::organization_id,
            users::active,
            users::token_version,
        ))
        .first(conn)
        .await
        .optional()?;
    let Some((key, owner_role, owner_org, active, token_version)) = found else {
        return Err(ApiError::invalid_token("Unknown API key."));
    };
    let now = Utc::now();
    if key.revoked_at.is_some() {
        return Err(ApiError::invalid_token("The API key was revoked."));
    }
    if key.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::invalid_token("The API key expired."));
    }
    // A key never acts above (or beside) what its owner may do now.
    if !active || owner_role != key.role || owner_org != key.organization_id || token_version != key.token_version {
        return Err(ApiError::invalid_token(
            "The API key's owner was deactivated, changed role or changed password; create a new key.",
        ));
    }
    diesel::update(api_keys::table.find(key.id))
        .filter(
            api_keys::last_used_at
                .is_null()
                .or(api_keys::last_used_at.lt(now - chrono::Duration::minutes(1))),
        )
        .set((
            api_keys::last_used_at.eq(now),
            api_keys::last_used_addr.eq(meta.client_addr()),
        ))
        .execute(conn)
        .await?;
    Ok(AuthUser {
        id: key.owner_id,
        role: key.role,
        organization_id: key.organization_id,
        api_key: Some(key.id),
        session: None,
        meta,
    })
}

/// Keys are managed from a signed-in session, never with a key (a leaked key cannot mint more).
pub(crate) fn require_session(user: &AuthUser) -> ApiResult<()> {
    if user.api_key.is_some() {
        let name: &'static str = policy::Permission::UseApiKeys.into();
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!("The `{name}` permission is used from a signed-in session: an API key cannot manage keys, sessions, sign-in factors or accounts."),
        )
        .with_extensions(json!({ "permission": name })));
    }
    Ok(())
}

/// Your API keys (admins: everyone's), newest first.
#[utoipa::path(
    tag = "auth",
    operation_id = "list_api_keys",
    params(ApiKeyFilter, PageParams),
    responses((status = 200, body = Page<ApiKey>))
)]
#[get("/api-keys")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: crate::extract::Query<ApiKeyFilter>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::UseApiKeys)?;
    let limit = page.limit()?;
    let after = page.after::<ApiKeyId>()?;
    let mut query = api_keys::table.select(ApiKeyRow::as_select()).into_boxed();
    if policy::allows(user.role, policy::Permission::ManageIntegrations) {
        if let Some(owner) = filter.owner_id {
            query = query.filter(api_keys::owner_id.eq(owner));
        }
    } else {
        query = query.filter(api_keys::owner_id.eq(user.id));
    }
    if filter.include_revoked != Some(true) {
        query = query.filter(api_keys::revoked_at.is_null());
    }
    if let Some(after) = after {
        query = query.filter(api_keys::id.lt(after));
    }
    let mut conn = state.conn().await?;
    let rows: Vec<ApiKeyRow> = query
        .order(api_keys::id.desc())
        .limit(limit + 1)
        .load(&mut conn)
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, ApiKey::from)))
}

/// Create an API key that acts as you (admins: as any active user) with that user's role and
/// organisation; your current password is asked for. The secret is in this answer only. A
/// retried request creates another key (an answer holding a secret is never stored for replay):
/// revoke the one you did not keep.
#[utoipa::path(
    tag = "auth",
    operation_id = "create_api_key",
    request_body = CreateApiKey,
    responses(
        (status = 201, body = CreatedApiKey, headers(("Location" = String))),
        (status = 422, description = "The current password is wrong, or the owner or expiry is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The account is locked after repeated wrong passwords", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64))),
    )
)]
#[post("/api-keys")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidatedJson<CreateApiKey>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::UseApiKeys)?;
    require_session(&user)?;
    let input = body.0;
    let owner = input.owner_id.unwrap_or(user.id);
    if owner != user.id {
        policy::require(&user, policy::Permission::ManageIntegrations)?;
    }
    if input.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::invalid_field(
            "expires_at",
            "in_past",
            "must be in the future",
        ));
    }
    let secret = super::new_secret(PREFIX);
    let mut conn = state.conn().await?;
    let (_, _alone) = super::handlers::confirm_current_password(
        &state,
        &mut conn,
        &user,
        input.current_password,
        AuditEvent::by(&user, "api_key.create_refused", "user", user.id),
    )
    .await?;
    let row = conn
        .transaction(async |conn| {
            let found: Option<(Role, Option<PartnerId>, bool, i32)> = users::table
                .find(owner)
                .select((users::role, users::organization_id, users::active, users::token_version))
                .first(conn)
                .await
                .optional()?;
            let Some((role, organization_id, true, token_version)) = found else {
                return Err(ApiError::invalid_field(
                    "owner_id",
                    "unknown_user",
                    "no such active user",
                ));
            };
            let row: ApiKeyRow = diesel::insert_into(api_keys::table)
                .values(&ApiKeyRow {
                    id: ApiKeyId::new(),
                    owner_id: owner,
                    name: input.name.trim().to_string(),
                    prefix: secret.chars().take(PREFIX.len() + 6).collect(),
                    secret_sha256: digest(&secret),
                    role,
                    organization_id,
                    expires_at: input.expires_at,
                    last_used_at: None,
                    last_used_addr: None,
                    revoked_at: None,
                    revoked_by: None,
                    created_by: user.id,
                    created_at: Utc::now(),
                    token_version,
                })
                .returning(ApiKeyRow::as_returning())
                .get_result(conn)
                .await?;
            AuditEvent::by(&user, "api_key.create", "api_key", row.id)
                .details(json!({"owner_id": row.owner_id, "role": row.role, "expires_at": row.expires_at}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/api-keys/{}", row.id)))
        .json(CreatedApiKey {
            key: row.into(),
            secret,
        }))
}

/// Revoke an API key (its owner, or an admin): it stops working at once. Revoking a revoked key
/// changes nothing.
#[utoipa::path(
    tag = "auth",
    operation_id = "revoke_api_key",
    params(("id" = ApiKeyId, Path)),
    responses((status = 200, description = "The key, revoked", body = ApiKey))
)]
#[delete("/api-keys/{id}")]
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ApiKeyId>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::UseApiKeys)?;
    require_session(&user)?;
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let row = conn
        .transaction(async |conn| {
            let key: ApiKeyRow = api_keys::table
                .find(id)
                .select(ApiKeyRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?
                // Others' keys are out of reach for all but admins: 404, as for any record.
                .filter(|k| k.owner_id == user.id || policy::allows(user.role, policy::Permission::ManageIntegrations))
                .ok_or_else(ApiError::not_found)?;
            if key.revoked_at.is_some() {
                return Ok(key);
            }
            let key: ApiKeyRow = diesel::update(api_keys::table.find(id))
                .set((api_keys::revoked_at.eq(Utc::now()), api_keys::revoked_by.eq(user.id)))
                .returning(ApiKeyRow::as_returning())
                .get_result(conn)
                .await?;
            AuditEvent::by(&user, "api_key.revoke", "api_key", id)
                .details(json!({"owner_id": key.owner_id}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(key)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ApiKey::from(row)))
}
