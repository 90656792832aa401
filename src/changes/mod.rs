//! The change feed: what was created or changed, in an order a script can resume from exactly.

pub mod handlers;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_changes);
}
