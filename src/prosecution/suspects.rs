//! Suspects of a case and the charges against them.

use std::collections::HashMap;

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use super::{
    check_case_date,
    dto::{Charge, CreateCharge, CreateSuspect, Suspect, UpdateCharge, UpdateSuspect, check_arrest},
    models::{ChargeChanges, ChargeRow, ChargeStatus, SuspectChanges, SuspectRow},
    queries, trimmed,
};
use crate::{
    audit::AuditEvent,
    auth::AuthUser,
    cases::{
        self,
        models::{EventKind, EventRow},
    },
    db::pagination::{Page, PageParams, cut},
    error::{ApiError, ApiResult},
    extract::{IfMatch, ValidatedJson, created_with_etag, ok_with_etag},
    ids::{CaseId, ChargeId, SuspectId},
    state::AppState,
};

async fn load(conn: &mut AsyncPgConnection, id: SuspectId) -> ApiResult<Suspect> {
    let row = queries::find_suspect(conn, id).await?;
    let charges = queries::charges_of(conn, &[id]).await?;
    Ok(Suspect::from_rows(row, charges))
}

/// The suspects of a case, each with the charges against them, in the order they were recorded.
#[utoipa::path(
    tag = "prosecution",
    operation_id = "list_case_suspects",
    params(("id" = CaseId, Path), PageParams),
    responses((status = 200, body = Page<Suspect>))
)]
#[get("/cases/{id}/suspects")]
pub async fn list_suspects(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CaseId>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let limit = page.limit()?;
    let after: Option<SuspectId> = page.after()?;
    let mut conn = state.conn().await?;
    cases::ensure_visible(&mut conn, &user, id).await?;
    let mut rows = queries::suspects_of_case(&mut conn, id, after, limit).await?;
    let next_cursor = cut(&mut rows, limit, |s| s.id);
    let ids: Vec<SuspectId> = rows.iter().map(|s| s.id).collect();
    let mut charges: HashMap<SuspectId, Vec<ChargeRow>> = HashMap::new();
    for charge in queries::charges_of(&mut conn, &ids).await? {
        charges.entry(charge.suspect_id).or_default().push(charge);
    }
    let list: Vec<Suspect> = rows
        .into_iter()
        .map(|s| {
            let mine = charges.remove(&s.id).unwrap_or_default();
            Suspect::from_rows(s, mine)
        })
        .collect();
    AuditEvent::by(&user, "suspect.list", "case", id).record(&conn).await?;
    Ok(HttpResponse::Ok().json(Page {
        data: list,
        next_cursor,
    }))
}

/// Record a suspect of the case. An arrested suspect needs an arrest date; the arrest is added to
/// the case's timeline.
#[utoipa::path(
    tag = "prosecution",
    operation_id = "create_case_suspect",
    request_body = CreateSuspect,
    params(("id" = CaseId, Path), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe.")),
    responses(
        (status = 201, body = Suspect, headers(("ETag" = String), ("Location" = String))),
    )
)]
#[post("/cases/{id}/suspects")]
pub async fn create_suspect(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CaseId>,
    body: ValidatedJson<CreateSuspect>,
) -> ApiResult<HttpResponse> {
    let case_id = id.into_inner();
    let input = body.0;
    check_arrest(input.status, input.arrested_on)?;
    let mut conn = state.conn().await?;
    cases::ensure_changeable(&mut conn, &user, case_id).await?;
    let suspect = conn
        .transaction(async |conn| {
            let case = cases::queries::find_for_update(conn, case_id).await?;
            if let Some(day) = input.arrested_on {
                check_case_date("arrested_on", day, case.reported_on)?;
            }
            let now = Utc::now();
            let row = queries::insert_suspect(
                conn,
                &SuspectRow {
                    id: SuspectId::new(),
                    case_id,
                    name: input.name.trim().to_string(),
                    sex: input.sex,
                    role: input.role,
                    relationship: input.relationship,
                    nationality: input.nationality.clone(),
                    status: input.status,
                    arrested_on: input.arrested_on,
                    notes: trimmed(input.notes.clone()),
                    version: 1,
                    created_at: now,
                    updated_at: now,
                },
            )
            .await?;
            if let Some(day) = row.arrested_on {
                let note = format!("Arrest of a suspect ({})", row.role);
                cases::queries::insert_event(
                    conn,
                    &EventRow::new(case.id, EventKind::Arrest, day, Some(note), user.id),
                )
                .await?;
            }
            AuditEvent::by(&user, "suspect.create", "case", case_id)
                .details(json!({"suspect_id": row.id, "role": row.role, "status": row.status}))
                .record(conn)
                .await?;
            load(conn, row.id).await
        })
        .await?;
    Ok(created_with_etag(
        format!("/api/v1/suspects/{}", suspect.id),
        suspect.version,
        &suspect,
    ))
}

