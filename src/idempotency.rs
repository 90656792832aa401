//! `Idempotency-Key` for every POST: the first response to a key is stored (per caller) and
//! replayed to retries with the same request; the same key with another request is a 422, and a
//! retry while the first is still running is a 409. Keys are kept for 24 hours.

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
use sha2::{Digest, Sha256};

use crate::{
    audit::AuditEvent,
    auth::AuthUser,
    db::schema::idempotency_keys as keys,
    error::{ApiError, ErrorCode, payload_too_large},
    ids::UserId,
    state::AppState,
};

pub const HEADER: &str = "idempotency-key";

#[derive(Queryable)]
struct Stored {
    request_hash: Vec<u8>,
    status: Option<i16>,
    content_type: Option<String>,
    location: Option<String>,
    etag: Option<String>,
    body: Option<Vec<u8>>,
}

enum Claim {
    /// This request owns the key: run it and store its response.
    Fresh,
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
    let Some(key) = key else {
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
    let hash = request_hash(&req, &body);

    match claim(&state, user.id, &key, &hash).await {
        Ok(Claim::Fresh) => {}
        Ok(Claim::Replay(response)) => {
            // The replayed body may hold case or survivor data: the replay is an access too.
            let path = req.path().to_owned();
            let audited = async {
                let mut conn = state.conn().await?;
                AuditEvent::by(&user, "request.replayed", "request", &path)
                    .record(&mut conn)
                    .await?;
                Ok::<_, ApiError>(())
            };
            if let Err(err) = audited.await {
                return Ok(req.error_response(err));
            }
            return Ok(req.into_response(response));
        }
        Err(err) => return Ok(req.error_response(err)),
    }

    let res = next.call(req).await?;
    if res.status().is_server_error() {
        // Nothing worth replaying: free the key for a retry.
        if let Err(err) = release(&state, user.id, &key).await {
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
    if let Err(err) = store(&state, user.id, &key, &head, &bytes).await {
        // The action itself succeeded; the client gets its answer, a retry would get a 409.
        log::error!("could not store idempotent response: {err}");
    }
    Ok(ServiceResponse::new(http_req, head.set_body(BoxBody::new(bytes))))
}

async fn store(
    state: &AppState,
    principal: UserId,
    key: &str,
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

fn request_hash(req: &ServiceRequest, body: &[u8]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update([0]);
    hasher.update(req.uri().path_and_query().map(|p| p.as_str()).unwrap_or_default());
    hasher.update([0]);
    hasher.update(body);
    hasher.finalize().to_vec()
}

async fn claim(state: &AppState, principal: UserId, key: &str, hash: &[u8]) -> Result<Claim, ApiError> {
    let conn = &mut *state.conn().await?;
    // Expired keys, and claims abandoned by a request that never finished, are forgotten.
    let now = chrono::Utc::now();
    diesel::delete(keys::table.find((principal, key)))
        .filter(
            keys::created_at.lt(now - chrono::Duration::hours(24)).or(keys::status
                .is_null()
                .and(keys::created_at.lt(now - chrono::Duration::minutes(5)))),
        )
        .execute(conn)
        .await?;
    let inserted = diesel::insert_into(keys::table)
        .values((
            keys::principal.eq(principal),
            keys::key.eq(key),
            keys::request_hash.eq(hash),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 1 {
        return Ok(Claim::Fresh);
    }
    let stored: Stored = keys::table
        .find((principal, key))
        .select((
            keys::request_hash,
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
            "A request with this Idempotency-Key is still being processed.",
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

async fn release(state: &AppState, principal: UserId, key: &str) -> Result<(), ApiError> {
    let mut conn = state.conn().await?;
    diesel::delete(keys::table.find((principal, key)))
        .execute(&mut conn)
        .await?;
    Ok(())
}
