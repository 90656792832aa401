use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::models::{
    CaseRole, Placement, RestorationStatus, Schooling, SurvivorAssignmentRole, SurvivorAssignmentRow,
    SurvivorClosureReason, SurvivorRow,
};
use crate::{
    cases::models::Stage,
    error::{ApiError, ApiResult},
    extract::double_option,
    ids::{CaseId, SurvivorAssignmentId, SurvivorId, UserId},
    prosecution::models::Sex,
    vocab::County,
};

/// What the survivor's case looks like from the restoration side: no case details, only where it
/// stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseSummary {
    pub case_id: CaseId,
    pub reference: String,
    pub role: CaseRole,
    pub stage: Stage,
    pub next_court_date: Option<NaiveDate>,
    /// The ages the survivor may have had at the incident of this case (or at its report when the
    /// incident date is unknown): a range, as only her birth year or her age at intake is known.
    pub age_at_incident: Option<super::models::AgeRange>,
}

/// A survivor's pseudonymous record. Identifying details never appear here (see `/identity`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Survivor {
    pub id: SurvivorId,
    pub pseudonym: String,
    pub sex: Option<Sex>,
    pub birth_year: Option<i32>,
    pub age_at_intake: Option<i32>,
    pub intake_on: NaiveDate,
    /// Derived: under 18 at the incident of any of her cases (or at intake when no case is linked).
    /// A child for every rule that depends on it (consent by a guardian, with the child's assent).
    #[schema(read_only)]
    pub child_at_incident: bool,
    pub has_disability: bool,
    pub disability_notes: Option<String>,
    pub county: Option<County>,
    pub placement: Option<Placement>,
    pub caregiver_implicated: bool,
    pub schooling: Option<Schooling>,
    /// Member of the survivor network (Kenya Champions for Justice).
    pub survivor_network_member: bool,
    /// ISO 3166-1 alpha-2 (`KE`); `null` when unknown.
    pub citizenship: Option<String>,
    pub restoration_status: RestorationStatus,
    pub closed_on: Option<NaiveDate>,
    pub closure_reason: Option<SurvivorClosureReason>,
    /// Derived: when the next assessment is due — at intake, six months after intake, then each
    /// year after intake, the first not yet done; `null` once closed.
    #[schema(read_only)]
    pub next_assessment_due: Option<NaiveDate>,
    #[schema(read_only)]
    pub cases: Vec<CaseSummary>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Survivor {
    /// `next_assessment_due` comes from the database's schedule (`survivor_next_assessment_due`).
    pub fn build(row: SurvivorRow, cases: Vec<CaseSummary>, next_assessment_due: Option<NaiveDate>) -> Self {
        // A child if she could have been under 18 at the incident of any of her cases.
        let child_at_incident = if cases.iter().any(|c| c.age_at_incident.is_some()) {
            cases.iter().filter_map(|c| c.age_at_incident).any(|age| age.min < 18)
        } else {
            row.may_be_child_on(row.intake_on)
        };
        Survivor {
            next_assessment_due,
            child_at_incident,
            cases,
            id: row.id,
            pseudonym: row.pseudonym,
            sex: row.sex,
            birth_year: row.birth_year,
            age_at_intake: row.age_at_intake,
            intake_on: row.intake_on,
            has_disability: row.has_disability,
            disability_notes: row.disability_notes,
            county: row.county,
            placement: row.placement,
            caregiver_implicated: row.caregiver_implicated,
            schooling: row.schooling,
            survivor_network_member: row.survivor_network_member,
            citizenship: row.citizenship,
            restoration_status: row.restoration_status,
            closed_on: row.closed_on,
            closure_reason: row.closure_reason,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateSurvivor {
    /// A pseudonym; never the child's name.
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100, example = "Neema", pattern = r"\S")]
    pub pseudonym: String,
    pub sex: Option<Sex>,
    /// Birth year, or `age_at_intake` when the year is unknown (one of the two is required).
    #[validate(range(min = 1950, max = 2100))]
    #[schema(minimum = 1950, maximum = 2100)]
    pub birth_year: Option<i32>,
    #[validate(range(min = 0, max = 100))]
    #[schema(minimum = 0, maximum = 100)]
    pub age_at_intake: Option<i32>,
    /// When the program took the survivor in (not in the future).
    pub intake_on: NaiveDate,
    #[serde(default)]
    pub has_disability: bool,
    #[validate(length(max = 1000))]
    #[schema(max_length = 1000)]
    pub disability_notes: Option<String>,
    pub county: Option<County>,
    pub placement: Option<Placement>,
    #[serde(default)]
    pub caregiver_implicated: bool,
    pub schooling: Option<Schooling>,
    #[serde(default)]
    pub survivor_network_member: bool,
    /// ISO 3166-1 alpha-2 (`KE`).
    #[validate(custom(function = "crate::prosecution::dto::validate_country"))]
    #[schema(pattern = "^[A-Z]{2}$", example = "KE")]
    pub citizenship: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateSurvivor {
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S", nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub pseudonym: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Sex>)]
    pub sex: Option<Option<Sex>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(range(min = 1950, max = 2100))]
    #[schema(value_type = Option<i32>, minimum = 1950, maximum = 2100)]
    pub birth_year: Option<Option<i32>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(range(min = 0, max = 100))]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 100)]
    pub age_at_intake: Option<Option<i32>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub intake_on: Option<NaiveDate>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub has_disability: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(length(max = 1000))]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub disability_notes: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<County>)]
    pub county: Option<Option<County>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Placement>)]
    pub placement: Option<Option<Placement>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub caregiver_implicated: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Schooling>)]
    pub schooling: Option<Option<Schooling>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub survivor_network_member: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(custom(function = "crate::prosecution::dto::validate_country"))]
    #[schema(value_type = Option<String>, pattern = "^[A-Z]{2}$")]
    pub citizenship: Option<Option<String>>,
}

