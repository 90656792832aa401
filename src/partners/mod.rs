//! Partner organisations: the NGOs, justice centres, shelters and agencies Haki works with.
//! Partner users, service providers and referral sources all point at them.

pub mod dto;
pub mod handlers;
pub mod models;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_partners)
        .service(handlers::create_partner)
        .service(handlers::get_partner)
        .service(handlers::update_partner);
}
