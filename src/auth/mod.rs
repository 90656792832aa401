//! Authentication (who is calling) and the `AuthUser` extractor; `policy` decides what they may do.

pub mod api_keys;
pub mod handlers;
pub mod jwt;
pub mod limits;
pub mod mfa;
pub mod password;
pub mod policy;
pub mod reset;
pub mod sessions;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, http::header, web};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::future::LocalBoxFuture;

use crate::{
    db::schema::users,
    error::ApiError,
    extract::RequestMeta,
    ids::{PartnerId, UserId},
    state::AppState,
    text_enum,
};

text_enum! {
    /// What a user may see and do (DESIGN §2).
    pub enum Role {
        Admin,
        ProgramManager,
        CaseWorker,
        AftercareOfficer,
        Analyst,
        Partner,
    }
}

/// The authenticated caller, checked against the database on every request so that a deactivated
/// user or a changed password cuts off existing tokens at once.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub id: UserId,
    pub role: Role,
    pub organization_id: Option<PartnerId>,
    /// The API key the request came with (`None`: a signed-in session's token).
    pub api_key: Option<crate::ids::ApiKeyId>,
    /// The session the access token belongs to.
    pub session: Option<uuid::Uuid>,
    pub meta: RequestMeta,
}

/// A fresh secret: `prefix` (so that secret scanners recognise a leaked one) and 32 random bytes,
/// base64url.
pub fn new_secret(prefix: &str) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

const BAD_TOKEN: &str = "A valid bearer token is required.";

/// Paths under `/api/v1` that answer without credentials.
const PUBLIC: &[&str] = &[
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/mfa",
    "/api/v1/auth/mfa/enrol",
    "/api/v1/auth/reset-password",
    "/api/v1/auth/forgot-password",
];

/// Whether `path` answers without credentials (and so is never stored for replay: a login
/// response holds a token).
pub fn is_public(path: &str) -> bool {
    PUBLIC.contains(&path)
}

/// Whether the answer to a POST on `path` holds a secret (a token, an API key's or a webhook's
/// secret, a reset token, a second factor's secret or recovery codes), so it is never stored for
/// replay.
pub fn answers_secret(path: &str) -> bool {
    is_public(path)
        || path == "/api/v1/api-keys"
        || path == "/api/v1/webhooks"
        || path.starts_with("/api/v1/me/mfa/")
        || (path.starts_with("/api/v1/users/") && path.ends_with("/password-reset"))
}

/// Authenticates every request to `/api/v1` (but the public ones) before anything else looks at
/// it, so that a request without valid credentials gets 401 whatever else is wrong with it.
pub async fn authenticate_first(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    if is_public(req.match_info().as_str()) || req.method() == actix_web::http::Method::OPTIONS {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let http = req.request().clone();
    let outcome = authenticate(&http).await;
    // The request must be the only owner of itself again before it goes on.
    drop(http);
    match outcome {
        Ok(user) => {
            req.extensions_mut().insert(user);
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Err(err) => Ok(req.error_response(err)),
    }
}

impl FromRequest for AuthUser {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Middleware may already have authenticated this request.
        if let Some(user) = req.extensions().get::<AuthUser>() {
            let user = user.clone();
            return Box::pin(async move { Ok(user) });
        }
        let req = req.clone();
        Box::pin(async move {
            let user = authenticate(&req).await?;
            req.extensions_mut().insert(user.clone());
            Ok(user)
        })
    }
}

async fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("application state missing"))?;
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthenticated(BAD_TOKEN))?;
    if token.starts_with(api_keys::PREFIX) {
        let mut conn = state.conn().await?;
        let user = api_keys::authenticate(&mut conn, token, RequestMeta::of(req)).await?;
        // Each key has its own budget, so one busy script cannot starve the others.
        if let Some(key) = user.api_key
            && let Err(not_until) = state.api_key_limiter.check_key(&key)
        {
            use governor::clock::{Clock, DefaultClock};
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(ApiError::too_many_requests(wait.as_secs() + 1));
        }
        return Ok(user);
    }
    let claims = state.jwt.verify(token).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => ApiError::token_expired(),
        _ => ApiError::invalid_token(BAD_TOKEN),
    })?;

    let mut conn = state.conn().await?;
    // The account and, for a session's token, whether the session is still open: one round trip.
    let row: Option<(Role, Option<PartnerId>, bool, i32, bool)> = users::table
        .find(claims.sub)
        .select((
            users::role,
            users::organization_id,
            users::active,
            users::token_version,
            sessions::open_expr(claims.sid),
        ))
        .first(&mut conn)
        .await
        .optional()?;
    let row = row.map(|(role, org, active, tv, open)| (role, org, active, tv, open || claims.sid.is_none()));
    if row.as_ref().is_some_and(|r| !r.4) {
        return Err(ApiError::invalid_token(
            "The session is over (signed out, timed out or revoked); sign in again.",
        ));
    }
    match row {
        Some((role, organization_id, true, token_version, _)) if claims.tv == token_version => Ok(AuthUser {
            id: claims.sub,
            role,
            organization_id,
            api_key: None,
            session: claims.sid,
            meta: RequestMeta::of(req),
        }),
        _ => Err(ApiError::invalid_token(
            "The token was revoked (password changed or account deactivated); log in again.",
        )),
    }
}

/// Routes of `/auth` and `/me`.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::login)
        .service(handlers::me)
        .service(handlers::change_password)
        .service(api_keys::list_api_keys)
        .service(api_keys::create_api_key)
        .service(api_keys::revoke_api_key)
        .service(sessions::refresh)
        .service(sessions::logout)
        .service(sessions::list_my_sessions)
        .service(sessions::end_my_session)
        .service(sessions::end_user_sessions)
        .service(reset::issue_password_reset)
        .service(reset::reset_password)
        .service(reset::forgot_password)
        .service(mfa::verify_mfa)
        .service(mfa::enrol_at_sign_in)
        .service(mfa::start_totp_enrolment)
        .service(mfa::confirm_totp_enrolment)
        .service(mfa::reset_user_mfa);
}
