//! A second factor: TOTP (RFC 6238, 30-second steps, six digits, one step of clock drift either
//! way) and ten one-time recovery codes. A sign-in whose password is right but whose account has a
//! factor (or whose role requires one: `HAKI_MFA_REQUIRED_ROLES`) gets a short-lived challenge
//! instead of tokens, and finishes at `POST /auth/mfa` with a code. A code is accepted once (the
//! factor keeps the last step used); wrong codes count toward the account's lockout and the
//! address's allowance of failures, and a challenge takes five at most. The secret is sealed with
//! the data key; recovery codes and challenges are kept as keyed hashes.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::{HttpRequest, HttpResponse, delete, post, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::json;
use totp_rs::{Algorithm, TOTP};
use utoipa::ToSchema;
use validator::Validate;

use super::{AuthUser, policy, sessions};
use crate::{
    audit::AuditEvent,
    db::schema::{mfa_challenges, recovery_codes, totp_factors},
    error::{ApiError, ApiResult, ErrorCode, Problem},
    extract::{RequestMeta, ValidatedJson},
    ids::UserId,
    state::AppState,
    survivors::vault::Sealed,
    users::{models::UserRow, queries},
};

/// Challenges start with this, so that secret scanners can recognise a leaked one.
const PREFIX: &str = "hakm_";
/// A challenge works for this long.
const CHALLENGE_SECONDS: i64 = 300;
/// Wrong codes a challenge takes before it ends.
const CHALLENGE_ATTEMPTS: i32 = 5;
const STEP_SECONDS: u64 = 30;
const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "Haki";

/// What the sign-in still needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MfaStep {
    /// A code of the account's authenticator (or a recovery code).
    Totp,
    /// The account's role requires a second factor and it has none yet: `POST /auth/mfa/enrol`
    /// with the challenge, add the secret to an authenticator app, then send its first code.
    Enrol,
}

/// The password was right; the sign-in finishes with a second factor at `POST /auth/mfa`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaChallenge {
    pub mfa_required: MfaStep,
    /// Send it back with the code; it works for a few minutes and a few wrong codes.
    pub challenge: String,
    /// Seconds the challenge stays valid.
    pub expires_in: u64,
}

