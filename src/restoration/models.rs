use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use crate::{
    db::schema::{
        approvals, assessments, consents, follow_ups, service_sessions, survivor_closures, survivor_services,
    },
    ids::{
        ApprovalId, AssessmentId, ClosureId, ConsentId, FollowUpId, PartnerId, ServiceId, ServiceSessionId, SurvivorId,
        UserId,
    },
    survivors::models::SurvivorClosureReason,
    text_enum,
    vocab::ServiceKind,
};

text_enum! {
    pub enum ConsentPurpose { Services, DataSharing, Storytelling, Media, Research }
}

text_enum! {
    pub enum GivenBy { Survivor, Guardian }
}

text_enum! {
    pub enum ServiceStatus { Planned, Active, Completed, Discontinued }
}

text_enum! {
    pub enum AssessmentKind { Intake, SixMonth, Annual, Closure, FollowUp }
}

text_enum! {
    pub enum FollowUpStatus { Scheduled, Done, Cancelled }
}

text_enum! {
    pub enum FollowUpOutcome { Sustained, NeedsSupport, NotReached }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = consents)]
pub struct ConsentRow {
    pub id: ConsentId,
    pub survivor_id: SurvivorId,
    pub purpose: ConsentPurpose,
    pub given_by: GivenBy,
    pub guardian_relationship: Option<String>,
    pub child_assent: Option<bool>,
    pub given_on: NaiveDate,
    pub expires_on: Option<NaiveDate>,
    pub recipients: Vec<PartnerId>,
    pub notes: Option<String>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_reason: Option<String>,
    pub recorded_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = survivor_services)]
pub struct ServiceRow {
    pub id: ServiceId,
    pub survivor_id: SurvivorId,
    pub kind: ServiceKind,
    pub provider_partner_id: Option<PartnerId>,
    pub status: ServiceStatus,
    pub start_on: Option<NaiveDate>,
    pub end_on: Option<NaiveDate>,
    pub cost_minor: Option<i64>,
    pub cost_currency: Option<String>,
    pub notes: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = survivor_services)]
pub struct ServiceChanges {
    pub provider_partner_id: Option<Option<PartnerId>>,
    pub status: Option<ServiceStatus>,
    pub start_on: Option<Option<NaiveDate>>,
    pub end_on: Option<Option<NaiveDate>>,
    pub cost_minor: Option<Option<i64>>,
    pub cost_currency: Option<Option<String>>,
    pub notes: Option<Option<String>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = service_sessions)]
pub struct SessionRow {
    pub id: ServiceSessionId,
    pub service_id: ServiceId,
    pub held_on: NaiveDate,
    pub minutes: Option<i32>,
    pub notes: Option<String>,
    pub recorded_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// Scores in tenths (10 = 1.0 … 40 = 4.0).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = assessments)]
pub struct AssessmentRow {
    pub id: AssessmentId,
    pub survivor_id: SurvivorId,
    pub kind: AssessmentKind,
    pub assessed_on: NaiveDate,
    pub safety: i16,
    pub legal_protection: i16,
    pub mental_wellbeing: i16,
    pub economic_empowerment_education: i16,
    pub social_support: i16,
    pub physical_wellbeing: i16,
    pub notes: Option<String>,
    pub recorded_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

impl AssessmentRow {
    pub fn scores(&self) -> [i16; 6] {
        [
            self.safety,
            self.legal_protection,
            self.mental_wellbeing,
            self.economic_empowerment_education,
            self.social_support,
            self.physical_wellbeing,
        ]
    }

    /// Every domain at or above `threshold` (a score such as 3.0).
    pub fn meets(&self, threshold: f64) -> bool {
        self.scores().iter().all(|s| f64::from(*s) / 10.0 >= threshold - 1e-9)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = survivor_closures)]
pub struct ClosureRow {
    pub id: ClosureId,
    pub survivor_id: SurvivorId,
    pub closed_on: NaiveDate,
    pub reason: SurvivorClosureReason,
    pub note: Option<String>,
    pub closed_by: Option<UserId>,
    pub reopened_on: Option<NaiveDate>,
    pub reopen_reason: Option<String>,
    pub reopened_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = follow_ups)]
pub struct FollowUpRow {
    pub id: FollowUpId,
    pub survivor_id: SurvivorId,
    pub closure_id: Option<ClosureId>,
    pub due_on: NaiveDate,
    pub status: FollowUpStatus,
    pub conducted_on: Option<NaiveDate>,
    pub outcome: Option<FollowUpOutcome>,
    pub notes: Option<String>,
    pub assessment_id: Option<AssessmentId>,
    pub recorded_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

text_enum! {
    /// What a request for approval asks for.
    pub enum ApprovalKind { SurvivorClosure }
}

text_enum! {
    pub enum ApprovalStatus { Pending, Approved, Rejected }
}

/// A request awaiting (or past) a program manager's decision.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = approvals)]
pub struct ApprovalRow {
    pub id: ApprovalId,
    pub kind: ApprovalKind,
    pub survivor_id: SurvivorId,
    pub status: ApprovalStatus,
    pub closed_on: NaiveDate,
    pub reason: SurvivorClosureReason,
    pub note: Option<String>,
    pub requested_by: UserId,
    pub requested_at: DateTime<Utc>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
    pub version: i32,
}
