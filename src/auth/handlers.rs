use std::net::{IpAddr, Ipv4Addr};

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use chrono::Utc;
use diesel_async::AsyncConnection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use validator::Validate;

use super::{
    AuthUser, limits,
    mfa::{self, LoginResponse},
    password,
    sessions::{self, SessionTokens},
};
use crate::{
    audit::AuditEvent,
    error::{ApiError, ApiResult, ErrorCode, Problem},
    extract::{RequestMeta, ValidatedJson, ok_with_etag},
    state::AppState,
    users::{dto::User, models::UserChanges, queries},
};

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[validate(length(min = 1, max = 254))]
    #[schema(format = "email", max_length = 254, min_length = 1)]
    pub email: String,
    #[validate(length(min = 1, max = 256))]
    #[schema(format = "password", max_length = 256, min_length = 1)]
    pub password: String,
    /// Keep the refresh token in an `HttpOnly; Secure; SameSite=Strict` cookie scoped to
    /// `/api/v1/auth` instead of the body (browsers: script cannot read it).
    #[serde(default)]
    pub refresh_cookie: bool,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[validate(length(min = 1, max = 256))]
    #[schema(format = "password", min_length = 1, max_length = 256)]
    pub current_password: String,
    #[validate(
        length(min = password::MIN_PASSWORD_LEN, max = password::MAX_PASSWORD_LEN),
        custom(function = "password::not_common")
    )]
    #[schema(format = "password", min_length = 12, max_length = 256)]
    pub new_password: String,
    /// Set the new session's refresh token in the `haki_refresh` cookie instead of the body.
    #[serde(default)]
    pub refresh_cookie: bool,
}

const LOGIN_FAILED: &str = "The email or password is wrong, or the account is locked or inactive.";

/// The client's self-description, kept with its session so a person can tell devices apart.
pub(crate) fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// What the audit log keeps of a typed login email: a keyed hash, never the text (a password typed
/// into the email field must not land in the log). Attempts with the same email share a hash.
pub(crate) fn typed_email_hash(state: &AppState, email: &str) -> String {
    hex::encode(state.keyed_hash(&[b"login email", email.trim().to_lowercase().as_bytes()]))
}

/// Exchange email and password for an access token and a refresh token. An account with a second
/// factor (or whose role requires one) gets a challenge instead, to finish at `POST /auth/mfa`.
/// Unknown email, wrong password, locked and inactive accounts all answer the same 401. Failed
/// attempts are limited per client address (successful ones never are, so colleagues behind one
/// address all sign in): past the allowance, 429 with `Retry-After`.
#[utoipa::path(
    tag = "auth",
    operation_id = "login",
    security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse, headers(("Set-Cookie" = String, description = "The refresh token, when `refresh_cookie` asked for it"))),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64))),
    )
)]
#[post("/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: ValidatedJson<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let client = meta.client_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let attempt = state.login_failures.begin(client).map_err(limits::too_many)?;
    // A failure counts against the address; past its allowance the answer is 429 for a while.
    let refused = |attempt: limits::Attempt| {
        attempt.fail();
        ApiError::unauthenticated(LOGIN_FAILED)
    };

    let LoginRequest {
        email,
        password: given,
        refresh_cookie,
    } = body.0;
    let mut conn = state.conn().await?;
    let Some(user) = queries::find_by_email(&mut conn, &email).await? else {
        password::verify_decoy(given).await?;
        AuditEvent::anonymous(&meta, "auth.login_failed", "user", None)
            .details(json!({"email_hash": typed_email_hash(&state, &email), "reason": "unknown_email"}))
            .record(&conn)
            .await?;
        return Err(refused(attempt));
    };

    // One check of this account's password at a time: a burst meets the lockout like a sequence.
    let Some(_alone) = state.login_failures.verify_alone(user.id) else {
        return Err(ApiError::too_many_requests(1));
    };
    // The account as it is now that no other check of it is in flight.
    let user = queries::find(&mut conn, user.id).await?;
    let matches = password::verify(given, user.password_hash.clone()).await?;
    let reason = if user.is_locked(Utc::now()) {
        Some("locked")
    } else if !matches {
        Some("wrong_password")
    } else if !user.active {
        Some("inactive")
    } else {
        None
    };
    if let Some(reason) = reason {
        let newly_locked = if reason == "wrong_password" {
            queries::record_failed_login(
                &mut conn,
                user.id,
                state.config.lockout_threshold,
                state.config.lockout_duration,
            )
            .await?
        } else {
            None
        };
        AuditEvent::anonymous(&meta, "auth.login_failed", "user", Some(user.id.to_string()))
            .details(json!({"email_hash": typed_email_hash(&state, &email), "reason": reason}))
            .record(&conn)
            .await?;
        if let Some(until) = newly_locked {
            AuditEvent::anonymous(&meta, "auth.account_locked", "user", Some(user.id.to_string()))
                .details(json!({"locked_until": until}))
                .record(&conn)
                .await?;
        }
        return Err(refused(attempt));
    }

    let user_agent = user_agent(&req);
    let answer = conn
        .transaction(async |conn| {
            if let Some(challenge) = mfa::challenge_if_needed(conn, &state, &user, &meta).await? {
                return Ok(LoginResponse::Mfa(challenge));
            }
            queries::record_login(conn, user.id).await?;
            let tokens = sessions::open(conn, &state, &user, &meta, user_agent).await?;
            AuditEvent::anonymous(&meta, "auth.login", "user", Some(user.id.to_string()))
                .actor(user.id, user.role)
                .record(conn)
                .await?;
            Ok::<_, ApiError>(LoginResponse::Tokens(tokens))
        })
        .await?;
    Ok(match answer {
        LoginResponse::Tokens(tokens) => tokens.respond(&state, refresh_cookie),
        challenge => HttpResponse::Ok().json(challenge),
    })
}

