use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::models::{Indicator, TargetRow};
use crate::{
    ids::{IndicatorTargetId, UserId},
    vocab::County,
};

/// What an indicator counts, precisely: the records, the date that puts one in a period, what is
/// left out, and whose county the county filter looks at.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorDefinition {
    pub indicator: Indicator,
    pub title: String,
    /// What is counted.
    pub counts: String,
    /// The date that puts a record in a period (a period includes both its first and last day).
    pub dated_by: String,
    /// What is not counted.
    pub excludes: String,
    /// Whose county the `county` filter looks at.
    pub county_of: String,
    /// Whether a small result (1 to k−1) is suppressed for analysts: true for counts of children,
    /// cases and suspects.
    pub suppressed_when_small: bool,
}

/// A target for one indicator over one period, for the program or one county.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorTarget {
    pub id: IndicatorTargetId,
    pub indicator: Indicator,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// `null`: the whole program.
    pub county: Option<County>,
    pub target: i32,
    /// The narrative that goes with the result in the report.
    pub note: Option<String>,
    pub updated_by: Option<UserId>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<TargetRow> for IndicatorTarget {
    fn from(row: TargetRow) -> Self {
        IndicatorTarget {
            id: row.id,
            indicator: row.indicator,
            from: row.period_from,
            to: row.period_to,
            county: row.county,
            target: row.target,
            note: row.note,
            updated_by: row.updated_by,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// One target to set: the indicator, period and county name it; setting it again replaces its
/// value and note.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct TargetInput {
    pub indicator: Indicator,
    pub from: NaiveDate,
    /// Not before `from`.
    pub to: NaiveDate,
    /// Leave out (or `null`) for the whole program.
    pub county: Option<County>,
    #[validate(range(min = 0, max = 10_000_000))]
    #[schema(minimum = 0, maximum = 10_000_000)]
    pub target: i32,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// Targets to set (each replaces the one for the same indicator, period and county).
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct PutTargets {
    #[validate(length(min = 1, max = 200), nested)]
    #[schema(min_items = 1, max_items = 200)]
    pub targets: Vec<TargetInput>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TargetFilter {
    pub indicator: Option<Indicator>,
    /// Targets for this county only (`null` targets are the program's).
    pub county: Option<County>,
    /// Targets whose period ends on or after this day.
    pub from: Option<NaiveDate>,
    /// Targets whose period starts on or before this day.
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// First day of the period.
    pub from: NaiveDate,
    /// Last day of the period (not before `from`).
    pub to: NaiveDate,
    /// One county; leave out for the whole program.
    pub county: Option<County>,
}

/// One indicator's line in the report.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorResult {
    pub indicator: Indicator,
    pub title: String,
    /// The target set for exactly this period and county, if any.
    pub target: Option<i32>,
    /// `null` when suppressed.
    pub result: Option<i64>,
    /// The result is a small count (1 to k−1) withheld from this role.
    pub suppressed: bool,
    /// Result as a percentage of the target, one decimal; `null` without a target (or a zero
    /// target) or when suppressed.
    pub percentage: Option<f64>,
    /// The target's narrative note.
    pub note: Option<String>,
    /// What is counted (the catalogue has the full definition).
    pub counts: String,
}

/// Target, result and percentage for each indicator over a period, computed when asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub county: Option<County>,
    /// The k below which counts are suppressed for this caller; `null` when nothing is suppressed.
    pub small_cell_k: Option<u32>,
    pub generated_at: DateTime<Utc>,
    pub rows: Vec<IndicatorResult>,
}
