use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::models::{
    ConsentGiver, ExploitationIndicator, ReferralContent, ReferralRow, ReferralStatus, Urgency, Whereabouts,
};
use crate::{
    cases::models::{ExploitationType, LocationType, RiskLevel},
    error::{ApiError, ApiResult, ErrorCode},
    extract::{dedup, double_option, trimmed},
    ids::{CaseId, PartnerId, ReferralId, SurvivorId, UserId},
    prosecution::models::Sex,
    survivors::models::{CaseRole, RestorationStatus},
    vocab::County,
};

/// The consent under which the referral is shared with the program. Without it there is no
/// referral through the system (call the program instead).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ConsentToShare {
    pub given_by: ConsentGiver,
    /// Not in the future.
    pub obtained_on: NaiveDate,
}

/// A referral as submitted by a partner's system (or by staff on a partner's behalf).
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct SubmitReferral {
    /// The organisation referring: staff must name it; a partner user refers for its own
    /// organisation (and may leave this out).
    pub partner_id: Option<PartnerId>,
    /// The partner's own id for this referral. Posting the same `external_id` again never creates
    /// a second referral: it answers the existing one (updated while still `submitted`).
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S", example = "CJC-2026-0142")]
    pub external_id: String,
    pub urgency: Urgency,
    /// Initials (`N.K.`) or a pseudonym; never the child's name.
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 60))]
    #[schema(min_length = 1, max_length = 60, pattern = r"\S", example = "N.K.")]
    pub child_alias: String,
    pub sex: Option<Sex>,
    /// Age in years, or `birth_year` (one of the two is required).
    #[validate(range(min = 0, max = 25))]
    #[schema(minimum = 0, maximum = 25)]
    pub age: Option<i32>,
    #[validate(range(min = 1990, max = 2100))]
    #[schema(minimum = 1990, maximum = 2100)]
    pub birth_year: Option<i32>,
    pub county: County,
    /// For Mombasa, Kwale and Kilifi one of the county's sub-counties (snake_case, e.g. `likoni`).
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 60))]
    #[schema(min_length = 1, max_length = 60, pattern = r"\S", example = "likoni")]
    pub sub_county: Option<String>,
    #[serde(default)]
    pub has_disability: bool,
    #[validate(length(max = 1000))]
    #[schema(max_length = 1000)]
    pub disability_notes: Option<String>,
    /// What worries the partner, without identifying the child.
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 4000))]
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    pub concern: String,
    #[serde(default)]
    #[validate(length(max = 18))]
    #[schema(max_items = 18)]
    pub indicators: Vec<ExploitationIndicator>,
    /// Where the child is now.
    pub whereabouts: Whereabouts,
    /// Whether the child is safe tonight where she is.
    pub safe_tonight: bool,
    /// Required: a referral without consent to share is handled by phone, not through the system.
    #[validate(nested)]
    #[serde(default)]
    #[schema(nullable = false)]
    pub consent_to_share: Option<ConsentToShare>,
}

impl SubmitReferral {
    /// The organisation named, the partner's id, and the referral's fields.
    pub fn split(self) -> (Option<PartnerId>, String, ReferralFields) {
        let fields = ReferralFields {
            urgency: self.urgency,
            child_alias: self.child_alias,
            sex: self.sex,
            age: self.age,
            birth_year: self.birth_year,
            county: self.county,
            sub_county: self.sub_county,
            has_disability: self.has_disability,
            disability_notes: self.disability_notes,
            concern: self.concern,
            indicators: self.indicators,
            whereabouts: self.whereabouts,
            safe_tonight: self.safe_tonight,
            consent_to_share: self.consent_to_share,
        };
        (self.partner_id, self.external_id.trim().to_string(), fields)
    }
}

/// What a referral says about the child and the concern, as received (checked by
/// [`ReferralFields::into_content`]).
pub struct ReferralFields {
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
    pub consent_to_share: Option<ConsentToShare>,
}

