//! Cross-cutting request handling: request ids, access log and metrics.

use std::time::Instant;

use actix_web::{
    Error, HttpMessage,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
    web,
};
use uuid::Uuid;

use crate::state::AppState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled (empty outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// The request id, kept in the request's extensions for extractors (audit) to read.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

fn acceptable_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Outermost middleware: assigns the request id (echoing a sane incoming one), makes it visible to
/// error rendering, and records the access log line and metrics once the response is known.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable_request_id(id))
        .map(String::from)
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let state = req.app_data::<web::Data<AppState>>().cloned();

    // Handlers and the middleware inside this one turn their errors into responses within this
    // scope, so problem bodies carry the request id.
    let mut res = REQUEST_ID
        .scope(request_id.clone(), next.call(req))
        .await?
        .map_into_boxed_body();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }

    let elapsed = started.elapsed();
    let method = res.request().method().as_str().to_owned();
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
    let status = res.status().as_u16();
    if let Some(state) = state {
        state.metrics.observe(&method, &route, status, elapsed.as_secs_f64());
    }
    // Only the route pattern is logged: no query strings, tokens or bodies.
    log::info!(
        target: "haki::http",
        "{method} {route} {status} {:.1}ms request_id={request_id}",
        elapsed.as_secs_f64() * 1000.0
    );
    Ok(res)
}

/// A request the CORS policy refuses (an origin, method or header not allowed) answers a problem
/// like every other error, not the plain text of the CORS layer.
pub async fn cors_problem(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    let Some(refusal) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<actix_cors::CorsError>())
    else {
        return Ok(res);
    };
    let detail = match refusal {
        actix_cors::CorsError::OriginNotAllowed => {
            "This origin may not call the API; HAKI_CORS_ORIGINS lists the ones that may.".to_string()
        }
        other => format!("Cross-origin request refused: {other}."),
    };
    let err = crate::error::ApiError::new(
        actix_web::http::StatusCode::BAD_REQUEST,
        crate::error::ErrorCode::CorsRefused,
        detail,
    );
    let (req, _) = res.into_parts();
    Ok(ServiceResponse::new(
        req,
        actix_web::ResponseError::error_response(&err),
    ))
}
