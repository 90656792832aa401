//! Haki: case management and program monitoring against the commercial sexual exploitation of
//! children. `build_app` assembles the whole service; `main` and the tests both use it.

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod cases;
pub mod changes;
pub mod config;
pub mod db;
pub mod demo;
pub mod documents;
pub mod error;
pub mod exports;
pub mod extract;
pub mod idempotency;
pub mod ids;
pub mod indicators;
pub mod mail;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod ops;
pub mod partners;
pub mod prosecution;
pub mod referrals;
pub mod restoration;
pub mod seed_bench;
pub mod state;
pub mod stats;
pub mod survivors;
pub mod trainings;
pub mod users;
pub mod vocab;
pub mod webhooks;

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::{
    App, Error, HttpRequest, HttpResponse,
    body::BoxBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    http::{Method, StatusCode, header},
    middleware::from_fn,
    web,
};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::{AppExt, scope, service_config::ServiceConfig};
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    error::{ApiError, ErrorCode},
    state::AppState,
};

/// Every documented route. Registered with `.service()` so that each lands in the spec.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.configure(ops::configure).service(
        scope("/api/v1")
            .wrap(from_fn(idempotency::idempotency))
            .wrap(from_fn(body_deadline))
            .wrap(from_fn(reject_unknown_query))
            .wrap(from_fn(auth::authenticate_first))
            // Every answer of the API may hold a child's data (or a token): no cache keeps it.
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add((header::CACHE_CONTROL, "no-store"))
                    .add((header::PRAGMA, "no-cache")),
            )
            .configure(auth::configure)
            .configure(users::configure)
            .configure(partners::configure)
            .configure(cases::configure)
            .configure(prosecution::configure)
            .configure(survivors::configure)
            .configure(restoration::configure)
            .configure(documents::configure)
            .configure(referrals::configure)
            .configure(indicators::configure)
            .configure(stats::configure)
            .configure(alerts::configure)
            .configure(exports::configure)
            .configure(changes::configure)
            .configure(webhooks::configure)
            .configure(trainings::configure)
            .configure(audit::configure),
    );
}

/// Adds the routes to `app` and returns it with the OpenAPI spec they make up.
pub fn with_api<T>(app: App<T>) -> (App<T>, utoipa::openapi::OpenApi)
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = Error, InitError = ()>,
{
    let (app, mut spec) = app
        .into_utoipa_app()
        .openapi(openapi::ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    openapi::CommonResponses.modify(&mut spec);
    (app, spec)
}

/// Bounds on what one client may hold or send (documented in docs/api.md, "Limits").
pub mod limits {
    use std::time::Duration;

    /// A request's head (line and headers) must arrive within this; a slow client is answered
    /// 408 and cut off instead of holding a worker's connection slot.
    pub const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
    /// An idle keep-alive connection is closed after this.
    pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
    /// A client that does not read the end of its answer is cut off after this.
    pub const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(2);
    /// Open connections per worker; beyond it, new ones wait in the listen queue.
    pub const MAX_CONNECTIONS_PER_WORKER: usize = 4096;
    /// Query parameters per request.
    pub const MAX_QUERY_PARAMETERS: usize = 64;
}

/// Gives the request body an idle deadline (`HAKI_BODY_IDLE_TIMEOUT_SECONDS`): a client that
/// stops sending it in the middle does not hold the handler (and its database connection, its
/// upload) for ever.
async fn body_deadline(
    mut req: ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<ServiceResponse<impl actix_web::body::MessageBody>, Error> {
    use actix_web::HttpMessage;
    use futures_util::StreamExt;
    let idle = req
        .app_data::<web::Data<AppState>>()
        .map_or(std::time::Duration::from_secs(30), |s| s.config.body_idle_timeout);
    let payload = req.take_payload();
    let stream = futures_util::stream::unfold(Some(payload), move |state| async move {
        let mut payload = state?;
        match tokio::time::timeout(idle, payload.next()).await {
            Ok(Some(item)) => Some((item, Some(payload))),
            Ok(None) => None,
            Err(_) => Some((
                Err(actix_web::error::PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body stopped arriving",
                ))),
                None,
            )),
        }
    });
    // Fused: readers may poll again after the end.
    req.set_payload(actix_web::dev::Payload::from(
        Box::pin(stream.fuse()) as std::pin::Pin<Box<dyn futures_util::Stream<Item = _>>>
    ));
    next.call(req).await
}

