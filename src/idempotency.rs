//! `Idempotency-Key` for every authenticated POST: the first response to a key is stored (per
//! caller) and replayed to retries with the same request, once the caller is checked to still reach
//! what it shows; the same key with another request is a 422, and a retry while the first is still
//! running is a 409. The request is remembered by a keyed hash (HMAC), never by its body; login is
//! outside the store, so no token is ever kept. Stored responses expire after 24 hours and are
//! purged by [`purge_expired`], which `haki serve` runs periodically.
//!
//! No action runs twice: the claim on a key carries the id of the request holding it, and the
//! action's own transaction marks the claim committed (through the audit entry every write makes,
//! see [`mark_committed`]). A claim abandoned by a request that died is released only when its
//! action never committed; a request whose claim was released meanwhile cannot commit.

use actix_web::{
    Error, HttpResponse, ResponseError,
    body::{BoxBody, MessageBody, to_bytes},
    dev::{ServiceRequest, ServiceResponse},
    http::{Method, StatusCode, header},
    middleware::Next,
    web,
};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::{
    audit::AuditEvent,
    auth::AuthUser,
    db::schema::idempotency_keys as keys,
    error::{ApiError, ErrorCode, payload_too_large},
    ids::UserId,
    state::AppState,
};

pub const HEADER: &str = "idempotency-key";

/// How long a stored response is replayed (and kept).
const KEEP: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// A claim without a response this old belongs to a request that died (or runs far too long).
const ABANDONED: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// The claim the current request holds, visible to its handler's transaction.
#[derive(Clone)]
struct Held {
    principal: UserId,
    key: String,
    claim_id: uuid::Uuid,
}

tokio::task_local! {
    static HELD: Held;
}

/// Marks the current request's claim as committed, in the caller's transaction (called by
/// [`AuditEvent::record`], which every write makes). Outside an idempotent request it does nothing.
/// If the claim was released meanwhile, the transaction is rolled back: the action must not run
/// beside its retry.
pub async fn mark_committed(conn: &diesel_async::AsyncPgConnection) -> QueryResult<()> {
    let Ok(held) = HELD.try_with(Held::clone) else {
        return Ok(());
    };
    let marked = diesel::update(keys::table.find((held.principal, &held.key)))
        .filter(keys::claim_id.eq(held.claim_id))
        .set(keys::committed.eq(true))
        .execute(&mut &*conn)
        .await?;
    if marked == 0 {
        return Err(diesel::result::Error::RollbackTransaction);
    }
    Ok(())
}

/// Deletes stored responses past their 24 hours; the number deleted.
pub async fn purge_expired(state: &AppState) -> Result<usize, ApiError> {
    let mut conn = state.conn().await?;
    Ok(
        diesel::delete(keys::table.filter(keys::created_at.lt(chrono::Utc::now() - KEEP)))
            .execute(&mut conn)
            .await?,
    )
}

#[derive(Queryable)]
struct Stored {
    request_hash: Vec<u8>,
    committed: bool,
    status: Option<i16>,
    content_type: Option<String>,
    location: Option<String>,
    etag: Option<String>,
    body: Option<Vec<u8>>,
}

enum Claim {
    /// This request owns the key (under this claim id): run it and store its response.
    Fresh(uuid::Uuid),
    Replay(HttpResponse),
}

pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let key = match req.headers().get(HEADER) {
        Some(_) if req.method() != Method::POST => None,
        None => None,
        Some(value) => match value.to_str() {
            Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => Some(k.to_owned()),
            _ => {
                let err = ApiError::bad_request(
                    ErrorCode::InvalidIdempotencyKey,
                    "Idempotency-Key must be 1–255 visible ASCII characters (no spaces), e.g. a UUID.",
                );
                return Ok(req.error_response(err));
            }
        },
    };
    // A login answers a token, a new API key its secret: never stored. (The decoded path, as
    // routing reads it.)
    // Nor is a file upload: it streams, and is never held whole to be fingerprinted.
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/"));
    let Some(key) = key.filter(|_| !multipart && !crate::auth::answers_secret(req.match_info().as_str())) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // Keys belong to a caller; an unauthenticated request goes on to get its 401.
    let Ok(user) = req.extract::<AuthUser>().await else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let state = match req.app_data::<web::Data<AppState>>().cloned() {
        Some(state) => state,
        None => return Ok(req.error_response(ApiError::internal("application state missing"))),
    };
    let body = match req.extract::<web::Bytes>().await {
        Ok(body) => body,
        Err(e) if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Ok(req.error_response(payload_too_large()));
        }
        Err(_) => {
            return Ok(req.error_response(ApiError::bad_request(
                ErrorCode::MalformedBody,
                "The request body could not be read.",
            )));
        }
    };
    req.set_payload(actix_web::dev::Payload::from(body.clone()));
    let hash = state.keyed_hash(&[
        req.method().as_str().as_bytes(),
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or_default()
            .as_bytes(),
        &body,
    ]);

    let claim_id = match claim(&state, user.id, &key, &hash).await {
        Ok(Claim::Fresh(claim_id)) => claim_id,
        Ok(Claim::Replay(response)) => {
            // The replayed body may hold case or survivor data: the caller must still reach it
            // (an assignment may have ended since), and the replay is an access too.
            let path = req.match_info().as_str().to_owned();
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let refused = !response.status().is_success();
            let checked = async {
                let mut conn = state.conn().await?;
                still_reachable(&mut conn, &user, &path, location.as_deref(), refused).await?;
                AuditEvent::by(&user, "request.replayed", "request", &path)
                    .record(&conn)
                    .await?;
                Ok::<_, ApiError>(())
            };
            if let Err(err) = checked.await {
                return Ok(req.error_response(err));
            }
            return Ok(req.into_response(response));
        }
        Err(err) => return Ok(req.error_response(err)),
    };

    let held = Held {
        principal: user.id,
        key: key.clone(),
        claim_id,
    };
    let res = HELD.scope(held, next.call(req)).await?;
    if res.status().is_server_error() {
        // Nothing worth replaying: free the key for a retry, unless the action committed.
        if let Err(err) = release(&state, user.id, &key, claim_id).await {
            log::error!("could not release idempotency key: {err}");
        }
        return Ok(res.map_into_boxed_body());
    }
    let (http_req, response) = res.into_parts();
    let (head, body) = response.into_parts();
    let bytes = match to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(err) => {
            let err = ApiError::internal(err.into().to_string());
            return Ok(ServiceResponse::new(http_req, err.error_response()));
        }
    };
    if let Err(err) = store(&state, user.id, &key, claim_id, &head, &bytes).await {
        // The action itself succeeded; the client gets its answer, a retry would get a 409.
        log::error!("could not store idempotent response: {err}");
    }
    Ok(ServiceResponse::new(http_req, head.set_body(BoxBody::new(bytes))))
}

