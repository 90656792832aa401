//! Referrals from partner organisations: intake (safe to retry by the partner's `external_id`),
//! triage (`submitted → acknowledged → accepted | declined`, or `withdrawn` by the partner), and
//! acceptance into a case and a survivor in one transaction.

pub mod dto;
pub mod handlers;
pub mod models;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_referrals)
        .service(handlers::submit_referral)
        .service(handlers::get_referral)
        .service(handlers::update_referral)
        .service(handlers::acknowledge_referral)
        .service(handlers::accept_referral)
        .service(handlers::decline_referral)
        .service(handlers::withdraw_referral);
}
