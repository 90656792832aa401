//! Sessions: a login opens one and answers a short-lived access token with a refresh token. The
//! refresh token is rotated on every use (only keyed hashes are kept); a rotated token presented
//! again means it was stolen, and the whole session is revoked. A session ends after an idle spell
//! (`HAKI_SESSION_IDLE_MINUTES`), at its absolute lifetime (`HAKI_SESSION_HOURS`), on sign-out,
//! and when its account's password changes or it is deactivated.

use actix_web::{
    HttpRequest, HttpResponse,
    cookie::{Cookie, SameSite, time::Duration as CookieAge},
    delete, get, post, web,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use validator::Validate;

use super::{AuthUser, policy};
use crate::{
    audit::AuditEvent,
    db::{
        pagination::{Page, PageParams},
        schema::{refresh_tokens, sessions, users},
    },
    error::{ApiError, ApiResult, Problem},
    extract::{RequestMeta, ValidatedJson},
    ids::UserId,
    state::AppState,
    users::models::UserRow,
};

/// Refresh tokens start with this, so that secret scanners can recognise a leaked one.
const PREFIX: &str = "hakr_";

/// The cookie a browser keeps its refresh token in (`HttpOnly; Secure; SameSite=Strict`, sent only
/// to `/api/v1/auth`), when it asks for that with `refresh_cookie`.
pub const COOKIE: &str = "haki_refresh";
const COOKIE_PATH: &str = "/api/v1/auth";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: uuid::Uuid,
    pub user_id: UserId,
    pub token_version: i32,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_reason: Option<String>,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
}

/// A signed-in device.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub id: uuid::Uuid,
    pub created_at: DateTime<Utc>,
    /// The last time its refresh token was used (or the login).
    pub last_seen_at: DateTime<Utc>,
    /// When it ends however it is used.
    pub expires_at: DateTime<Utc>,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
    /// The session this request came with.
    pub current: bool,
}

/// Tokens for a session: a short-lived access token and the refresh token that renews it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionTokens {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Exchange it at `POST /auth/refresh` for new tokens; it works once. `null` when it was set
    /// in the `haki_refresh` cookie instead (`refresh_cookie`).
    pub refresh_token: Option<String>,
    /// Seconds the session may stay unused before it ends (less near the end of its lifetime).
    pub refresh_expires_in: u64,
    /// Ten one-time recovery codes, shown only when this sign-in enrolled a second factor: each
    /// stands in for a code of the authenticator once (keep them somewhere safe).
    pub recovery_codes: Option<Vec<String>>,
}

impl SessionTokens {
    /// The answer carrying these tokens: the refresh token in the body, or, for a browser that
    /// asked for it, in an `HttpOnly; Secure; SameSite=Strict` cookie scoped to `/api/v1/auth`.
    pub fn respond(mut self, state: &AppState, cookie: bool) -> HttpResponse {
        let mut response = HttpResponse::Ok();
        if cookie && let Some(token) = self.refresh_token.take() {
            let age = i64::try_from(state.config.session_lifetime.as_secs()).unwrap_or(i64::MAX);
            response.cookie(
                Cookie::build(COOKIE, token)
                    .path(COOKIE_PATH)
                    .http_only(true)
                    .secure(true)
                    .same_site(SameSite::Strict)
                    .max_age(CookieAge::seconds(age))
                    .finish(),
            );
        }
        response.json(self)
    }
}

/// A `Set-Cookie` that removes the refresh-token cookie.
fn expired_cookie() -> Cookie<'static> {
    let mut cookie = Cookie::build(COOKIE, "")
        .path(COOKIE_PATH)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .finish();
    cookie.make_removal();
    cookie
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token; leave it out when it is kept in the `haki_refresh` cookie (the new one
    /// is then set there too).
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub refresh_token: Option<String>,
}

fn hash(state: &AppState, token: &str) -> Vec<u8> {
    state.keyed_hash(&[b"refresh token", token.as_bytes()])
}

