use actix_web::{HttpResponse, get, patch, web};
use diesel_async::AsyncConnection;
use serde_json::json;

use super::{
    dto::{Offence, OffenceFilter, UpdateOffence},
    models::OffenceChanges,
    queries,
};
use crate::{
    audit::AuditEvent,
    auth::{AuthUser, policy},
    db::pagination::{Page, PageParams},
    error::{ApiError, ApiResult},
    extract::{IfMatch, ValidatedJson, ok_with_etag},
    state::AppState,
};

/// The offence catalogue, by code: the Sexual Offences Act 2006, the Counter-Trafficking in
/// Persons Act 2010 and the Children Act 2022.
#[utoipa::path(
    tag = "prosecution",
    operation_id = "list_offences",
    params(OffenceFilter, PageParams),
    responses((status = 200, body = Page<Offence>))
)]
#[get("/offences")]
pub async fn list_offences(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: crate::extract::Query<OffenceFilter>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ReadOffences)?;
    let limit = page.limit()?;
    let after: Option<String> = page.after()?;
    let mut conn = state.conn().await?;
    let rows = queries::list_offences(&mut conn, &filter, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |o| o.code.clone(), Offence::from)))
}

/// Correct a catalogue entry (admin): penalties, age range, whether it is in force.
#[utoipa::path(
    tag = "prosecution",
    operation_id = "update_offence",
    request_body = UpdateOffence,
    params(("code" = String, Path), ("If-Match" = Option<String>, Header, description = "The version read; 412 when stale.")),
    responses(
        (status = 200, body = Offence, headers(("ETag" = String))),
    )
)]
#[patch("/offences/{code}")]
pub async fn update_offence(
    state: web::Data<AppState>,
    user: AuthUser,
    code: web::Path<String>,
    if_match: IfMatch,
    body: ValidatedJson<UpdateOffence>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ManageOffences)?;
    let input = body.0;
    let code = code.into_inner();
    let mut conn = state.conn().await?;
    let row = conn
        .transaction(async |conn| {
            let current = queries::lock_offence(conn, &code).await?;
            if_match.check(current.version)?;
            let min = input.min_years.unwrap_or(current.min_years);
            let max = input.max_years.unwrap_or(current.max_years);
            if let (Some(min), Some(max)) = (min, max) {
                if max < min {
                    return Err(ApiError::invalid_field(
                        "max_years",
                        "below_min",
                        "must not be below min_years",
                    ));
                }
            }
            let age_min = input.child_age_min.unwrap_or(current.child_age_min);
            let age_max = input.child_age_max.unwrap_or(current.child_age_max);
            if let (Some(lo), Some(hi)) = (age_min, age_max) {
                if hi < lo {
                    return Err(ApiError::invalid_field(
                        "child_age_max",
                        "below_min",
                        "must not be below child_age_min",
                    ));
                }
            }
            let changes = OffenceChanges {
                section: input.section.clone(),
                title: input.title.clone(),
                min_years: input.min_years,
                max_years: input.max_years,
                life_imprisonment: input.life_imprisonment,
                min_fine_kes: input.min_fine_kes,
                penalty_note: input.penalty_note.clone(),
                facilitator_reach: input.facilitator_reach,
                child_age_min: input.child_age_min,
                child_age_max: input.child_age_max,
                in_force: input.in_force,
            };
            let row = queries::update_offence(conn, &code, &changes).await?;
            AuditEvent::by(&user, "offence.update", "offence", &code)
                .details(json!({"version": row.version}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(ok_with_etag(row.version, &Offence::from(row)))
}