impl ReferralFields {
    /// Checks what no schema can say and gives the values to store.
    pub fn into_content(self) -> ApiResult<ReferralContent> {
        let Some(consent) = self.consent_to_share else {
            return Err(ApiError::unprocessable(
                ErrorCode::ConsentRequired,
                "A referral needs the consent to share it (consent_to_share: who gave it and when). \
                 Without consent, call the program instead of submitting it here.",
            )
            .with_errors(vec![crate::error::FieldError::new(
                "consent_to_share",
                "required",
                "who consented to sharing the referral, and when",
            )]));
        };
        let today = crate::vocab::today();
        if consent.obtained_on > today {
            return Err(ApiError::invalid_field(
                "consent_to_share.obtained_on",
                "in_future",
                "must not be in the future",
            ));
        }
        check_age(self.age, self.birth_year)?;
        self.county.check_sub_county(self.sub_county.as_deref())?;
        Ok(ReferralContent {
            urgency: self.urgency,
            child_alias: self.child_alias.trim().to_string(),
            sex: self.sex,
            age: self.age,
            birth_year: self.birth_year,
            county: self.county,
            sub_county: trimmed(self.sub_county),
            has_disability: self.has_disability,
            disability_notes: trimmed(self.disability_notes),
            concern: self.concern.trim().to_string(),
            indicators: dedup(self.indicators),
            whereabouts: self.whereabouts,
            safe_tonight: self.safe_tonight,
            consent_given_by: consent.given_by,
            consent_obtained_on: consent.obtained_on,
        })
    }
}

/// One of age and birth year is known, and the birth year is not in the future.
pub fn check_age(age: Option<i32>, birth_year: Option<i32>) -> ApiResult<()> {
    use chrono::Datelike;
    match (age, birth_year) {
        (None, None) => Err(ApiError::invalid_field(
            "age",
            "required",
            "age or birth_year is required",
        )),
        (_, Some(year)) if year > crate::vocab::today().year() => Err(ApiError::invalid_field(
            "birth_year",
            "in_future",
            "must not be in the future",
        )),
        _ => Ok(()),
    }
}

/// Changes to a `submitted` referral; absent fields stay, `null` clears a nullable one.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateReferral {
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub urgency: Option<Urgency>,
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 60))]
    #[schema(min_length = 1, max_length = 60, pattern = r"\S", nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub child_alias: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Sex>)]
    pub sex: Option<Option<Sex>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(range(min = 0, max = 25))]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 25)]
    pub age: Option<Option<i32>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(range(min = 1990, max = 2100))]
    #[schema(value_type = Option<i32>, minimum = 1990, maximum = 2100)]
    pub birth_year: Option<Option<i32>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub county: Option<County>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 60))]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 60, pattern = r"\S")]
    pub sub_county: Option<Option<String>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub has_disability: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(length(max = 1000))]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub disability_notes: Option<Option<String>>,
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 4000))]
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S", nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub concern: Option<String>,
    #[validate(length(max = 18))]
    #[schema(max_items = 18, nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub indicators: Option<Vec<ExploitationIndicator>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub whereabouts: Option<Whereabouts>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub safe_tonight: Option<bool>,
    /// Replaces the consent (it cannot be removed).
    #[validate(nested)]
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub consent_to_share: Option<ConsentToShare>,
}

impl UpdateReferral {
    /// The referral's fields after this change, checked as at intake.
    pub fn apply(self, current: ReferralContent) -> ApiResult<ReferralContent> {
        ReferralFields {
            urgency: self.urgency.unwrap_or(current.urgency),
            child_alias: self.child_alias.unwrap_or(current.child_alias),
            sex: self.sex.unwrap_or(current.sex),
            age: self.age.unwrap_or(current.age),
            birth_year: self.birth_year.unwrap_or(current.birth_year),
            county: self.county.unwrap_or(current.county),
            sub_county: self.sub_county.unwrap_or(current.sub_county),
            has_disability: self.has_disability.unwrap_or(current.has_disability),
            disability_notes: self.disability_notes.unwrap_or(current.disability_notes),
            concern: self.concern.unwrap_or(current.concern),
            indicators: self.indicators.unwrap_or(current.indicators),
            whereabouts: self.whereabouts.unwrap_or(current.whereabouts),
            safe_tonight: self.safe_tonight.unwrap_or(current.safe_tonight),
            consent_to_share: Some(self.consent_to_share.unwrap_or(ConsentToShare {
                given_by: current.consent_given_by,
                obtained_on: current.consent_obtained_on,
            })),
        }
        .into_content()
    }
}

