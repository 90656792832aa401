use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use super::{
    dto::{
        CaseSurvivor, CreateSurvivor, CreateSurvivorAssignment, Identity, IdentityRecord, LinkSurvivor, Survivor,
        SurvivorAssignment, SurvivorFilter, UpdateSurvivor, check_age,
    },
    ensure_restoration, ensure_visible, load,
    models::{
        CaseLinkRow, RestorationStatus, SurvivorAssignmentRole, SurvivorAssignmentRow, SurvivorChanges, SurvivorRow,
    },
    queries,
    vault::Sealed,
};
use crate::{
    audit::{self, AuditEvent, handlers::AuditEntry},
    auth::{AuthUser, Role, policy},
    cases,
    db::pagination::{Page, PageParams},
    error::{ApiError, ApiResult, ErrorCode, Problem},
    extract::{IfMatch, ValidatedJson, assignee, created_with_etag, ok_with_etag, trimmed},
    ids::{CaseId, SurvivorAssignmentId, SurvivorId, UserId},
    state::AppState,
    users,
};

fn new_row(input: CreateSurvivor) -> SurvivorRow {
    let now = Utc::now();
    SurvivorRow {
        id: SurvivorId::new(),
        pseudonym: input.pseudonym.trim().to_string(),
        sex: input.sex,
        birth_year: input.birth_year,
        age_at_intake: input.age_at_intake,
        intake_on: input.intake_on,
        has_disability: input.has_disability,
        disability_notes: trimmed(input.disability_notes),
        county: input.county,
        placement: input.placement,
        caregiver_implicated: input.caregiver_implicated,
        schooling: input.schooling,
        survivor_network_member: input.survivor_network_member,
        citizenship: input.citizenship,
        restoration_status: RestorationStatus::Active,
        closed_on: None,
        closure_reason: None,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// Creates a survivor; an aftercare officer who registers one is assigned to her.
pub async fn create(conn: &mut AsyncPgConnection, user: &AuthUser, input: CreateSurvivor) -> ApiResult<SurvivorRow> {
    check_age(input.birth_year, input.age_at_intake, input.intake_on)?;
    let row = queries::insert(conn, &new_row(input)).await?;
    if user.role == Role::AftercareOfficer {
        queries::assign(
            conn,
            &SurvivorAssignmentRow {
                id: SurvivorAssignmentId::new(),
                survivor_id: row.id,
                user_id: user.id,
                role: SurvivorAssignmentRole::Counsellor,
                assigned_by: Some(user.id),
                assigned_at: Utc::now(),
                ended_at: None,
                ended_by: None,
            },
        )
        .await?;
    }
    AuditEvent::by(user, "survivor.create", "survivor", row.id)
        .record(conn)
        .await?;
    Ok(row)
}

/// Survivors within the caller's reach, newest first.
#[utoipa::path(
    tag = "survivors",
    operation_id = "list_survivors",
    params(SurvivorFilter, PageParams),
    responses((status = 200, body = Page<Survivor>))
)]
#[get("/survivors")]
pub async fn list_survivors(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: crate::extract::Query<SurvivorFilter>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let scope = policy::survivor_scope(&user)?;
    let limit = page.limit()?;
    let assigned_to = assignee(filter.assigned_to.as_deref(), user.id)?;
    let mut conn = state.conn().await?;
    let mut rows = queries::list(&mut conn, scope, &filter, assigned_to, page.after()?, limit).await?;
    let cursor = crate::db::pagination::cut(&mut rows, limit, |r| r.id);
    let data = queries::hydrate(&mut conn, rows, scope).await?;
    let reads = data
        .iter()
        .map(|s| AuditEvent::by(&user, "survivor.list", "survivor", s.id))
        .collect();
    drop(conn);
    audit::record_reads(&state, reads).await?;
    Ok(HttpResponse::Ok().json(Page {
        data,
        next_cursor: cursor,
    }))
}

