use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::{dsl::exists, prelude::*};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    dto::{CaseSummary, Survivor, SurvivorFilter},
    models::{CaseLinkRow, CaseRole, IdentityRow, SurvivorAssignmentRow, SurvivorChanges, SurvivorRow},
};
use crate::{
    auth::policy::SurvivorScope,
    cases::models::Stage,
    db::{
        escape_like, next_assessment_due,
        schema::{
            case_assignments, case_facts, case_survivors, cases, survivor_assignments, survivor_identities, survivors,
            users,
        },
    },
    ids::{CaseId, SurvivorAssignmentId, SurvivorId, UserId},
    users::dto::UserRef,
};

/// A survivor's link to a case with what the restoration side may know of the case.
type LinkFacts = (
    SurvivorId,
    CaseId,
    String,
    CaseRole,
    Stage,
    Option<NaiveDate>,
    Option<NaiveDate>,
    NaiveDate,
);

type Visible = Box<dyn BoxableExpression<survivors::table, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>>;

/// The need-to-know filter of a survivor scope, as SQL.
fn visible(scope: SurvivorScope) -> Option<Visible> {
    match scope {
        SurvivorScope::All => None,
        SurvivorScope::AssignedTo(user) => Some(Box::new(exists(
            survivor_assignments::table
                .filter(survivor_assignments::survivor_id.eq(survivors::id))
                .filter(survivor_assignments::user_id.eq(user))
                .filter(survivor_assignments::ended_at.is_null()),
        ))),
        SurvivorScope::ThroughCasesOf(user) => Some(Box::new(exists(
            case_survivors::table
                .inner_join(case_assignments::table.on(case_assignments::case_id.eq(case_survivors::case_id)))
                .filter(case_survivors::survivor_id.eq(survivors::id))
                .filter(case_assignments::user_id.eq(user))
                .filter(case_assignments::ended_at.is_null()),
        ))),
    }
}

/// Takes the connection shared, so the check can go out pipelined with the read it guards.
pub async fn is_visible(conn: &AsyncPgConnection, scope: SurvivorScope, id: SurvivorId) -> QueryResult<bool> {
    let mut query = survivors::table.filter(survivors::id.eq(id)).into_boxed();
    if let Some(filter) = visible(scope) {
        query = query.filter(filter);
    }
    diesel::select(exists(query)).get_result(&mut &*conn).await
}

pub async fn insert(conn: &mut AsyncPgConnection, row: &SurvivorRow) -> QueryResult<SurvivorRow> {
    diesel::insert_into(survivors::table)
        .values(row)
        .returning(SurvivorRow::as_returning())
        .get_result(conn)
        .await
}

/// The survivor if she exists and is within `scope`: the check and the read in one statement.
pub async fn find_visible(
    conn: &AsyncPgConnection,
    scope: SurvivorScope,
    id: SurvivorId,
) -> QueryResult<Option<SurvivorRow>> {
    let mut query = survivors::table.filter(survivors::id.eq(id)).into_boxed();
    if let Some(filter) = visible(scope) {
        query = query.filter(filter);
    }
    query
        .select(SurvivorRow::as_select())
        .first(&mut &*conn)
        .await
        .optional()
}

pub async fn find(conn: &mut AsyncPgConnection, id: SurvivorId) -> QueryResult<SurvivorRow> {
    survivors::table
        .find(id)
        .select(SurvivorRow::as_select())
        .first(conn)
        .await
}