/// Checks a signed-in caller's current password before a change that must not rest on a session
/// alone, one check of the account at a time. A locked account takes no guesses, and a wrong
/// password counts toward the lockout like a failed login (a stolen token must not become a way
/// to guess it), recorded as `failed` with the reason: `422` on `current_password`. The account
/// as read, and the hold on its check.
pub(crate) async fn confirm_current_password<'a>(
    state: &'a AppState,
    conn: &mut diesel_async::AsyncPgConnection,
    user: &AuthUser,
    given: String,
    failed: AuditEvent,
) -> ApiResult<(crate::users::models::UserRow, limits::AccountCheck<'a>)> {
    let Some(alone) = state.login_failures.verify_alone(user.id) else {
        return Err(ApiError::too_many_requests(1));
    };
    let current = queries::find(conn, user.id).await?;
    if let Some(until) = current.locked_until.filter(|_| current.is_locked(Utc::now())) {
        let wait = (until - Utc::now()).num_seconds().max(1);
        return Err(ApiError::too_many_requests(u64::try_from(wait).unwrap_or(1)));
    }
    if !password::verify(given, current.password_hash.clone()).await? {
        let newly_locked = queries::record_failed_login(
            conn,
            user.id,
            state.config.lockout_threshold,
            state.config.lockout_duration,
        )
        .await?;
        failed
            .details(json!({"reason": "wrong_password", "locked_until": newly_locked}))
            .record(conn)
            .await?;
        return Err(ApiError::invalid_field(
            "current_password",
            "mismatch",
            "is not your current password",
        ));
    }
    Ok((current, alone))
}

/// The caller's own account and what its role may do.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    #[serde(flatten)]
    pub user: User,
    /// Every permission of the caller's role (DESIGN §2), so that a frontend need not repeat the
    /// role table; a 403 names the permission that was missing.
    pub permissions: Vec<super::policy::Permission>,
    /// Whether signing in asks for a code of an authenticator.
    pub mfa_enabled: bool,
    /// Whether the caller's role must sign in with a second factor.
    pub mfa_required: bool,
}

/// The caller's own account and permissions.
#[utoipa::path(
    tag = "auth",
    operation_id = "get_me",
    responses((status = 200, body = Me, headers(("ETag" = String))))
)]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let row = queries::find(&mut conn, user.id).await?;
    let (mfa_required, mfa_enabled) = mfa::factor_state(&mut conn, &state, &row).await?;
    let me = Me {
        permissions: super::policy::permissions(row.role),
        mfa_enabled,
        mfa_required,
        user: User::from(row),
    };
    Ok(ok_with_etag(me.user.version, &me))
}

/// Change the caller's password. Every session and token of the account ends (API keys too); the
/// response opens a fresh session.
#[utoipa::path(
    tag = "auth",
    operation_id = "change_my_password",
    request_body = ChangePassword,
    responses(
        (status = 200, body = SessionTokens),
        (status = 422, description = "The current password is wrong or the new one is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The account is locked after repeated wrong passwords", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64))),
        (status = 409, description = "The password was changed meanwhile", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/me/password")]
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidatedJson<ChangePassword>,
) -> ApiResult<HttpResponse> {
    let ChangePassword {
        current_password,
        new_password,
        refresh_cookie,
    } = body.0;
    if current_password == new_password {
        return Err(ApiError::invalid_field(
            "new_password",
            "unchanged",
            "must differ from the current password",
        ));
    }
    let mut conn = state.conn().await?;
    let (current, _alone) = confirm_current_password(
        &state,
        &mut conn,
        &user,
        current_password,
        AuditEvent::by(&user, "user.password_change_failed", "user", user.id),
    )
    .await?;
    let hash = password::hash(new_password).await?;
    let agent = user_agent(&req);
    let updated = conn
        .transaction(async |conn| {
            // The token version moves on from the row as locked now, so that two changes (or a
            // change and an admin's reset) never issue the same version.
            let locked = queries::find_for_update(conn, user.id).await?;
            if locked.password_hash != current.password_hash {
                return Err(ApiError::conflict(
                    ErrorCode::ConcurrentUpdate,
                    "The password was changed meanwhile; sign in again.",
                ));
            }
            let changes = UserChanges {
                password_hash: Some(hash),
                password_changed_at: Some(Utc::now()),
                token_version: Some(locked.token_version + 1),
                failed_logins: Some(0),
                ..Default::default()
            };
            let row = queries::update(conn, user.id, &changes).await?;
            AuditEvent::by(&user, "user.password_changed", "user", user.id)
                .record(conn)
                .await?;
            sessions::revoke(conn, user.id, None, "password changed").await?;
            super::reset::void_tokens(conn, user.id).await?;
            let tokens = sessions::open(conn, &state, &row, &user.meta, agent).await?;
            Ok::<_, ApiError>(tokens)
        })
        .await?;
    Ok(updated.respond(&state, refresh_cookie))
}
