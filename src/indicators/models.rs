use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use crate::{
    db::schema::indicator_targets,
    ids::{IndicatorTargetId, UserId},
    text_enum,
    vocab::County,
};

text_enum! {
    /// The program's indicators (`GET /indicators` defines each).
    pub enum Indicator {
        SurvivorsRelieved,
        PerpetratorsRestrained,
        PeopleTrained,
        ActivePartnerships,
        CasesReported,
        SuspectsCharged,
        Convictions,
        SurvivorsRestored,
        CourtSessionsSupported,
        FollowUpsSustained,
        ReferralsReceived,
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = indicator_targets)]
pub struct TargetRow {
    pub id: IndicatorTargetId,
    pub indicator: Indicator,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub county: Option<County>,
    pub target: i32,
    pub note: Option<String>,
    pub updated_by: Option<UserId>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
