//! Password reset: an admin issues a one-time token for a user (shown once, to pass on), or the
//! user asks for one by email where an SMTP server is configured. Only keyed hashes are kept; a
//! token works once, until it expires, and issuing a new one voids the earlier ones. Using one sets
//! the password, unlocks the account and ends every session and token of it.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use validator::Validate;

use super::{AuthUser, password, policy};
use crate::{
    audit::AuditEvent,
    db::schema::password_resets,
    error::{ApiError, ApiResult, ErrorCode, Problem},
    extract::{RequestMeta, ValidatedJson},
    ids::UserId,
    state::AppState,
    users::{models::UserChanges, queries},
};

/// Reset tokens start with this, so that secret scanners can recognise a leaked one.
const PREFIX: &str = "hakp_";

/// A user who asked by email gets at most one link in this many minutes (no mail bombing).
const EMAIL_INTERVAL_MINUTES: i64 = 15;

/// A one-time password reset token, shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetIssued {
    /// Pass it to the user by a channel you trust; it works once at `POST /auth/reset-password`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    /// The reset token (from an admin or the emailed link).
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
    #[validate(
        length(min = password::MIN_PASSWORD_LEN, max = password::MAX_PASSWORD_LEN),
        custom(function = "password::not_common")
    )]
    #[schema(format = "password", min_length = 12, max_length = 256)]
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ForgotPassword {
    #[validate(email, length(min = 1, max = 254))]
    #[schema(format = "email", min_length = 1, max_length = 254)]
    pub email: String,
}

/// The same answer whether or not the address belongs to an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetRequested {
    pub detail: &'static str,
}

fn hash(state: &AppState, token: &str) -> Vec<u8> {
    state.keyed_hash(&[b"password reset", token.as_bytes()])
}

/// Voids every unused reset token of `user` (its password changed, or the account was
/// deactivated: a link waiting in a mailbox must not work afterwards).
pub async fn void_tokens(conn: &mut AsyncPgConnection, user: UserId) -> QueryResult<usize> {
    diesel::delete(
        password_resets::table
            .filter(password_resets::user_id.eq(user))
            .filter(password_resets::used_at.is_null()),
    )
    .execute(conn)
    .await
}