/// Register a survivor (program managers, aftercare officers).
#[utoipa::path(
    tag = "survivors",
    operation_id = "create_survivor",
    request_body = CreateSurvivor,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe.")),
    responses(
        (status = 201, body = Survivor, headers(("ETag" = String), ("Location" = String))),
    )
)]
#[post("/survivors")]
pub async fn create_survivor(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidatedJson<CreateSurvivor>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ManageSurvivors)?;
    let input = body.0;
    let mut conn = state.conn().await?;
    let survivor = conn
        .transaction(async |conn| {
            let row = create(conn, &user, input).await?;
            load(conn, &user, row.id).await
        })
        .await?;
    Ok(created_with_etag(
        format!("/api/v1/survivors/{}", survivor.id),
        survivor.version,
        &survivor,
    ))
}

/// One survivor, with a summary of her cases (stage, next court date).
#[utoipa::path(
    tag = "survivors",
    operation_id = "get_survivor",
    params(("id" = SurvivorId, Path)),
    responses(
        (status = 200, body = Survivor, headers(("ETag" = String))),
    )
)]
#[get("/survivors/{id}")]
pub async fn get_survivor(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let scope = policy::survivor_scope(&user).map_err(|_| ApiError::not_found())?;
    let mut conn = state.conn().await?;
    // Her row (if in reach) and what her record shows beside it go out together; the latter is
    // used only if she is in reach.
    let ids = [id];
    let (row, related) =
        futures_util::try_join!(queries::find_visible(&conn, scope, id), queries::related(&conn, &ids))?;
    let row = row.ok_or_else(ApiError::not_found)?;
    let survivor = queries::assemble(&mut conn, vec![row], related, super::view_scope(&user))
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)?;
    drop(conn);
    audit::record_reads(&state, vec![AuditEvent::by(&user, "survivor.read", "survivor", id)]).await?;
    Ok(ok_with_etag(survivor.version, &survivor))
}

/// Change a survivor's record (placement, schooling, …). Closure goes through `/close`.
#[utoipa::path(
    tag = "survivors",
    operation_id = "update_survivor",
    request_body = UpdateSurvivor,
    params(("id" = SurvivorId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses(
        (status = 200, body = Survivor, headers(("ETag" = String))),
    )
)]
#[patch("/survivors/{id}")]
pub async fn update_survivor(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
    if_match: IfMatch,
    body: ValidatedJson<UpdateSurvivor>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    let mut conn = state.conn().await?;
    ensure_restoration(&mut conn, &user, id).await?;
    policy::require(&user, policy::Permission::ManageSurvivors)?;
    let survivor = conn
        .transaction(async |conn| {
            let current = queries::lock(conn, id).await?;
            if_match.check(current.version)?;
            check_age(
                input.birth_year.unwrap_or(current.birth_year),
                input.age_at_intake.unwrap_or(current.age_at_intake),
                input.intake_on.unwrap_or(current.intake_on),
            )?;
            let changes = SurvivorChanges {
                pseudonym: input.pseudonym.as_deref().map(|p| p.trim().to_string()),
                sex: input.sex,
                birth_year: input.birth_year,
                age_at_intake: input.age_at_intake,
                intake_on: input.intake_on,
                has_disability: input.has_disability,
                disability_notes: input.disability_notes.clone().map(trimmed),
                county: input.county,
                placement: input.placement,
                caregiver_implicated: input.caregiver_implicated,
                schooling: input.schooling,
                survivor_network_member: input.survivor_network_member,
                citizenship: input.citizenship.clone(),
                ..Default::default()
            };
            let row = queries::update(conn, id, &changes).await?;
            AuditEvent::by(&user, "survivor.update", "survivor", id)
                .details(json!({"version": row.version}))
                .record(conn)
                .await?;
            load(conn, &user, id).await
        })
        .await?;
    Ok(ok_with_etag(survivor.version, &survivor))
}

