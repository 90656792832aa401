use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::{
    dsl::{exists, sql},
    prelude::*,
    sql_types::{Bool, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    dto::{CaseFilter, CaseFlag, CaseKey, CaseSort, SortValue},
    models::{AssignmentRow, CaseChanges, CaseRow, EventKind, EventRow, FactsRow, NewCase, Stage},
};
use crate::{
    auth::policy::CaseScope,
    db::{
        escape_like,
        schema::{
            case_assignments, case_events, case_facts, case_reference_counters, cases, charges, court_sessions,
            suspects, users,
        },
    },
    ids::{AssignmentId, CaseId, EventId, UserId},
    users::dto::UserRef,
    vocab::County,
};

/// The next reference for a county and year; the counter row serialises concurrent creations.
pub async fn next_reference(conn: &mut AsyncPgConnection, county: County, year: i32) -> QueryResult<String> {
    let prefix = format!("CSEC-{}-{year}", county.code());
    let n: i32 = diesel::insert_into(case_reference_counters::table)
        .values((
            case_reference_counters::prefix.eq(&prefix),
            case_reference_counters::last_value.eq(1),
        ))
        .on_conflict(case_reference_counters::prefix)
        .do_update()
        .set(case_reference_counters::last_value.eq(case_reference_counters::last_value + 1))
        .returning(case_reference_counters::last_value)
        .get_result(conn)
        .await?;
    Ok(format!("{prefix}-{n:04}"))
}

pub async fn insert(conn: &mut AsyncPgConnection, case: &NewCase) -> QueryResult<CaseRow> {
    diesel::insert_into(cases::table)
        .values(case)
        .returning(CaseRow::as_returning())
        .get_result(conn)
        .await
}

/// The case (of the outer query) is currently assigned to `user`: a case worker's reach.
#[diesel::dsl::auto_type]
fn assigned_now(user: UserId) -> _ {
    exists(
        case_assignments::table
            .filter(case_assignments::case_id.eq(cases::id))
            .filter(case_assignments::user_id.eq(user))
            .filter(case_assignments::ended_at.is_null()),
    )
}

/// Whether the case exists within `scope`.
pub async fn is_visible(conn: &mut AsyncPgConnection, scope: CaseScope, id: CaseId) -> QueryResult<bool> {
    let query = cases::table.filter(cases::id.eq(id)).into_boxed();
    let query = match scope {
        CaseScope::All => query,
        CaseScope::AssignedTo(user) => query.filter(assigned_now(user)),
    };
    diesel::select(exists(query)).get_result(conn).await
}

/// The case with its facts if it exists and is within `scope`: the check and the read in one
/// statement (each scope its own, so each is prepared once per connection).
pub async fn find_visible_with_facts(
    conn: &mut AsyncPgConnection,
    scope: CaseScope,
    id: CaseId,
) -> QueryResult<Option<(CaseRow, FactsRow)>> {
    let query = cases::table
        .inner_join(case_facts::table.on(case_facts::case_id.eq(cases::id)))
        .filter(cases::id.eq(id))
        .select((CaseRow::as_select(), FactsRow::as_select()));
    match scope {
        CaseScope::All => query.first(conn).await.optional(),
        CaseScope::AssignedTo(user) => query.filter(assigned_now(user)).first(conn).await.optional(),
    }
}

pub async fn find_with_facts(conn: &AsyncPgConnection, id: CaseId) -> QueryResult<(CaseRow, FactsRow)> {
    cases::table
        .inner_join(case_facts::table.on(case_facts::case_id.eq(cases::id)))
        .filter(cases::id.eq(id))
        .select((CaseRow::as_select(), FactsRow::as_select()))
        .first(&mut &*conn)
        .await
}

pub async fn find_for_update(conn: &mut AsyncPgConnection, id: CaseId) -> QueryResult<CaseRow> {
    cases::table
        .find(id)
        .select(CaseRow::as_select())
        .for_update()
        .first(conn)
        .await
}

/// The case, locked for the caller's transaction, if it is within `scope` (the reach check and
/// the lock in one statement).
pub async fn find_visible_for_update(
    conn: &mut AsyncPgConnection,
    scope: CaseScope,
    id: CaseId,
) -> QueryResult<Option<CaseRow>> {
    let query = cases::table.find(id).select(CaseRow::as_select()).for_update();
    match scope {
        CaseScope::All => query.first(conn).await.optional(),
        CaseScope::AssignedTo(user) => query.filter(assigned_now(user)).first(conn).await.optional(),
    }
}

pub async fn update(conn: &mut AsyncPgConnection, id: CaseId, changes: &CaseChanges) -> QueryResult<CaseRow> {
    diesel::update(cases::table.find(id))
        .set((changes, cases::version.eq(cases::version + 1)))
        .returning(CaseRow::as_returning())
        .get_result(conn)
        .await
}

/// One page of cases within `scope`, newest first. The query reads `cases` alone unless a flag
/// filter needs the derived facts, so it stays cheap to plan; [`facts_for`] adds the facts.
pub async fn list(
    conn: &mut AsyncPgConnection,
    scope: CaseScope,
    filter: &CaseFilter,
    assigned_to: Option<UserId>,
    after: Option<CaseKey>,
    limit: i64,
) -> QueryResult<Vec<CaseRow>> {
    let mut query = cases::table.select(CaseRow::as_select()).into_boxed();
    for user in [
        match scope {
            CaseScope::All => None,
            CaseScope::AssignedTo(user) => Some(user),
        },
        assigned_to,
    ]
    .into_iter()
    .flatten()
    {
        query = query.filter(assigned_now(user));
    }
    if let Some(county) = filter.county {
        query = query.filter(cases::county.eq(county));
    }
    if let Some(stage) = filter.stage {
        query = query.filter(cases::stage.eq(stage));
    }
    if let Some(risk) = filter.risk_level {
        query = query.filter(cases::risk_level.eq(risk));
    }
    if let Some(from) = filter.reported_from {
        query = query.filter(cases::reported_on.ge(from));
    }
    if let Some(to) = filter.reported_to {
        query = query.filter(cases::reported_on.le(to));
    }
    // `stalled` as the case_facts view defines it: open, no timeline event for 30 days.
    let cutoff = crate::vocab::today() - chrono::Duration::days(30);
    let stalled = cases::stage.ne(Stage::Closed).and(cases::last_activity_on.lt(cutoff));
    match filter.stalled {
        Some(true) => query = query.filter(stalled),
        Some(false) => query = query.filter(diesel::dsl::not(stalled)),
        None => {}
    }
    if filter.flag == Some(CaseFlag::Stalled) {
        query = query.filter(stalled);
    }
    match filter.flag {
        Some(CaseFlag::CtipGap) => {
            query = query.filter(exists(
                case_facts::table
                    .filter(case_facts::case_id.eq(cases::id))
                    .filter(case_facts::ctip_gap.eq(true)),
            ))
        }
        Some(CaseFlag::AgeChargeMismatch) => {
            query = query.filter(exists(
                case_facts::table
                    .filter(case_facts::case_id.eq(cases::id))
                    .filter(case_facts::age_charge_mismatch.eq(true)),
            ))
        }
        Some(CaseFlag::Stalled) | None => {}
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        // The same expression as the trigram index cases_search_idx, so the index serves it.
        query = query.filter(
            sql::<Bool>("(cases.reference || ' ' || coalesce(cases.summary, '')) ILIKE ")
                .bind::<Text, _>(format!("%{}%", escape_like(q))),
        );
    }
    // Keyset on (sort column, id): past the cursor in the list's own direction.
    macro_rules! ordered {
        ($col:expr, $value:expr, asc) => {{
            if let Some((v, id)) = $value {
                query = query.filter($col.gt(v.clone()).or($col.eq(v).and(cases::id.gt(id))));
            }
            query.order(($col.asc(), cases::id.asc()))
        }};
        ($col:expr, $value:expr, desc) => {{
            if let Some((v, id)) = $value {
                query = query.filter($col.lt(v.clone()).or($col.eq(v).and(cases::id.lt(id))));
            }
            query.order(($col.desc(), cases::id.desc()))
        }};
    }
    let sort = filter.sort.unwrap_or_default();
    let id_after = after.as_ref().map(|k| k.id);
    let date_after = after.as_ref().and_then(|k| match k.at {
        SortValue::Date(d) => Some((d, k.id)),
        _ => None,
    });
    let text_after = after.as_ref().and_then(|k| match &k.at {
        SortValue::Text(t) => Some((t.clone(), k.id)),
        _ => None,
    });
    let query = match sort {
        CaseSort::NewestFirst => {
            if let Some(id) = id_after {
                query = query.filter(cases::id.lt(id));
            }
            query.order(cases::id.desc())
        }
        CaseSort::OldestFirst => {
            if let Some(id) = id_after {
                query = query.filter(cases::id.gt(id));
            }
            query.order(cases::id.asc())
        }
        CaseSort::ReportedOn => ordered!(cases::reported_on, date_after, asc),
        CaseSort::ReportedOnDesc => ordered!(cases::reported_on, date_after, desc),
        CaseSort::LastActivityOn => ordered!(cases::last_activity_on, date_after, asc),
        CaseSort::LastActivityOnDesc => ordered!(cases::last_activity_on, date_after, desc),
        CaseSort::Reference => ordered!(cases::reference, text_after, asc),
        CaseSort::ReferenceDesc => ordered!(cases::reference, text_after, desc),
    };
    query.limit(limit + 1).load(conn).await
}

/// The derived facts of these cases in one query; its text never changes, so the connection
/// prepares it once and reuses the plan.
pub async fn facts_for(conn: &mut AsyncPgConnection, ids: &[CaseId]) -> QueryResult<HashMap<CaseId, FactsRow>> {
    let rows: Vec<(CaseId, FactsRow)> = case_facts::table
        .filter(case_facts::case_id.eq_any(ids))
        .select((case_facts::case_id, FactsRow::as_select()))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

pub async fn insert_event(conn: &mut AsyncPgConnection, event: &EventRow) -> QueryResult<EventRow> {
    diesel::insert_into(case_events::table)
        .values(event)
        .returning(EventRow::as_returning())
        .get_result(conn)
        .await
}

/// The timeline, latest first (by the day it happened, then by recording order).
pub async fn list_events(
    conn: &mut AsyncPgConnection,
    case: CaseId,
    after: Option<(NaiveDate, EventId)>,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    let mut query = case_events::table
        .filter(case_events::case_id.eq(case))
        .select(EventRow::as_select())
        .into_boxed();
    if let Some((day, id)) = after {
        query = query.filter(
            case_events::occurred_on
                .lt(day)
                .or(case_events::occurred_on.eq(day).and(case_events::id.lt(id))),
        );
    }
    query
        .order((case_events::occurred_on.desc(), case_events::id.desc()))
        .limit(limit + 1)
        .load(conn)
        .await
}

/// One page of the case's current assignments with the assignees, in the order they were made.
pub async fn active_assignments(
    conn: &mut AsyncPgConnection,
    case: CaseId,
    after: Option<AssignmentId>,
    limit: i64,
) -> QueryResult<Vec<(AssignmentRow, UserRef)>> {
    let mut query = case_assignments::table
        .inner_join(users::table.on(users::id.eq(case_assignments::user_id)))
        .filter(case_assignments::case_id.eq(case))
        .filter(case_assignments::ended_at.is_null())
        .select((AssignmentRow::as_select(), UserRef::as_select()))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(case_assignments::id.gt(after));
    }
    query.order(case_assignments::id).limit(limit + 1).load(conn).await
}

pub async fn insert_assignment(conn: &mut AsyncPgConnection, row: &AssignmentRow) -> QueryResult<AssignmentRow> {
    diesel::insert_into(case_assignments::table)
        .values(row)
        .returning(AssignmentRow::as_returning())
        .get_result(conn)
        .await
}

/// Ends the user's active assignment to the case; the number of assignments ended (0 or 1).
pub async fn end_assignment(
    conn: &mut AsyncPgConnection,
    case: CaseId,
    user: UserId,
    by: UserId,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        case_assignments::table
            .filter(case_assignments::case_id.eq(case))
            .filter(case_assignments::user_id.eq(user))
            .filter(case_assignments::ended_at.is_null()),
    )
    .set((case_assignments::ended_at.eq(at), case_assignments::ended_by.eq(by)))
    .execute(conn)
    .await
}

