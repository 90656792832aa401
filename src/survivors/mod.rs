//! Survivors: pseudonymous records, their cases, the aftercare team, and the identity vault.
//! Need-to-know: aftercare officers reach the survivors assigned to them, case workers the
//! survivors of their cases (read-only); anything else is a 404.

pub mod dto;
pub mod handlers;
pub mod models;
pub mod queries;
pub mod vault;

use diesel_async::AsyncPgConnection;

use crate::{
    auth::{AuthUser, policy},
    error::{ApiError, ApiResult},
    ids::SurvivorId,
};

/// The scope that shapes what the caller is shown of a survivor (case summaries); the narrowest
/// one for a role without survivor access, which never gets this far.
pub fn view_scope(user: &AuthUser) -> policy::SurvivorScope {
    policy::survivor_scope(user).unwrap_or(policy::SurvivorScope::ThroughCasesOf(user.id))
}

/// A survivor as the caller is shown it (case summaries within the caller's reach).
pub async fn load(conn: &mut AsyncPgConnection, user: &AuthUser, id: SurvivorId) -> ApiResult<dto::Survivor> {
    let row = queries::find(conn, id).await?;
    queries::hydrate(conn, vec![row], view_scope(user))
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)
}

/// 404 unless the caller may see this survivor.
pub async fn ensure_visible(conn: &mut AsyncPgConnection, user: &AuthUser, id: SurvivorId) -> ApiResult<()> {
    let scope = policy::survivor_scope(user).map_err(|_| ApiError::not_found())?;
    if queries::is_visible(conn, scope, id).await? {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

/// 404 unless visible, then 403 unless the caller works on restoration.
pub async fn ensure_restoration(conn: &mut AsyncPgConnection, user: &AuthUser, id: SurvivorId) -> ApiResult<()> {
    ensure_visible(conn, user, id).await?;
    policy::may_manage_restoration(user)
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_survivors)
        .service(handlers::create_survivor)
        .service(handlers::get_survivor)
        .service(handlers::update_survivor)
        .service(handlers::list_case_survivors)
        .service(handlers::link_case_survivor)
        .service(handlers::list_survivor_assignments)
        .service(handlers::create_survivor_assignment)
        .service(handlers::delete_survivor_assignment)
        .service(handlers::get_identity)
        .service(handlers::put_identity)
        .service(handlers::survivor_access_log);
}
