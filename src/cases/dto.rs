use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::models::{
    AssignmentRole, AssignmentRow, CaseRow, ClosureReason, EventKind, EventRow, ExploitationType, FactsRow,
    LocationType, ReferralSource, RiskLevel, Stage,
};
use crate::{
    error::{ApiError, ApiResult},
    extract::double_option,
    ids::{AssignmentId, CaseId, EventId, PartnerId, UserId},
    vocab::County,
};

/// Facts the server derives from the case and its parts; read-only.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseFacts {
    /// Days from the report to the first arrest of a suspect (`null` while nobody is arrested).
    pub days_to_first_arrest: Option<i32>,
    /// Days from the report to the first charge filed.
    pub days_to_first_charge: Option<i32>,
    pub court_sessions_held: i64,
    pub court_sessions_adjourned: i64,
    /// The next scheduled court session, today or later.
    pub next_court_date: Option<NaiveDate>,
    /// The latest day something happened on the case's timeline.
    pub last_activity_on: NaiveDate,
    /// Open, with no timeline event for 30 days.
    pub stalled: bool,
    pub flags: CaseFlags,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseFlags {
    /// A facilitator-type suspect (recruiter, agent, pimp, transporter, harbourer, facilitator, or a
    /// parent or caregiver) and no Counter-Trafficking in Persons Act charge (other than withdrawn).
    pub ctip_gap: bool,
    /// A s.8 defilement charge whose subsection does not fit the child's age at the incident.
    pub age_charge_mismatch: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Case {
    pub id: CaseId,
    /// Assigned by the server at creation: `CSEC-<county code>-<year reported>-<sequence>`. It is an
    /// identifier and never changes, even when the county or report date is later corrected.
    #[schema(example = "CSEC-MSA-2024-0007")]
    pub reference: String,
    pub county: County,
    pub sub_county: Option<String>,
    pub location_type: LocationType,
    pub exploitation_types: Vec<ExploitationType>,
    pub reported_on: NaiveDate,
    pub incident_on: Option<NaiveDate>,
    pub referral_source: Option<ReferralSource>,
    pub referral_partner_id: Option<PartnerId>,
    pub risk_level: RiskLevel,
    pub summary: Option<String>,
    pub stage: Stage,
    pub closure_reason: Option<ClosureReason>,
    pub closed_on: Option<NaiveDate>,
    #[schema(read_only)]
    pub facts: CaseFacts,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Case {
    pub fn from_rows(row: CaseRow, facts: FactsRow) -> Self {
        Case {
            facts: CaseFacts {
                days_to_first_arrest: facts.days_to_first_arrest,
                days_to_first_charge: facts.days_to_first_charge,
                court_sessions_held: facts.court_sessions_held,
                court_sessions_adjourned: facts.court_sessions_adjourned,
                next_court_date: facts.next_court_date,
                last_activity_on: row.last_activity_on,
                stalled: facts.stalled,
                flags: CaseFlags {
                    ctip_gap: facts.ctip_gap,
                    age_charge_mismatch: facts.age_charge_mismatch,
                },
            },
            id: row.id,
            reference: row.reference,
            county: row.county,
            sub_county: row.sub_county,
            location_type: row.location_type,
            exploitation_types: row.exploitation_types,
            reported_on: row.reported_on,
            incident_on: row.incident_on,
            referral_source: row.referral_source,
            referral_partner_id: row.referral_partner_id,
            risk_level: row.risk_level,
            summary: row.summary,
            stage: row.stage,
            closure_reason: row.closure_reason,
            closed_on: row.closed_on,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateCase {
    pub county: County,
    /// For Mombasa, Kwale and Kilifi one of the county's sub-counties (snake_case, e.g. `likoni`).
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 60))]
    #[schema(max_length = 60, example = "likoni", min_length = 1, pattern = r"\S")]
    pub sub_county: Option<String>,
    pub location_type: LocationType,
    #[serde(default)]
    #[validate(length(max = 7))]
    #[schema(max_items = 7)]
    pub exploitation_types: Vec<ExploitationType>,
    /// Not in the future.
    pub reported_on: NaiveDate,
    /// Not after `reported_on`.
    pub incident_on: Option<NaiveDate>,
    pub referral_source: Option<ReferralSource>,
    pub referral_partner_id: Option<PartnerId>,
    #[serde(default = "default_risk")]
    #[schema(default = "medium")]
    pub risk_level: RiskLevel,
    /// What happened, without identifying the child (use pseudonyms).
    #[validate(length(max = 4000))]
    #[schema(max_length = 4000)]
    pub summary: Option<String>,
}

fn default_risk() -> RiskLevel {
    RiskLevel::Medium
}

/// Fields to change; absent fields stay, `null` clears a nullable one. The stage changes only
/// through transitions.
#[derive(Debug, Default, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateCase {
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub county: Option<County>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 60))]
    #[schema(value_type = Option<String>, max_length = 60, min_length = 1, pattern = r"\S")]
    pub sub_county: Option<Option<String>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub location_type: Option<LocationType>,
    #[validate(length(max = 7))]
    #[schema(max_items = 7, nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub exploitation_types: Option<Vec<ExploitationType>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub reported_on: Option<NaiveDate>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub incident_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<ReferralSource>)]
    pub referral_source: Option<Option<ReferralSource>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub referral_partner_id: Option<Option<PartnerId>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub risk_level: Option<RiskLevel>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(length(max = 4000))]
    #[schema(value_type = Option<String>, max_length = 4000)]
    pub summary: Option<Option<String>>,
}