/// One of birth year and age at intake is known; neither is in the future.
pub fn check_age(birth_year: Option<i32>, age_at_intake: Option<i32>, intake_on: NaiveDate) -> ApiResult<()> {
    let today = crate::vocab::today();
    if intake_on > today {
        return Err(ApiError::invalid_field(
            "intake_on",
            "in_future",
            "must not be in the future",
        ));
    }
    match (birth_year, age_at_intake) {
        (None, None) => Err(ApiError::invalid_field(
            "birth_year",
            "required",
            "birth_year or age_at_intake is required",
        )),
        (Some(year), _) if year > today.year() => Err(ApiError::invalid_field(
            "birth_year",
            "in_future",
            "must not be in the future",
        )),
        _ => Ok(()),
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SurvivorFilter {
    pub restoration_status: Option<RestorationStatus>,
    pub county: Option<County>,
    /// `me`: survivors assigned to the caller.
    #[param(pattern = r"^(me|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")]
    pub assigned_to: Option<String>,
    /// Case-insensitive search in pseudonyms.
    pub q: Option<String>,
}

/// Link a survivor to a case: an existing one (`survivor_id`) or a new one (`survivor`).
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct LinkSurvivor {
    pub survivor_id: Option<SurvivorId>,
    #[validate(nested)]
    pub survivor: Option<CreateSurvivor>,
    #[serde(default = "victim")]
    #[schema(default = "victim")]
    pub role: CaseRole,
}

fn victim() -> CaseRole {
    CaseRole::Victim
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseSurvivor {
    pub case_id: CaseId,
    pub role: CaseRole,
    pub linked_at: DateTime<Utc>,
    pub survivor: Survivor,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SurvivorAssignment {
    pub id: SurvivorAssignmentId,
    pub survivor_id: SurvivorId,
    pub user_id: UserId,
    /// The assigned person's name and account role.
    pub assignee: crate::users::dto::UserRef,
    /// The part they play in the survivor's aftercare.
    pub role: SurvivorAssignmentRole,
    pub assigned_by: Option<UserId>,
    pub assigned_at: DateTime<Utc>,
}

impl From<(SurvivorAssignmentRow, crate::users::dto::UserRef)> for SurvivorAssignment {
    fn from((r, assignee): (SurvivorAssignmentRow, crate::users::dto::UserRef)) -> Self {
        SurvivorAssignment {
            id: r.id,
            survivor_id: r.survivor_id,
            user_id: r.user_id,
            assignee,
            role: r.role,
            assigned_by: r.assigned_by,
            assigned_at: r.assigned_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateSurvivorAssignment {
    pub user_id: UserId,
    pub role: SurvivorAssignmentRole,
}

/// Identifying details, kept encrypted and shown only to admins and the assigned aftercare officer.
/// Deliberately not `Debug`, so it cannot end up in a log line.
#[derive(Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub legal_name: String,
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub other_names: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub guardian_name: Option<String>,
    #[validate(length(max = 100))]
    #[schema(max_length = 100)]
    pub guardian_relationship: Option<String>,
    #[validate(length(max = 40))]
    #[schema(max_length = 40)]
    pub guardian_phone: Option<String>,
    #[validate(length(max = 40))]
    #[schema(max_length = 40)]
    pub phone: Option<String>,
    /// Exact address or location of the home.
    #[validate(length(max = 500))]
    #[schema(max_length = 500)]
    pub address: Option<String>,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct IdentityRecord {
    pub survivor_id: SurvivorId,
    pub identity: Identity,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}