async fn add_refresh_token(conn: &mut AsyncPgConnection, state: &AppState, session: uuid::Uuid) -> QueryResult<String> {
    let token = super::new_secret(PREFIX);
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(hash(state, &token)),
            refresh_tokens::session_id.eq(session),
        ))
        .execute(conn)
        .await?;
    Ok(token)
}

fn tokens(state: &AppState, user: &UserRow, session: &SessionRow, refresh_token: String) -> ApiResult<SessionTokens> {
    // Unused, the session ends after its idle spell, and however used, at its lifetime's end.
    let remaining = u64::try_from((session.expires_at - Utc::now()).num_seconds()).unwrap_or(0);
    let access_token = state
        .jwt
        .issue(
            user.id,
            user.role,
            user.organization_id,
            user.token_version,
            Some(session.id),
        )
        .map_err(ApiError::internal)?;
    Ok(SessionTokens {
        access_token,
        token_type: "Bearer",
        expires_in: state.jwt.ttl.as_secs(),
        refresh_token: Some(refresh_token),
        refresh_expires_in: state.config.session_idle.as_secs().min(remaining),
        recovery_codes: None,
    })
}

/// Opens a session for a user who just signed in, in the caller's transaction.
pub async fn open(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    user: &UserRow,
    meta: &RequestMeta,
    user_agent: Option<String>,
) -> ApiResult<SessionTokens> {
    let now = Utc::now();
    let absolute = chrono::Duration::from_std(state.config.session_lifetime).map_err(ApiError::internal)?;
    let session: SessionRow = diesel::insert_into(sessions::table)
        .values(&SessionRow {
            id: uuid::Uuid::now_v7(),
            user_id: user.id,
            token_version: user.token_version,
            created_at: now,
            last_seen_at: now,
            expires_at: now + absolute,
            revoked_at: None,
            revoked_reason: None,
            client_addr: meta.client_addr(),
            user_agent: user_agent.map(|ua| ua.chars().take(300).collect()),
        })
        .returning(SessionRow::as_returning())
        .get_result(conn)
        .await?;
    let refresh_token = add_refresh_token(conn, state, session.id).await?;
    tokens(state, user, &session, refresh_token)
}

/// The SQL of "this session is open".
pub type OpenSession = diesel::dsl::exists<
    diesel::dsl::Filter<
        diesel::dsl::Filter<
            diesel::dsl::Filter<sessions::table, diesel::dsl::Eq<sessions::id, uuid::Uuid>>,
            diesel::dsl::IsNull<sessions::revoked_at>,
        >,
        diesel::dsl::Gt<sessions::expires_at, DateTime<Utc>>,
    >,
>;

/// Whether the session an access token names is still open (not revoked, not past its absolute
/// lifetime), as an expression to select beside the account (false without a session).
pub fn open_expr(session: Option<uuid::Uuid>) -> OpenSession {
    diesel::dsl::exists(
        sessions::table
            .filter(sessions::id.eq(session.unwrap_or_else(uuid::Uuid::nil)))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(Utc::now())),
    )
}

/// Ends a user's open sessions (or only `only`); how many ended.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    filter_user: UserId,
    only: Option<uuid::Uuid>,
    reason: &str,
) -> QueryResult<usize> {
    let mut query = diesel::update(sessions::table)
        .filter(sessions::user_id.eq(filter_user))
        .filter(sessions::revoked_at.is_null())
        .into_boxed();
    if let Some(id) = only {
        query = query.filter(sessions::id.eq(id));
    }
    query
        .set((sessions::revoked_at.eq(Utc::now()), sessions::revoked_reason.eq(reason)))
        .execute(conn)
        .await
}

/// Ends one of the caller's own open sessions with its audit entry; whether there was one.
async fn end_own(
    conn: &mut AsyncPgConnection,
    user: &AuthUser,
    session: uuid::Uuid,
    reason: &str,
    action: &str,
) -> ApiResult<bool> {
    conn.transaction(async |conn| {
        if revoke(conn, user.id, Some(session), reason).await? == 0 {
            return Ok(false);
        }
        AuditEvent::by(user, action, "session", session).record(conn).await?;
        Ok::<_, ApiError>(true)
    })
    .await
}

