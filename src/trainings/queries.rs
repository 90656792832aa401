use diesel::{
    dsl::sql,
    prelude::*,
    sql_types::{Bool, Jsonb},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    dto::TrainingFilter,
    models::{TrainingChanges, TrainingRow},
};
use crate::{db::schema::trainings, ids::TrainingId};

pub async fn insert(conn: &mut AsyncPgConnection, row: &TrainingRow) -> QueryResult<TrainingRow> {
    diesel::insert_into(trainings::table)
        .values(row)
        .returning(TrainingRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: TrainingId) -> QueryResult<TrainingRow> {
    trainings::table
        .find(id)
        .select(TrainingRow::as_select())
        .first(conn)
        .await
}

pub async fn find_for_update(conn: &mut AsyncPgConnection, id: TrainingId) -> QueryResult<TrainingRow> {
    trainings::table
        .find(id)
        .select(TrainingRow::as_select())
        .for_update()
        .first(conn)
        .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: TrainingId,
    changes: &TrainingChanges,
) -> QueryResult<TrainingRow> {
    diesel::update(trainings::table.find(id))
        .set((changes, trainings::version.eq(trainings::version + 1)))
        .returning(TrainingRow::as_returning())
        .get_result(conn)
        .await
}

/// One page of trainings, latest first (by start date, then recording order).
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &TrainingFilter,
    after: Option<(chrono::NaiveDate, TrainingId)>,
    limit: i64,
) -> QueryResult<Vec<TrainingRow>> {
    let mut query = trainings::table.select(TrainingRow::as_select()).into_boxed();
    if let Some(from) = filter.from {
        query = query.filter(trainings::starts_on.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(trainings::starts_on.le(to));
    }
    if let Some(county) = filter.county {
        query = query.filter(trainings::county.eq(county));
    }
    if let Some(format) = filter.format {
        query = query.filter(trainings::format.eq(format));
    }
    if let Some(topic) = filter.topic {
        query = query.filter(trainings::topics.contains(vec![topic]));
    }
    if let Some(audience) = filter.audience {
        query = query.filter(
            sql::<Bool>("trainings.participants @> ").bind::<Jsonb, _>(serde_json::json!([{ "audience": audience }])),
        );
    }
    if let Some((day, id)) = after {
        query = query.filter(
            trainings::starts_on
                .lt(day)
                .or(trainings::starts_on.eq(day).and(trainings::id.lt(id))),
        );
    }
    query
        .order((trainings::starts_on.desc(), trainings::id.desc()))
        .limit(limit + 1)
        .load(conn)
        .await
}
