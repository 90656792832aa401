use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use crate::{
    db::schema::{charges, court_sessions, offences, suspects},
    ids::{CaseId, ChargeId, CourtSessionId, SuspectId},
    text_enum,
};

text_enum! {
    pub enum Statute {
        #[serde(rename = "sexual_offences_act_2006")]
        #[strum(serialize = "sexual_offences_act_2006")]
        SexualOffencesAct2006,
        #[serde(rename = "counter_trafficking_act_2010")]
        #[strum(serialize = "counter_trafficking_act_2010")]
        CounterTraffickingAct2010,
        #[serde(rename = "children_act_2022")]
        #[strum(serialize = "children_act_2022")]
        ChildrenAct2022,
    }
}

text_enum! {
    /// What the suspect did in the exploitation.
    pub enum SuspectRole { Customer, Recruiter, Agent, Pimp, Transporter, Harbourer, Facilitator, Exploiter }
}

text_enum! {
    /// The suspect's relationship to the child.
    pub enum Relationship {
        Parent, Caregiver, Relative, Neighbour, Acquaintance, Stranger, Tourist, Employer, IntimatePartner,
    }
}

text_enum! {
    pub enum SuspectStatus { AtLarge, Arrested, ReleasedOnBail, Remanded, Convicted, Acquitted, Deceased }
}

text_enum! {
    pub enum Sex { Female, Male, Other, Unknown }
}

text_enum! {
    pub enum ChargeStatus { Filed, Withdrawn, Reduced, Convicted, Acquitted }
}

text_enum! {
    pub enum SessionPurpose { Plea, Mention, Hearing, SurvivorTestimony, DefenceHearing, Judgment, Sentencing }
}

text_enum! {
    pub enum SessionStatus { Scheduled, Held, Adjourned, Vacated }
}

text_enum! {
    pub enum AdjournmentReason {
        ProsecutionNotReady, DefenceNotReady, WitnessAbsent, SurvivorAbsent, AccusedAbsent, MagistrateAbsent,
        FileMissing, InterpreterAbsent, CourtTime, Other,
    }
}

impl SuspectStatus {
    /// Statuses that mean the suspect was arrested, so an arrest date is required.
    pub fn implies_arrest(self) -> bool {
        matches!(
            self,
            SuspectStatus::Arrested | SuspectStatus::ReleasedOnBail | SuspectStatus::Remanded
        )
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = offences)]
pub struct OffenceRow {
    pub code: String,
    pub statute: Statute,
    pub section: String,
    pub title: String,
    pub min_years: Option<i32>,
    pub max_years: Option<i32>,
    pub life_imprisonment: bool,
    pub min_fine_kes: Option<i64>,
    pub penalty_note: Option<String>,
    pub facilitator_reach: bool,
    pub child_age_min: Option<i32>,
    pub child_age_max: Option<i32>,
    pub in_force: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = offences)]
pub struct OffenceChanges {
    pub section: Option<String>,
    pub title: Option<String>,
    pub min_years: Option<Option<i32>>,
    pub max_years: Option<Option<i32>>,
    pub life_imprisonment: Option<bool>,
    pub min_fine_kes: Option<Option<i64>>,
    pub penalty_note: Option<Option<String>>,
    pub facilitator_reach: Option<bool>,
    pub child_age_min: Option<Option<i32>>,
    pub child_age_max: Option<Option<i32>>,
    pub in_force: Option<bool>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = suspects)]
pub struct SuspectRow {
    pub id: SuspectId,
    pub case_id: CaseId,
    pub name: String,
    pub sex: Option<Sex>,
    pub role: SuspectRole,
    pub relationship: Relationship,
    pub nationality: Option<String>,
    pub status: SuspectStatus,
    pub arrested_on: Option<NaiveDate>,
    pub notes: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = suspects)]
pub struct SuspectChanges {
    pub name: Option<String>,
    pub sex: Option<Option<Sex>>,
    pub role: Option<SuspectRole>,
    pub relationship: Option<Relationship>,
    pub nationality: Option<Option<String>>,
    pub status: Option<SuspectStatus>,
    pub arrested_on: Option<Option<NaiveDate>>,
    pub notes: Option<Option<String>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = charges)]
pub struct ChargeRow {
    pub id: ChargeId,
    pub suspect_id: SuspectId,
    pub case_id: CaseId,
    pub offence_code: String,
    pub court_file_number: Option<String>,
    pub filed_on: NaiveDate,
    pub status: ChargeStatus,
    pub sentence_years: Option<i32>,
    pub sentence_life: bool,
    pub fine_amount_minor: Option<i64>,
    pub fine_currency: Option<String>,
    pub decided_on: Option<NaiveDate>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = charges)]
pub struct ChargeChanges {
    pub offence_code: Option<String>,
    pub court_file_number: Option<Option<String>>,
    pub filed_on: Option<NaiveDate>,
    pub status: Option<ChargeStatus>,
    pub sentence_years: Option<Option<i32>>,
    pub sentence_life: Option<bool>,
    pub fine_amount_minor: Option<Option<i64>>,
    pub fine_currency: Option<Option<String>>,
    pub decided_on: Option<Option<NaiveDate>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = court_sessions)]
pub struct CourtSessionRow {
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
    pub support_cost_minor: Option<i64>,
    pub support_cost_currency: Option<String>,
    pub notes: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = court_sessions)]
pub struct CourtSessionChanges {
    pub court: Option<String>,
    pub scheduled_on: Option<NaiveDate>,
    pub purpose: Option<SessionPurpose>,
    pub status: Option<SessionStatus>,
    pub adjournment_reason: Option<Option<AdjournmentReason>>,
    pub survivor_attended: Option<Option<bool>>,
    pub survivor_accompanied: Option<Option<bool>>,
    pub intermediary_used: Option<Option<bool>>,
    pub support_cost_minor: Option<Option<i64>>,
    pub support_cost_currency: Option<Option<String>>,
    pub notes: Option<Option<String>>,
}

#[cfg(test)]
mod tests {
    use super::Statute;
    use strum::VariantArray;

    #[test]
    fn statutes_keep_their_year_apart() {
        let names: Vec<String> = Statute::VARIANTS.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            names,
            [
                "sexual_offences_act_2006",
                "counter_trafficking_act_2010",
                "children_act_2022"
            ]
        );
        assert_eq!(
            serde_json::to_string(&Statute::ChildrenAct2022).unwrap(),
            "\"children_act_2022\""
        );
        assert_eq!(
            "children_act_2022".parse::<Statute>().unwrap(),
            Statute::ChildrenAct2022
        );
    }
}