/// The answer to a sign-in: tokens, or the second factor it still needs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginResponse {
    Tokens(sessions::SessionTokens),
    Mfa(MfaChallenge),
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct MfaVerify {
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub challenge: String,
    /// The authenticator's current six-digit code.
    #[validate(custom(function = "six_digits"))]
    #[schema(min_length = 6, max_length = 6, pattern = "^[0-9]{6}$")]
    pub code: Option<String>,
    /// One of the recovery codes, instead of a code (it works once).
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub recovery_code: Option<String>,
    /// Keep the refresh token in an `HttpOnly` cookie instead of the body (browsers).
    #[serde(default)]
    pub refresh_cookie: bool,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct EnrolAtSignIn {
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub challenge: String,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct StartTotp {
    /// Your current password: a signed-in session alone must not be enough to bind an
    /// authenticator to the account (and lock its owner out).
    #[validate(length(min = 1, max = 256))]
    #[schema(format = "password", min_length = 1, max_length = 256)]
    pub current_password: String,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ConfirmTotp {
    /// The authenticator's current six-digit code.
    #[validate(custom(function = "six_digits"))]
    #[schema(min_length = 6, max_length = 6, pattern = "^[0-9]{6}$")]
    pub code: String,
}

/// A new authenticator secret, shown once: add it to an authenticator app (scan the URI as a QR
/// code, or type the secret), then confirm it with the app's first code.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// `otpauth://totp/Haki:{email}?secret=…&issuer=Haki`.
    pub otpauth_uri: String,
    /// The same secret, base32, for typing in.
    pub secret: String,
}

/// One-time recovery codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

fn six_digits(code: &str) -> Result<(), validator::ValidationError> {
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(validator::ValidationError::new("six_digits").with_message("must be six digits".into()))
    }
}

fn keyed(state: &AppState, purpose: &[u8], value: &str) -> Vec<u8> {
    state.keyed_hash(&[purpose, value.as_bytes()])
}

fn challenge_hash(state: &AppState, token: &str) -> Vec<u8> {
    keyed(state, b"mfa challenge", token.trim())
}

/// Recovery codes are compared without case, spaces or dashes.
fn recovery_hash(state: &AppState, user: UserId, code: &str) -> Vec<u8> {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    state.keyed_hash(&[b"recovery code", user.0.as_bytes(), normal.as_bytes()])
}

/// Whether `user` must sign in with a second factor, and whether it has one.
pub async fn factor_state(conn: &mut AsyncPgConnection, state: &AppState, user: &UserRow) -> QueryResult<(bool, bool)> {
    let enrolled: bool = diesel::select(diesel::dsl::exists(
        totp_factors::table
            .filter(totp_factors::user_id.eq(user.id))
            .filter(totp_factors::confirmed_at.is_not_null()),
    ))
    .get_result(conn)
    .await?;
    Ok((state.config.mfa_required_roles.contains(&user.role), enrolled))
}

/// The challenge for a sign-in whose password was right, when the account needs a second factor.
pub async fn challenge_if_needed(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    user: &UserRow,
    meta: &RequestMeta,
) -> ApiResult<Option<MfaChallenge>> {
    let (required, enrolled) = factor_state(conn, state, user).await?;
    if !required && !enrolled {
        return Ok(None);
    }
    let token = super::new_secret(PREFIX);
    diesel::insert_into(mfa_challenges::table)
        .values((
            mfa_challenges::token_hash.eq(challenge_hash(state, &token)),
            mfa_challenges::user_id.eq(user.id),
            mfa_challenges::token_version.eq(user.token_version),
            mfa_challenges::enrol.eq(!enrolled),
            mfa_challenges::expires_at.eq(Utc::now() + chrono::Duration::seconds(CHALLENGE_SECONDS)),
        ))
        .execute(conn)
        .await?;
    let step = if enrolled { MfaStep::Totp } else { MfaStep::Enrol };
    AuditEvent::anonymous(meta, "auth.mfa_challenged", "user", Some(user.id.to_string()))
        .details(json!({"step": step}))
        .record(conn)
        .await?;
    Ok(Some(MfaChallenge {
        mfa_required: step,
        challenge: token,
        expires_in: CHALLENGE_SECONDS as u64,
    }))
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = mfa_challenges)]
struct ChallengeRow {
    user_id: UserId,
    token_version: i32,
    enrol: bool,
    expires_at: DateTime<Utc>,
    attempts: i32,
    used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = totp_factors)]
struct FactorRow {
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    confirmed_at: Option<DateTime<Utc>>,
    last_step: Option<i64>,
}

fn challenge_over() -> ApiError {
    ApiError::unauthenticated("The sign-in challenge is over (used, expired or too many wrong codes); sign in again.")
}

fn wrong_code(field: &str) -> ApiError {
    ApiError::invalid_field(field, "mismatch", "is not a current code of this account")
}

/// The challenge `token` names, locked, with its account, if both still allow a sign-in.
async fn open_challenge(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    token: &str,
) -> ApiResult<Option<(ChallengeRow, UserRow)>> {
    let hash = challenge_hash(state, token);
    // The account is locked before its challenge (the order every writer of both keeps).
    let Some(owner) = mfa_challenges::table
        .find(&hash)
        .select(mfa_challenges::user_id)
        .first::<UserId>(conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    let user = queries::find_for_update(conn, owner).await?;
    let Some(challenge) = mfa_challenges::table
        .find(&hash)
        .select(ChallengeRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    if challenge.used_at.is_some() || challenge.expires_at <= Utc::now() || challenge.attempts >= CHALLENGE_ATTEMPTS {
        return Ok(None);
    }
    if !user.active || user.token_version != challenge.token_version || user.is_locked(Utc::now()) {
        return Ok(None);
    }
    Ok(Some((challenge, user)))
}

fn authenticator(secret: Vec<u8>, user: &UserRow) -> ApiResult<TOTP> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECONDS,
        secret,
        Some(ISSUER.into()),
        user.email.replace(':', "_"),
    )
    .map_err(ApiError::internal)
}

