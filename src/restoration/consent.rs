//! Consent, enforced by the server: later features ask [`allows`] before sharing identifying
//! data with a partner, using a story in advocacy, or anything else that needs it.

use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use super::{
    dto::{Consent, CreateConsent, WithdrawConsent},
    models::{ConsentPurpose, ConsentRow, GivenBy},
    queries, trimmed,
};
use crate::{
    audit::AuditEvent,
    auth::AuthUser,
    db::pagination::{Page, PageParams},
    error::{ApiError, ApiResult, ErrorCode, Problem},
    extract::{IfMatch, ValidatedJson, created_with_etag, ok_with_etag},
    ids::{ConsentId, PartnerId, SurvivorId},
    state::AppState,
    survivors::{self, queries as survivor_queries},
};

/// Does a consent in effect today allow this use of the survivor's data? A withdrawal takes
/// effect at once. For `data_sharing` with a recipient, the recipient must be named in the consent.
pub async fn allows(
    conn: &mut AsyncPgConnection,
    survivor: SurvivorId,
    purpose: ConsentPurpose,
    recipient: Option<PartnerId>,
) -> diesel::QueryResult<bool> {
    queries::consent_in_effect(conn, survivor, purpose, recipient, crate::vocab::today()).await
}

/// The survivor's consents, latest recorded first (withdrawn ones included).
#[utoipa::path(
    tag = "restoration",
    operation_id = "list_consents",
    params(("id" = SurvivorId, Path), PageParams),
    responses((status = 200, body = Page<Consent>))
)]
#[get("/survivors/{id}/consents")]
pub async fn list_consents(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let limit = page.limit()?;
    let after: Option<ConsentId> = page.after()?;
    let mut conn = state.conn().await?;
    survivors::ensure_restoration(&mut conn, &user, id).await?;
    let rows = queries::consents_of(&mut conn, id, after, limit).await?;
    AuditEvent::by(&user, "consent.list", "survivor", id)
        .record(&conn)
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |c| c.id, Consent::from)))
}

/// One consent.
#[utoipa::path(
    tag = "restoration",
    operation_id = "get_consent",
    params(("id" = ConsentId, Path)),
    responses((status = 200, body = Consent, headers(("ETag" = String))))
)]
#[get("/consents/{id}")]
pub async fn get_consent(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ConsentId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let survivor = queries::consent_survivor(&mut conn, id).await?;
    survivors::ensure_restoration(&mut conn, &user, survivor).await?;
    let row = queries::find_consent(&mut conn, id).await?;
    AuditEvent::by(&user, "consent.read", "survivor", survivor)
        .details(json!({"consent_id": id}))
        .record(&conn)
        .await?;
    Ok(ok_with_etag(row.version, &Consent::from(row)))
}