async fn store(
    state: &AppState,
    principal: UserId,
    key: &str,
    claim_id: uuid::Uuid,
    head: &HttpResponse<()>,
    body: &[u8],
) -> Result<(), ApiError> {
    let text_header = |name| {
        head.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut conn = state.conn().await?;
    diesel::update(keys::table.find((principal, key)))
        .filter(keys::claim_id.eq(claim_id))
        .set((
            keys::status.eq(Some(i16::try_from(head.status().as_u16()).unwrap_or(500))),
            keys::content_type.eq(text_header(header::CONTENT_TYPE)),
            keys::location.eq(text_header(header::LOCATION)),
            keys::etag.eq(text_header(header::ETAG)),
            keys::body.eq(Some(body.to_vec())),
        ))
        .execute(&mut conn)
        .await?;
    Ok(())
}

async fn claim(state: &AppState, principal: UserId, key: &str, hash: &[u8]) -> Result<Claim, ApiError> {
    let conn = &mut *state.conn().await?;
    let now = chrono::Utc::now();
    // Expired keys are forgotten; so is a claim abandoned by a request that died before its action
    // committed (one whose action committed stays, so the action never runs twice).
    diesel::delete(keys::table.find((principal, key)))
        .filter(
            keys::created_at.lt(now - KEEP).or(keys::status
                .is_null()
                .and(keys::committed.eq(false))
                .and(keys::created_at.lt(now - ABANDONED))),
        )
        .execute(conn)
        .await?;
    let claim_id = uuid::Uuid::now_v7();
    let inserted = diesel::insert_into(keys::table)
        .values((
            keys::principal.eq(principal),
            keys::key.eq(key),
            keys::request_hash.eq(hash),
            keys::claim_id.eq(claim_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 1 {
        return Ok(Claim::Fresh(claim_id));
    }
    let stored: Stored = keys::table
        .find((principal, key))
        .select((
            keys::request_hash,
            keys::committed,
            keys::status,
            keys::content_type,
            keys::location,
            keys::etag,
            keys::body,
        ))
        .first(conn)
        .await?;
    if stored.request_hash != hash {
        return Err(ApiError::unprocessable(
            ErrorCode::IdempotencyKeyReused,
            "This Idempotency-Key was already used with a different request.",
        ));
    }
    let Some(status) = stored.status else {
        return Err(ApiError::conflict(
            ErrorCode::IdempotencyInProgress,
            if stored.committed {
                "A request with this Idempotency-Key has done its work but its answer is not available; read the record instead of retrying."
            } else {
                "A request with this Idempotency-Key is still being processed."
            },
        ));
    };
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    response.insert_header(("idempotent-replayed", "true"));
    for (name, value) in [
        (header::CONTENT_TYPE, stored.content_type),
        (header::LOCATION, stored.location),
        (header::ETAG, stored.etag),
    ] {
        if let Some(value) = value {
            response.insert_header((name, value));
        }
    }
    Ok(Claim::Replay(response.body(stored.body.unwrap_or_default())))
}

/// Frees the key after a failed request, unless its action committed (then a retry gets 409, never
/// a second run).
async fn release(state: &AppState, principal: UserId, key: &str, claim_id: uuid::Uuid) -> Result<(), ApiError> {
    let mut conn = state.conn().await?;
    diesel::delete(keys::table.find((principal, key)))
        .filter(keys::claim_id.eq(claim_id))
        .filter(keys::committed.eq(false))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Before a replay: does the caller still reach what the stored answer shows? The record the
/// request acted on (in its path) or created (its `Location`) decides, by the same rules as a read;
/// a path not listed here is not replayed at all (404). A refusal of a request that named no record
/// (a collection's POST answered 4xx) shows only what the caller sent and is replayed as it is.
async fn still_reachable(
    conn: &mut diesel_async::AsyncPgConnection,
    user: &AuthUser,
    path: &str,
    location: Option<&str>,
    refused: bool,
) -> Result<(), ApiError> {
    use crate::{
        auth::policy,
        cases,
        ids::{ApprovalId, CaseId, ConsentId, ReferralId, ServiceId, SurvivorId, SuspectId},
        prosecution, restoration, survivors,
    };
    let segments: Vec<&str> = path.trim_start_matches("/api/v1/").split('/').collect();
    let created: Option<uuid::Uuid> = location
        .and_then(|l| l.rsplit('/').next())
        .and_then(|id| id.parse().ok());
    let id = segments.get(1).and_then(|s| s.parse::<uuid::Uuid>().ok());
    let part = segments.get(2).copied();
    match (<[&str]>::first(&segments).copied(), id.or(created), part) {
        (Some("cases"), Some(case), _) => cases::ensure_visible(conn, user, CaseId(case)).await,
        (Some("survivors"), Some(survivor), None | Some("assignments")) => {
            survivors::ensure_visible(conn, user, SurvivorId(survivor)).await
        }
        // Restoration answers are for those who still work on her restoration.
        (Some("survivors"), Some(survivor), Some(_)) => {
            survivors::ensure_restoration(conn, user, SurvivorId(survivor)).await
        }
        (Some("suspects"), Some(suspect), _) => {
            let case = prosecution::queries::suspect_case(conn, SuspectId(suspect)).await?;
            cases::ensure_visible(conn, user, case).await
        }
        (Some("services"), Some(service), _) => {
            let survivor = restoration::queries::service_survivor(conn, ServiceId(service)).await?;
            survivors::ensure_restoration(conn, user, survivor).await
        }
        (Some("consents"), Some(consent), _) => {
            let survivor = restoration::queries::consent_survivor(conn, ConsentId(consent)).await?;
            survivors::ensure_restoration(conn, user, survivor).await
        }
        (Some("approvals"), Some(approval), _) => {
            let request = restoration::queries::find_approval(conn, ApprovalId(approval)).await?;
            survivors::ensure_restoration(conn, user, request.survivor_id).await
        }
        (Some("referrals"), Some(referral), _) => {
            crate::referrals::handlers::ensure_reach(
                conn,
                user,
                ReferralId(referral),
                policy::Permission::ReadReferrals,
            )
            .await
        }
        (Some("documents"), Some(document), _) => {
            crate::documents::ensure_parent_visible(conn, user, crate::ids::DocumentId(document)).await
        }
        (Some("trainings"), _, _) => policy::require(user, policy::Permission::ReadTrainings),
        (Some("users"), _, _) => policy::require(user, policy::Permission::ManageUsers),
        (Some("partners"), _, _) => policy::require(user, policy::Permission::ManagePartners),
        (Some(_), None, _) if refused => Ok(()),
        _ => Err(ApiError::not_found()),
    }
}
