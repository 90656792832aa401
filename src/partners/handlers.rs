use actix_web::{HttpResponse, get, patch, post, web};
use diesel_async::AsyncConnection;
use serde_json::json;

use super::{
    dto::{CreatePartner, Partner, PartnerFilter, UpdatePartner, check_mou_dates},
    models::{NewPartner, PartnerChanges},
    queries,
};
use crate::{
    audit::AuditEvent,
    auth::{AuthUser, policy},
    db::pagination::{Page, PageParams},
    error::{ApiError, ApiResult, Problem},
    extract::{IfMatch, ValidatedJson, created_with_etag, dedup, ok_with_etag, trimmed},
    ids::PartnerId,
    state::AppState,
};

/// List partner organisations, newest first (a partner user sees only its own).
#[utoipa::path(
    tag = "partners",
    operation_id = "list_partners",
    params(PartnerFilter, PageParams),
    responses((status = 200, body = Page<Partner>))
)]
#[get("/partners")]
pub async fn list_partners(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: crate::extract::Query<PartnerFilter>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ReadPartners)?;
    let limit = page.limit()?;
    let mut conn = state.conn().await?;
    let rows = queries::list(&mut conn, &filter, policy::partner_scope(&user), page.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        |r| Partner::for_viewer(r, &user),
    )))
}

/// Register a partner organisation (admin).
#[utoipa::path(
    tag = "partners",
    operation_id = "create_partner",
    request_body = CreatePartner,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe: the first response is replayed.")),
    responses(
        (status = 201, body = Partner, headers(("ETag" = String), ("Location" = String))),
        (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/partners")]
pub async fn create_partner(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidatedJson<CreatePartner>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ManagePartners)?;
    let input = body.0;
    check_mou_dates(input.mou_signed_on, input.mou_expires_on)?;
    let new = NewPartner {
        id: PartnerId::new(),
        name: input.name.trim().to_string(),
        kind: input.kind,
        counties: dedup(input.counties),
        contact_name: trimmed(input.contact.name),
        contact_email: trimmed(input.contact.email),
        contact_phone: trimmed(input.contact.phone),
        services_offered: dedup(input.services_offered),
        mou_signed_on: input.mou_signed_on,
        mou_expires_on: input.mou_expires_on,
        active: input.active,
        notes: trimmed(input.notes),
    };
    let mut conn = state.conn().await?;
    let row = conn
        .transaction(async |conn| {
            let row = queries::insert(conn, &new).await?;
            AuditEvent::by(&user, "partner.create", "partner", row.id)
                .details(json!({"name": row.name, "kind": row.kind}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(created_with_etag(
        format!("/api/v1/partners/{}", row.id),
        row.version,
        &Partner::from(row),
    ))
}

/// Read a partner organisation (a partner user: only its own).
#[utoipa::path(
    tag = "partners",
    operation_id = "get_partner",
    params(("id" = PartnerId, Path)),
    responses(
        (status = 200, body = Partner, headers(("ETag" = String))),
    )
)]
#[get("/partners/{id}")]
pub async fn get_partner(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<PartnerId>,
) -> ApiResult<HttpResponse> {
    policy::ensure_partner_visible(&user, *id)?;
    let mut conn = state.conn().await?;
    let row = queries::find(&mut conn, *id).await?;
    Ok(ok_with_etag(row.version, &Partner::for_viewer(row, &user)))
}

/// Change a partner organisation (admin).
#[utoipa::path(
    tag = "partners",
    operation_id = "update_partner",
    request_body = UpdatePartner,
    params(("id" = PartnerId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses(
        (status = 200, body = Partner, headers(("ETag" = String))),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/partners/{id}")]
pub async fn update_partner(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<PartnerId>,
    if_match: IfMatch,
    body: ValidatedJson<UpdatePartner>,
) -> ApiResult<HttpResponse> {
    policy::ensure_partner_visible(&user, *id)?;
    policy::require(&user, policy::Permission::ManagePartners)?;
    let input = body.0;
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let row = conn
        .transaction(async |conn| {
            let current = queries::find_for_update(conn, id).await?;
            if_match.check(current.version)?;
            check_mou_dates(
                input.mou_signed_on.unwrap_or(current.mou_signed_on),
                input.mou_expires_on.unwrap_or(current.mou_expires_on),
            )?;
            let contact = input.contact.clone();
            let changes = PartnerChanges {
                name: input.name.as_deref().map(|s| s.trim().to_string()),
                kind: input.kind,
                counties: input.counties.clone().map(dedup),
                contact_name: contact.as_ref().map(|c| trimmed(c.name.clone())),
                contact_email: contact.as_ref().map(|c| trimmed(c.email.clone())),
                contact_phone: contact.as_ref().map(|c| trimmed(c.phone.clone())),
                services_offered: input.services_offered.clone().map(dedup),
                mou_signed_on: input.mou_signed_on,
                mou_expires_on: input.mou_expires_on,
                active: input.active,
                notes: input.notes.clone().map(trimmed),
            };
            let row = queries::update(conn, id, &changes).await?;
            AuditEvent::by(&user, "partner.update", "partner", id)
                .details(json!({"version": row.version}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(ok_with_etag(row.version, &Partner::from(row)))
}
