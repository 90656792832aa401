//! De-identified exports for analysts, and the CSV form every report can take.

pub mod csv;
pub mod handlers;
pub mod htcds;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::export_htcds);
}