pub async fn has_arrested_suspect(conn: &mut AsyncPgConnection, case: CaseId) -> QueryResult<bool> {
    diesel::select(exists(
        suspects::table
            .filter(suspects::case_id.eq(case))
            .filter(suspects::arrested_on.is_not_null()),
    ))
    .get_result(conn)
    .await
}

pub async fn has_filed_charge(conn: &mut AsyncPgConnection, case: CaseId) -> QueryResult<bool> {
    diesel::select(exists(
        charges::table
            .filter(charges::case_id.eq(case))
            .filter(charges::status.ne("withdrawn")),
    ))
    .get_result(conn)
    .await
}

/// The statuses of the case's charges (to check what a closure reason claims).
pub async fn charge_statuses(
    conn: &mut AsyncPgConnection,
    case: CaseId,
) -> QueryResult<Vec<crate::prosecution::models::ChargeStatus>> {
    charges::table
        .filter(charges::case_id.eq(case))
        .select(charges::status)
        .load(conn)
        .await
}

/// The day of the case's latest stage change (its opening included).
pub async fn latest_stage_change_on(conn: &mut AsyncPgConnection, case: CaseId) -> QueryResult<Option<NaiveDate>> {
    case_events::table
        .filter(case_events::case_id.eq(case))
        .filter(case_events::kind.eq(EventKind::StageChange))
        .select(diesel::dsl::max(case_events::occurred_on))
        .first(conn)
        .await
}