/// The survivors of a case, by pseudonym, in the order they were linked.
#[utoipa::path(
    tag = "survivors",
    operation_id = "list_case_survivors",
    params(("id" = CaseId, Path), PageParams),
    responses((status = 200, body = Page<CaseSurvivor>))
)]
#[get("/cases/{id}/survivors")]
pub async fn list_case_survivors(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CaseId>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let case_id = id.into_inner();
    let limit = page.limit()?;
    let after = page.after()?;
    let mut conn = state.conn().await?;
    cases::ensure_visible(&mut conn, &user, case_id).await?;
    let mut links = queries::links_of_case(&mut conn, case_id, after, limit).await?;
    let next_cursor = crate::db::pagination::cut(&mut links, limit, |(l, _)| (l.linked_at, l.survivor_id));
    let (links, rows): (Vec<CaseLinkRow>, Vec<SurvivorRow>) = links.into_iter().unzip();
    let survivors = queries::hydrate(&mut conn, rows, super::view_scope(&user)).await?;
    let reads = survivors
        .iter()
        .map(|s| AuditEvent::by(&user, "survivor.list", "survivor", s.id))
        .collect();
    AuditEvent::record_all(reads, &mut conn).await?;
    let list: Vec<CaseSurvivor> = links
        .into_iter()
        .zip(survivors)
        .map(|(l, s)| CaseSurvivor {
            case_id: l.case_id,
            role: l.role,
            linked_at: l.linked_at,
            survivor: s,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page {
        data: list,
        next_cursor,
    }))
}

/// Links a survivor to a case inside the caller's transaction, with an audit entry on each side;
/// 409 when she is already linked.
pub async fn link(
    conn: &mut AsyncPgConnection,
    user: &AuthUser,
    case_id: CaseId,
    survivor_id: SurvivorId,
    role: super::models::CaseRole,
) -> ApiResult<CaseLinkRow> {
    let link = queries::link_case(
        conn,
        &CaseLinkRow {
            case_id,
            survivor_id,
            role,
            linked_by: Some(user.id),
            linked_at: Utc::now(),
        },
    )
    .await
    .map_err(|e| {
        ApiError::from(e).or_conflict(ErrorCode::AlreadyLinked, "This survivor is already linked to the case.")
    })?;
    AuditEvent::by(user, "survivor.link_case", "survivor", survivor_id)
        .details(json!({"case_id": case_id, "role": link.role}))
        .record(conn)
        .await?;
    AuditEvent::by(user, "case.survivor_link", "case", case_id)
        .details(json!({"survivor_id": survivor_id}))
        .record(conn)
        .await?;
    Ok(link)
}

/// Link a survivor to a case — an existing one (`survivor_id`, who must be within your reach) or a
/// new one (`survivor`) — with her role in the case.
#[utoipa::path(
    tag = "survivors",
    operation_id = "link_case_survivor",
    request_body = LinkSurvivor,
    params(("id" = CaseId, Path), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe.")),
    responses(
        (status = 201, body = CaseSurvivor),
        (status = 409, description = "Already linked", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/cases/{id}/survivors")]
pub async fn link_case_survivor(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CaseId>,
    body: ValidatedJson<LinkSurvivor>,
) -> ApiResult<HttpResponse> {
    let case_id = id.into_inner();
    let input = body.0;
    let mut conn = state.conn().await?;
    cases::ensure_changeable(&mut conn, &user, case_id).await?;
    let (link, survivor) = conn
        .transaction(async |conn| {
            let survivor_id = match (input.survivor_id, input.survivor) {
                (Some(existing), None) => {
                    ensure_visible(conn, &user, existing).await.map_err(|_| {
                        ApiError::invalid_field("survivor_id", "unknown_survivor", "no such survivor within your reach")
                    })?;
                    existing
                }
                (None, Some(new)) => create(conn, &user, new).await?.id,
                _ => {
                    return Err(ApiError::invalid_field(
                        "survivor_id",
                        "one_of",
                        "give either survivor_id (an existing survivor) or survivor (a new one)",
                    ));
                }
            };
            let link = link(conn, &user, case_id, survivor_id, input.role).await?;
            let survivor = load(conn, &user, survivor_id).await?;
            Ok((link, survivor))
        })
        .await?;
    Ok(HttpResponse::Created().json(CaseSurvivor {
        case_id,
        role: link.role,
        linked_at: link.linked_at,
        survivor,
    }))
}

/// The survivor's aftercare team (current assignments), in the order they were assigned.
#[utoipa::path(
    tag = "survivors",
    operation_id = "list_survivor_assignments",
    params(("id" = SurvivorId, Path), PageParams),
    responses((status = 200, body = Page<SurvivorAssignment>))
)]
#[get("/survivors/{id}/assignments")]
pub async fn list_survivor_assignments(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let limit = page.limit()?;
    let after: Option<SurvivorAssignmentId> = page.after()?;
    let mut conn = state.conn().await?;
    ensure_visible(&mut conn, &user, id).await?;
    let rows = queries::assignments(&mut conn, id, after, limit).await?;
    AuditEvent::by(&user, "survivor.assignments_read", "survivor", id)
        .record(&conn)
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |(a, _)| a.id, SurvivorAssignment::from)))
}