pub async fn lock(conn: &mut AsyncPgConnection, id: SurvivorId) -> QueryResult<SurvivorRow> {
    survivors::table
        .find(id)
        .select(SurvivorRow::as_select())
        .for_update()
        .first(conn)
        .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: SurvivorId,
    changes: &SurvivorChanges,
) -> QueryResult<SurvivorRow> {
    diesel::update(survivors::table.find(id))
        .set((changes, survivors::version.eq(survivors::version + 1)))
        .returning(SurvivorRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    scope: SurvivorScope,
    filter: &SurvivorFilter,
    assigned_to: Option<UserId>,
    after: Option<SurvivorId>,
    limit: i64,
) -> QueryResult<Vec<SurvivorRow>> {
    let mut query = survivors::table.select(SurvivorRow::as_select()).into_boxed();
    if let Some(f) = visible(scope) {
        query = query.filter(f);
    }
    if let Some(user) = assigned_to {
        query = query.filter(exists(
            survivor_assignments::table
                .filter(survivor_assignments::survivor_id.eq(survivors::id))
                .filter(survivor_assignments::user_id.eq(user))
                .filter(survivor_assignments::ended_at.is_null()),
        ));
    }
    if let Some(status) = filter.restoration_status {
        query = query.filter(survivors::restoration_status.eq(status));
    }
    if let Some(county) = filter.county {
        query = query.filter(survivors::county.eq(county));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        query = query.filter(survivors::pseudonym.ilike(format!("%{}%", escape_like(q))));
    }
    if let Some(after) = after {
        query = query.filter(survivors::id.lt(after));
    }
    query.order(survivors::id.desc()).limit(limit + 1).load(conn).await
}

/// What a survivor's record shows beside her row: her case links and her next assessment.
pub struct Related {
    links: Vec<LinkFacts>,
    due: HashMap<SurvivorId, Option<NaiveDate>>,
}

/// The case links and next assessments of these survivors: two statements that depend on
/// nothing but the ids, so both go out at once (pipelined on the one connection), and may go out
/// with the read of the rows themselves.
pub async fn related(conn: &AsyncPgConnection, ids: &[SurvivorId]) -> QueryResult<Related> {
    let links = case_survivors::table
        .inner_join(cases::table)
        .inner_join(case_facts::table.on(case_facts::case_id.eq(case_survivors::case_id)))
        .filter(case_survivors::survivor_id.eq_any(ids))
        .select((
            case_survivors::survivor_id,
            cases::id,
            cases::reference,
            case_survivors::role,
            cases::stage,
            case_facts::next_court_date,
            cases::incident_on,
            cases::reported_on,
        ))
        .order(cases::reported_on)
        .load::<LinkFacts>(&mut &*conn);
    let due = survivors::table
        .filter(survivors::id.eq_any(ids))
        .select((survivors::id, next_assessment_due(survivors::id)))
        .load::<(SurvivorId, Option<NaiveDate>)>(&mut &*conn);
    let (links, due) = futures_util::try_join!(links, due)?;
    Ok(Related {
        links,
        due: due.into_iter().collect(),
    })
}

/// Builds API survivors for these rows with a constant number of queries, whatever their number:
/// their case summaries and their assessment history. A case worker sees only the summaries of
/// the cases assigned to them, not the survivor's other cases.
pub async fn hydrate(
    conn: &mut AsyncPgConnection,
    rows: Vec<SurvivorRow>,
    scope: SurvivorScope,
) -> QueryResult<Vec<Survivor>> {
    let ids: Vec<SurvivorId> = rows.iter().map(|r| r.id).collect();
    let related = related(conn, &ids).await?;
    assemble(conn, rows, related, scope).await
}

/// The API survivors of these rows and what [`related`] found for them, within `scope`.
pub async fn assemble(
    conn: &mut AsyncPgConnection,
    rows: Vec<SurvivorRow>,
    related: Related,
    scope: SurvivorScope,
) -> QueryResult<Vec<Survivor>> {
    let Related { mut links, due } = related;
    if let SurvivorScope::ThroughCasesOf(user) = scope {
        let linked: Vec<CaseId> = links.iter().map(|l| l.1).collect();
        let mine: Vec<CaseId> = case_assignments::table
            .filter(case_assignments::user_id.eq(user))
            .filter(case_assignments::ended_at.is_null())
            .filter(case_assignments::case_id.eq_any(&linked))
            .select(case_assignments::case_id)
            .load(conn)
            .await?;
        links.retain(|l| mine.contains(&l.1));
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let cases = links
                .iter()
                .filter(|l| l.0 == row.id)
                .map(|l| CaseSummary {
                    case_id: l.1,
                    reference: l.2.clone(),
                    role: l.3,
                    stage: l.4,
                    next_court_date: l.5,
                    age_at_incident: row.age_range_on(l.6.unwrap_or(l.7)),
                })
                .collect();
            let due = due.get(&row.id).copied().flatten();
            Survivor::build(row, cases, due)
        })
        .collect())
}

pub async fn link_case(conn: &mut AsyncPgConnection, link: &CaseLinkRow) -> QueryResult<CaseLinkRow> {
    diesel::insert_into(case_survivors::table)
        .values(link)
        .returning(CaseLinkRow::as_returning())
        .get_result(conn)
        .await
}

/// One page of the survivors linked to the case, in the order they were linked.
pub async fn links_of_case(
    conn: &mut AsyncPgConnection,
    case: CaseId,
    after: Option<(chrono::DateTime<chrono::Utc>, SurvivorId)>,
    limit: i64,
) -> QueryResult<Vec<(CaseLinkRow, SurvivorRow)>> {
    let mut query = case_survivors::table
        .inner_join(survivors::table)
        .filter(case_survivors::case_id.eq(case))
        .select((CaseLinkRow::as_select(), SurvivorRow::as_select()))
        .into_boxed();
    if let Some((at, id)) = after {
        query = query.filter(
            case_survivors::linked_at
                .gt(at)
                .or(case_survivors::linked_at.eq(at).and(case_survivors::survivor_id.gt(id))),
        );
    }
    query
        .order((case_survivors::linked_at, case_survivors::survivor_id))
        .limit(limit + 1)
        .load(conn)
        .await
}

