//! The dashboard: aggregate figures over a period, small counts withheld from the roles that see
//! aggregates only.

pub mod dto;
pub mod handlers;
pub mod queries;
pub mod suppression;
pub mod tallies;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::overview);
}
