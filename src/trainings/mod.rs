//! Trainings, mentoring visits, technical assistance and community sensitisation: who was reached
//! (by audience and sex), on what, and what they learnt (pre/post test averages).

pub mod dto;
pub mod handlers;
pub mod models;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_trainings)
        .service(handlers::create_training)
        .service(handlers::get_training)
        .service(handlers::update_training);
}
