use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    ids::{CaseId, SurvivorId},
    text_enum,
};

text_enum! {
    /// What an alert is about. `case_stalled`: an open case with nothing recorded for more than
    /// 30 days. `suspect_at_large`: a suspect of an open case still at large more than 90 days
    /// after the report. `referral_overdue`: an urgent or emergency referral not acknowledged
    /// within its window. `court_session_unaccompanied`: a court session in the next 7 days with
    /// no accompaniment planned for the survivor. `follow_up_due`: a two-year follow-up due
    /// within 30 days. `follow_up_overdue`: one past its due date. `assessment_due`: a survivor's
    /// scheduled assessment is due or late. `no_active_counselling`: a survivor in restoration
    /// with no trauma counselling or psychosocial support active. `ctip_gap`: a facilitator-type
    /// suspect and no charge under the Counter-Trafficking in Persons Act. `age_charge_mismatch`:
    /// a charge graded by the child's age that fits no victim's age at the incident.
    /// `consent_expiring`: a consent expiring within 30 days. `closure_awaiting_approval`: a
    /// survivor's closure requested by an aftercare officer, waiting for a program manager.
    pub enum AlertKind {
        CaseStalled, SuspectAtLarge, ReferralOverdue, CourtSessionUnaccompanied, FollowUpDue,
        FollowUpOverdue, AssessmentDue, NoActiveCounselling, CtipGap, AgeChargeMismatch,
        ConsentExpiring, ClosureAwaitingApproval,
    }
}

text_enum! {
    /// How pressing an alert is; lists put `high` first.
    pub enum Severity { High, Medium, Low }
}

text_enum! {
    /// The kind of record an alert concerns.
    pub enum RecordType { Case, Suspect, Referral, CourtSession, FollowUp, Survivor, Consent, Approval }
}

/// The record an alert concerns.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertRecord {
    #[serde(rename = "type")]
    pub record_type: RecordType,
    pub id: uuid::Uuid,
    /// How people name it: the case reference (for a case, its suspects and court sessions), the
    /// survivor's pseudonym (for her records), the partner's `external_id` (for a referral).
    pub reference: Option<String>,
}

/// Something that needs action now.
#[derive(Debug, Serialize, ToSchema)]
pub struct Alert {
    pub kind: AlertKind,
    pub severity: Severity,
    pub record: AlertRecord,
    /// The case the record belongs to, where the caller may open it (not for an aftercare
    /// officer's court-date alert: she sees the date, not the case).
    pub case_id: Option<CaseId>,
    /// The survivor the record belongs to.
    pub survivor_id: Option<SurvivorId>,
    /// When the condition began (a date-based rule: the start of that day, East Africa Time).
    pub since: DateTime<Utc>,
    /// A short reason a person can act on.
    pub reason: String,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertFilter {
    /// One kind of alert only.
    pub kind: Option<AlertKind>,
}
