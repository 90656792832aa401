use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    dto::OffenceFilter,
    models::{
        ChargeChanges, ChargeRow, CourtSessionChanges, CourtSessionRow, OffenceChanges, OffenceRow, SuspectChanges,
        SuspectRow,
    },
};
use crate::{
    db::schema::{charges, court_sessions, offences, suspects},
    ids::{CaseId, ChargeId, CourtSessionId, SuspectId},
};

/// One page of the catalogue, by code.
pub async fn list_offences(
    conn: &mut AsyncPgConnection,
    filter: &OffenceFilter,
    after: Option<String>,
    limit: i64,
) -> QueryResult<Vec<OffenceRow>> {
    let mut query = offences::table.select(OffenceRow::as_select()).into_boxed();
    if let Some(after) = after {
        query = query.filter(offences::code.gt(after));
    }
    if let Some(statute) = filter.statute {
        query = query.filter(offences::statute.eq(statute));
    }
    if let Some(in_force) = filter.in_force {
        query = query.filter(offences::in_force.eq(in_force));
    }
    query.order(offences::code).limit(limit + 1).load(conn).await
}

pub async fn find_offence(conn: &mut AsyncPgConnection, code: &str) -> QueryResult<Option<OffenceRow>> {
    offences::table
        .find(code)
        .select(OffenceRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn lock_offence(conn: &mut AsyncPgConnection, code: &str) -> QueryResult<OffenceRow> {
    offences::table
        .find(code)
        .select(OffenceRow::as_select())
        .for_update()
        .first(conn)
        .await
}

pub async fn update_offence(
    conn: &mut AsyncPgConnection,
    code: &str,
    changes: &OffenceChanges,
) -> QueryResult<OffenceRow> {
    diesel::update(offences::table.find(code))
        .set((changes, offences::version.eq(offences::version + 1)))
        .returning(OffenceRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn insert_suspect(conn: &mut AsyncPgConnection, row: &SuspectRow) -> QueryResult<SuspectRow> {
    diesel::insert_into(suspects::table)
        .values(row)
        .returning(SuspectRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn find_suspect(conn: &mut AsyncPgConnection, id: SuspectId) -> QueryResult<SuspectRow> {
    suspects::table
        .find(id)
        .select(SuspectRow::as_select())
        .first(conn)
        .await
}

pub async fn lock_suspect(conn: &mut AsyncPgConnection, id: SuspectId) -> QueryResult<SuspectRow> {
    suspects::table
        .find(id)
        .select(SuspectRow::as_select())
        .for_update()
        .first(conn)
        .await
}

pub async fn suspect_case(conn: &mut AsyncPgConnection, id: SuspectId) -> QueryResult<CaseId> {
    suspects::table.find(id).select(suspects::case_id).first(conn).await
}

pub async fn update_suspect(
    conn: &mut AsyncPgConnection,
    id: SuspectId,
    changes: &SuspectChanges,
) -> QueryResult<SuspectRow> {
    diesel::update(suspects::table.find(id))
        .set((changes, suspects::version.eq(suspects::version + 1)))
        .returning(SuspectRow::as_returning())
        .get_result(conn)
        .await
}

/// One page of the case's suspects, in the order they were recorded.
pub async fn suspects_of_case(
    conn: &mut AsyncPgConnection,
    case: CaseId,
    after: Option<SuspectId>,
    limit: i64,
) -> QueryResult<Vec<SuspectRow>> {
    let mut query = suspects::table
        .filter(suspects::case_id.eq(case))
        .select(SuspectRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(suspects::id.gt(after));
    }
    query.order(suspects::id).limit(limit + 1).load(conn).await
}

pub async fn find_charge(conn: &mut AsyncPgConnection, id: ChargeId) -> QueryResult<ChargeRow> {
    charges::table.find(id).select(ChargeRow::as_select()).first(conn).await
}

/// The charges against these suspects, in one query.
pub async fn charges_of(conn: &mut AsyncPgConnection, suspect_ids: &[SuspectId]) -> QueryResult<Vec<ChargeRow>> {
    charges::table
        .filter(charges::suspect_id.eq_any(suspect_ids))
        .select(ChargeRow::as_select())
        .order(charges::id)
        .load(conn)
        .await
}

pub async fn insert_charge(conn: &mut AsyncPgConnection, row: &ChargeRow) -> QueryResult<ChargeRow> {
    diesel::insert_into(charges::table)
        .values(row)
        .returning(ChargeRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn charge_case(conn: &mut AsyncPgConnection, id: ChargeId) -> QueryResult<CaseId> {
    charges::table.find(id).select(charges::case_id).first(conn).await
}

pub async fn lock_charge(conn: &mut AsyncPgConnection, id: ChargeId) -> QueryResult<ChargeRow> {
    charges::table
        .find(id)
        .select(ChargeRow::as_select())
        .for_update()
        .first(conn)
        .await
}

pub async fn update_charge(
    conn: &mut AsyncPgConnection,
    id: ChargeId,
    changes: &ChargeChanges,
) -> QueryResult<ChargeRow> {
    diesel::update(charges::table.find(id))
        .set((changes, charges::version.eq(charges::version + 1)))
        .returning(ChargeRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn insert_session(conn: &mut AsyncPgConnection, row: &CourtSessionRow) -> QueryResult<CourtSessionRow> {
    diesel::insert_into(court_sessions::table)
        .values(row)
        .returning(CourtSessionRow::as_returning())
        .get_result(conn)
        .await
}

/// One page of the case's court sessions, by date (then the order they were recorded).
pub async fn sessions_of_case(
    conn: &mut AsyncPgConnection,
    case: CaseId,
    after: Option<(chrono::NaiveDate, CourtSessionId)>,
    limit: i64,
) -> QueryResult<Vec<CourtSessionRow>> {
    let mut query = court_sessions::table
        .filter(court_sessions::case_id.eq(case))
        .select(CourtSessionRow::as_select())
        .into_boxed();
    if let Some((day, id)) = after {
        query = query.filter(
            court_sessions::scheduled_on
                .gt(day)
                .or(court_sessions::scheduled_on.eq(day).and(court_sessions::id.gt(id))),
        );
    }
    query
        .order((court_sessions::scheduled_on, court_sessions::id))
        .limit(limit + 1)
        .load(conn)
        .await
}

pub async fn find_session(conn: &mut AsyncPgConnection, id: CourtSessionId) -> QueryResult<CourtSessionRow> {
    court_sessions::table
        .find(id)
        .select(CourtSessionRow::as_select())
        .first(conn)
        .await
}

pub async fn session_case(conn: &mut AsyncPgConnection, id: CourtSessionId) -> QueryResult<CaseId> {
    court_sessions::table
        .find(id)
        .select(court_sessions::case_id)
        .first(conn)
        .await
}

pub async fn lock_session(conn: &mut AsyncPgConnection, id: CourtSessionId) -> QueryResult<CourtSessionRow> {
    court_sessions::table
        .find(id)
        .select(CourtSessionRow::as_select())
        .for_update()
        .first(conn)
        .await
}

pub async fn update_session(
    conn: &mut AsyncPgConnection,
    id: CourtSessionId,
    changes: &CourtSessionChanges,
) -> QueryResult<CourtSessionRow> {
    diesel::update(court_sessions::table.find(id))
        .set((changes, court_sessions::version.eq(court_sessions::version + 1)))
        .returning(CourtSessionRow::as_returning())
        .get_result(conn)
        .await
}