/// Assign an aftercare officer (or program manager) to the survivor (admins and program managers).
#[utoipa::path(
    tag = "survivors",
    operation_id = "create_survivor_assignment",
    request_body = CreateSurvivorAssignment,
    params(("id" = SurvivorId, Path), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe.")),
    responses(
        (status = 201, body = SurvivorAssignment),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/survivors/{id}/assignments")]
pub async fn create_survivor_assignment(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
    body: ValidatedJson<CreateSurvivorAssignment>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    let mut conn = state.conn().await?;
    ensure_visible(&mut conn, &user, id).await?;
    policy::require(&user, policy::Permission::ManageCaseTeams)?;
    let assignee = users::ensure_assignable(
        &mut conn,
        input.user_id,
        &[Role::AftercareOfficer, Role::ProgramManager],
        "a survivor",
    )
    .await?;
    let row = conn
        .transaction(async |conn| {
            let row = queries::assign(
                conn,
                &SurvivorAssignmentRow {
                    id: SurvivorAssignmentId::new(),
                    survivor_id: id,
                    user_id: input.user_id,
                    role: input.role,
                    assigned_by: Some(user.id),
                    assigned_at: Utc::now(),
                    ended_at: None,
                    ended_by: None,
                },
            )
            .await
            .map_err(|e| {
                ApiError::from(e).or_conflict(
                    ErrorCode::AlreadyAssigned,
                    "This user is already assigned to the survivor.",
                )
            })?;
            AuditEvent::by(&user, "survivor.assign", "survivor", id)
                .details(json!({"user_id": row.user_id, "role": row.role}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(SurvivorAssignment::from((row, assignee))))
}

/// End a user's assignment to the survivor (kept in its history); their access ends at once.
#[utoipa::path(
    tag = "survivors",
    operation_id = "delete_survivor_assignment",
    params(("id" = SurvivorId, Path), ("user_id" = UserId, Path)),
    responses(
        (status = 204, description = "Unassigned"),
    )
)]
#[delete("/survivors/{id}/assignments/{user_id}")]
pub async fn delete_survivor_assignment(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(SurvivorId, UserId)>,
) -> ApiResult<HttpResponse> {
    let (id, assignee) = path.into_inner();
    let mut conn = state.conn().await?;
    ensure_visible(&mut conn, &user, id).await?;
    policy::require(&user, policy::Permission::ManageCaseTeams)?;
    conn.transaction(async |conn| {
        if queries::end_assignment(conn, id, assignee, user.id).await? == 0 {
            return Err(ApiError::not_found());
        }
        AuditEvent::by(&user, "survivor.unassign", "survivor", id)
            .details(json!({"user_id": assignee}))
            .record(conn)
            .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// 404 unless the survivor is visible; then 403 unless the caller is an admin or one of the
/// survivor's assigned aftercare officers (the survivor scope of an aftercare officer is exactly
/// their assigned survivors).
async fn ensure_identity_access(conn: &mut AsyncPgConnection, user: &AuthUser, id: SurvivorId) -> ApiResult<()> {
    ensure_visible(conn, user, id).await?;
    policy::may_read_identity(user)
}

/// The survivor's identifying details (admins and her assigned aftercare officer). Every read is audited.
#[utoipa::path(
    tag = "survivors",
    operation_id = "get_survivor_identity",
    params(("id" = SurvivorId, Path)),
    responses(
        (status = 200, body = IdentityRecord, headers(("ETag" = String))),
        (status = 404, description = "No such survivor within reach, or no identity recorded", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/survivors/{id}/identity")]
pub async fn get_identity(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    ensure_identity_access(&mut conn, &user, id).await?;
    let row = queries::identity(&mut conn, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let sealed = Sealed {
        key_id: row.key_id,
        nonce: row.nonce,
        ciphertext: row.ciphertext,
    };
    let plain = state.vault.open(id, &sealed).map_err(ApiError::internal)?;
    // Never log the parse error: it would quote the decrypted content.
    let identity: Identity = serde_json::from_slice(&plain)
        .map_err(|_| ApiError::internal(format!("identity of survivor {id} does not parse")))?;
    AuditEvent::by(&user, "survivor.identity_read", "survivor", id)
        .record(&conn)
        .await?;
    let record = IdentityRecord {
        survivor_id: id,
        identity,
        version: row.version,
        updated_at: row.updated_at,
    };
    Ok(ok_with_etag(record.version, &record))
}

/// Record or replace the survivor's identifying details (stored encrypted).
#[utoipa::path(
    tag = "survivors",
    operation_id = "put_survivor_identity",
    request_body = Identity,
    params(("id" = SurvivorId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses(
        (status = 200, body = IdentityRecord, headers(("ETag" = String))),
    )
)]
#[put("/survivors/{id}/identity")]
pub async fn put_identity(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
    if_match: IfMatch,
    body: ValidatedJson<Identity>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let identity = body.0;
    let mut conn = state.conn().await?;
    ensure_identity_access(&mut conn, &user, id).await?;
    policy::require(&user, policy::Permission::WriteIdentity)?;
    let plain = serde_json::to_vec(&identity).map_err(ApiError::internal)?;
    let sealed = state.vault.seal(id, &plain).map_err(ApiError::internal)?;
    let row = conn
        .transaction(async |conn| {
            queries::lock(conn, id).await?;
            if let Some(current) = queries::identity(conn, id).await? {
                if_match.check(current.version)?;
            }
            let row =
                queries::put_identity(conn, id, &sealed.key_id, &sealed.nonce, &sealed.ciphertext, user.id).await?;
            AuditEvent::by(&user, "survivor.identity_write", "survivor", id)
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    let record = IdentityRecord {
        survivor_id: id,
        identity,
        version: row.version,
        updated_at: row.updated_at,
    };
    Ok(ok_with_etag(record.version, &record))
}

/// Who read or changed this survivor's record and identity, newest first (program managers and admins).
#[utoipa::path(
    tag = "survivors",
    operation_id = "get_survivor_access_log",
    params(("id" = SurvivorId, Path), PageParams),
    responses(
        (status = 200, body = Page<AuditEntry>),
    )
)]
#[get("/survivors/{id}/access-log")]
pub async fn survivor_access_log(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let limit = page.limit()?;
    let mut conn = state.conn().await?;
    ensure_visible(&mut conn, &user, id).await?;
    policy::require(&user, policy::Permission::ReadCaseAccessLog)?;
    let rows =
        crate::audit::handlers::resource_log(&mut conn, "survivor", &id.to_string(), page.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, AuditEntry::from)))
}
