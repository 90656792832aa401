use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use crate::{
    db::schema::{case_assignments, case_events, case_facts, cases},
    ids::{AssignmentId, CaseId, EventId, PartnerId, UserId},
    text_enum,
    vocab::County,
};

text_enum! {
    /// Where a case stands, from report to closure (`appeal` after a judgment).
    pub enum Stage { Reported, Investigation, SuspectArrested, Charged, Trial, Judgment, Appeal, Closed }
}

text_enum! {
    pub enum LocationType { Hotel, VillaShortTermRental, PrivateHome, Brothel, Street, Online, Other }
}

text_enum! {
    pub enum ExploitationType {
        SexualExploitationInProstitution,
        ChildSexTourism,
        ChildSexualAbuseMaterial,
        OnlineSexualExploitation,
        TraffickingForSexualExploitation,
        EarlyForcedMarriage,
        Other,
    }
}

text_enum! {
    /// Who brought the case to the program.
    pub enum ReferralSource {
        CommunityJusticeCentre, Neighbour, Family, Survivor, HumanRightsDefender, Hotline, Police, School,
        HealthFacility, PartnerReferral, Media, Other,
    }
}

text_enum! {
    pub enum RiskLevel { Low, Medium, High, Critical }
}

text_enum! {
    pub enum ClosureReason { Convicted, Acquitted, Withdrawn, InsufficientEvidence, Transferred, Other }
}

text_enum! {
    /// Kinds of timeline events. `stage_change` is written by transitions only.
    pub enum EventKind {
        ReportedToPolice, PoliceFollowUp, Escalation, Arrest, ChargeFiled, CourtSession, Testimony, Verdict,
        Sentence, Appeal, StageChange, Note,
    }
}

text_enum! {
    pub enum AssignmentRole { LeadInvestigator, Investigator, LeadAttorney, Attorney, Aftercare, Other }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = cases)]
pub struct CaseRow {
    pub id: CaseId,
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
    pub last_activity_on: NaiveDate,
    pub created_by: Option<UserId>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = case_facts)]
pub struct FactsRow {
    pub days_to_first_arrest: Option<i32>,
    pub days_to_first_charge: Option<i32>,
    pub court_sessions_held: i64,
    pub court_sessions_adjourned: i64,
    pub next_court_date: Option<NaiveDate>,
    pub stalled: bool,
    pub ctip_gap: bool,
    pub age_charge_mismatch: bool,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = cases)]
pub struct NewCase {
    pub id: CaseId,
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
    pub last_activity_on: NaiveDate,
    pub created_by: Option<UserId>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = cases)]
pub struct CaseChanges {
    pub county: Option<County>,
    pub sub_county: Option<Option<String>>,
    pub location_type: Option<LocationType>,
    pub exploitation_types: Option<Vec<ExploitationType>>,
    pub reported_on: Option<NaiveDate>,
    pub incident_on: Option<Option<NaiveDate>>,
    pub referral_source: Option<Option<ReferralSource>>,
    pub referral_partner_id: Option<Option<PartnerId>>,
    pub risk_level: Option<RiskLevel>,
    pub summary: Option<Option<String>>,
    pub stage: Option<Stage>,
    pub closure_reason: Option<Option<ClosureReason>>,
    pub closed_on: Option<Option<NaiveDate>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = case_events)]
pub struct EventRow {
    pub id: EventId,
    pub case_id: CaseId,
    pub kind: EventKind,
    pub occurred_on: NaiveDate,
    pub note: Option<String>,
    pub stage_from: Option<Stage>,
    pub stage_to: Option<Stage>,
    pub recorded_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

impl EventRow {
    pub fn new(case_id: CaseId, kind: EventKind, occurred_on: NaiveDate, note: Option<String>, by: UserId) -> Self {
        EventRow {
            id: EventId::new(),
            case_id,
            kind,
            occurred_on,
            note,
            stage_from: None,
            stage_to: None,
            recorded_by: Some(by),
            created_at: Utc::now(),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = case_assignments)]
pub struct AssignmentRow {
    pub id: AssignmentId,
    pub case_id: CaseId,
    pub user_id: UserId,
    pub role: AssignmentRole,
    pub assigned_by: Option<UserId>,
    pub assigned_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<UserId>,
}