/// One suspect with the charges against them.
#[utoipa::path(
    tag = "prosecution",
    operation_id = "get_suspect",
    params(("id" = SuspectId, Path)),
    responses(
        (status = 200, body = Suspect, headers(("ETag" = String))),
    )
)]
#[get("/suspects/{id}")]
pub async fn get_suspect(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SuspectId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let case_id = queries::suspect_case(&mut conn, id).await?;
    cases::ensure_visible(&mut conn, &user, case_id).await?;
    let suspect = load(&mut conn, id).await?;
    AuditEvent::by(&user, "suspect.read", "case", case_id)
        .details(json!({"suspect_id": id}))
        .record(&conn)
        .await?;
    Ok(ok_with_etag(suspect.version, &suspect))
}

/// Change a suspect: status (an arrest needs its date), role, relationship, nationality…
#[utoipa::path(
    tag = "prosecution",
    operation_id = "update_suspect",
    request_body = UpdateSuspect,
    params(("id" = SuspectId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses(
        (status = 200, body = Suspect, headers(("ETag" = String))),
    )
)]
#[patch("/suspects/{id}")]
pub async fn update_suspect(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SuspectId>,
    if_match: IfMatch,
    body: ValidatedJson<UpdateSuspect>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    let mut conn = state.conn().await?;
    let case_id = queries::suspect_case(&mut conn, id).await?;
    cases::ensure_changeable(&mut conn, &user, case_id).await?;
    let suspect = conn
        .transaction(async |conn| {
            let case = cases::queries::find_for_update(conn, case_id).await?;
            let current = queries::lock_suspect(conn, id).await?;
            if_match.check(current.version)?;
            let status = input.status.unwrap_or(current.status);
            let arrested_on = input.arrested_on.unwrap_or(current.arrested_on);
            check_arrest(status, arrested_on)?;
            if let Some(day) = input.arrested_on.flatten() {
                check_case_date("arrested_on", day, case.reported_on)?;
            }
            let changes = SuspectChanges {
                name: input.name.as_deref().map(|s| s.trim().to_string()),
                sex: input.sex,
                role: input.role,
                relationship: input.relationship,
                nationality: input.nationality.clone(),
                status: input.status,
                arrested_on: input.arrested_on,
                notes: input.notes.clone().map(trimmed),
            };
            let row = queries::update_suspect(conn, id, &changes).await?;
            if current.arrested_on.is_none() {
                if let Some(day) = row.arrested_on {
                    let note = format!("Arrest of a suspect ({})", row.role);
                    cases::queries::insert_event(
                        conn,
                        &EventRow::new(case_id, EventKind::Arrest, day, Some(note), user.id),
                    )
                    .await?;
                }
            }
            AuditEvent::by(&user, "suspect.update", "case", case_id)
                .details(json!({"suspect_id": id, "status": row.status}))
                .record(conn)
                .await?;
            load(conn, id).await
        })
        .await?;
    Ok(ok_with_etag(suspect.version, &suspect))
}

