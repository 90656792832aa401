//! Prosecution: the offence catalogue, suspects, the charges against them and court sessions.
//! Everything here belongs to a case and is reached through it (same need-to-know).

pub mod court;
pub mod dto;
pub mod models;
pub mod offences;
pub mod queries;
pub mod suspects;

use chrono::NaiveDate;

use crate::{
    error::{ApiError, ApiResult},
    extract::trimmed,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(offences::list_offences)
        .service(offences::update_offence)
        .service(suspects::list_suspects)
        .service(suspects::create_suspect)
        .service(suspects::get_suspect)
        .service(suspects::update_suspect)
        .service(suspects::create_charge)
        .service(suspects::get_charge)
        .service(suspects::update_charge)
        .service(court::list_court_sessions)
        .service(court::create_court_session)
        .service(court::get_court_session)
        .service(court::update_court_session);
}

/// 422 unless `date` is on or after the day the case was reported and not in the future.
pub fn check_case_date(field: &str, date: NaiveDate, reported_on: NaiveDate) -> ApiResult<()> {
    crate::cases::dto::check_not_future(field, date)?;
    if date < reported_on {
        return Err(ApiError::invalid_field(
            field,
            "before_report",
            "must not be before the case was reported",
        ));
    }
    Ok(())
}
