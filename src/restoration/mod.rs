//! Restoration: consent, services and their sessions, outcome assessments, closure and the
//! follow-up two years later. Reached through a survivor (the same need-to-know), run by admins,
//! program managers and aftercare officers.

pub mod approvals;
pub mod assessments;
pub mod closure;
pub mod consent;
pub mod dto;
pub mod models;
pub mod queries;
pub mod services;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(consent::list_consents)
        .service(consent::create_consent)
        .service(consent::get_consent)
        .service(consent::withdraw_consent)
        .service(services::list_services)
        .service(services::create_service)
        .service(services::get_service)
        .service(services::update_service)
        .service(services::list_sessions)
        .service(services::create_session)
        .service(assessments::list_assessments)
        .service(assessments::create_assessment)
        .service(closure::close_survivor)
        .service(closure::reopen_survivor)
        .service(approvals::list_approvals)
        .service(approvals::get_approval)
        .service(approvals::approve)
        .service(approvals::reject)
        .service(closure::list_follow_ups)
        .service(closure::get_follow_up)
        .service(closure::record_follow_up);
}

use crate::extract::trimmed;
