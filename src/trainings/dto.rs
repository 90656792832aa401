use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::models::{Audience, TrainingFormat, TrainingRow, TrainingTopic};
use crate::{
    extract::double_option,
    ids::{PartnerId, TrainingId, UserId},
    vocab::County,
};

/// How many people of one audience took part, by sex.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct Participants {
    pub audience: Audience,
    #[validate(range(min = 0, max = 100000))]
    #[schema(minimum = 0, maximum = 100000)]
    pub female: i32,
    #[validate(range(min = 0, max = 100000))]
    #[schema(minimum = 0, maximum = 100000)]
    pub male: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Training {
    pub id: TrainingId,
    pub title: String,
    pub format: TrainingFormat,
    pub topics: Vec<TrainingTopic>,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub county: County,
    pub venue: Option<String>,
    pub organising_partner_id: Option<PartnerId>,
    /// The institutions reached (a police station, a court, a children's office…).
    pub institutions: Vec<String>,
    pub participants: Vec<Participants>,
    /// Derived: everyone counted in `participants`.
    #[schema(read_only)]
    pub total_participants: i64,
    pub pre_test_average: Option<f64>,
    pub post_test_average: Option<f64>,
    /// Derived: post-test average less pre-test average, when both are known.
    #[schema(read_only)]
    pub knowledge_gain: Option<f64>,
    pub recorded_by: Option<UserId>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<TrainingRow> for Training {
    fn from(r: TrainingRow) -> Self {
        // Written by this service from validated input only.
        let participants: Vec<Participants> = serde_json::from_value(r.participants).unwrap_or_default();
        Training {
            total_participants: participants
                .iter()
                .map(|p| i64::from(p.female) + i64::from(p.male))
                .sum(),
            knowledge_gain: r
                .pre_test_average
                .zip(r.post_test_average)
                .map(|(pre, post)| ((post - pre) * 100.0).round() / 100.0),
            participants,
            id: r.id,
            title: r.title,
            format: r.format,
            topics: r.topics,
            starts_on: r.starts_on,
            ends_on: r.ends_on,
            county: r.county,
            venue: r.venue,
            organising_partner_id: r.organising_partner_id,
            institutions: r.institutions,
            pre_test_average: r.pre_test_average,
            post_test_average: r.post_test_average,
            recorded_by: r.recorded_by,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateTraining {
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: String,
    pub format: TrainingFormat,
    #[serde(default)]
    #[validate(length(max = 9))]
    #[schema(max_items = 9)]
    pub topics: Vec<TrainingTopic>,
    pub starts_on: NaiveDate,
    /// Not before `starts_on`.
    pub ends_on: NaiveDate,
    pub county: County,
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub venue: Option<String>,
    pub organising_partner_id: Option<PartnerId>,
    #[serde(default)]
    #[validate(length(max = 20))]
    #[schema(max_items = 20)]
    pub institutions: Vec<String>,
    /// One entry per audience.
    #[serde(default)]
    #[validate(length(max = 12), nested)]
    #[schema(max_items = 12)]
    pub participants: Vec<Participants>,
    #[validate(range(min = 0.0, max = 100.0))]
    #[schema(minimum = 0.0, maximum = 100.0)]
    pub pre_test_average: Option<f64>,
    #[validate(range(min = 0.0, max = 100.0))]
    #[schema(minimum = 0.0, maximum = 100.0)]
    pub post_test_average: Option<f64>,
}

/// Fields to change; absent fields stay, `null` clears a nullable field.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateTraining {
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S", nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub title: Option<String>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub format: Option<TrainingFormat>,
    #[validate(length(max = 9))]
    #[schema(max_items = 9, nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub topics: Option<Vec<TrainingTopic>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub starts_on: Option<NaiveDate>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub ends_on: Option<NaiveDate>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub county: Option<County>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(length(max = 200))]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub venue: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<PartnerId>)]
    pub organising_partner_id: Option<Option<PartnerId>>,
    #[validate(length(max = 20))]
    #[schema(max_items = 20, nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub institutions: Option<Vec<String>>,
    /// Replaces the whole list.
    #[validate(length(max = 12), nested)]
    #[schema(max_items = 12, nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub participants: Option<Vec<Participants>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(range(min = 0.0, max = 100.0))]
    #[schema(value_type = Option<f64>, minimum = 0.0, maximum = 100.0)]
    pub pre_test_average: Option<Option<f64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(range(min = 0.0, max = 100.0))]
    #[schema(value_type = Option<f64>, minimum = 0.0, maximum = 100.0)]
    pub post_test_average: Option<Option<f64>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrainingFilter {
    /// Starting on or after this date.
    pub from: Option<NaiveDate>,
    /// Starting on or before this date.
    pub to: Option<NaiveDate>,
    pub county: Option<County>,
    pub topic: Option<TrainingTopic>,
    pub audience: Option<Audience>,
    pub format: Option<TrainingFormat>,
}
