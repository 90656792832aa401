use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use crate::{
    db::schema::referrals,
    ids::{CaseId, PartnerId, ReferralId, SurvivorId, UserId},
    prosecution::models::Sex,
    text_enum,
    vocab::County,
};

text_enum! {
    /// `submitted → acknowledged → accepted | declined`; `withdrawn` by the partner before a decision.
    pub enum ReferralStatus { Submitted, Acknowledged, Accepted, Declined, Withdrawn }
}

text_enum! {
    /// How soon the program must respond: `urgent` within a day, `emergency` within hours
    /// (both windows configurable); `routine` has no window.
    pub enum Urgency { Routine, Urgent, Emergency }
}

text_enum! {
    /// Signs of exploitation the partner observed.
    pub enum ExploitationIndicator {
        ContactWithTourists,
        SeenInHotelsOrVillas,
        OlderPartner,
        UnexplainedMoneyOrGifts,
        OutOfSchool,
        AwayFromHome,
        OnlineGrooming,
        FalsePromises,
        DebtBondage,
        Threats,
        PhysicalAbuse,
        SexualAbuse,
        PsychoactiveSubstances,
        RestrictedMovement,
        EarningsTaken,
        Pregnancy,
        InjuryOrInfection,
        Other,
    }
}

text_enum! {
    /// Where the child is now.
    pub enum Whereabouts {
        WithFamily,
        WithRelative,
        WithReferringPartner,
        Shelter,
        PoliceStation,
        HealthFacility,
        Street,
        WithSuspectedExploiter,
        Unknown,
        Other,
    }
}

text_enum! {
    /// Who consented to sharing the referral with the program.
    pub enum ConsentGiver { Child, Parent, Guardian, Caregiver, ChildrenOfficer, Other }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = referrals)]
pub struct ReferralRow {
    pub id: ReferralId,
    pub partner_id: PartnerId,
    pub external_id: String,
    pub status: ReferralStatus,
    pub urgency: Urgency,
    pub child_alias: String,
    pub sex: Option<Sex>,
    pub age: Option<i32>,
    pub birth_year: Option<i32>,
    pub county: County,
    pub sub_county: Option<String>,
    pub has_disability: bool,
    pub disability_notes: Option<String>,
    pub concern: String,
    pub indicators: Vec<ExploitationIndicator>,
    pub whereabouts: Whereabouts,
    pub safe_tonight: bool,
    pub consent_given_by: ConsentGiver,
    pub consent_obtained_on: NaiveDate,
    pub submitted_by: Option<UserId>,
    pub acknowledged_by: Option<UserId>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub concluded_by: Option<UserId>,
    pub concluded_at: Option<DateTime<Utc>>,
    pub conclusion_reason: Option<String>,
    pub case_id: Option<CaseId>,
    pub survivor_id: Option<SurvivorId>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What the partner describes: set at intake, replaced by a re-post or PATCH while `submitted`.
#[derive(Debug, Clone, PartialEq, AsChangeset)]
#[diesel(table_name = referrals, treat_none_as_null = true)]
pub struct ReferralContent {
    pub urgency: Urgency,
    pub child_alias: String,
    pub sex: Option<Sex>,
    pub age: Option<i32>,
    pub birth_year: Option<i32>,
    pub county: County,
    pub sub_county: Option<String>,
    pub has_disability: bool,
    pub disability_notes: Option<String>,
    pub concern: String,
    pub indicators: Vec<ExploitationIndicator>,
    pub whereabouts: Whereabouts,
    pub safe_tonight: bool,
    pub consent_given_by: ConsentGiver,
    pub consent_obtained_on: NaiveDate,
}

impl ReferralRow {
    pub fn content(&self) -> ReferralContent {
        ReferralContent {
            urgency: self.urgency,
            child_alias: self.child_alias.clone(),
            sex: self.sex,
            age: self.age,
            birth_year: self.birth_year,
            county: self.county,
            sub_county: self.sub_county.clone(),
            has_disability: self.has_disability,
            disability_notes: self.disability_notes.clone(),
            concern: self.concern.clone(),
            indicators: self.indicators.clone(),
            whereabouts: self.whereabouts,
            safe_tonight: self.safe_tonight,
            consent_given_by: self.consent_given_by,
            consent_obtained_on: self.consent_obtained_on,
        }
    }
}

impl StatusChange {
    /// Accepted, declined or withdrawn by `by`, now, for `reason`.
    pub fn concluded(status: ReferralStatus, by: UserId, reason: Option<String>) -> Self {
        StatusChange {
            status: Some(status),
            concluded_by: Some(Some(by)),
            concluded_at: Some(Some(Utc::now())),
            conclusion_reason: Some(reason),
            ..Default::default()
        }
    }
}

/// A status change and who made it.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = referrals)]
pub struct StatusChange {
    pub status: Option<ReferralStatus>,
    pub acknowledged_by: Option<Option<UserId>>,
    pub acknowledged_at: Option<Option<DateTime<Utc>>>,
    pub concluded_by: Option<Option<UserId>>,
    pub concluded_at: Option<Option<DateTime<Utc>>>,
    pub conclusion_reason: Option<Option<String>>,
    pub case_id: Option<Option<CaseId>>,
    pub survivor_id: Option<Option<SurvivorId>>,
}