fn binding(user: UserId) -> Vec<u8> {
    SEALED_SECRETS.binding(user.0)
}

/// Starts (or restarts) an enrolment: a fresh secret, not active until a code confirms it.
async fn begin_enrolment(conn: &mut AsyncPgConnection, state: &AppState, user: &UserRow) -> ApiResult<TotpEnrolment> {
    let confirmed: bool = diesel::select(diesel::dsl::exists(
        totp_factors::table
            .filter(totp_factors::user_id.eq(user.id))
            .filter(totp_factors::confirmed_at.is_not_null()),
    ))
    .get_result(conn)
    .await?;
    if confirmed {
        return Err(ApiError::conflict(
            ErrorCode::AlreadyExists,
            "The account already has an authenticator; an administrator can reset it.",
        ));
    }
    let secret: [u8; 20] = rand::random();
    let totp = authenticator(secret.to_vec(), user)?;
    let sealed = state
        .vault
        .seal_bound(&binding(user.id), &secret)
        .map_err(ApiError::internal)?;
    diesel::insert_into(totp_factors::table)
        .values((
            totp_factors::user_id.eq(user.id),
            totp_factors::key_id.eq(&sealed.key_id),
            totp_factors::nonce.eq(&sealed.nonce),
            totp_factors::ciphertext.eq(&sealed.ciphertext),
        ))
        .on_conflict(totp_factors::user_id)
        .do_update()
        .set((
            totp_factors::key_id.eq(&sealed.key_id),
            totp_factors::nonce.eq(&sealed.nonce),
            totp_factors::ciphertext.eq(&sealed.ciphertext),
            totp_factors::created_at.eq(Utc::now()),
            totp_factors::last_step.eq(None::<i64>),
        ))
        .execute(conn)
        .await?;
    Ok(TotpEnrolment {
        otpauth_uri: totp.get_url(),
        secret: totp.get_secret_base32(),
    })
}

/// Checks `code` against the user's factor (a pending one too, when `pending_ok`); a code is
/// accepted once: its time step must be later than the last one used. Marks the step used and,
/// for a pending factor, confirms it. `Some(confirmed_now)` when the code is right.
async fn check_code(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    user: &UserRow,
    code: &str,
    pending_ok: bool,
) -> ApiResult<Option<bool>> {
    let Some(factor) = totp_factors::table
        .find(user.id)
        .select(FactorRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    let pending = factor.confirmed_at.is_none();
    if pending && !pending_ok {
        return Ok(None);
    }
    let secret = state
        .vault
        .open_bound(
            &binding(user.id),
            &Sealed {
                key_id: factor.key_id,
                nonce: factor.nonce,
                ciphertext: factor.ciphertext,
            },
        )
        .map_err(ApiError::internal)?;
    let totp = authenticator(secret, user)?;
    let now = u64::try_from(Utc::now().timestamp()).unwrap_or(0) / STEP_SECONDS;
    let matched = (now.saturating_sub(1)..=now + 1).find(|step| {
        let expected = totp.generate(step * STEP_SECONDS);
        expected.len() == code.len() && expected.bytes().zip(code.bytes()).fold(0, |acc, (a, b)| acc | (a ^ b)) == 0
    });
    let Some(step) = matched.and_then(|s| i64::try_from(s).ok()) else {
        return Ok(None);
    };
    if factor.last_step.is_some_and(|last| step <= last) {
        return Ok(None);
    }
    diesel::update(totp_factors::table.find(user.id))
        .set((
            totp_factors::last_step.eq(step),
            totp_factors::confirmed_at.eq(factor.confirmed_at.unwrap_or_else(Utc::now)),
        ))
        .execute(conn)
        .await?;
    Ok(Some(pending))
}

/// Replaces the user's recovery codes with ten fresh ones.
async fn new_recovery_codes(conn: &mut AsyncPgConnection, state: &AppState, user: UserId) -> QueryResult<Vec<String>> {
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user)))
        .execute(conn)
        .await?;
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let bits: u64 = rand::random();
            let chars: String = (0..12)
                .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
                .collect();
            format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
        })
        .collect();
    let rows: Vec<_> = codes
        .iter()
        .map(|code| {
            (
                recovery_codes::code_hash.eq(recovery_hash(state, user, code)),
                recovery_codes::user_id.eq(user),
            )
        })
        .collect();
    diesel::insert_into(recovery_codes::table)
        .values(&rows)
        .execute(conn)
        .await?;
    Ok(codes)
}

