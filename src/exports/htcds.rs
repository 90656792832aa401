//! The de-identified export in the vocabulary of IOM's Human Trafficking Case Data Standard
//! (HTCDS 2.0, as published by the Counter Trafficking Data Collaborative): one row per survivor
//! and case, no name, pseudonym, free text or exact date, and k-anonymous over the
//! quasi-identifiers (gender, age band, majority status, citizenship, year of registration).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::queries::LinkRow;
use crate::{
    cases::models::{ClosureReason, ExploitationType, Stage},
    prosecution::models::{Relationship, Sex},
    referrals::models::ExploitationIndicator,
    text_enum,
};

text_enum! {
    /// HTCDS `gender`.
    pub enum Gender { Female, Male, TransgenderNonconforming, Unknown }
}

text_enum! {
    /// HTCDS `ageBroad`: the age band at the incident (at the report when the incident date is
    /// unknown).
    pub enum AgeBroad {
        #[serde(rename = "0-8")] #[strum(serialize = "0-8")] A0To8,
        #[serde(rename = "9-17")] #[strum(serialize = "9-17")] A9To17,
        #[serde(rename = "18-20")] #[strum(serialize = "18-20")] A18To20,
        #[serde(rename = "21-23")] #[strum(serialize = "21-23")] A21To23,
        #[serde(rename = "24-26")] #[strum(serialize = "24-26")] A24To26,
        #[serde(rename = "27-29")] #[strum(serialize = "27-29")] A27To29,
        #[serde(rename = "30-38")] #[strum(serialize = "30-38")] A30To38,
        #[serde(rename = "39-47")] #[strum(serialize = "39-47")] A39To47,
        #[serde(rename = "48+")] #[strum(serialize = "48+")] A48Plus,
    }
}

impl AgeBroad {
    fn of(age: i32) -> Self {
        use AgeBroad::*;
        match age {
            ..=8 => A0To8,
            9..=17 => A9To17,
            18..=20 => A18To20,
            21..=23 => A21To23,
            24..=26 => A24To26,
            27..=29 => A27To29,
            30..=38 => A30To38,
            39..=47 => A39To47,
            _ => A48Plus,
        }
    }
}

text_enum! {
    /// HTCDS `majorityStatus`.
    pub enum MajorityStatus { Minor, Adult }
}

text_enum! {
    /// HTCDS `typeOfExploit`.
    pub enum ExploitKind { SexualExploitation, ForcedMarriage, Other }
}

text_enum! {
    /// HTCDS `typeOfSex`.
    pub enum SexualExploitKind { Prostitution, Pornography, RemoteInteractiveServices, PrivateSexualServices }
}

text_enum! {
    /// HTCDS `meansOfControl`, where a referral recorded it.
    pub enum MeansOfControl {
        FalsePromises, DebtBondage, Threats, PhysicalAbuse, SexualAbuse, PsychoactiveSubstances,
        RestrictsMovement, TakesEarnings,
    }
}

text_enum! {
    /// HTCDS `recruiterRelation`: how the recruiters of the case were related to the child.
    pub enum RecruiterRelation { IntimatePartner, Friend, Family, Other, Unknown }
}

text_enum! {
    /// Where the case stands: `investigation` until a charge, `prosecution` from the charge to the
    /// judgment (and appeal), then `closed`.
    pub enum CaseStatus { Reported, Investigation, Prosecution, Closed }
}

/// One survivor on one case, de-identified. `null` where unknown, or where generalised to keep
/// the row among at least k alike.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
pub struct HtcdsRow {
    /// Who the row is about, to count children rather than rows; never exported.
    #[serde(skip)]
    #[schema(ignore)]
    pub survivor_id: uuid::Uuid,
    pub year_of_registration: Option<i32>,
    pub gender: Gender,
    pub age_broad: Option<AgeBroad>,
    pub majority_status: Option<MajorityStatus>,
    /// ISO 3166-1 alpha-2.
    pub citizenship: Option<String>,
    /// Always `KE`: the program works in Kenya (the county is finer than the standard and left
    /// out).
    pub country_of_exploitation: String,
    pub type_of_exploit: Vec<ExploitKind>,
    pub type_of_sex: Vec<SexualExploitKind>,
    pub means_of_control: Vec<MeansOfControl>,
    pub recruiter_relation: Vec<RecruiterRelation>,
    pub case_status: CaseStatus,
    /// How a closed case ended.
    pub case_outcome: Option<ClosureReason>,
}

/// The export: the rows, and what was done to keep them de-identified.
#[derive(Debug, Serialize, ToSchema)]
pub struct HtcdsExport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Every row shares its quasi-identifiers with at least k − 1 others.
    pub k: u32,
    pub generated_at: DateTime<Utc>,
    /// Sorted by their values, so the order tells nothing about the records.
    pub rows: Vec<HtcdsRow>,
    /// Rows whose age band (and a citizenship other than Kenyan, then the year) were withheld to
    /// join a group of at least k.
    pub rows_generalised: usize,
    /// Rows left out because even generalised they stood in a group smaller than k.
    pub rows_withheld: usize,
    /// Survivor–case pairs of the period left out because the survivor has no consent for
    /// research or data sharing in force.
    pub rows_without_consent: i64,
}