/// How a referral becomes work: a new case or one that exists, a new survivor or one that
/// exists (one of its `possible_matches`). The fields for a new case apply only when no `case_id`
/// is given, `pseudonym` only when no `survivor_id` is, and `role` only when the survivor is not
/// linked to the case yet.
#[derive(Debug, Default, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct AcceptReferral {
    /// Link to this existing case (within your reach) instead of opening a new one.
    pub case_id: Option<CaseId>,
    /// Link to this existing survivor (within your reach) instead of registering a new one.
    pub survivor_id: Option<SurvivorId>,
    /// For a new case: where the exploitation happened (default `other`).
    pub location_type: Option<LocationType>,
    /// For a new case.
    #[serde(default)]
    #[validate(length(max = 7))]
    #[schema(max_items = 7)]
    pub exploitation_types: Vec<ExploitationType>,
    /// For a new case; by default from the urgency (`emergency` → `critical`, `urgent` → `high`,
    /// `routine` → `medium`).
    pub risk_level: Option<RiskLevel>,
    /// For a new survivor: her pseudonym (default the referral's `child_alias`).
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub pseudonym: Option<String>,
    /// Her role in the case (default `victim`).
    pub role: Option<CaseRole>,
}

/// Why a referral is declined, for the partner to read.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct DeclineReferral {
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 2000))]
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"\S",
        example = "Outside the program's counties; referred to the Nairobi children's office."
    )]
    pub reason: String,
}

#[derive(Debug, Default, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct WithdrawReferral {
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 2000))]
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub reason: Option<String>,
}

/// An existing survivor or open referral that may be the same child: same initials or
/// pseudonym, and no contradiction in sex, birth year (±1) or county.
#[derive(Debug, Serialize, ToSchema)]
pub struct PossibleMatch {
    pub kind: MatchKind,
    /// The survivor's or the referral's id.
    pub id: uuid::Uuid,
    /// Her pseudonym, or the referral's `child_alias`.
    pub name: String,
    pub sex: Option<Sex>,
    /// Known, or estimated from an age.
    pub birth_year: Option<i32>,
    pub county: Option<County>,
    /// For a referral.
    pub status: Option<ReferralStatus>,
    /// For a survivor.
    pub restoration_status: Option<RestorationStatus>,
}

crate::text_enum! {
    pub enum MatchKind { Survivor, Referral }
}

/// A referral. Partner users see what they submitted, its status and dates, the decline
/// reason and the case reference once accepted; the fields marked staff-only are `null` for them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Referral {
    pub id: ReferralId,
    pub partner_id: PartnerId,
    pub partner_name: String,
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
    pub consent_to_share: ConsentToShare,
    pub submitted_at: DateTime<Utc>,
    /// Derived: by when an `urgent` or `emergency` referral must be acknowledged (`null` for
    /// `routine`).
    #[schema(read_only)]
    pub acknowledge_by: Option<DateTime<Utc>>,
    /// Derived: still `submitted` after `acknowledge_by`.
    #[schema(read_only)]
    pub overdue: bool,
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Derived: minutes from submission to acknowledgement.
    #[schema(read_only)]
    pub minutes_to_acknowledge: Option<i64>,
    /// When it was accepted or declined.
    pub decided_at: Option<DateTime<Utc>>,
    pub decline_reason: Option<String>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdraw_reason: Option<String>,
    /// The case's reference once accepted (for staff, when they reach the case).
    pub case_reference: Option<String>,
    /// Staff who reach the case only: the case and survivor it became.
    pub case_id: Option<CaseId>,
    pub survivor_id: Option<SurvivorId>,
    /// Staff only: who submitted, acknowledged, and accepted, declined or withdrew it.
    pub submitted_by: Option<UserId>,
    pub acknowledged_by: Option<UserId>,
    pub concluded_by: Option<UserId>,
    /// Staff only, on a single referral (`null` in lists): existing survivors and open referrals
    /// that may be the same child.
    pub possible_matches: Option<Vec<PossibleMatch>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The acknowledgement windows in force.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    pub urgent: chrono::Duration,
    pub emergency: chrono::Duration,
}