/// The earliest day recorded on the case after its opening: events, arrests, charges, sessions.
pub async fn earliest_activity(conn: &mut AsyncPgConnection, case: CaseId) -> QueryResult<Option<NaiveDate>> {
    let dates: Vec<Option<NaiveDate>> = vec![
        case_events::table
            .filter(case_events::case_id.eq(case))
            // The opening event is dated by the report itself.
            .filter(
                case_events::kind
                    .ne("stage_change")
                    .or(case_events::stage_from.is_not_null()),
            )
            .select(diesel::dsl::min(case_events::occurred_on))
            .get_result(conn)
            .await?,
        suspects::table
            .filter(suspects::case_id.eq(case))
            .select(diesel::dsl::min(suspects::arrested_on))
            .get_result(conn)
            .await?,
        charges::table
            .filter(charges::case_id.eq(case))
            .select(diesel::dsl::min(charges::filed_on))
            .get_result(conn)
            .await?,
        court_sessions::table
            .filter(court_sessions::case_id.eq(case))
            .select(diesel::dsl::min(court_sessions::scheduled_on))
            .get_result(conn)
            .await?,
    ];
    Ok(dates.into_iter().flatten().min())
}

/// Moves the opening event to a corrected report date and keeps the activity date in step.
pub async fn move_report_date(conn: &mut AsyncPgConnection, case: CaseId, reported_on: NaiveDate) -> QueryResult<()> {
    diesel::update(
        case_events::table
            .filter(case_events::case_id.eq(case))
            .filter(case_events::kind.eq("stage_change"))
            .filter(case_events::stage_from.is_null()),
    )
    .set(case_events::occurred_on.eq(reported_on))
    .execute(conn)
    .await?;
    let latest: Option<NaiveDate> = case_events::table
        .filter(case_events::case_id.eq(case))
        .select(diesel::dsl::max(case_events::occurred_on))
        .get_result(conn)
        .await?;
    diesel::update(cases::table.find(case))
        .set(cases::last_activity_on.eq(latest.unwrap_or(reported_on).max(reported_on)))
        .execute(conn)
        .await
        .map(|_| ())
}