/// Record a consent. For a child (possibly under 18 on the day consent is given) it is given by a
/// guardian, with the child's assent recorded.
#[utoipa::path(
    tag = "restoration",
    operation_id = "create_consent",
    request_body = CreateConsent,
    params(("id" = SurvivorId, Path), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe.")),
    responses((status = 201, body = Consent, headers(("ETag" = String), ("Location" = String))))
)]
#[post("/survivors/{id}/consents")]
pub async fn create_consent(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
    body: ValidatedJson<CreateConsent>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    if input.given_on > crate::vocab::today() {
        return Err(ApiError::invalid_field(
            "given_on",
            "in_future",
            "must not be in the future",
        ));
    }
    if input.expires_on.is_some_and(|e| e < input.given_on) {
        return Err(ApiError::invalid_field(
            "expires_on",
            "before_given",
            "must not be before given_on",
        ));
    }
    let mut conn = state.conn().await?;
    survivors::ensure_restoration(&mut conn, &user, id).await?;
    crate::auth::policy::require(&user, crate::auth::policy::Permission::ChangeRestoration)?;
    let row = conn
        .transaction(async |conn| {
            // Whether a guardian must consent depends on her age when consent is given.
            let survivor = survivor_queries::find(conn, id).await?;
            if survivor.may_be_child_on(input.given_on) {
                if input.given_by != GivenBy::Guardian {
                    return Err(ApiError::invalid_field(
                        "given_by",
                        "guardian_required",
                        "a child's consent is given by a guardian",
                    ));
                }
                if input.child_assent.is_none() {
                    return Err(ApiError::invalid_field(
                        "child_assent",
                        "required",
                        "record whether the child assented",
                    ));
                }
            }
            if !input.recipients.is_empty() {
                if input.purpose != ConsentPurpose::DataSharing {
                    return Err(ApiError::invalid_field(
                        "recipients",
                        "not_data_sharing",
                        "recipients are named only for data_sharing",
                    ));
                }
                let unique = crate::extract::dedup(input.recipients.clone());
                if crate::partners::queries::count_existing(conn, &unique).await? != unique.len() {
                    return Err(ApiError::invalid_field(
                        "recipients",
                        "unknown_partner",
                        "every recipient must be a partner organisation",
                    ));
                }
            }
            if input.given_by == GivenBy::Guardian && trimmed(input.guardian_relationship.clone()).is_none() {
                return Err(ApiError::invalid_field(
                    "guardian_relationship",
                    "required",
                    "is required when a guardian consents",
                ));
            }
            let row = queries::insert_consent(
                conn,
                &ConsentRow {
                    id: ConsentId::new(),
                    survivor_id: id,
                    purpose: input.purpose,
                    given_by: input.given_by,
                    guardian_relationship: trimmed(input.guardian_relationship.clone()),
                    child_assent: input.child_assent,
                    given_on: input.given_on,
                    expires_on: input.expires_on,
                    recipients: crate::extract::dedup(input.recipients.clone()),
                    notes: trimmed(input.notes.clone()),
                    withdrawn_at: None,
                    withdrawn_reason: None,
                    recorded_by: Some(user.id),
                    created_at: Utc::now(),
                    version: 1,
                },
            )
            .await?;
            AuditEvent::by(&user, "consent.create", "survivor", id)
                .details(json!({"consent_id": row.id, "purpose": row.purpose}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    let location = format!("/api/v1/consents/{}", row.id);
    Ok(created_with_etag(location, row.version, &Consent::from(row)))
}

/// Withdraw a consent; it stops allowing anything at once.
#[utoipa::path(
    tag = "restoration",
    operation_id = "withdraw_consent",
    request_body = WithdrawConsent,
    params(("id" = ConsentId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses(
        (status = 200, body = Consent, headers(("ETag" = String))),
        (status = 409, description = "Already withdrawn", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/consents/{id}/withdraw")]
pub async fn withdraw_consent(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ConsentId>,
    if_match: IfMatch,
    body: ValidatedJson<WithdrawConsent>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let reason = trimmed(body.0.reason);
    let mut conn = state.conn().await?;
    let survivor = queries::consent_survivor(&mut conn, id).await?;
    survivors::ensure_restoration(&mut conn, &user, survivor).await?;
    crate::auth::policy::require(&user, crate::auth::policy::Permission::ChangeRestoration)?;
    let row = conn
        .transaction(async |conn| {
            let current = queries::lock_consent(conn, id).await?;
            if_match.check_if_sent(current.version)?;
            if current.withdrawn_at.is_some() {
                return Err(ApiError::conflict(
                    ErrorCode::AlreadyWithdrawn,
                    "This consent was already withdrawn.",
                ));
            }
            let row = queries::withdraw_consent(conn, id, reason.clone()).await?;
            AuditEvent::by(&user, "consent.withdraw", "survivor", survivor)
                .details(json!({"consent_id": id, "purpose": row.purpose}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(ok_with_etag(row.version, &Consent::from(row)))
}
