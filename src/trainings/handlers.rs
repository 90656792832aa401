use actix_web::{HttpResponse, get, patch, post, web};
use chrono::Utc;
use diesel_async::AsyncConnection;
use serde_json::json;

use super::{
    dto::{CreateTraining, Participants, Training, TrainingFilter, UpdateTraining},
    models::{TrainingChanges, TrainingRow},
    queries,
};
use crate::{
    audit::AuditEvent,
    auth::{AuthUser, policy},
    db::pagination::{Page, PageParams},
    error::{ApiError, ApiResult},
    extract::{IfMatch, ValidatedJson, created_with_etag, dedup, ok_with_etag, trimmed},
    ids::TrainingId,
    state::AppState,
};

fn check_dates(starts_on: chrono::NaiveDate, ends_on: chrono::NaiveDate) -> ApiResult<()> {
    if ends_on < starts_on {
        return Err(ApiError::invalid_field(
            "ends_on",
            "before_start",
            "must not be before starts_on",
        ));
    }
    Ok(())
}

/// One entry per audience, stored as JSON.
fn participants_json(participants: &[Participants]) -> ApiResult<serde_json::Value> {
    let mut seen = Vec::new();
    for p in participants {
        if seen.contains(&p.audience) {
            return Err(ApiError::invalid_field(
                "participants",
                "duplicate_audience",
                &format!("lists the audience {} twice; give one entry per audience", p.audience),
            ));
        }
        seen.push(p.audience);
    }
    serde_json::to_value(participants).map_err(ApiError::internal)
}

/// Institution names, trimmed, blanks and repeats dropped.
fn institutions(names: Vec<String>) -> Vec<String> {
    dedup(
        names
            .into_iter()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect(),
    )
}

/// Trainings and mentoring, latest first; filter by dates, county, topic, audience or format.
#[utoipa::path(
    tag = "trainings",
    operation_id = "list_trainings",
    params(TrainingFilter, PageParams),
    responses((status = 200, body = Page<Training>))
)]
#[get("/trainings")]
pub async fn list_trainings(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: crate::extract::Query<TrainingFilter>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ReadTrainings)?;
    crate::extract::check_period(filter.from, filter.to)?;
    let limit = page.limit()?;
    let after = page.after()?;
    let mut conn = state.conn().await?;
    let rows = queries::list(&mut conn, &filter, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |t| (t.starts_on, t.id), Training::from)))
}

/// Record a training, mentoring visit or sensitisation session (analysts, program managers).
#[utoipa::path(
    tag = "trainings",
    operation_id = "create_training",
    request_body = CreateTraining,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe.")),
    responses((status = 201, body = Training, headers(("ETag" = String), ("Location" = String))))
)]
#[post("/trainings")]
pub async fn create_training(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidatedJson<CreateTraining>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::RecordTrainings)?;
    let input = body.0;
    check_dates(input.starts_on, input.ends_on)?;
    let now = Utc::now();
    let row = TrainingRow {
        id: TrainingId::new(),
        title: input.title.trim().to_string(),
        format: input.format,
        topics: dedup(input.topics),
        starts_on: input.starts_on,
        ends_on: input.ends_on,
        county: input.county,
        venue: trimmed(input.venue),
        organising_partner_id: input.organising_partner_id,
        institutions: institutions(input.institutions),
        participants: participants_json(&input.participants)?,
        pre_test_average: input.pre_test_average,
        post_test_average: input.post_test_average,
        recorded_by: Some(user.id),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let mut conn = state.conn().await?;
    let row = conn
        .transaction(async |conn| {
            let row = queries::insert(conn, &row).await?;
            AuditEvent::by(&user, "training.create", "training", row.id)
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(created_with_etag(
        format!("/api/v1/trainings/{}", row.id),
        row.version,
        &Training::from(row),
    ))
}

/// One training.
#[utoipa::path(
    tag = "trainings",
    operation_id = "get_training",
    params(("id" = TrainingId, Path)),
    responses((status = 200, body = Training, headers(("ETag" = String))))
)]
#[get("/trainings/{id}")]
pub async fn get_training(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<TrainingId>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ReadTrainings)?;
    let mut conn = state.conn().await?;
    let row = queries::find(&mut conn, *id).await?;
    Ok(ok_with_etag(row.version, &Training::from(row)))
}

/// Correct a training (analysts, program managers).
#[utoipa::path(
    tag = "trainings",
    operation_id = "update_training",
    request_body = UpdateTraining,
    params(("id" = TrainingId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses((status = 200, body = Training, headers(("ETag" = String))))
)]
#[patch("/trainings/{id}")]
pub async fn update_training(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<TrainingId>,
    if_match: IfMatch,
    body: ValidatedJson<UpdateTraining>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::RecordTrainings)?;
    let input = body.0;
    let id = id.into_inner();
    let participants = input.participants.as_deref().map(participants_json).transpose()?;
    let mut conn = state.conn().await?;
    let row = conn
        .transaction(async |conn| {
            let current = queries::find_for_update(conn, id).await?;
            if_match.check(current.version)?;
            check_dates(
                input.starts_on.unwrap_or(current.starts_on),
                input.ends_on.unwrap_or(current.ends_on),
            )?;
            let changes = TrainingChanges {
                title: input.title.as_deref().map(|t| t.trim().to_string()),
                format: input.format,
                topics: input.topics.clone().map(dedup),
                starts_on: input.starts_on,
                ends_on: input.ends_on,
                county: input.county,
                venue: input.venue.clone().map(trimmed),
                organising_partner_id: input.organising_partner_id,
                institutions: input.institutions.clone().map(institutions),
                participants: participants.clone(),
                pre_test_average: input.pre_test_average,
                post_test_average: input.post_test_average,
            };
            let row = queries::update(conn, id, &changes).await?;
            AuditEvent::by(&user, "training.update", "training", id)
                .details(json!({"version": row.version}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(ok_with_etag(row.version, &Training::from(row)))
}
