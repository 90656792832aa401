//! Restoration services (counselling, school fees, livelihood…) and their sessions.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use super::{
    dto::{CreateService, CreateServiceSession, Service, ServiceSession, UpdateService},
    models::{ServiceChanges, ServiceRow, SessionRow},
    queries, trimmed,
};
use crate::{
    audit::{self, AuditEvent},
    auth::{AuthUser, policy},
    db::pagination::{Page, PageParams},
    error::{ApiError, ApiResult},
    extract::{IfMatch, ValidatedJson, created_with_etag, ok_with_etag},
    ids::{ServiceId, ServiceSessionId, SurvivorId},
    state::AppState,
    survivors,
};

fn check_dates(start: Option<chrono::NaiveDate>, end: Option<chrono::NaiveDate>) -> ApiResult<()> {
    match (start, end) {
        (Some(s), Some(e)) if e < s => Err(ApiError::invalid_field(
            "end_on",
            "before_start",
            "must not be before start_on",
        )),
        _ => Ok(()),
    }
}

async fn service_in_reach(conn: &mut AsyncPgConnection, user: &AuthUser, id: ServiceId) -> ApiResult<SurvivorId> {
    let survivor = queries::service_survivor(conn, id).await?;
    survivors::ensure_restoration(conn, user, survivor).await?;
    Ok(survivor)
}

/// The survivor's services, in the order they were recorded.
#[utoipa::path(
    tag = "restoration",
    operation_id = "list_services",
    params(("id" = SurvivorId, Path), PageParams),
    responses((status = 200, body = Page<Service>))
)]
#[get("/survivors/{id}/services")]
pub async fn list_services(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let limit = page.limit()?;
    let after: Option<ServiceId> = page.after()?;
    let scope = policy::survivor_scope(&user).map_err(|_| ApiError::not_found())?;
    let conn = state.conn().await?;
    // The reach check and the read go out together; the rows are used only if she is in reach.
    let (visible, rows) = futures_util::try_join!(
        survivors::queries::is_visible(&conn, scope, id),
        queries::services_of(&conn, id, after, limit),
    )?;
    if !visible {
        return Err(ApiError::not_found());
    }
    policy::may_manage_restoration(&user)?;
    drop(conn);
    audit::record_reads(&state, vec![AuditEvent::by(&user, "service.list", "survivor", id)]).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |s| s.id, Service::from)))
}

/// One service.
#[utoipa::path(
    tag = "restoration",
    operation_id = "get_service",
    params(("id" = ServiceId, Path)),
    responses((status = 200, body = Service, headers(("ETag" = String))))
)]
#[get("/services/{id}")]
pub async fn get_service(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ServiceId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let survivor = service_in_reach(&mut conn, &user, id).await?;
    let row = queries::find_service(&mut conn, id).await?;
    AuditEvent::by(&user, "service.read", "survivor", survivor)
        .details(json!({"service_id": id}))
        .record(&conn)
        .await?;
    Ok(ok_with_etag(row.version, &Service::from(row)))
}