/// Finish a sign-in with a second factor: the challenge from `POST /auth/login` and a code of the
/// authenticator or a recovery code. For an enrolment (`mfa_required: enrol`), the first code
/// confirms the new authenticator and the answer holds the recovery codes.
#[utoipa::path(
    tag = "auth",
    operation_id = "verify_mfa",
    security(()),
    request_body = MfaVerify,
    responses(
        (status = 200, body = sessions::SessionTokens),
        (status = 401, description = "The challenge is over: sign in again", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A wrong code, or neither or both of code and recovery_code", body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64))),
    )
)]
#[post("/auth/mfa")]
pub async fn verify_mfa(
    req: HttpRequest,
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: ValidatedJson<MfaVerify>,
) -> ApiResult<HttpResponse> {
    let client = meta.client_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let attempt = state.login_failures.begin(client).map_err(super::limits::too_many)?;
    let MfaVerify {
        challenge,
        code,
        recovery_code,
        refresh_cookie,
    } = body.0;
    let field = match (&code, &recovery_code) {
        (Some(_), None) => "code",
        (None, Some(_)) => "recovery_code",
        _ => {
            return Err(ApiError::invalid_field(
                "code",
                "one_of",
                "give either code or recovery_code",
            ));
        }
    };
    let agent = super::handlers::user_agent(&req);
    let mut conn = state.conn().await?;
    let outcome = conn
        .transaction(async |conn| {
            let Some((found, user)) = open_challenge(conn, &state, &challenge).await? else {
                return Ok(Err(challenge_over()));
            };
            let enrolled_now = match (&code, &recovery_code) {
                (Some(code), _) => check_code(conn, &state, &user, code, found.enrol).await?,
                (_, Some(recovery)) if !found.enrol => {
                    let used = diesel::update(
                        recovery_codes::table
                            .filter(recovery_codes::code_hash.eq(recovery_hash(&state, user.id, recovery)))
                            .filter(recovery_codes::user_id.eq(user.id))
                            .filter(recovery_codes::used_at.is_null()),
                    )
                    .set(recovery_codes::used_at.eq(Utc::now()))
                    .execute(conn)
                    .await?;
                    (used == 1).then_some(false)
                }
                _ => None,
            };
            let Some(enrolled_now) = enrolled_now else {
                diesel::update(mfa_challenges::table.find(challenge_hash(&state, &challenge)))
                    .set(mfa_challenges::attempts.eq(mfa_challenges::attempts + 1))
                    .execute(conn)
                    .await?;
                let newly_locked = queries::record_failed_login(
                    conn,
                    user.id,
                    state.config.lockout_threshold,
                    state.config.lockout_duration,
                )
                .await?;
                AuditEvent::anonymous(&meta, "auth.mfa_failed", "user", Some(user.id.to_string()))
                    .details(json!({"factor": field, "locked_until": newly_locked}))
                    .record(conn)
                    .await?;
                if let Some(until) = newly_locked {
                    AuditEvent::anonymous(&meta, "auth.account_locked", "user", Some(user.id.to_string()))
                        .details(json!({"locked_until": until}))
                        .record(conn)
                        .await?;
                }
                return Ok(Err(wrong_code(field)));
            };
            diesel::update(mfa_challenges::table.find(challenge_hash(&state, &challenge)))
                .set(mfa_challenges::used_at.eq(Utc::now()))
                .execute(conn)
                .await?;
            queries::record_login(conn, user.id).await?;
            let mut tokens = sessions::open(conn, &state, &user, &meta, agent).await?;
            if enrolled_now {
                tokens.recovery_codes = Some(new_recovery_codes(conn, &state, user.id).await?);
                AuditEvent::anonymous(&meta, "auth.mfa_enrolled", "user", Some(user.id.to_string()))
                    .actor(user.id, user.role)
                    .record(conn)
                    .await?;
            }
            AuditEvent::anonymous(&meta, "auth.login", "user", Some(user.id.to_string()))
                .actor(user.id, user.role)
                .details(json!({"second_factor": field}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(Ok(tokens))
        })
        .await?;
    match outcome {
        Ok(tokens) => Ok(tokens.respond(&state, refresh_cookie)),
        Err(err) => {
            attempt.fail();
            Err(err)
        }
    }
}

/// Start the enrolment a sign-in asked for (`mfa_required: enrol`): a new authenticator secret,
/// shown once. Then send its first code with the same challenge to `POST /auth/mfa`.
#[utoipa::path(
    tag = "auth",
    operation_id = "enrol_mfa_at_sign_in",
    security(()),
    request_body = EnrolAtSignIn,
    responses(
        (status = 200, body = TotpEnrolment),
        (status = 401, description = "The challenge is over, or is not an enrolment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account has an authenticator already", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/mfa/enrol")]
pub async fn enrol_at_sign_in(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: ValidatedJson<EnrolAtSignIn>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let enrolment = conn
        .transaction(async |conn| {
            let Some((found, user)) = open_challenge(conn, &state, &body.0.challenge)
                .await?
                .filter(|(c, _)| c.enrol)
            else {
                return Err(challenge_over());
            };
            let enrolment = begin_enrolment(conn, &state, &user).await?;
            AuditEvent::anonymous(
                &meta,
                "auth.mfa_enrolment_started",
                "user",
                Some(found.user_id.to_string()),
            )
            .actor(user.id, user.role)
            .record(conn)
            .await?;
            Ok::<_, ApiError>(enrolment)
        })
        .await?;
    Ok(HttpResponse::Ok().json(enrolment))
}

/// Add an authenticator to your account (or start over with a new secret before confirming):
/// the secret is shown once; it is active once `POST /me/mfa/totp/confirm` has its first code.
#[utoipa::path(
    tag = "auth",
    operation_id = "start_totp_enrolment",
    request_body = StartTotp,
    responses(
        (status = 200, body = TotpEnrolment),
        (status = 409, description = "The account already has an authenticator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The current password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The account is locked after repeated wrong passwords", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64))),
    )
)]
#[post("/me/mfa/totp")]
pub async fn start_totp_enrolment(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidatedJson<StartTotp>,
) -> ApiResult<HttpResponse> {
    super::api_keys::require_session(&user)?;
    let mut conn = state.conn().await?;
    let (_, _alone) = super::handlers::confirm_current_password(
        &state,
        &mut conn,
        &user,
        body.0.current_password,
        AuditEvent::by(&user, "auth.mfa_failed", "user", user.id),
    )
    .await?;
    let enrolment = conn
        .transaction(async |conn| {
            let row = queries::find_for_update(conn, user.id).await?;
            let enrolment = begin_enrolment(conn, &state, &row).await?;
            AuditEvent::by(&user, "auth.mfa_enrolment_started", "user", user.id)
                .record(conn)
                .await?;
            Ok::<_, ApiError>(enrolment)
        })
        .await?;
    Ok(HttpResponse::Ok().json(enrolment))
}

