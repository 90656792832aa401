use chrono::NaiveDate;
use diesel::{dsl::exists, prelude::*};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::models::{
    ApprovalRow, ApprovalStatus, AssessmentRow, ClosureRow, ConsentPurpose, ConsentRow, FollowUpRow, FollowUpStatus,
    ServiceChanges, ServiceRow, SessionRow,
};
use crate::{
    auth::policy::SurvivorScope,
    db::schema::{
        approvals, assessments, case_assignments, case_survivors, consents, follow_ups, service_sessions,
        survivor_assignments, survivor_closures, survivor_services,
    },
    ids::{
        ApprovalId, AssessmentId, ConsentId, FollowUpId, PartnerId, ServiceId, ServiceSessionId, SurvivorId, UserId,
    },
};

pub async fn insert_consent(conn: &mut AsyncPgConnection, row: &ConsentRow) -> QueryResult<ConsentRow> {
    diesel::insert_into(consents::table)
        .values(row)
        .returning(ConsentRow::as_returning())
        .get_result(conn)
        .await
}

/// One page of the survivor's consents, latest recorded first.
pub async fn consents_of(
    conn: &mut AsyncPgConnection,
    survivor: SurvivorId,
    after: Option<ConsentId>,
    limit: i64,
) -> QueryResult<Vec<ConsentRow>> {
    let mut query = consents::table
        .filter(consents::survivor_id.eq(survivor))
        .select(ConsentRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(consents::id.lt(after));
    }
    query.order(consents::id.desc()).limit(limit + 1).load(conn).await
}

pub async fn consent_survivor(conn: &mut AsyncPgConnection, id: ConsentId) -> QueryResult<SurvivorId> {
    consents::table.find(id).select(consents::survivor_id).first(conn).await
}