/// Issues a reset token for `user` (its row locked by the caller). An admin's voids every earlier
/// unused token; an emailed one only the earlier emailed ones (a stranger who knows the address
/// must not void the token an admin handed over).
async fn issue(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    user: UserId,
    issued_by: Option<UserId>,
) -> ApiResult<PasswordResetIssued> {
    let ttl = chrono::Duration::from_std(state.config.password_reset_ttl).map_err(ApiError::internal)?;
    let token = super::new_secret(PREFIX);
    let expires_at = Utc::now() + ttl;
    if issued_by.is_some() {
        void_tokens(conn, user).await?;
    } else {
        diesel::delete(
            password_resets::table
                .filter(password_resets::user_id.eq(user))
                .filter(password_resets::used_at.is_null())
                .filter(password_resets::issued_by.is_null()),
        )
        .execute(conn)
        .await?;
    }
    diesel::insert_into(password_resets::table)
        .values((
            password_resets::token_hash.eq(hash(state, &token)),
            password_resets::user_id.eq(user),
            password_resets::issued_by.eq(issued_by),
            password_resets::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(PasswordResetIssued { token, expires_at })
}

/// Issue a one-time password reset token for a user (admin). It is shown once; earlier unused
/// tokens of the user stop working.
#[utoipa::path(
    tag = "users",
    operation_id = "issue_password_reset",
    params(("id" = UserId, Path)),
    responses(
        (status = 201, body = PasswordResetIssued),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account is deactivated", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/users/{id}/password-reset")]
pub async fn issue_password_reset(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<UserId>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ManageUsers)?;
    // A key never passed a second factor: it must not hand out a way into an account.
    super::api_keys::require_session(&user)?;
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let issued = conn
        .transaction(async |conn| {
            let target = queries::find_for_update(conn, id).await?;
            if !target.active {
                return Err(ApiError::conflict(
                    ErrorCode::RequirementUnmet,
                    "The account is deactivated; reactivate it before resetting its password.",
                ));
            }
            let issued = issue(conn, &state, id, Some(user.id)).await?;
            AuditEvent::by(&user, "auth.password_reset_issued", "user", id)
                .details(json!({"expires_at": issued.expires_at}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(issued)
        })
        .await?;
    Ok(HttpResponse::Created().json(issued))
}

fn invalid_token() -> ApiError {
    ApiError::invalid_field("token", "invalid", "is unknown, already used or expired")
}

/// Set a new password with a reset token. The token works once; the account is unlocked and every
/// session and token of it ends (sign in with the new password).
#[utoipa::path(
    tag = "auth",
    operation_id = "reset_password",
    security(()),
    request_body = ResetPassword,
    responses(
        (status = 204, description = "The password is set"),
        (status = 422, description = "Unknown, used or expired token, or an unfit password", body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64))),
    )
)]
#[post("/auth/reset-password")]
pub async fn reset_password(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: ValidatedJson<ResetPassword>,
) -> ApiResult<HttpResponse> {
    let client = meta.client_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let attempt = state.login_failures.begin(client).map_err(super::limits::too_many)?;
    let ResetPassword { token, new_password } = body.0;
    let presented = hash(&state, token.trim());
    let new_hash = password::hash(new_password).await?;
    let mut conn = state.conn().await?;
    let outcome = conn
        .transaction(async |conn| {
            // The account is locked before its token (the order every writer of both keeps).
            let owner: Option<UserId> = password_resets::table
                .find(&presented)
                .select(password_resets::user_id)
                .first(conn)
                .await
                .optional()?;
            let Some(user_id) = owner else {
                return Ok(Err(None));
            };
            let target = queries::find_for_update(conn, user_id).await?;
            let found: Option<(DateTime<Utc>, Option<DateTime<Utc>>)> = password_resets::table
                .find(&presented)
                .select((password_resets::expires_at, password_resets::used_at))
                .for_update()
                .first(conn)
                .await
                .optional()?;
            let now = Utc::now();
            let Some((expires_at, used_at)) = found else {
                return Ok(Err(None));
            };
            let reason = if used_at.is_some() {
                Some("used")
            } else if expires_at <= now {
                Some("expired")
            } else if !target.active {
                Some("inactive")
            } else {
                None
            };
            if let Some(reason) = reason {
                AuditEvent::anonymous(&meta, "auth.password_reset_failed", "user", Some(user_id.to_string()))
                    .details(json!({"reason": reason}))
                    .record(conn)
                    .await?;
                return Ok(Err(Some(user_id)));
            }
            let changes = UserChanges {
                password_hash: Some(new_hash),
                password_changed_at: Some(now),
                token_version: Some(target.token_version + 1),
                failed_logins: Some(0),
                locked_until: Some(None),
                ..Default::default()
            };
            queries::update(conn, user_id, &changes).await?;
            diesel::update(password_resets::table.find(&presented))
                .set(password_resets::used_at.eq(now))
                .execute(conn)
                .await?;
            void_tokens(conn, user_id).await?;
            super::sessions::revoke(conn, user_id, None, "password reset").await?;
            AuditEvent::anonymous(&meta, "auth.password_reset", "user", Some(user_id.to_string()))
                .actor(user_id, target.role)
                .record(conn)
                .await?;
            Ok::<_, ApiError>(Ok(()))
        })
        .await?;
    match outcome {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(_) => {
            attempt.fail();
            Err(invalid_token())
        }
    }
}

const RESET_REQUESTED: &str = "If the address belongs to an active account and email is set up, a reset link is on its way. \
     Otherwise ask an administrator for a reset token.";