/// Confirm your new authenticator with its first code: from now on signing in asks for a code.
/// The answer holds ten one-time recovery codes, shown once.
#[utoipa::path(
    tag = "auth",
    operation_id = "confirm_totp_enrolment",
    request_body = ConfirmTotp,
    responses(
        (status = 200, body = RecoveryCodes),
        (status = 409, description = "No enrolment was started, or it is already confirmed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A wrong code", body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64))),
    )
)]
#[post("/me/mfa/totp/confirm")]
pub async fn confirm_totp_enrolment(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidatedJson<ConfirmTotp>,
) -> ApiResult<HttpResponse> {
    super::api_keys::require_session(&user)?;
    let client = user.meta.client_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let attempt = state.login_failures.begin(client).map_err(super::limits::too_many)?;
    let mut conn = state.conn().await?;
    let outcome = conn
        .transaction(async |conn| {
            let row = queries::find_for_update(conn, user.id).await?;
            let pending: Option<Option<DateTime<Utc>>> = totp_factors::table
                .find(user.id)
                .select(totp_factors::confirmed_at)
                .first(conn)
                .await
                .optional()?;
            if !matches!(pending, Some(None)) {
                return Err(ApiError::conflict(
                    ErrorCode::RequirementUnmet,
                    "There is no enrolment to confirm: start one with POST /me/mfa/totp.",
                ));
            }
            if check_code(conn, &state, &row, &body.0.code, true).await?.is_none() {
                AuditEvent::by(&user, "auth.mfa_failed", "user", user.id)
                    .details(json!({"factor": "code", "during": "enrolment"}))
                    .record(conn)
                    .await?;
                return Ok(Err(wrong_code("code")));
            }
            let codes = new_recovery_codes(conn, &state, user.id).await?;
            AuditEvent::by(&user, "auth.mfa_enrolled", "user", user.id)
                .record(conn)
                .await?;
            Ok::<_, ApiError>(Ok(RecoveryCodes { recovery_codes: codes }))
        })
        .await?;
    match outcome {
        Ok(codes) => Ok(HttpResponse::Ok().json(codes)),
        Err(err) => {
            attempt.fail();
            Err(err)
        }
    }
}