/// File a charge against a suspect, under an offence of the catalogue that is in force.
#[utoipa::path(
    tag = "prosecution",
    operation_id = "create_charge",
    request_body = CreateCharge,
    params(("id" = SuspectId, Path), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe.")),
    responses(
        (status = 201, body = Charge, headers(("ETag" = String), ("Location" = String))),
    )
)]
#[post("/suspects/{id}/charges")]
pub async fn create_charge(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SuspectId>,
    body: ValidatedJson<CreateCharge>,
) -> ApiResult<HttpResponse> {
    let suspect_id = id.into_inner();
    let input = body.0;
    let mut conn = state.conn().await?;
    let case_id = queries::suspect_case(&mut conn, suspect_id).await?;
    cases::ensure_changeable(&mut conn, &user, case_id).await?;
    let charge = conn
        .transaction(async |conn| {
            let case = cases::queries::find_for_update(conn, case_id).await?;
            check_case_date("filed_on", input.filed_on, case.reported_on)?;
            let offence = check_offence(conn, &input.offence_code).await?;
            let now = Utc::now();
            let row = queries::insert_charge(
                conn,
                &ChargeRow {
                    id: ChargeId::new(),
                    suspect_id,
                    case_id,
                    offence_code: offence.code.clone(),
                    court_file_number: trimmed(input.court_file_number.clone()),
                    filed_on: input.filed_on,
                    status: ChargeStatus::Filed,
                    sentence_years: None,
                    sentence_life: false,
                    fine_amount_minor: None,
                    fine_currency: None,
                    decided_on: None,
                    version: 1,
                    created_at: now,
                    updated_at: now,
                },
            )
            .await?;
            let note = format!(
                "Charge filed: {} s.{} ({})",
                offence.title, offence.section, offence.statute
            );
            cases::queries::insert_event(
                conn,
                &EventRow::new(case_id, EventKind::ChargeFiled, row.filed_on, Some(note), user.id),
            )
            .await?;
            AuditEvent::by(&user, "charge.create", "case", case_id)
                .details(json!({"charge_id": row.id, "suspect_id": suspect_id, "offence_code": row.offence_code}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    let location = format!("/api/v1/charges/{}", charge.id);
    Ok(created_with_etag(location, charge.version, &Charge::from(charge)))
}

async fn check_offence(conn: &mut AsyncPgConnection, code: &str) -> ApiResult<super::models::OffenceRow> {
    match queries::find_offence(conn, code).await? {
        None => Err(ApiError::invalid_field(
            "offence_code",
            "unknown_offence",
            "is not in the offence catalogue",
        )),
        Some(o) if !o.in_force => Err(ApiError::invalid_field(
            "offence_code",
            "not_in_force",
            "is no longer in force",
        )),
        Some(o) => Ok(o),
    }
}

/// One charge.
#[utoipa::path(
    tag = "prosecution",
    operation_id = "get_charge",
    params(("id" = ChargeId, Path)),
    responses(
        (status = 200, body = Charge, headers(("ETag" = String))),
    )
)]
#[get("/charges/{id}")]
pub async fn get_charge(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ChargeId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let case_id = queries::charge_case(&mut conn, id).await?;
    cases::ensure_visible(&mut conn, &user, case_id).await?;
    let row = queries::find_charge(&mut conn, id).await?;
    AuditEvent::by(&user, "charge.read", "case", case_id)
        .details(json!({"charge_id": id}))
        .record(&conn)
        .await?;
    Ok(ok_with_etag(row.version, &Charge::from(row)))
}

/// Record a decision on a charge (a conviction or acquittal needs its date), a sentence, or a correction.
#[utoipa::path(
    tag = "prosecution",
    operation_id = "update_charge",
    request_body = UpdateCharge,
    params(("id" = ChargeId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses(
        (status = 200, body = Charge, headers(("ETag" = String))),
    )
)]
#[patch("/charges/{id}")]
pub async fn update_charge(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ChargeId>,
    if_match: IfMatch,
    body: ValidatedJson<UpdateCharge>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    let mut conn = state.conn().await?;
    let case_id = queries::charge_case(&mut conn, id).await?;
    cases::ensure_changeable(&mut conn, &user, case_id).await?;
    let charge = conn
        .transaction(async |conn| {
            let case = cases::queries::find_for_update(conn, case_id).await?;
            let current = queries::lock_charge(conn, id).await?;
            if_match.check(current.version)?;
            if let Some(code) = &input.offence_code {
                check_offence(conn, code).await?;
            }
            let filed_on = input.filed_on.unwrap_or(current.filed_on);
            check_case_date("filed_on", filed_on, case.reported_on)?;
            let status = input.status.unwrap_or(current.status);
            let decided_on = input.decided_on.unwrap_or(current.decided_on);
            if matches!(status, ChargeStatus::Convicted | ChargeStatus::Acquitted) && decided_on.is_none() {
                return Err(ApiError::invalid_field(
                    "decided_on",
                    "required",
                    "is required for a conviction or an acquittal",
                ));
            }
            if let Some(day) = decided_on {
                check_case_date("decided_on", day, filed_on)?;
            }
            let fine = input.fine.clone();
            let changes = ChargeChanges {
                offence_code: input.offence_code.clone(),
                court_file_number: input.court_file_number.clone().map(trimmed),
                filed_on: input.filed_on,
                status: input.status,
                sentence_years: input.sentence_years,
                sentence_life: input.sentence_life,
                fine_amount_minor: fine.as_ref().map(|f| f.as_ref().map(|m| m.amount_minor)),
                fine_currency: fine.map(|f| f.map(|m| m.currency)),
                decided_on: input.decided_on,
            };
            let row = queries::update_charge(conn, id, &changes).await?;
            let decided_now =
                current.status != row.status && matches!(row.status, ChargeStatus::Convicted | ChargeStatus::Acquitted);
            if let (true, Some(day)) = (decided_now, row.decided_on) {
                let note = format!("Verdict on charge {}: {}", row.offence_code, row.status);
                cases::queries::insert_event(
                    conn,
                    &EventRow::new(case_id, EventKind::Verdict, day, Some(note), user.id),
                )
                .await?;
            }
            AuditEvent::by(&user, "charge.update", "case", case_id)
                .details(json!({"charge_id": id, "status": row.status}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(ok_with_etag(charge.version, &Charge::from(charge)))
}