impl HtcdsRow {
    /// The row for one survivor–case link, in the standard's vocabulary.
    pub fn from_link(link: LinkRow) -> Self {
        let (age_broad, majority_status) = match (link.age_min, link.age_max) {
            (Some(min), Some(max)) => (
                (AgeBroad::of(min) == AgeBroad::of(max)).then(|| AgeBroad::of(min)),
                if max < 18 {
                    Some(MajorityStatus::Minor)
                } else if min >= 18 {
                    Some(MajorityStatus::Adult)
                } else {
                    None
                },
            ),
            _ => (None, None),
        };
        let mut exploit = BTreeSet::new();
        let mut sex = BTreeSet::new();
        for t in &link.exploitation_types {
            use ExploitationType::*;
            match t {
                SexualExploitationInProstitution | ChildSexTourism => {
                    exploit.insert(ExploitKind::SexualExploitation);
                    sex.insert(SexualExploitKind::Prostitution);
                }
                ChildSexualAbuseMaterial => {
                    exploit.insert(ExploitKind::SexualExploitation);
                    sex.insert(SexualExploitKind::Pornography);
                }
                OnlineSexualExploitation => {
                    exploit.insert(ExploitKind::SexualExploitation);
                    sex.insert(SexualExploitKind::RemoteInteractiveServices);
                }
                TraffickingForSexualExploitation => {
                    exploit.insert(ExploitKind::SexualExploitation);
                }
                EarlyForcedMarriage => {
                    exploit.insert(ExploitKind::ForcedMarriage);
                }
                Other => {
                    exploit.insert(ExploitKind::Other);
                }
            }
        }
        let means: BTreeSet<MeansOfControl> = link
            .indicators
            .iter()
            .filter_map(|i| {
                use ExploitationIndicator::*;
                Some(match i {
                    FalsePromises => MeansOfControl::FalsePromises,
                    DebtBondage => MeansOfControl::DebtBondage,
                    Threats => MeansOfControl::Threats,
                    PhysicalAbuse => MeansOfControl::PhysicalAbuse,
                    SexualAbuse => MeansOfControl::SexualAbuse,
                    PsychoactiveSubstances => MeansOfControl::PsychoactiveSubstances,
                    RestrictedMovement => MeansOfControl::RestrictsMovement,
                    EarningsTaken => MeansOfControl::TakesEarnings,
                    _ => return None,
                })
            })
            .collect();
        let mut recruiters: BTreeSet<RecruiterRelation> = link
            .recruiter_relationships
            .iter()
            .map(|r| {
                use Relationship::*;
                match r {
                    IntimatePartner => RecruiterRelation::IntimatePartner,
                    Acquaintance | Neighbour => RecruiterRelation::Friend,
                    Parent | Caregiver | Relative => RecruiterRelation::Family,
                    Stranger | Tourist | Employer => RecruiterRelation::Other,
                }
            })
            .collect();
        if recruiters.is_empty() {
            recruiters.insert(RecruiterRelation::Unknown);
        }
        let case_status = match link.stage {
            Stage::Reported => CaseStatus::Reported,
            Stage::Investigation | Stage::SuspectArrested => CaseStatus::Investigation,
            Stage::Charged | Stage::Trial | Stage::Judgment | Stage::Appeal => CaseStatus::Prosecution,
            Stage::Closed => CaseStatus::Closed,
        };
        HtcdsRow {
            survivor_id: link.survivor_id,
            year_of_registration: Some(link.reported_on.year()),
            gender: match link.sex {
                Some(Sex::Female) => Gender::Female,
                Some(Sex::Male) => Gender::Male,
                Some(Sex::Other) => Gender::TransgenderNonconforming,
                Some(Sex::Unknown) | None => Gender::Unknown,
            },
            age_broad,
            majority_status,
            citizenship: link.citizenship,
            country_of_exploitation: "KE".into(),
            type_of_exploit: exploit.into_iter().collect(),
            type_of_sex: sex.into_iter().collect(),
            means_of_control: means.into_iter().collect(),
            recruiter_relation: recruiters.into_iter().collect(),
            case_status,
            case_outcome: link.closure_reason,
        }
    }

    /// The quasi-identifiers: what could single a child out in combination with what others know
    /// (a conviction and its year are public, in the judgment).
    fn quasi(&self) -> Quasi {
        (
            self.year_of_registration,
            self.gender,
            self.age_broad,
            self.majority_status,
            self.citizenship.clone(),
            self.case_outcome,
        )
    }