/// Ask for a password reset link by email. The answer is the same whether or not the address
/// belongs to an account (and when the service sends no email, an administrator issues a token
/// instead). Each request counts against the client address's allowance of failed sign-ins.
#[utoipa::path(
    tag = "auth",
    operation_id = "forgot_password",
    security(()),
    request_body = ForgotPassword,
    responses(
        (status = 202, body = ResetRequested),
        (status = 429, body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64))),
    )
)]
#[post("/auth/forgot-password")]
pub async fn forgot_password(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: ValidatedJson<ForgotPassword>,
) -> ApiResult<HttpResponse> {
    let client = meta.client_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    state
        .login_failures
        .begin(client)
        .map_err(super::limits::too_many)?
        .fail();
    // Everything else happens after the answer, so that neither its content nor its time tells
    // whether the address has an account.
    let state = state.into_inner();
    let email = body.0.email;
    let job = state.clone();
    state.jobs.spawn(async move {
        if let Err(err) = email_reset_link(&job, &meta, &email).await {
            log::warn!("could not handle a password reset request: {err}");
        }
    });
    Ok(HttpResponse::Accepted().json(ResetRequested {
        detail: RESET_REQUESTED,
    }))
}

/// Issues and mails a reset link for the active account of `email`, if there is one, email is set
/// up and no link was mailed to it within the last minutes; audits the request either way.
async fn email_reset_link(state: &AppState, meta: &RequestMeta, email: &str) -> Result<(), crate::db::BoxError> {
    let email_hash = super::handlers::typed_email_hash(state, email);
    let mut conn = state.conn().await?;
    let to_send = conn
        .transaction(async |conn| {
            let found = match queries::find_by_email(conn, email.trim()).await? {
                Some(user) => Some(queries::find_for_update(conn, user.id).await?).filter(|u| u.active),
                None => None,
            };
            let (user, outcome) = match (&state.mailer, found) {
                (None, found) => (found.map(|u| u.id), "email_not_configured"),
                (Some(_), None) => (None, "no_active_account"),
                (Some(_), Some(user)) => {
                    let recent: bool = diesel::select(diesel::dsl::exists(
                        password_resets::table
                            .filter(password_resets::user_id.eq(user.id))
                            .filter(password_resets::issued_by.is_null())
                            .filter(password_resets::used_at.is_null())
                            .filter(
                                password_resets::created_at
                                    .gt(Utc::now() - chrono::Duration::minutes(EMAIL_INTERVAL_MINUTES)),
                            ),
                    ))
                    .get_result(conn)
                    .await?;
                    if recent {
                        (Some(user.id), "recently_sent")
                    } else {
                        let issued = issue(conn, state, user.id, None).await?;
                        AuditEvent::anonymous(meta, "auth.password_reset_requested", "user", Some(user.id.to_string()))
                            .details(
                                json!({"email_hash": email_hash, "outcome": "sent", "expires_at": issued.expires_at}),
                            )
                            .record(conn)
                            .await?;
                        return Ok::<_, ApiError>(Some((user.id, user.email, issued)));
                    }
                }
            };
            AuditEvent::anonymous(
                meta,
                "auth.password_reset_requested",
                "user",
                user.map(|u| u.to_string()),
            )
            .details(json!({"email_hash": email_hash, "outcome": outcome}))
            .record(conn)
            .await?;
            Ok(None)
        })
        .await
        .map_err(|e| e.to_string())?;
    let (Some((user, to, issued)), Some(mailer)) = (to_send, &state.mailer) else {
        return Ok(());
    };
    if let Err(err) = mailer
        .send(&to, "Reset your Haki password", reset_email(state, &issued))
        .await
    {
        // Not delivered: the token goes, so that the user may ask again at once.
        diesel::delete(password_resets::table.find(hash(state, &issued.token)))
            .execute(&mut conn)
            .await?;
        AuditEvent::anonymous(meta, "auth.password_reset_email_failed", "user", Some(user.to_string()))
            .record(&conn)
            .await?;
        return Err(err);
    }
    Ok(())
}

fn reset_email(state: &AppState, issued: &PasswordResetIssued) -> String {
    let how = match &state.config.password_reset_url {
        Some(base) => format!("Open this link to choose a new password:\n\n{base}{}\n", issued.token),
        None => format!(
            "Your reset token (give it with a new password to POST /api/v1/auth/reset-password):\n\n{}\n",
            issued.token
        ),
    };
    format!(
        "Someone, hopefully you, asked to reset the password of your Haki account.\n\n{how}\n\
         It works once, until {} UTC. If you did not ask for it, ignore this email:\n\
         your password stays as it is.\n",
        issued.expires_at.format("%Y-%m-%d %H:%M")
    )
}
