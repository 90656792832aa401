//! What needs action now, for the calling user, within their reach: each rule a few lines of SQL
//! over indexed columns, the whole list one keyset-paged statement.

pub mod dto;
pub mod handlers;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_alerts);
}