    /// One step coarser: first the age band and a citizenship other than Kenyan go, then the year
    /// and the case's outcome.
    fn generalise(&mut self, step: usize) {
        self.age_broad = None;
        if self.citizenship.as_deref() != Some("KE") {
            self.citizenship = None;
        }
        if step >= 2 {
            self.year_of_registration = None;
            self.case_outcome = None;
        }
    }
}

/// Year, gender, age band, majority status, citizenship, case outcome.
type Quasi = (
    Option<i32>,
    Gender,
    Option<AgeBroad>,
    Option<MajorityStatus>,
    Option<String>,
    Option<ClosureReason>,
);

/// Makes `rows` k-anonymous: rows in a group of fewer than k children alike (by
/// quasi-identifiers; a child on several cases counts once) are generalised step by step, and
/// withheld if still in a small group. Returns the rows sorted by their values, how many were
/// generalised and how many withheld.
pub fn anonymise(rows: Vec<HtcdsRow>, k: u32) -> (Vec<HtcdsRow>, usize, usize) {
    let k = usize::try_from(k).unwrap_or(usize::MAX).max(1);
    let split = |rows: Vec<HtcdsRow>| -> (Vec<HtcdsRow>, Vec<HtcdsRow>) {
        let mut children: HashMap<Quasi, BTreeSet<uuid::Uuid>> = HashMap::new();
        for row in &rows {
            children.entry(row.quasi()).or_default().insert(row.survivor_id);
        }
        rows.into_iter().partition(|row| children[&row.quasi()].len() >= k)
    };
    let (mut kept, mut small) = split(rows);
    let mut generalised = 0;
    for step in 1..=2 {
        for row in &mut small {
            row.generalise(step);
        }
        let (ok, rest) = split(small);
        generalised += ok.len();
        kept.extend(ok);
        small = rest;
    }
    kept.sort();
    (kept, generalised, small.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(year: i32, age: AgeBroad, citizenship: &str) -> HtcdsRow {
        HtcdsRow {
            survivor_id: uuid::Uuid::now_v7(),
            year_of_registration: Some(year),
            gender: Gender::Female,
            age_broad: Some(age),
            majority_status: Some(MajorityStatus::Minor),
            citizenship: Some(citizenship.into()),
            country_of_exploitation: "KE".into(),
            type_of_exploit: vec![ExploitKind::SexualExploitation],
            type_of_sex: vec![],
            means_of_control: vec![],
            recruiter_relation: vec![RecruiterRelation::Unknown],
            case_status: CaseStatus::Reported,
            case_outcome: None,
        }
    }

    #[test]
    fn small_groups_are_generalised_then_withheld() {
        let mut rows: Vec<HtcdsRow> = (0..3).map(|_| row(2025, AgeBroad::A9To17, "KE")).collect();
        // Two 0–8 year olds of 2025 join the 9–17 group once the band goes: five minors of 2025.
        rows.extend((0..2).map(|_| row(2025, AgeBroad::A0To8, "KE")));
        // One Tanzanian child of 2024: alone at every step, so withheld.
        rows.push(row(2024, AgeBroad::A9To17, "TZ"));
        // Five of 2023: a group as they are.
        rows.extend((0..5).map(|_| row(2023, AgeBroad::A9To17, "KE")));
        let (kept, generalised, withheld) = anonymise(rows, 5);
        assert_eq!(withheld, 1);
        assert_eq!(generalised, 5);
        assert_eq!(kept.len(), 10);
        assert!(kept.iter().all(|r| r.citizenship.as_deref() == Some("KE")));
        assert_eq!(kept.iter().filter(|r| r.age_broad.is_some()).count(), 5);
        let mut groups: HashMap<_, usize> = HashMap::new();
        for r in &kept {
            *groups.entry(r.quasi()).or_default() += 1;
        }
        assert!(groups.values().all(|n| *n >= 5), "{groups:?}");
    }

    #[test]
    fn a_child_on_several_cases_counts_once() {
        let one = row(2025, AgeBroad::A9To17, "KE");
        let rows: Vec<HtcdsRow> = (0..5).map(|_| one.clone()).collect();
        let (kept, _, withheld) = anonymise(rows, 5);
        assert!(kept.is_empty());
        assert_eq!(withheld, 5);
    }

    #[test]
    fn a_lone_row_is_withheld() {
        let mut rows: Vec<HtcdsRow> = (0..5).map(|_| row(2025, AgeBroad::A9To17, "KE")).collect();
        let mut boy = row(2025, AgeBroad::A9To17, "KE");
        boy.gender = Gender::Male;
        rows.push(boy);
        let (kept, generalised, withheld) = anonymise(rows, 5);
        assert_eq!((kept.len(), generalised, withheld), (5, 0, 1));
        assert!(kept.iter().all(|r| r.gender == Gender::Female));
    }
}