/// Checks the dates of a case: none in the future, the incident not after the report.
pub fn check_case_dates(reported_on: NaiveDate, incident_on: Option<NaiveDate>) -> ApiResult<()> {
    let today = crate::vocab::today();
    if reported_on > today {
        return Err(ApiError::invalid_field(
            "reported_on",
            "in_future",
            "must not be in the future",
        ));
    }
    match incident_on {
        Some(d) if d > today => Err(ApiError::invalid_field(
            "incident_on",
            "in_future",
            "must not be in the future",
        )),
        Some(d) if d > reported_on => Err(ApiError::invalid_field(
            "incident_on",
            "after_report",
            "must not be after reported_on",
        )),
        _ => Ok(()),
    }
}

pub fn check_not_future(field: &str, date: NaiveDate) -> ApiResult<()> {
    if date > crate::vocab::today() {
        return Err(ApiError::invalid_field(field, "in_future", "must not be in the future"));
    }
    Ok(())
}

/// Filters of `GET /cases`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseFilter {
    pub county: Option<County>,
    pub stage: Option<Stage>,
    pub risk_level: Option<RiskLevel>,
    /// `me`, or a user id: cases that user is currently assigned to.
    #[param(pattern = r"^(me|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")]
    pub assigned_to: Option<String>,
    /// Reported on or after this date.
    pub reported_from: Option<NaiveDate>,
    /// Reported on or before this date.
    pub reported_to: Option<NaiveDate>,
    /// Only stalled (`true`) or only moving (`false`) cases.
    pub stalled: Option<bool>,
    /// Only cases raising this flag.
    pub flag: Option<CaseFlag>,
    /// Case-insensitive text search in the reference and the summary.
    pub q: Option<String>,
    /// The order of the list (default `-created`, newest first); `-` sorts descending. Ties are
    /// broken by creation order in the same direction. A case whose sort value changes while you
    /// page (its last activity, say) may move across the cursor.
    pub sort: Option<CaseSort>,
}

/// Orders of the case list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum CaseSort {
    #[default]
    #[serde(rename = "-created")]
    NewestFirst,
    #[serde(rename = "created")]
    OldestFirst,
    #[serde(rename = "reported_on")]
    ReportedOn,
    #[serde(rename = "-reported_on")]
    ReportedOnDesc,
    #[serde(rename = "last_activity_on")]
    LastActivityOn,
    #[serde(rename = "-last_activity_on")]
    LastActivityOnDesc,
    #[serde(rename = "reference")]
    Reference,
    #[serde(rename = "-reference")]
    ReferenceDesc,
}

/// Where a page of cases ends, in the terms of its order. A cursor names its order, so one taken
/// in another order is refused rather than misread.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseKey {
    pub sort: CaseSort,
    pub at: SortValue,
    pub id: CaseId,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SortValue {
    Created,
    Date(NaiveDate),
    Text(String),
}

impl CaseSort {
    pub fn key(self, row: &CaseRow) -> CaseKey {
        use CaseSort::*;
        let at = match self {
            NewestFirst | OldestFirst => SortValue::Created,
            ReportedOn | ReportedOnDesc => SortValue::Date(row.reported_on),
            LastActivityOn | LastActivityOnDesc => SortValue::Date(row.last_activity_on),
            Reference | ReferenceDesc => SortValue::Text(row.reference.clone()),
        };
        CaseKey {
            sort: self,
            at,
            id: row.id,
        }
    }

    /// Was `key` taken in this order?
    pub fn fits(self, key: &CaseKey) -> bool {
        use CaseSort::*;
        key.sort == self
            && matches!(
                (self, &key.at),
                (NewestFirst | OldestFirst, SortValue::Created)
                    | (
                        ReportedOn | ReportedOnDesc | LastActivityOn | LastActivityOnDesc,
                        SortValue::Date(_)
                    )
                    | (Reference | ReferenceDesc, SortValue::Text(_))
            )
    }
}

crate::text_enum! {
    pub enum CaseFlag { CtipGap, AgeChargeMismatch, Stalled }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub to: Stage,
    /// When the move happened (not in the future).
    pub occurred_on: NaiveDate,
    #[validate(length(max = 4000))]
    #[schema(max_length = 4000)]
    pub note: Option<String>,
    /// Required when `to` is `closed`.
    pub closure_reason: Option<ClosureReason>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    pub id: EventId,
    pub case_id: CaseId,
    pub kind: EventKind,
    pub occurred_on: NaiveDate,
    pub note: Option<String>,
    /// For `stage_change` events.
    pub stage_from: Option<Stage>,
    pub stage_to: Option<Stage>,
    pub recorded_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Self {
        Event {
            id: r.id,
            case_id: r.case_id,
            kind: r.kind,
            occurred_on: r.occurred_on,
            note: r.note,
            stage_from: r.stage_from,
            stage_to: r.stage_to,
            recorded_by: r.recorded_by,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateEvent {
    /// Any kind but `stage_change`, which transitions write.
    pub kind: EventKind,
    pub occurred_on: NaiveDate,
    #[validate(length(max = 4000))]
    #[schema(max_length = 4000)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Assignment {
    pub id: AssignmentId,
    pub case_id: CaseId,
    pub user_id: UserId,
    /// The assigned person's name and account role.
    pub assignee: crate::users::dto::UserRef,
    /// The part they play on this case.
    pub role: AssignmentRole,
    pub assigned_by: Option<UserId>,
    pub assigned_at: DateTime<Utc>,
}

impl From<(AssignmentRow, crate::users::dto::UserRef)> for Assignment {
    fn from((r, assignee): (AssignmentRow, crate::users::dto::UserRef)) -> Self {
        Assignment {
            id: r.id,
            case_id: r.case_id,
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
pub struct CreateAssignment {
    pub user_id: UserId,
    pub role: AssignmentRole,
}