/// One page of the survivor's current assignments with the assignees, in the order they were made.
pub async fn assignments(
    conn: &mut AsyncPgConnection,
    survivor: SurvivorId,
    after: Option<SurvivorAssignmentId>,
    limit: i64,
) -> QueryResult<Vec<(SurvivorAssignmentRow, UserRef)>> {
    let mut query = survivor_assignments::table
        .inner_join(users::table.on(users::id.eq(survivor_assignments::user_id)))
        .filter(survivor_assignments::survivor_id.eq(survivor))
        .filter(survivor_assignments::ended_at.is_null())
        .select((SurvivorAssignmentRow::as_select(), UserRef::as_select()))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(survivor_assignments::id.gt(after));
    }
    query.order(survivor_assignments::id).limit(limit + 1).load(conn).await
}

pub async fn assign(conn: &mut AsyncPgConnection, row: &SurvivorAssignmentRow) -> QueryResult<SurvivorAssignmentRow> {
    diesel::insert_into(survivor_assignments::table)
        .values(row)
        .returning(SurvivorAssignmentRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn identity(conn: &mut AsyncPgConnection, survivor: SurvivorId) -> QueryResult<Option<IdentityRow>> {
    survivor_identities::table
        .find(survivor)
        .select(IdentityRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn put_identity(
    conn: &mut AsyncPgConnection,
    survivor: SurvivorId,
    key_id: &str,
    nonce: &[u8],
    ciphertext: &[u8],
    by: UserId,
) -> QueryResult<IdentityRow> {
    diesel::insert_into(survivor_identities::table)
        .values((
            survivor_identities::survivor_id.eq(survivor),
            survivor_identities::key_id.eq(key_id),
            survivor_identities::nonce.eq(nonce),
            survivor_identities::ciphertext.eq(ciphertext),
            survivor_identities::updated_by.eq(by),
        ))
        .on_conflict(survivor_identities::survivor_id)
        .do_update()
        .set((
            survivor_identities::key_id.eq(key_id),
            survivor_identities::nonce.eq(nonce),
            survivor_identities::ciphertext.eq(ciphertext),
            survivor_identities::updated_by.eq(by),
            survivor_identities::version.eq(survivor_identities::version + 1),
        ))
        .returning(IdentityRow::as_returning())
        .get_result(conn)
        .await
}

/// Ends the user's active assignment to the survivor; the number ended (0 or 1).
pub async fn end_assignment(
    conn: &mut AsyncPgConnection,
    survivor: SurvivorId,
    user: UserId,
    by: UserId,
) -> QueryResult<usize> {
    diesel::update(
        survivor_assignments::table
            .filter(survivor_assignments::survivor_id.eq(survivor))
            .filter(survivor_assignments::user_id.eq(user))
            .filter(survivor_assignments::ended_at.is_null()),
    )
    .set((
        survivor_assignments::ended_at.eq(diesel::dsl::now),
        survivor_assignments::ended_by.eq(by),
    ))
    .execute(conn)
    .await
}

/// Survivors within `scope` who may be the child described: same pseudonym or initials, and no
/// contradiction in sex, birth year (±1, estimated from the age at intake when unknown) or county.
/// Pseudonymous fields only.
pub async fn possible_matches(
    conn: &mut AsyncPgConnection,
    scope: SurvivorScope,
    child: &crate::referrals::queries::ChildKey,
) -> QueryResult<Vec<SurvivorRow>> {
    use diesel::{
        dsl::sql,
        sql_types::{Bool, Integer, Nullable, Text},
    };
    let mut query = survivors::table
        .select(SurvivorRow::as_select())
        .filter(
            sql::<Bool>("haki_same_child_name(survivors.pseudonym, ")
                .bind::<Text, _>(child.alias.clone())
                .sql(")"),
        )
        .filter(survivors::county.is_null().or(survivors::county.eq(child.county)))
        .into_boxed();
    if let Some(sex) = child.sex.filter(|s| *s != crate::prosecution::models::Sex::Unknown) {
        query = query.filter(
            survivors::sex
                .is_null()
                .or(survivors::sex.eq(crate::prosecution::models::Sex::Unknown))
                .or(survivors::sex.eq(sex)),
        );
    }
    if let Some(year) = child.birth_year {
        query = query.filter(
            sql::<Bool>("coalesce(abs(coalesce(survivors.birth_year, extract(year FROM survivors.intake_on)::int - survivors.age_at_intake) - ")
                .bind::<Nullable<Integer>, _>(Some(year))
                .sql(") <= 1, true)"),
        );
    }
    if let Some(filter) = visible(scope) {
        query = query.filter(filter);
    }
    query.order(survivors::id.desc()).limit(10).load(conn).await
}

/// Whether the survivor is linked to the case.
pub async fn is_linked(conn: &mut AsyncPgConnection, case: CaseId, survivor: SurvivorId) -> QueryResult<bool> {
    diesel::select(exists(
        case_survivors::table
            .filter(case_survivors::case_id.eq(case))
            .filter(case_survivors::survivor_id.eq(survivor)),
    ))
    .get_result(conn)
    .await
}
