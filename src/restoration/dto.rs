use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::models::{
    ApprovalKind, ApprovalRow, ApprovalStatus, AssessmentKind, AssessmentRow, ConsentPurpose, ConsentRow,
    FollowUpOutcome, FollowUpRow, FollowUpStatus, GivenBy, ServiceRow, ServiceStatus, SessionRow,
};
use crate::{
    extract::double_option,
    ids::{
        ApprovalId, AssessmentId, ConsentId, FollowUpId, PartnerId, ServiceId, ServiceSessionId, SurvivorId, UserId,
    },
    survivors::models::SurvivorClosureReason,
    vocab::{Money, ServiceKind},
};

#[derive(Debug, Serialize, ToSchema)]
pub struct Consent {
    pub id: ConsentId,
    pub survivor_id: SurvivorId,
    pub purpose: ConsentPurpose,
    pub given_by: GivenBy,
    pub guardian_relationship: Option<String>,
    /// For a child: whether she assented herself.
    pub child_assent: Option<bool>,
    pub given_on: NaiveDate,
    pub expires_on: Option<NaiveDate>,
    /// Partner organisations the consent covers (for `data_sharing`).
    pub recipients: Vec<PartnerId>,
    pub notes: Option<String>,
    /// Derived: given, not expired, not withdrawn — today.
    #[schema(read_only)]
    pub in_effect: bool,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_reason: Option<String>,
    pub recorded_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    /// Send as `If-Match` (quoted, as in the `ETag`) when withdrawing.
    pub version: i32,
}