/// Remove a user's second factor and recovery codes (admin), e.g. a lost phone: every session of
/// the user ends; the next sign-in enrols a new authenticator where the role requires one.
#[utoipa::path(
    tag = "users",
    operation_id = "reset_user_mfa",
    params(("id" = UserId, Path)),
    responses(
        (status = 204, description = "The second factor is removed"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/users/{id}/mfa")]
pub async fn reset_user_mfa(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<UserId>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ManageUsers)?;
    // A key never passed a second factor: it must not remove one.
    super::api_keys::require_session(&user)?;
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    conn.transaction(async |conn| {
        queries::find_for_update(conn, id).await?;
        let factors = diesel::delete(totp_factors::table.find(id)).execute(conn).await?;
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(id)))
            .execute(conn)
            .await?;
        diesel::delete(mfa_challenges::table.filter(mfa_challenges::user_id.eq(id)))
            .execute(conn)
            .await?;
        let ended = sessions::revoke(conn, id, None, "second factor reset").await?;
        AuditEvent::by(&user, "auth.mfa_reset", "user", id)
            .details(json!({"had_factor": factors == 1, "sessions_ended": ended}))
            .record(conn)
            .await?;
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Where second-factor secrets are sealed (re-sealed by `vault::reseal_stale` after a rotation).
pub const SEALED_SECRETS: crate::survivors::vault::SealedColumns = crate::survivors::vault::SealedColumns {
    table: "totp_factors",
    id: "user_id",
    key_id: "key_id",
    nonce: "nonce",
    ciphertext: "ciphertext",
    binding_prefix: b"totp:",
};