impl Windows {
    pub fn of(config: &crate::config::Config) -> Self {
        let minutes = |d: std::time::Duration| chrono::Duration::seconds(d.as_secs() as i64);
        Windows {
            urgent: minutes(config.referral_urgent_window),
            emergency: minutes(config.referral_emergency_window),
        }
    }

    pub fn for_urgency(self, urgency: Urgency) -> Option<chrono::Duration> {
        match urgency {
            Urgency::Routine => None,
            Urgency::Urgent => Some(self.urgent),
            Urgency::Emergency => Some(self.emergency),
        }
    }
}

/// A referral row with what is joined to it.
pub struct Loaded {
    pub row: ReferralRow,
    pub partner_name: String,
    pub case_reference: Option<String>,
}

impl Referral {
    /// The referral as `staff` (or not: a partner user) may see it.
    pub fn view(loaded: Loaded, windows: Windows, staff: bool) -> Self {
        let Loaded {
            row,
            partner_name,
            case_reference,
        } = loaded;
        let acknowledge_by = windows.for_urgency(row.urgency).map(|w| row.created_at + w);
        let overdue = row.status == ReferralStatus::Submitted && acknowledge_by.is_some_and(|by| by < Utc::now());
        let decided = matches!(row.status, ReferralStatus::Accepted | ReferralStatus::Declined);
        let withdrawn = row.status == ReferralStatus::Withdrawn;
        let staff_only = |v| if staff { v } else { None };
        Referral {
            id: row.id,
            partner_id: row.partner_id,
            partner_name,
            external_id: row.external_id,
            status: row.status,
            urgency: row.urgency,
            child_alias: row.child_alias,
            sex: row.sex,
            age: row.age,
            birth_year: row.birth_year,
            county: row.county,
            sub_county: row.sub_county,
            has_disability: row.has_disability,
            disability_notes: row.disability_notes,
            concern: row.concern,
            indicators: row.indicators,
            whereabouts: row.whereabouts,
            safe_tonight: row.safe_tonight,
            consent_to_share: ConsentToShare {
                given_by: row.consent_given_by,
                obtained_on: row.consent_obtained_on,
            },
            submitted_at: row.created_at,
            acknowledge_by,
            overdue,
            acknowledged_at: row.acknowledged_at,
            minutes_to_acknowledge: row.acknowledged_at.map(|at| (at - row.created_at).num_minutes()),
            decided_at: row.concluded_at.filter(|_| decided),
            decline_reason: row
                .conclusion_reason
                .clone()
                .filter(|_| row.status == ReferralStatus::Declined),
            withdrawn_at: row.concluded_at.filter(|_| withdrawn),
            withdraw_reason: row.conclusion_reason.filter(|_| withdrawn),
            case_reference,
            case_id: if staff { row.case_id } else { None },
            survivor_id: if staff { row.survivor_id } else { None },
            submitted_by: staff_only(row.submitted_by),
            acknowledged_by: staff_only(row.acknowledged_by),
            concluded_by: staff_only(row.concluded_by),
            possible_matches: None,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReferralFilter {
    pub status: Option<ReferralStatus>,
    pub urgency: Option<Urgency>,
    /// Staff: one organisation's referrals.
    pub partner_id: Option<PartnerId>,
    pub county: Option<County>,
    /// `true`: `urgent`/`emergency` referrals still `submitted` past their acknowledgement
    /// window; `false`: all others.
    pub overdue: Option<bool>,
    /// Submitted on or after this day (East Africa Time).
    pub from: Option<NaiveDate>,
    /// Submitted on or before this day (East Africa Time).
    pub to: Option<NaiveDate>,
    /// The partner's `external_id`.
    pub external_id: Option<String>,
}
