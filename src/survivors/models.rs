use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use diesel::prelude::*;

use crate::{
    db::schema::{case_survivors, survivor_assignments, survivor_identities, survivors},
    ids::{CaseId, SurvivorAssignmentId, SurvivorId, UserId},
    prosecution::models::Sex,
    text_enum,
    vocab::County,
};

text_enum! {
    pub enum Placement { Family, Relative, Foster, Shelter, BoardingSchool, Independent }
}

text_enum! {
    pub enum Schooling { NotEnrolled, Primary, Secondary, Vocational, Tertiary, Completed, DroppedOut }
}

text_enum! {
    pub enum RestorationStatus { Active, Closed, FollowUpDone }
}

text_enum! {
    pub enum SurvivorClosureReason { Restored, Relocated, Transferred, DeclinedServices, LostContact, Deceased, Other }
}

text_enum! {
    /// The survivor's part in a case.
    pub enum CaseRole { Victim, VictimWitness, Witness }
}

text_enum! {
    pub enum SurvivorAssignmentRole { Counsellor, SocialWorker, CaseManager, Other }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = survivors)]
pub struct SurvivorRow {
    pub id: SurvivorId,
    pub pseudonym: String,
    pub sex: Option<Sex>,
    pub birth_year: Option<i32>,
    pub age_at_intake: Option<i32>,
    pub intake_on: NaiveDate,
    pub has_disability: bool,
    pub disability_notes: Option<String>,
    pub county: Option<County>,
    pub placement: Option<Placement>,
    pub caregiver_implicated: bool,
    pub schooling: Option<Schooling>,
    pub survivor_network_member: bool,
    pub citizenship: Option<String>,
    pub restoration_status: RestorationStatus,
    pub closed_on: Option<NaiveDate>,
    pub closure_reason: Option<SurvivorClosureReason>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SurvivorRow {
    /// Whether she may have been under 18 on `day`: the rules that protect children give her the
    /// benefit of the doubt when her age is only known as a range.
    pub fn may_be_child_on(&self, day: NaiveDate) -> bool {
        self.age_range_on(day).is_some_and(|range| range.min < 18)
    }

    /// The ages she may have had on `day`. Only a birth year or an age at intake is known, so she
    /// was born some day of that year, or between `age_at_intake + 1` years less a day and
    /// `age_at_intake` years before intake; the range covers every such birthday. The same rule
    /// as the database's `survivor_age_range`.
    pub fn age_range_on(&self, day: NaiveDate) -> Option<AgeRange> {
        let (earliest, latest) = match (self.birth_year, self.age_at_intake) {
            (Some(year), _) => (
                NaiveDate::from_ymd_opt(year, 1, 1)?,
                NaiveDate::from_ymd_opt(year, 12, 31)?,
            ),
            (None, Some(age)) => {
                let years = |n: i32| Months::new(12 * u32::try_from(n).unwrap_or(0));
                (
                    self.intake_on.checked_sub_months(years(age + 1))?.succ_opt()?,
                    self.intake_on.checked_sub_months(years(age))?,
                )
            }
            _ => return None,
        };
        Some(AgeRange {
            min: whole_years(latest, day),
            max: whole_years(earliest, day),
        })
    }
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = survivors)]
pub struct SurvivorChanges {
    pub pseudonym: Option<String>,
    pub sex: Option<Option<Sex>>,
    pub birth_year: Option<Option<i32>>,
    pub age_at_intake: Option<Option<i32>>,
    pub intake_on: Option<NaiveDate>,
    pub has_disability: Option<bool>,
    pub disability_notes: Option<Option<String>>,
    pub county: Option<Option<County>>,
    pub placement: Option<Option<Placement>>,
    pub caregiver_implicated: Option<bool>,
    pub schooling: Option<Option<Schooling>>,
    pub survivor_network_member: Option<bool>,
    pub citizenship: Option<Option<String>>,
    pub restoration_status: Option<RestorationStatus>,
    pub closed_on: Option<Option<NaiveDate>>,
    pub closure_reason: Option<Option<SurvivorClosureReason>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = case_survivors)]
pub struct CaseLinkRow {
    pub case_id: CaseId,
    pub survivor_id: SurvivorId,
    pub role: CaseRole,
    pub linked_by: Option<UserId>,
    pub linked_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = survivor_assignments)]
pub struct SurvivorAssignmentRow {
    pub id: SurvivorAssignmentId,
    pub survivor_id: SurvivorId,
    pub user_id: UserId,
    pub role: SurvivorAssignmentRole,
    pub assigned_by: Option<UserId>,
    pub assigned_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<UserId>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = survivor_identities)]
pub struct IdentityRow {
    pub survivor_id: SurvivorId,
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

/// The whole years from `born` to `day` (0 before birth), as PostgreSQL's `age()` counts them.
fn whole_years(born: NaiveDate, day: NaiveDate) -> i32 {
    let mut years = day.year() - born.year();
    if (day.month(), day.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    years.max(0)
}

/// The ages a survivor may have had on a day, in whole years (both ends included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AgeRange {
    pub min: i32,
    pub max: i32,
}
