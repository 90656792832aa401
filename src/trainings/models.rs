use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use crate::{
    db::schema::trainings,
    ids::{PartnerId, TrainingId, UserId},
    text_enum,
    vocab::County,
};

text_enum! {
    pub enum TrainingFormat { Workshop, MentoringVisit, TechnicalAssistance, CommunitySensitisation }
}

text_enum! {
    pub enum TrainingTopic {
        CsecIdentification, TraumaInformedCare, CtipAct, VictimSensitiveInvestigation, Prosecution,
        CaseManagement, ReportingAndReferral, MediaReporting, Other,
    }
}

text_enum! {
    /// Who was reached.
    pub enum Audience {
        Police, Prosecutors, Judiciary, ChildrenOfficers, SocialWorkers, HealthWorkers, Media, Ngo,
        Community, FaithLeaders, Teachers, Other,
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = trainings)]
pub struct TrainingRow {
    pub id: TrainingId,
    pub title: String,
    pub format: TrainingFormat,
    pub topics: Vec<TrainingTopic>,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub county: County,
    pub venue: Option<String>,
    pub organising_partner_id: Option<PartnerId>,
    pub institutions: Vec<String>,
    pub participants: serde_json::Value,
    pub pre_test_average: Option<f64>,
    pub post_test_average: Option<f64>,
    pub recorded_by: Option<UserId>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = trainings)]
pub struct TrainingChanges {
    pub title: Option<String>,
    pub format: Option<TrainingFormat>,
    pub topics: Option<Vec<TrainingTopic>>,
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    pub county: Option<County>,
    pub venue: Option<Option<String>>,
    pub organising_partner_id: Option<Option<PartnerId>>,
    pub institutions: Option<Vec<String>>,
    pub participants: Option<serde_json::Value>,
    pub pre_test_average: Option<Option<f64>>,
    pub post_test_average: Option<Option<f64>>,
}
