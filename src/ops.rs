//! Operations endpoints: liveness, readiness, metrics.

use actix_web::{HttpResponse, get, web};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    error::{ApiError, ApiResult, Problem},
    state::AppState,
};

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: &'static str,
}

/// The process is alive (does not touch the database).
#[utoipa::path(tag = "operations", operation_id = "get_healthz", security(()), responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The service can reach its database.
#[utoipa::path(
    tag = "operations",
    operation_id = "get_readyz",
    security(()),
    responses((status = 200, body = Health), (status = 503, body = Problem, content_type = "application/problem+json"))
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    diesel::sql_query("SELECT 1")
        .execute(&mut conn)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(HttpResponse::Ok().json(Health { status: "ok" }))
}

/// Prometheus metrics (text exposition format), for the bearer of `HAKI_METRICS_TOKEN`.
#[utoipa::path(
    tag = "operations",
    operation_id = "get_metrics",
    security(("metrics" = [])),
    responses(
        (status = 200, content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "The metrics token is missing or wrong (or none is configured: metrics are off)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>, req: actix_web::HttpRequest) -> ApiResult<HttpResponse> {
    // Route names and counts say what the service is used for: not for anyone who asks.
    let Some(expected) = state.config.metrics_token.as_deref() else {
        return Err(ApiError::unauthenticated(
            "Metrics are off: set HAKI_METRICS_TOKEN and send it as a bearer token.",
        ));
    };
    let given = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::unauthenticated(
            "Metrics need the bearer token configured as HAKI_METRICS_TOKEN.",
        ));
    }
    let text = state.metrics.render(&state.pool_status()).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

/// Compares without stopping at the first difference, so timing does not tell how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}
