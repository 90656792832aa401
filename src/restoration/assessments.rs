//! Outcome assessments on six domains, scored 1.0 (most vulnerable) to 4.0.

use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;
use diesel_async::AsyncConnection;
use serde_json::json;

use super::{
    dto::{Assessment, CreateAssessment, tenths},
    models::AssessmentRow,
    queries, trimmed,
};
use crate::{
    audit::AuditEvent,
    auth::AuthUser,
    db::pagination::{Page, PageParams},
    error::{ApiError, ApiResult},
    extract::ValidatedJson,
    ids::{AssessmentId, SurvivorId},
    state::AppState,
    survivors,
};

/// The survivor's assessments, latest first, with the derived overall score and threshold.
#[utoipa::path(
    tag = "restoration",
    operation_id = "list_assessments",
    params(("id" = SurvivorId, Path), PageParams),
    responses((status = 200, body = Page<Assessment>))
)]
#[get("/survivors/{id}/assessments")]
pub async fn list_assessments(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let limit = page.limit()?;
    let after = page.after()?;
    let mut conn = state.conn().await?;
    survivors::ensure_restoration(&mut conn, &user, id).await?;
    let rows = queries::assessments_of(&mut conn, id, after, limit).await?;
    AuditEvent::by(&user, "assessment.list", "survivor", id)
        .record(&conn)
        .await?;
    let threshold = state.config.assessment_threshold;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |a| (a.assessed_on, a.id),
        |r| Assessment::build(r, threshold),
    )))
}

/// Record an assessment; every domain score is required, 1.0 to 4.0.
#[utoipa::path(
    tag = "restoration",
    operation_id = "create_assessment",
    request_body = CreateAssessment,
    params(("id" = SurvivorId, Path), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe.")),
    responses((status = 201, body = Assessment))
)]
#[post("/survivors/{id}/assessments")]
pub async fn create_assessment(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
    body: ValidatedJson<CreateAssessment>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    crate::cases::dto::check_not_future("assessed_on", input.assessed_on)?;
    let mut conn = state.conn().await?;
    survivors::ensure_restoration(&mut conn, &user, id).await?;
    crate::auth::policy::require(&user, crate::auth::policy::Permission::ChangeRestoration)?;
    let s = input.scores;
    let row = conn
        .transaction(async |conn| {
            let survivor = crate::survivors::queries::lock(conn, id).await?;
            if input.assessed_on < survivor.intake_on {
                return Err(ApiError::invalid_field(
                    "assessed_on",
                    "before_intake",
                    "must not be before intake_on",
                ));
            }
            let row = queries::insert_assessment(
                conn,
                &AssessmentRow {
                    id: AssessmentId::new(),
                    survivor_id: id,
                    kind: input.kind,
                    assessed_on: input.assessed_on,
                    safety: tenths(s.safety),
                    legal_protection: tenths(s.legal_protection),
                    mental_wellbeing: tenths(s.mental_wellbeing),
                    economic_empowerment_education: tenths(s.economic_empowerment_education),
                    social_support: tenths(s.social_support),
                    physical_wellbeing: tenths(s.physical_wellbeing),
                    notes: trimmed(input.notes.clone()),
                    recorded_by: Some(user.id),
                    created_at: Utc::now(),
                },
            )
            .await?;
            AuditEvent::by(&user, "assessment.create", "survivor", id)
                .details(json!({"assessment_id": row.id, "kind": row.kind}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(Assessment::build(row, state.config.assessment_threshold)))
}