fn session_over() -> ApiError {
    ApiError::invalid_token("The session is over (signed out, timed out or revoked); sign in again.")
}

/// Exchange a refresh token for new tokens: the old refresh token stops working. Presenting a
/// refresh token that was already exchanged ends the whole session (it was copied). A browser
/// that keeps it in the `haki_refresh` cookie sends `{}` and gets the new one in the cookie.
#[utoipa::path(
    tag = "auth",
    operation_id = "refresh_session",
    security(()),
    request_body = RefreshRequest,
    responses(
        (status = 200, body = SessionTokens, headers(("Set-Cookie" = String, description = "The new refresh token, when the old one came in the cookie"))),
        (status = 401, description = "Unknown, used or expired refresh token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: ValidatedJson<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let (token, from_cookie) = match body.0.refresh_token {
        Some(token) => (token, false),
        None => (
            req.cookie(COOKIE)
                .map(|c| c.value().to_string())
                .ok_or_else(session_over)?,
            true,
        ),
    };
    let presented = hash(&state, token.trim());
    let idle = chrono::Duration::from_std(state.config.session_idle).map_err(ApiError::internal)?;
    let mut conn = state.conn().await?;
    let outcome = conn
        .transaction(async |conn| {
            let found: Option<(Option<DateTime<Utc>>, SessionRow)> = refresh_tokens::table
                .inner_join(sessions::table)
                .filter(refresh_tokens::token_hash.eq(&presented))
                .select((refresh_tokens::rotated_at, SessionRow::as_select()))
                .for_update()
                .first(conn)
                .await
                .optional()?;
            let Some((rotated_at, session)) = found else {
                return Ok(Err(session_over()));
            };
            if rotated_at.is_some() {
                // Used twice: someone holds a copy. End the session for both (and keep the trace
                // even when it had already ended).
                revoke(conn, session.user_id, Some(session.id), "refresh token reused").await?;
                AuditEvent::anonymous(&meta, "auth.refresh_reused", "session", Some(session.id.to_string()))
                    .details(json!({"user_id": session.user_id}))
                    .record(conn)
                    .await?;
                return Ok(Err(session_over()));
            }
            let now = Utc::now();
            let user: UserRow = users::table
                .find(session.user_id)
                .select(UserRow::as_select())
                .first(conn)
                .await?;
            if session.revoked_at.is_some()
                || session.expires_at <= now
                || session.last_seen_at + idle <= now
                || !user.active
                || user.token_version != session.token_version
            {
                return Ok(Err(session_over()));
            }
            diesel::update(refresh_tokens::table.find(&presented))
                .set(refresh_tokens::rotated_at.eq(now))
                .execute(conn)
                .await?;
            diesel::update(sessions::table.find(session.id))
                .set(sessions::last_seen_at.eq(now))
                .execute(conn)
                .await?;
            let refresh_token = add_refresh_token(conn, &state, session.id).await?;
            AuditEvent::anonymous(&meta, "auth.refresh", "session", Some(session.id.to_string()))
                .actor(user.id, user.role)
                .record(conn)
                .await?;
            Ok::<_, ApiError>(Ok(tokens(&state, &user, &session, refresh_token)?))
        })
        .await?;
    Ok(outcome?.respond(&state, from_cookie))
}

/// Sign out: this session ends at once (its access and refresh tokens stop working), and the
/// refresh-token cookie, if any, is removed.
#[utoipa::path(
    tag = "auth",
    operation_id = "logout",
    responses((status = 204, description = "Signed out", headers(("Set-Cookie" = String, description = "Removes the refresh-token cookie"))))
)]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    super::api_keys::require_session(&user)?;
    if let Some(session) = user.session {
        let mut conn = state.conn().await?;
        end_own(&mut conn, &user, session, "signed out", "auth.logout").await?;
    }
    Ok(HttpResponse::NoContent().cookie(expired_cookie()).finish())
}

