//! Program indicators against donor targets: the catalogue with each indicator's definition, the
//! targets, and the report computed live.

pub mod definitions;
pub mod dto;
pub mod handlers;
pub mod models;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_indicators)
        .service(handlers::list_targets)
        .service(handlers::put_targets)
        .service(handlers::indicator_report);
}
