use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::models::{
    AdjournmentReason, ChargeRow, ChargeStatus, CourtSessionRow, OffenceRow, Relationship, SessionPurpose,
    SessionStatus, Sex, Statute, SuspectRole, SuspectRow, SuspectStatus,
};
use crate::{
    error::{ApiError, ApiResult},
    extract::double_option,
    ids::{CaseId, ChargeId, CourtSessionId, SuspectId},
    vocab::Money,
};

/// An offence of the catalogue, with the penalty the law sets where it is certain.
#[derive(Debug, Serialize, ToSchema)]
pub struct Offence {
    /// Stable code, e.g. `soa-8-3`, `ctip-3-5`.
    pub code: String,
    pub statute: Statute,
    pub section: String,
    pub title: String,
    /// Minimum imprisonment in years (`null` when the law sets none or it is not yet recorded).
    pub min_years: Option<i32>,
    pub max_years: Option<i32>,
    pub life_imprisonment: bool,
    pub min_fine_kes: Option<i64>,
    pub penalty_note: Option<String>,
    /// A Counter-Trafficking in Persons Act offence that reaches facilitators.
    pub facilitator_reach: bool,
    /// For offences graded by the child's age: the ages covered.
    pub child_age_min: Option<i32>,
    pub child_age_max: Option<i32>,
    pub in_force: bool,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

impl From<OffenceRow> for Offence {
    fn from(r: OffenceRow) -> Self {
        Offence {
            code: r.code,
            statute: r.statute,
            section: r.section,
            title: r.title,
            min_years: r.min_years,
            max_years: r.max_years,
            life_imprisonment: r.life_imprisonment,
            min_fine_kes: r.min_fine_kes,
            penalty_note: r.penalty_note,
            facilitator_reach: r.facilitator_reach,
            child_age_min: r.child_age_min,
            child_age_max: r.child_age_max,
            in_force: r.in_force,
            version: r.version,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OffenceFilter {
    pub statute: Option<Statute>,
    pub in_force: Option<bool>,
}

/// Corrections to a catalogue entry (admin).
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateOffence {
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 60))]
    #[schema(min_length = 1, max_length = 60, pattern = r"\S", nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub section: Option<String>,
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 300))]
    #[schema(min_length = 1, max_length = 300, pattern = r"\S", nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(range(min = 0, max = 200))]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 200)]
    pub min_years: Option<Option<i32>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(range(min = 0, max = 200))]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 200)]
    pub max_years: Option<Option<i32>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub life_imprisonment: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(range(min = 0))]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub min_fine_kes: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(length(max = 1000))]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub penalty_note: Option<Option<String>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub facilitator_reach: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(range(min = 0, max = 17))]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 17)]
    pub child_age_min: Option<Option<i32>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(range(min = 0, max = 17))]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 17)]
    pub child_age_max: Option<Option<i32>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub in_force: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Charge {
    pub id: ChargeId,
    pub suspect_id: SuspectId,
    pub case_id: CaseId,
    pub offence_code: String,
    pub court_file_number: Option<String>,
    pub filed_on: NaiveDate,
    pub status: ChargeStatus,
    pub sentence_years: Option<i32>,
    pub sentence_life: bool,
    pub fine: Option<Money>,
    pub decided_on: Option<NaiveDate>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ChargeRow> for Charge {
    fn from(r: ChargeRow) -> Self {
        Charge {
            fine: Money::from_parts(r.fine_amount_minor, r.fine_currency),
            id: r.id,
            suspect_id: r.suspect_id,
            case_id: r.case_id,
            offence_code: r.offence_code,
            court_file_number: r.court_file_number,
            filed_on: r.filed_on,
            status: r.status,
            sentence_years: r.sentence_years,
            sentence_life: r.sentence_life,
            decided_on: r.decided_on,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateCharge {
    /// A code of the offence catalogue (`GET /offences`), in force.
    #[validate(length(min = 1, max = 40))]
    #[schema(min_length = 1, max_length = 40)]
    pub offence_code: String,
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 100))]
    #[schema(max_length = 100, example = "MSA CR 123/2024", min_length = 1, pattern = r"\S")]
    pub court_file_number: Option<String>,
    /// Not in the future, not before the case was reported.
    pub filed_on: NaiveDate,
}

/// Changes to a charge: the decision and sentence, corrections.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateCharge {
    #[validate(length(min = 1, max = 40))]
    #[schema(min_length = 1, max_length = 40, nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub offence_code: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 100))]
    #[schema(value_type = Option<String>, max_length = 100, min_length = 1, pattern = r"\S")]
    pub court_file_number: Option<Option<String>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub filed_on: Option<NaiveDate>,
    /// `convicted` and `acquitted` need `decided_on`.
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub status: Option<ChargeStatus>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(range(min = 0, max = 200))]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 200)]
    pub sentence_years: Option<Option<i32>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub sentence_life: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(nested)]
    #[schema(value_type = Option<Money>)]
    pub fine: Option<Option<Money>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub decided_on: Option<Option<NaiveDate>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Suspect {
    pub id: SuspectId,
    pub case_id: CaseId,
    pub name: String,
    pub sex: Option<Sex>,
    pub role: SuspectRole,
    pub relationship: Relationship,
    /// ISO 3166-1 alpha-2 code, e.g. `KE`.
    pub nationality: Option<String>,
    /// Derived: a nationality other than Kenyan.
    pub foreign: bool,
    pub status: SuspectStatus,
    pub arrested_on: Option<NaiveDate>,
    pub notes: Option<String>,
    pub charges: Vec<Charge>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Suspect {
    pub fn from_rows(r: SuspectRow, charges: Vec<ChargeRow>) -> Self {
        Suspect {
            foreign: r.nationality.as_deref().is_some_and(|n| n != "KE"),
            charges: charges.into_iter().map(Charge::from).collect(),
            id: r.id,
            case_id: r.case_id,
            name: r.name,
            sex: r.sex,
            role: r.role,
            relationship: r.relationship,
            nationality: r.nationality,
            status: r.status,
            arrested_on: r.arrested_on,
            notes: r.notes,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateSuspect {
    /// Name or alias as known to the investigation.
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    pub sex: Option<Sex>,
    pub role: SuspectRole,
    pub relationship: Relationship,
    #[validate(custom(function = "validate_country"))]
    #[schema(pattern = "^[A-Z]{2}$", example = "KE")]
    pub nationality: Option<String>,
    #[serde(default = "at_large")]
    #[schema(default = "at_large")]
    pub status: SuspectStatus,
    /// Required when the status is `arrested`, `remanded` or `released_on_bail`.
    pub arrested_on: Option<NaiveDate>,
    #[validate(length(max = 4000))]
    #[schema(max_length = 4000)]
    pub notes: Option<String>,
}

fn at_large() -> SuspectStatus {
    SuspectStatus::AtLarge
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateSuspect {
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S", nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Sex>)]
    pub sex: Option<Option<Sex>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub role: Option<SuspectRole>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub relationship: Option<Relationship>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(custom(function = "validate_country"))]
    #[schema(value_type = Option<String>, pattern = "^[A-Z]{2}$")]
    pub nationality: Option<Option<String>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub status: Option<SuspectStatus>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub arrested_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(length(max = 4000))]
    #[schema(value_type = Option<String>, max_length = 4000)]
    pub notes: Option<Option<String>>,
}

pub fn validate_country(code: &str) -> Result<(), validator::ValidationError> {
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(validator::ValidationError::new("country")
            .with_message("must be an ISO 3166-1 alpha-2 code such as KE".into()))
    }
}

/// An arrest date goes with an arrest.
pub fn check_arrest(status: SuspectStatus, arrested_on: Option<NaiveDate>) -> ApiResult<()> {
    if status.implies_arrest() && arrested_on.is_none() {
        return Err(ApiError::invalid_field(
            "arrested_on",
            "required",
            "is required when the suspect has been arrested",
        ));
    }
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CourtSession {
    pub id: CourtSessionId,
    pub case_id: CaseId,
    pub court: String,
    pub scheduled_on: NaiveDate,
    pub purpose: SessionPurpose,
    pub status: SessionStatus,
    pub adjournment_reason: Option<AdjournmentReason>,
    pub survivor_attended: Option<bool>,
    pub survivor_accompanied: Option<bool>,
    pub intermediary_used: Option<bool>,
    /// What supporting the survivor at this session cost (transport, meals, accompaniment).
    pub support_cost: Option<Money>,
    pub notes: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CourtSessionRow> for CourtSession {
    fn from(r: CourtSessionRow) -> Self {
        CourtSession {
            support_cost: Money::from_parts(r.support_cost_minor, r.support_cost_currency),
            id: r.id,
            case_id: r.case_id,
            court: r.court,
            scheduled_on: r.scheduled_on,
            purpose: r.purpose,
            status: r.status,
            adjournment_reason: r.adjournment_reason,
            survivor_attended: r.survivor_attended,
            survivor_accompanied: r.survivor_accompanied,
            intermediary_used: r.intermediary_used,
            notes: r.notes,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateCourtSession {
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200, example = "Mombasa Law Courts", pattern = r"\S")]
    pub court: String,
    pub scheduled_on: NaiveDate,
    pub purpose: SessionPurpose,
    #[serde(default = "scheduled")]
    #[schema(default = "scheduled")]
    pub status: SessionStatus,
    /// Required exactly when the status is `adjourned`.
    pub adjournment_reason: Option<AdjournmentReason>,
    pub survivor_attended: Option<bool>,
    pub survivor_accompanied: Option<bool>,
    pub intermediary_used: Option<bool>,
    #[validate(nested)]
    pub support_cost: Option<Money>,
    #[validate(length(max = 4000))]
    #[schema(max_length = 4000)]
    pub notes: Option<String>,
}

fn scheduled() -> SessionStatus {
    SessionStatus::Scheduled
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateCourtSession {
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S", nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub court: Option<String>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub scheduled_on: Option<NaiveDate>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub purpose: Option<SessionPurpose>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub status: Option<SessionStatus>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<AdjournmentReason>)]
    pub adjournment_reason: Option<Option<AdjournmentReason>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<bool>)]
    pub survivor_attended: Option<Option<bool>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<bool>)]
    pub survivor_accompanied: Option<Option<bool>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<bool>)]
    pub intermediary_used: Option<Option<bool>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(nested)]
    #[schema(value_type = Option<Money>)]
    pub support_cost: Option<Option<Money>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(length(max = 4000))]
    #[schema(value_type = Option<String>, max_length = 4000)]
    pub notes: Option<Option<String>>,
}

/// A session is adjourned exactly when it has an adjournment reason.
pub fn check_adjournment(status: SessionStatus, reason: Option<AdjournmentReason>) -> ApiResult<()> {
    match (status == SessionStatus::Adjourned, reason.is_some()) {
        (true, false) => Err(ApiError::invalid_field(
            "adjournment_reason",
            "required",
            "is required when the session is adjourned",
        )),
        (false, true) => Err(ApiError::invalid_field(
            "adjournment_reason",
            "not_adjourned",
            "is only recorded for adjourned sessions",
        )),
        _ => Ok(()),
    }
}