impl From<ConsentRow> for Consent {
    fn from(r: ConsentRow) -> Self {
        let today = crate::vocab::today();
        Consent {
            in_effect: r.withdrawn_at.is_none() && r.given_on <= today && r.expires_on.is_none_or(|e| e >= today),
            id: r.id,
            survivor_id: r.survivor_id,
            purpose: r.purpose,
            given_by: r.given_by,
            guardian_relationship: r.guardian_relationship,
            child_assent: r.child_assent,
            given_on: r.given_on,
            expires_on: r.expires_on,
            recipients: r.recipients,
            notes: r.notes,
            withdrawn_at: r.withdrawn_at,
            withdrawn_reason: r.withdrawn_reason,
            recorded_by: r.recorded_by,
            created_at: r.created_at,
            version: r.version,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateConsent {
    pub purpose: ConsentPurpose,
    /// For a child, consent is given by a guardian, with the child's assent recorded.
    pub given_by: GivenBy,
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub guardian_relationship: Option<String>,
    pub child_assent: Option<bool>,
    pub given_on: NaiveDate,
    pub expires_on: Option<NaiveDate>,
    #[serde(default)]
    #[validate(length(max = 50))]
    #[schema(max_items = 50)]
    pub recipients: Vec<PartnerId>,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct WithdrawConsent {
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Service {
    pub id: ServiceId,
    pub survivor_id: SurvivorId,
    pub kind: ServiceKind,
    pub provider_partner_id: Option<PartnerId>,
    pub status: ServiceStatus,
    pub start_on: Option<NaiveDate>,
    pub end_on: Option<NaiveDate>,
    /// What it cost, e.g. a year of boarding school.
    pub cost: Option<Money>,
    pub notes: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ServiceRow> for Service {
    fn from(r: ServiceRow) -> Self {
        Service {
            cost: Money::from_parts(r.cost_minor, r.cost_currency),
            id: r.id,
            survivor_id: r.survivor_id,
            kind: r.kind,
            provider_partner_id: r.provider_partner_id,
            status: r.status,
            start_on: r.start_on,
            end_on: r.end_on,
            notes: r.notes,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateService {
    pub kind: ServiceKind,
    pub provider_partner_id: Option<PartnerId>,
    #[serde(default = "planned")]
    #[schema(default = "planned")]
    pub status: ServiceStatus,
    pub start_on: Option<NaiveDate>,
    /// Not before `start_on`.
    pub end_on: Option<NaiveDate>,
    #[validate(nested)]
    pub cost: Option<Money>,
    #[validate(length(max = 4000))]
    #[schema(max_length = 4000)]
    pub notes: Option<String>,
}

fn planned() -> ServiceStatus {
    ServiceStatus::Planned
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateService {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub provider_partner_id: Option<Option<PartnerId>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub status: Option<ServiceStatus>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub start_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub end_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(nested)]
    #[schema(value_type = Option<Money>)]
    pub cost: Option<Option<Money>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(length(max = 4000))]
    #[schema(value_type = Option<String>, max_length = 4000)]
    pub notes: Option<Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceSession {
    pub id: ServiceSessionId,
    pub service_id: ServiceId,
    pub held_on: NaiveDate,
    pub minutes: Option<i32>,
    pub notes: Option<String>,
    pub recorded_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

impl From<SessionRow> for ServiceSession {
    fn from(r: SessionRow) -> Self {
        ServiceSession {
            id: r.id,
            service_id: r.service_id,
            held_on: r.held_on,
            minutes: r.minutes,
            notes: r.notes,
            recorded_by: r.recorded_by,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceSession {
    /// Not in the future.
    pub held_on: NaiveDate,
    #[validate(range(min = 1, max = 1440))]
    #[schema(minimum = 1, maximum = 1440)]
    pub minutes: Option<i32>,
    #[validate(length(max = 4000))]
    #[schema(max_length = 4000)]
    pub notes: Option<String>,
}

/// Scores from 1.0 (most vulnerable) to 4.0 on each of the six domains.
#[derive(Debug, Serialize, Deserialize, ToSchema, Validate, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct DomainScores {
    #[validate(range(min = 1.0, max = 4.0), custom(function = "whole_tenths"))]
    #[schema(minimum = 1.0, maximum = 4.0, example = 2.5)]
    pub safety: f64,
    #[validate(range(min = 1.0, max = 4.0), custom(function = "whole_tenths"))]
    #[schema(minimum = 1.0, maximum = 4.0)]
    pub legal_protection: f64,
    #[validate(range(min = 1.0, max = 4.0), custom(function = "whole_tenths"))]
    #[schema(minimum = 1.0, maximum = 4.0)]
    pub mental_wellbeing: f64,
    #[validate(range(min = 1.0, max = 4.0), custom(function = "whole_tenths"))]
    #[schema(minimum = 1.0, maximum = 4.0)]
    pub economic_empowerment_education: f64,
    #[validate(range(min = 1.0, max = 4.0), custom(function = "whole_tenths"))]
    #[schema(minimum = 1.0, maximum = 4.0)]
    pub social_support: f64,
    #[validate(range(min = 1.0, max = 4.0), custom(function = "whole_tenths"))]
    #[schema(minimum = 1.0, maximum = 4.0)]
    pub physical_wellbeing: f64,
}

/// A score to tenths, as stored.
pub fn tenths(score: f64) -> i16 {
    // Validated to 1.0–4.0 in whole tenths beforehand, so this is exact and cannot overflow.
    (score * 10.0).round() as i16
}

/// Scores are given in whole tenths (2.9, 3.0): anything finer is refused, never rounded — 2.95
/// must not become 3.0 and meet the threshold.
pub fn whole_tenths(score: f64) -> Result<(), validator::ValidationError> {
    // Tenths read from JSON are off by float error only (about 1e-15); 2.99999999 is not one.
    if ((score * 10.0) - (score * 10.0).round()).abs() < 1e-9 {
        Ok(())
    } else {
        Err(validator::ValidationError::new("whole_tenths")
            .with_message("must be in whole tenths (e.g. 2.9 or 3.0)".into()))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Assessment {
    pub id: AssessmentId,
    pub survivor_id: SurvivorId,
    pub kind: AssessmentKind,
    pub assessed_on: NaiveDate,
    pub scores: DomainScores,
    /// Derived: the mean of the six domains.
    #[schema(read_only)]
    pub overall: f64,
    /// Derived: every domain at or above the configured threshold (default 3.0).
    #[schema(read_only)]
    pub threshold_met: bool,
    pub notes: Option<String>,
    pub recorded_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

impl Assessment {
    pub fn build(r: AssessmentRow, threshold: f64) -> Self {
        let scores = r.scores();
        let sum: i32 = scores.iter().map(|s| i32::from(*s)).sum();
        let score = |s: i16| f64::from(s) / 10.0;
        Assessment {
            threshold_met: r.meets(threshold),
            overall: (f64::from(sum) / 6.0).round() / 10.0,
            scores: DomainScores {
                safety: score(r.safety),
                legal_protection: score(r.legal_protection),
                mental_wellbeing: score(r.mental_wellbeing),
                economic_empowerment_education: score(r.economic_empowerment_education),
                social_support: score(r.social_support),
                physical_wellbeing: score(r.physical_wellbeing),
            },
            id: r.id,
            survivor_id: r.survivor_id,
            kind: r.kind,
            assessed_on: r.assessed_on,
            notes: r.notes,
            recorded_by: r.recorded_by,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateAssessment {
    pub kind: AssessmentKind,
    /// Not in the future.
    pub assessed_on: NaiveDate,
    #[validate(nested)]
    pub scores: DomainScores,
    #[validate(length(max = 4000))]
    #[schema(max_length = 4000)]
    pub notes: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CloseSurvivor {
    pub closed_on: NaiveDate,
    /// `restored` needs an assessment meeting the threshold within the 90 days before `closed_on`.
    pub reason: SurvivorClosureReason,
    #[validate(length(max = 4000))]
    #[schema(max_length = 4000)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ReopenSurvivor {
    pub reopened_on: NaiveDate,
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 4000))]
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUp {
    pub id: FollowUpId,
    pub survivor_id: SurvivorId,
    pub due_on: NaiveDate,
    pub status: FollowUpStatus,
    /// Derived: scheduled and past its due date.
    #[schema(read_only)]
    pub overdue: bool,
    pub conducted_on: Option<NaiveDate>,
    pub outcome: Option<FollowUpOutcome>,
    pub notes: Option<String>,
    pub assessment_id: Option<AssessmentId>,
    pub created_at: DateTime<Utc>,
}

impl From<FollowUpRow> for FollowUp {
    fn from(r: FollowUpRow) -> Self {
        FollowUp {
            overdue: r.status == FollowUpStatus::Scheduled && r.due_on < crate::vocab::today(),
            id: r.id,
            survivor_id: r.survivor_id,
            due_on: r.due_on,
            status: r.status,
            conducted_on: r.conducted_on,
            outcome: r.outcome,
            notes: r.notes,
            assessment_id: r.assessment_id,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RecordFollowUp {
    /// Not in the future.
    pub conducted_on: NaiveDate,
    pub outcome: FollowUpOutcome,
    #[validate(length(max = 4000))]
    #[schema(max_length = 4000)]
    pub notes: Option<String>,
    /// An assessment of the survivor made at the follow-up.
    pub assessment_id: Option<AssessmentId>,
}

crate::text_enum! {
    /// `due`: scheduled within the next 30 days; `overdue`: scheduled and past due; `done`.
    pub enum FollowUpView { Due, Overdue, Done }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FollowUpFilter {
    pub status: Option<FollowUpView>,
}

/// A request awaiting (or past) a program manager's decision: today, an aftercare officer's
/// closure of a survivor's restoration.
#[derive(Debug, Serialize, ToSchema)]
pub struct Approval {
    pub id: ApprovalId,
    pub kind: ApprovalKind,
    pub survivor_id: SurvivorId,
    pub status: ApprovalStatus,
    /// The closure asked for.
    pub closed_on: NaiveDate,
    pub reason: SurvivorClosureReason,
    pub note: Option<String>,
    pub requested_by: UserId,
    pub requested_at: DateTime<Utc>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Why it was rejected (required), or a note on the approval.
    pub decision_reason: Option<String>,
    /// Send as `If-Match` (quoted) when deciding.
    pub version: i32,
}

impl From<ApprovalRow> for Approval {
    fn from(r: ApprovalRow) -> Self {
        Approval {
            id: r.id,
            kind: r.kind,
            survivor_id: r.survivor_id,
            status: r.status,
            closed_on: r.closed_on,
            reason: r.reason,
            note: r.note,
            requested_by: r.requested_by,
            requested_at: r.requested_at,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
            decision_reason: r.decision_reason,
            version: r.version,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApprovalFilter {
    /// `pending` for what awaits a decision.
    pub status: Option<ApprovalStatus>,
    pub survivor_id: Option<SurvivorId>,
}

/// An approval, with an optional note kept as its `decision_reason`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct Approve {
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 2000))]
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub note: Option<String>,
}

/// A rejection, always with its reason.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct Reject {
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 2000))]
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub reason: String,
}