/// Your open sessions (signed-in devices), newest first.
#[utoipa::path(
    tag = "auth",
    operation_id = "list_my_sessions",
    params(PageParams),
    responses((status = 200, body = Page<Session>))
)]
#[get("/me/sessions")]
pub async fn list_my_sessions(
    state: web::Data<AppState>,
    user: AuthUser,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    super::api_keys::require_session(&user)?;
    let limit = page.limit()?;
    let idle = chrono::Duration::from_std(state.config.session_idle).map_err(ApiError::internal)?;
    let mut query = sessions::table
        .filter(sessions::user_id.eq(user.id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(Utc::now()))
        .filter(sessions::last_seen_at.gt(Utc::now() - idle))
        .select(SessionRow::as_select())
        .into_boxed();
    if let Some(after) = page.after::<uuid::Uuid>()? {
        query = query.filter(sessions::id.lt(after));
    }
    let mut conn = state.conn().await?;
    let rows: Vec<SessionRow> = query
        .order(sessions::id.desc())
        .limit(limit + 1)
        .load(&mut conn)
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |s| s.id,
        |s| Session {
            current: user.session == Some(s.id),
            id: s.id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            client_addr: s.client_addr,
            user_agent: s.user_agent,
        },
    )))
}

/// Sign out one of your devices.
#[utoipa::path(
    tag = "auth",
    operation_id = "end_my_session",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 204, description = "The session ended"))
)]
#[delete("/me/sessions/{id}")]
pub async fn end_my_session(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    super::api_keys::require_session(&user)?;
    let mut conn = state.conn().await?;
    if !end_own(
        &mut conn,
        &user,
        id.into_inner(),
        "signed out from another device",
        "auth.session_ended",
    )
    .await?
    {
        return Err(ApiError::not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}

/// End every session of a user (admin), e.g. a lost phone: they must sign in again.
#[utoipa::path(
    tag = "users",
    operation_id = "end_user_sessions",
    params(("id" = UserId, Path)),
    responses((status = 204, description = "Every session ended"))
)]
#[delete("/users/{id}/sessions")]
pub async fn end_user_sessions(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<UserId>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ManageUsers)?;
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    conn.transaction(async |conn| {
        crate::users::queries::find(conn, id).await?;
        let ended = revoke(conn, id, None, "ended by an admin").await?;
        AuditEvent::by(&user, "auth.sessions_ended", "user", id)
            .details(json!({"sessions": ended}))
            .record(conn)
            .await?;
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes what sign-in leaves behind once it can matter no more: the refresh tokens of sessions
/// over for a day (reuse detection needs them only while a session lives), sessions over for 30
/// days, and second-factor challenges and reset tokens a day past their expiry (the audit log
/// keeps the history). How many rows went.
pub async fn purge_expired(state: &AppState) -> ApiResult<usize> {
    use crate::db::schema::{mfa_challenges, password_resets};
    let day_ago = Utc::now() - chrono::Duration::days(1);
    let month_ago = Utc::now() - chrono::Duration::days(30);
    let idle = chrono::Duration::from_std(state.config.session_idle).map_err(ApiError::internal)?;
    let mut conn = state.conn().await?;
    conn.transaction(async |conn| {
        let over_since = |when: DateTime<Utc>| {
            sessions::revoked_at
                .lt(when)
                .or(sessions::expires_at.lt(when))
                .or(sessions::last_seen_at.lt(when - idle))
        };
        let tokens = diesel::delete(refresh_tokens::table.filter(
            refresh_tokens::session_id.eq_any(sessions::table.filter(over_since(day_ago)).select(sessions::id)),
        ))
        .execute(conn)
        .await?;
        let old = diesel::delete(sessions::table.filter(over_since(month_ago)))
            .execute(conn)
            .await?;
        let challenges = diesel::delete(mfa_challenges::table.filter(mfa_challenges::expires_at.lt(day_ago)))
            .execute(conn)
            .await?;
        let resets = diesel::delete(password_resets::table.filter(password_resets::expires_at.lt(day_ago)))
            .execute(conn)
            .await?;
        Ok::<_, ApiError>(tokens + old + challenges + resets)
    })
    .await
}