pub async fn withdraw_consent(
    conn: &mut AsyncPgConnection,
    id: ConsentId,
    reason: Option<String>,
) -> QueryResult<ConsentRow> {
    diesel::update(consents::table.find(id))
        .set((
            consents::withdrawn_at.eq(diesel::dsl::now),
            consents::withdrawn_reason.eq(reason),
            consents::version.eq(consents::version + 1),
        ))
        .returning(ConsentRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn lock_consent(conn: &mut AsyncPgConnection, id: ConsentId) -> QueryResult<ConsentRow> {
    consents::table
        .find(id)
        .select(ConsentRow::as_select())
        .for_update()
        .first(conn)
        .await
}

pub async fn find_consent(conn: &mut AsyncPgConnection, id: ConsentId) -> QueryResult<ConsentRow> {
    consents::table
        .find(id)
        .select(ConsentRow::as_select())
        .first(conn)
        .await
}

/// Is there a consent in effect on `day` for this purpose (and, when given, this recipient)?
pub async fn consent_in_effect(
    conn: &mut AsyncPgConnection,
    survivor: SurvivorId,
    purpose: ConsentPurpose,
    recipient: Option<PartnerId>,
    day: NaiveDate,
) -> QueryResult<bool> {
    let mut query = consents::table
        .filter(consents::survivor_id.eq(survivor))
        .filter(consents::purpose.eq(purpose))
        .filter(consents::withdrawn_at.is_null())
        .filter(consents::given_on.le(day))
        .filter(consents::expires_on.is_null().or(consents::expires_on.ge(day)))
        .into_boxed();
    if let Some(partner) = recipient {
        query = query.filter(consents::recipients.contains(vec![partner]));
    }
    diesel::select(exists(query)).get_result(conn).await
}

pub async fn insert_service(conn: &mut AsyncPgConnection, row: &ServiceRow) -> QueryResult<ServiceRow> {
    diesel::insert_into(survivor_services::table)
        .values(row)
        .returning(ServiceRow::as_returning())
        .get_result(conn)
        .await
}

/// One page of the survivor's services, in the order they were recorded.
pub async fn services_of(
    conn: &AsyncPgConnection,
    survivor: SurvivorId,
    after: Option<ServiceId>,
    limit: i64,
) -> QueryResult<Vec<ServiceRow>> {
    let mut query = survivor_services::table
        .filter(survivor_services::survivor_id.eq(survivor))
        .select(ServiceRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(survivor_services::id.gt(after));
    }
    query
        .order(survivor_services::id)
        .limit(limit + 1)
        .load(&mut &*conn)
        .await
}

pub async fn find_service(conn: &mut AsyncPgConnection, id: ServiceId) -> QueryResult<ServiceRow> {
    survivor_services::table
        .find(id)
        .select(ServiceRow::as_select())
        .first(conn)
        .await
}

pub async fn service_survivor(conn: &mut AsyncPgConnection, id: ServiceId) -> QueryResult<SurvivorId> {
    survivor_services::table
        .find(id)
        .select(survivor_services::survivor_id)
        .first(conn)
        .await
}

pub async fn lock_service(conn: &mut AsyncPgConnection, id: ServiceId) -> QueryResult<ServiceRow> {
    survivor_services::table
        .find(id)
        .select(ServiceRow::as_select())
        .for_update()
        .first(conn)
        .await
}

pub async fn update_service(
    conn: &mut AsyncPgConnection,
    id: ServiceId,
    changes: &ServiceChanges,
) -> QueryResult<ServiceRow> {
    diesel::update(survivor_services::table.find(id))
        .set((changes, survivor_services::version.eq(survivor_services::version + 1)))
        .returning(ServiceRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn insert_session(conn: &mut AsyncPgConnection, row: &SessionRow) -> QueryResult<SessionRow> {
    diesel::insert_into(service_sessions::table)
        .values(row)
        .returning(SessionRow::as_returning())
        .get_result(conn)
        .await
}

/// One page of the service's sessions, latest first.
pub async fn sessions_of(
    conn: &mut AsyncPgConnection,
    service: ServiceId,
    after: Option<(NaiveDate, ServiceSessionId)>,
    limit: i64,
) -> QueryResult<Vec<SessionRow>> {
    let mut query = service_sessions::table
        .filter(service_sessions::service_id.eq(service))
        .select(SessionRow::as_select())
        .into_boxed();
    if let Some((day, id)) = after {
        query = query.filter(
            service_sessions::held_on
                .lt(day)
                .or(service_sessions::held_on.eq(day).and(service_sessions::id.lt(id))),
        );
    }
    query
        .order((service_sessions::held_on.desc(), service_sessions::id.desc()))
        .limit(limit + 1)
        .load(conn)
        .await
}

pub async fn insert_assessment(conn: &mut AsyncPgConnection, row: &AssessmentRow) -> QueryResult<AssessmentRow> {
    diesel::insert_into(assessments::table)
        .values(row)
        .returning(AssessmentRow::as_returning())
        .get_result(conn)
        .await
}

/// One page of the survivor's assessments, latest first.
pub async fn assessments_of(
    conn: &mut AsyncPgConnection,
    survivor: SurvivorId,
    after: Option<(NaiveDate, AssessmentId)>,
    limit: i64,
) -> QueryResult<Vec<AssessmentRow>> {
    let mut query = assessments::table
        .filter(assessments::survivor_id.eq(survivor))
        .select(AssessmentRow::as_select())
        .into_boxed();
    if let Some((day, id)) = after {
        query = query.filter(
            assessments::assessed_on
                .lt(day)
                .or(assessments::assessed_on.eq(day).and(assessments::id.lt(id))),
        );
    }
    query
        .order((assessments::assessed_on.desc(), assessments::id.desc()))
        .limit(limit + 1)
        .load(conn)
        .await
}

/// The survivor's assessments made from `from` to `until` (inclusive).
pub async fn assessments_between(
    conn: &mut AsyncPgConnection,
    survivor: SurvivorId,
    from: NaiveDate,
    until: NaiveDate,
) -> QueryResult<Vec<AssessmentRow>> {
    assessments::table
        .filter(assessments::survivor_id.eq(survivor))
        .filter(assessments::assessed_on.between(from, until))
        .select(AssessmentRow::as_select())
        .load(conn)
        .await
}

pub async fn find_follow_up(conn: &mut AsyncPgConnection, id: FollowUpId) -> QueryResult<FollowUpRow> {
    follow_ups::table
        .find(id)
        .select(FollowUpRow::as_select())
        .first(conn)
        .await
}

pub async fn find_assessment(conn: &mut AsyncPgConnection, id: AssessmentId) -> QueryResult<Option<AssessmentRow>> {
    assessments::table
        .find(id)
        .select(AssessmentRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn insert_closure(conn: &mut AsyncPgConnection, row: &ClosureRow) -> QueryResult<ClosureRow> {
    diesel::insert_into(survivor_closures::table)
        .values(row)
        .returning(ClosureRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn mark_reopened(
    conn: &mut AsyncPgConnection,
    survivor: SurvivorId,
    on: NaiveDate,
    reason: &str,
    by: crate::ids::UserId,
) -> QueryResult<usize> {
    diesel::update(
        survivor_closures::table
            .filter(survivor_closures::survivor_id.eq(survivor))
            .filter(survivor_closures::reopened_on.is_null()),
    )
    .set((
        survivor_closures::reopened_on.eq(on),
        survivor_closures::reopen_reason.eq(reason),
        survivor_closures::reopened_by.eq(by),
    ))
    .execute(conn)
    .await
}

pub async fn insert_follow_up(conn: &mut AsyncPgConnection, row: &FollowUpRow) -> QueryResult<FollowUpRow> {
    diesel::insert_into(follow_ups::table)
        .values(row)
        .returning(FollowUpRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn scheduled_follow_up(
    conn: &mut AsyncPgConnection,
    survivor: SurvivorId,
) -> QueryResult<Option<FollowUpRow>> {
    follow_ups::table
        .filter(follow_ups::survivor_id.eq(survivor))
        .filter(follow_ups::status.eq(FollowUpStatus::Scheduled))
        .select(FollowUpRow::as_select())
        .order(follow_ups::due_on)
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn cancel_follow_ups(conn: &mut AsyncPgConnection, survivor: SurvivorId) -> QueryResult<usize> {
    diesel::update(
        follow_ups::table
            .filter(follow_ups::survivor_id.eq(survivor))
            .filter(follow_ups::status.eq(FollowUpStatus::Scheduled)),
    )
    .set(follow_ups::status.eq(FollowUpStatus::Cancelled))
    .execute(conn)
    .await
}

pub async fn complete_follow_up(conn: &mut AsyncPgConnection, row: &FollowUpRow) -> QueryResult<FollowUpRow> {
    diesel::update(follow_ups::table.find(row.id))
        .set((
            follow_ups::status.eq(row.status),
            follow_ups::conducted_on.eq(row.conducted_on),
            follow_ups::outcome.eq(row.outcome),
            follow_ups::notes.eq(&row.notes),
            follow_ups::assessment_id.eq(row.assessment_id),
            follow_ups::recorded_by.eq(row.recorded_by),
        ))
        .returning(FollowUpRow::as_returning())
        .get_result(conn)
        .await
}

/// Follow-ups of the survivors within `scope`, due date first, filtered by status and due window.
pub async fn list_follow_ups(
    conn: &mut AsyncPgConnection,
    scope: SurvivorScope,
    status: Option<FollowUpStatus>,
    due_from: Option<NaiveDate>,
    due_before: Option<NaiveDate>,
    after: Option<(NaiveDate, FollowUpId)>,
    limit: i64,
) -> QueryResult<Vec<FollowUpRow>> {
    let mut query = follow_ups::table.select(FollowUpRow::as_select()).into_boxed();
    match scope {
        SurvivorScope::All => {}
        SurvivorScope::AssignedTo(user) => {
            query = query.filter(exists(
                survivor_assignments::table
                    .filter(survivor_assignments::survivor_id.eq(follow_ups::survivor_id))
                    .filter(survivor_assignments::user_id.eq(user))
                    .filter(survivor_assignments::ended_at.is_null()),
            ))
        }
        SurvivorScope::ThroughCasesOf(user) => {
            query = query.filter(exists(
                case_survivors::table
                    .inner_join(case_assignments::table.on(case_assignments::case_id.eq(case_survivors::case_id)))
                    .filter(case_survivors::survivor_id.eq(follow_ups::survivor_id))
                    .filter(case_assignments::user_id.eq(user))
                    .filter(case_assignments::ended_at.is_null()),
            ))
        }
    }
    if let Some(status) = status {
        query = query.filter(follow_ups::status.eq(status));
    }
    if let Some(from) = due_from {
        query = query.filter(follow_ups::due_on.ge(from));
    }
    if let Some(before) = due_before {
        query = query.filter(follow_ups::due_on.lt(before));
    }
    if let Some((day, id)) = after {
        query = query.filter(
            follow_ups::due_on
                .gt(day)
                .or(follow_ups::due_on.eq(day).and(follow_ups::id.gt(id))),
        );
    }
    query
        .order((follow_ups::due_on, follow_ups::id))
        .limit(limit + 1)
        .load(conn)
        .await
}

pub async fn insert_approval(conn: &mut AsyncPgConnection, row: &ApprovalRow) -> QueryResult<ApprovalRow> {
    diesel::insert_into(approvals::table)
        .values(row)
        .returning(ApprovalRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn find_approval(conn: &mut AsyncPgConnection, id: ApprovalId) -> QueryResult<ApprovalRow> {
    approvals::table
        .find(id)
        .select(ApprovalRow::as_select())
        .first(conn)
        .await
}

pub async fn lock_approval(conn: &mut AsyncPgConnection, id: ApprovalId) -> QueryResult<ApprovalRow> {
    approvals::table
        .find(id)
        .select(ApprovalRow::as_select())
        .for_update()
        .first(conn)
        .await
}

/// Records the decision on a pending request.
pub async fn decide_approval(
    conn: &mut AsyncPgConnection,
    id: ApprovalId,
    status: ApprovalStatus,
    by: UserId,
    reason: Option<String>,
) -> QueryResult<ApprovalRow> {
    diesel::update(approvals::table.find(id))
        .set((
            approvals::status.eq(status),
            approvals::decided_by.eq(by),
            approvals::decided_at.eq(diesel::dsl::now),
            approvals::decision_reason.eq(reason),
            approvals::version.eq(approvals::version + 1),
        ))
        .returning(ApprovalRow::as_returning())
        .get_result(conn)
        .await
}

/// One page of the requests about survivors within `scope`, newest first.
pub async fn list_approvals(
    conn: &mut AsyncPgConnection,
    scope: SurvivorScope,
    status: Option<ApprovalStatus>,
    survivor: Option<SurvivorId>,
    after: Option<ApprovalId>,
    limit: i64,
) -> QueryResult<Vec<ApprovalRow>> {
    let mut query = approvals::table.select(ApprovalRow::as_select()).into_boxed();
    match scope {
        SurvivorScope::All => {}
        SurvivorScope::AssignedTo(user) => {
            query = query.filter(exists(
                survivor_assignments::table
                    .filter(survivor_assignments::survivor_id.eq(approvals::survivor_id))
                    .filter(survivor_assignments::user_id.eq(user))
                    .filter(survivor_assignments::ended_at.is_null()),
            ))
        }
        // Case workers do not run restoration; they see no requests.
        SurvivorScope::ThroughCasesOf(_) => query = query.filter(diesel::dsl::sql::<diesel::sql_types::Bool>("false")),
    }
    if let Some(status) = status {
        query = query.filter(approvals::status.eq(status));
    }
    if let Some(survivor) = survivor {
        query = query.filter(approvals::survivor_id.eq(survivor));
    }
    if let Some(after) = after {
        query = query.filter(approvals::id.lt(after));
    }
    query.order(approvals::id.desc()).limit(limit + 1).load(conn).await
}

/// Rejects the survivor's pending requests as superseded (a program manager closed it directly).
pub async fn supersede_pending(conn: &mut AsyncPgConnection, survivor: SurvivorId, by: UserId) -> QueryResult<usize> {
    diesel::update(
        approvals::table
            .filter(approvals::survivor_id.eq(survivor))
            .filter(approvals::status.eq(ApprovalStatus::Pending)),
    )
    .set((
        approvals::status.eq(ApprovalStatus::Rejected),
        approvals::decided_by.eq(by),
        approvals::decided_at.eq(diesel::dsl::now),
        approvals::decision_reason.eq("Superseded: a program manager closed the restoration directly."),
        approvals::version.eq(approvals::version + 1),
    ))
    .execute(conn)
    .await
}