/// Haki's connection limits on an HTTP server (slow or idle clients, open connections), for
/// `haki serve` and the tests that exercise them over TCP. Headers are bounded by actix-http
/// itself: at most 96, the head at most 128 KiB (431 beyond).
pub fn with_connection_limits<F, I, S, B>(
    server: actix_web::HttpServer<F, I, S, B>,
) -> actix_web::HttpServer<F, I, S, B>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>> + 'static,
    <S::Service as actix_web::dev::Service<actix_http::Request>>::Future: 'static,
    S::Service: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    server
        .client_request_timeout(limits::CLIENT_REQUEST_TIMEOUT)
        .client_disconnect_timeout(limits::CLIENT_DISCONNECT_TIMEOUT)
        .keep_alive(limits::KEEP_ALIVE)
        .max_connections(limits::MAX_CONNECTIONS_PER_WORKER)
}

/// The whole application: routes, docs, extractor error handling, CORS, request ids, metrics.
pub fn build_app(
    state: Arc<AppState>,
) -> App<
    impl ServiceFactory<ServiceRequest, Config = (), Response = ServiceResponse<BoxBody>, Error = Error, InitError = ()>,
> {
    if let Err(err) = state.claim_worker_pool() {
        // Built like the shared pool, which was built: not expected. Requests use the shared one.
        log::warn!("no pool of its own for this worker: {err}");
    }
    let limit = state.config.body_limit;
    let cors = state.config.cors_origins.iter().fold(
        Cors::default()
            .allowed_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allowed_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                header::HeaderName::from_static(idempotency::HEADER),
                header::HeaderName::from_static(middleware::REQUEST_ID_HEADER),
            ])
            .expose_headers([
                header::HeaderName::from_static("haki-existing"),
                header::ETAG,
                header::LOCATION,
                header::RETRY_AFTER,
                header::HeaderName::from_static(middleware::REQUEST_ID_HEADER),
            ])
            .max_age(3600),
        |cors, origin| cors.allowed_origin(origin),
    );
    let (app, spec) = with_api(App::new());
    let spec = openapi::refine(spec);
    let routes = web::Data::new(openapi::RouteTable::from_spec(&spec));
    app.app_data(web::Data::from(state))
        .app_data(routes)
        .app_data(
            web::JsonConfig::default()
                .limit(limit)
                .error_handler(error::json_error_handler),
        )
        .app_data(web::PayloadConfig::new(limit))
        .app_data(web::PathConfig::default().error_handler(error::path_error_handler))
        .app_data(web::QueryConfig::default().error_handler(error::query_error_handler))
        .service(SwaggerUi::new("/docs/{_:.*}").external_urls_from_iter_unchecked([("/openapi.json", spec)]))
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header((header::LOCATION, "/docs/"))
                    .finish()
            }),
        )
        // Someone opening the server's address in a browser lands on the API docs.
        .route(
            "/",
            web::get().to(|| async {
                HttpResponse::Found()
                    .insert_header((header::LOCATION, "/docs/"))
                    .finish()
            }),
        )
        .default_service(web::to(fallback))
        .wrap(cors)
        .wrap(from_fn(middleware::cors_problem))
        .wrap(from_fn(middleware::observe))
}

/// No route answered: 405 with `Allow` when the path exists with other methods, else 404; both
/// as problems.
async fn fallback(req: HttpRequest, routes: web::Data<openapi::RouteTable>) -> Result<HttpResponse, ApiError> {
    let allowed = routes.allowed(req.path()).or_else(|| {
        // Documentation routes are not in the spec; they answer GET only.
        req.resource_map().has_resource(req.path()).then(|| "GET".to_string())
    });
    Err(match allowed {
        Some(allow) => ApiError::method_not_allowed(allow),
        None => ApiError::not_found(),
    })
}

/// A query parameter the operation does not document is a 400 naming it, never silently ignored;
/// so is a query of more than [`limits::MAX_QUERY_PARAMETERS`] parameters.
async fn reject_unknown_query(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let count = form_urlencoded::parse(req.query_string().as_bytes()).count();
    if count > limits::MAX_QUERY_PARAMETERS {
        let err = ApiError::bad_request(
            ErrorCode::InvalidQuery,
            format!(
                "The query has {count} parameters; at most {} are accepted.",
                limits::MAX_QUERY_PARAMETERS
            ),
        );
        return Ok(req.error_response(err));
    }
    let unknown = req
        .app_data::<web::Data<openapi::RouteTable>>()
        .map(|routes| routes.unknown_query(req.method().as_str(), req.path(), req.query_string()))
        .unwrap_or_default();
    if unknown.is_empty() {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let errors = unknown
        .iter()
        .map(|name| {
            error::FieldError::new(
                name.clone(),
                "unknown_parameter",
                "is not a parameter of this operation",
            )
        })
        .collect();
    let err = ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::UnknownParameter,
        format!("Unknown query parameter: {}.", unknown.join(", ")),
    )
    .with_errors(errors);
    Ok(req.error_response(err))
}