/// Plan or record a service for the survivor.
#[utoipa::path(
    tag = "restoration",
    operation_id = "create_service",
    request_body = CreateService,
    params(("id" = SurvivorId, Path), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe.")),
    responses((status = 201, body = Service, headers(("ETag" = String), ("Location" = String))))
)]
#[post("/survivors/{id}/services")]
pub async fn create_service(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
    body: ValidatedJson<CreateService>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    check_dates(input.start_on, input.end_on)?;
    let mut conn = state.conn().await?;
    survivors::ensure_restoration(&mut conn, &user, id).await?;
    crate::auth::policy::require(&user, crate::auth::policy::Permission::ChangeRestoration)?;
    let row = conn
        .transaction(async |conn| {
            let now = Utc::now();
            let cost = input.cost.clone();
            let row = queries::insert_service(
                conn,
                &ServiceRow {
                    id: ServiceId::new(),
                    survivor_id: id,
                    kind: input.kind,
                    provider_partner_id: input.provider_partner_id,
                    status: input.status,
                    start_on: input.start_on,
                    end_on: input.end_on,
                    cost_minor: cost.as_ref().map(|m| m.amount_minor),
                    cost_currency: cost.map(|m| m.currency),
                    notes: trimmed(input.notes.clone()),
                    version: 1,
                    created_at: now,
                    updated_at: now,
                },
            )
            .await?;
            AuditEvent::by(&user, "service.create", "survivor", id)
                .details(json!({"service_id": row.id, "kind": row.kind}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    let location = format!("/api/v1/services/{}", row.id);
    Ok(created_with_etag(location, row.version, &Service::from(row)))
}

/// Change a service: its status, dates, cost, provider.
#[utoipa::path(
    tag = "restoration",
    operation_id = "update_service",
    request_body = UpdateService,
    params(("id" = ServiceId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses(
        (status = 200, body = Service, headers(("ETag" = String))),
    )
)]
#[patch("/services/{id}")]
pub async fn update_service(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ServiceId>,
    if_match: IfMatch,
    body: ValidatedJson<UpdateService>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    let mut conn = state.conn().await?;
    let survivor = service_in_reach(&mut conn, &user, id).await?;
    crate::auth::policy::require(&user, crate::auth::policy::Permission::ChangeRestoration)?;
    let row = conn
        .transaction(async |conn| {
            let current = queries::lock_service(conn, id).await?;
            if_match.check(current.version)?;
            check_dates(
                input.start_on.unwrap_or(current.start_on),
                input.end_on.unwrap_or(current.end_on),
            )?;
            let cost = input.cost.clone();
            let changes = ServiceChanges {
                provider_partner_id: input.provider_partner_id,
                status: input.status,
                start_on: input.start_on,
                end_on: input.end_on,
                cost_minor: cost.as_ref().map(|c| c.as_ref().map(|m| m.amount_minor)),
                cost_currency: cost.map(|c| c.map(|m| m.currency)),
                notes: input.notes.clone().map(trimmed),
            };
            let row = queries::update_service(conn, id, &changes).await?;
            AuditEvent::by(&user, "service.update", "survivor", survivor)
                .details(json!({"service_id": id, "status": row.status}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(ok_with_etag(row.version, &Service::from(row)))
}

/// The sessions of a service, latest first.
#[utoipa::path(
    tag = "restoration",
    operation_id = "list_service_sessions",
    params(("id" = ServiceId, Path), PageParams),
    responses((status = 200, body = Page<ServiceSession>))
)]
#[get("/services/{id}/sessions")]
pub async fn list_sessions(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ServiceId>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let limit = page.limit()?;
    let after = page.after()?;
    let mut conn = state.conn().await?;
    let survivor = service_in_reach(&mut conn, &user, id).await?;
    let rows = queries::sessions_of(&mut conn, id, after, limit).await?;
    AuditEvent::by(&user, "service.sessions_read", "survivor", survivor)
        .record(&conn)
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |s| (s.held_on, s.id),
        ServiceSession::from,
    )))
}

/// Record a session of a service (a counselling session, a school visit…).
#[utoipa::path(
    tag = "restoration",
    operation_id = "create_service_session",
    request_body = CreateServiceSession,
    params(("id" = ServiceId, Path), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe.")),
    responses((status = 201, body = ServiceSession))
)]
#[post("/services/{id}/sessions")]
pub async fn create_session(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ServiceId>,
    body: ValidatedJson<CreateServiceSession>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    crate::cases::dto::check_not_future("held_on", input.held_on)?;
    let mut conn = state.conn().await?;
    let survivor = service_in_reach(&mut conn, &user, id).await?;
    crate::auth::policy::require(&user, crate::auth::policy::Permission::ChangeRestoration)?;
    let row = conn
        .transaction(async |conn| {
            let row = queries::insert_session(
                conn,
                &SessionRow {
                    id: ServiceSessionId::new(),
                    service_id: id,
                    held_on: input.held_on,
                    minutes: input.minutes,
                    notes: trimmed(input.notes.clone()),
                    recorded_by: Some(user.id),
                    created_at: Utc::now(),
                },
            )
            .await?;
            AuditEvent::by(&user, "service.session_add", "survivor", survivor)
                .details(json!({"service_id": id, "session_id": row.id}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(ServiceSession::from(row)))
}
