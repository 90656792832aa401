//! Cases: from report to closure — the case record, its stage machine, timeline and team.
//! Need-to-know: a case worker reaches only the cases assigned to them; anything else is a 404.

pub mod dto;
pub mod handlers;
pub mod models;
pub mod queries;
pub mod stages;
pub mod team;

use diesel_async::AsyncPgConnection;

use crate::{
    auth::{AuthUser, policy},
    error::{ApiError, ApiResult},
    ids::CaseId,
};

/// 404 unless the caller may reach this case (it exists and is within their scope).
pub async fn ensure_visible(conn: &mut AsyncPgConnection, user: &AuthUser, id: CaseId) -> ApiResult<()> {
    let scope = policy::case_scope(user).map_err(|_| ApiError::not_found())?;
    if queries::is_visible(conn, scope, id).await? {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

/// 404 unless the case is within reach, then 403 unless the caller may change cases.
pub async fn ensure_changeable(conn: &mut AsyncPgConnection, user: &AuthUser, id: CaseId) -> ApiResult<()> {
    ensure_visible(conn, user, id).await?;
    policy::require(user, policy::Permission::ChangeCases)
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_cases)
        .service(handlers::create_case)
        .service(handlers::get_case)
        .service(handlers::update_case)
        .service(handlers::transition_case)
        .service(team::list_events)
        .service(team::create_event)
        .service(team::list_assignments)
        .service(team::create_assignment)
        .service(team::delete_assignment)
        .service(team::case_access_log);
}
