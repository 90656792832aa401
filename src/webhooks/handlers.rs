use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use validator::Validate;

use super::{EventType, delivery::reachable};
use crate::{
    audit::AuditEvent,
    auth::{AuthUser, policy},
    db::{
        pagination::{Page, PageParams},
        schema::{webhook_deliveries, webhooks},
    },
    error::{ApiError, ApiResult, Problem},
    extract::ValidatedJson,
    ids::{PartnerId, UserId},
    state::AppState,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhooks)]
pub struct WebhookRow {
    pub id: uuid::Uuid,
    pub owner_id: UserId,
    pub organization_id: Option<PartnerId>,
    pub url: String,
    pub events: Vec<EventType>,
    pub secret_key_id: String,
    pub secret_nonce: Vec<u8>,
    pub secret_ciphertext: Vec<u8>,
    pub active: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
}

/// A subscription of an address to events.
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    pub id: uuid::Uuid,
    pub url: String,
    pub events: Vec<EventType>,
    pub owner_id: UserId,
    /// A partner organisation's webhook hears about its own referrals only.
    pub organization_id: Option<PartnerId>,
    /// False once disabled (failing too long) or deleted.
    pub active: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed (`null`: the last one succeeded).
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<WebhookRow> for Webhook {
    fn from(r: WebhookRow) -> Self {
        Webhook {
            id: r.id,
            url: r.url,
            events: r.events,
            owner_id: r.owner_id,
            organization_id: r.organization_id,
            active: r.active,
            disabled_reason: r.disabled_reason,
            failing_since: r.failing_since,
            created_at: r.created_at,
            deleted_at: r.deleted_at,
        }
    }
}

/// A new webhook with its signing secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// Verify each delivery's `X-Haki-Signature` with it (see docs/integrating.md).
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// An `https://` address on the public internet (never a private network).
    #[validate(length(min = 1, max = 2000))]
    #[schema(min_length = 1, max_length = 2000, example = "https://cjc.example.org/haki/events")]
    pub url: String,
    /// The events to hear about (partners: `referral.status_changed`).
    #[validate(length(min = 1, max = 10))]
    #[schema(min_items = 1, max_items = 10)]
    pub events: Vec<EventType>,
}

crate::text_enum! {
    /// `pending` (due at `next_attempt_at`), `delivered`, or `failed` after the last attempt.
    pub enum DeliveryStatus { Pending, Delivered, Failed }
}

/// One attempt record of an event to a webhook.
#[derive(Debug, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: uuid::Uuid,
    pub webhook_id: uuid::Uuid,
    /// The event's id, the same in every attempt (`X-Haki-Event-Id`): de-duplicate by it.
    pub event_id: uuid::Uuid,
    pub event_type: EventType,
    pub payload: serde_json::Value,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// When the next attempt is due (while `pending`).
    pub next_attempt_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// How many webhooks one account may keep (each multiplies the service's outgoing traffic).
const MAX_WEBHOOKS: i64 = 20;

/// Checks an address a webhook may call: `https://`, or `http://` to loopback where configured
/// for development; never an address written in a private network.
fn check_url(url: &str, allow_loopback: bool) -> ApiResult<()> {
    let bad = |message: &str| ApiError::invalid_field("url", "unreachable_url", message);
    let parsed = reqwest::Url::parse(url).map_err(|_| bad("must be an absolute https:// address"))?;
    let host = parsed.host_str().ok_or_else(|| bad("must name a host"))?;
    let ip = host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok();
    let loopback = ip.is_some_and(|ip| ip.is_loopback()) || host.eq_ignore_ascii_case("localhost");
    match parsed.scheme() {
        "https" => {}
        "http" if loopback && allow_loopback => {}
        _ => return Err(bad("must be an https:// address")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(
            "must not carry credentials; the signature authenticates deliveries",
        ));
    }
    if let Some(ip) = ip
        && !reachable(ip, allow_loopback)
    {
        return Err(bad("must not be in a private, loopback or link-local network"));
    }
    if loopback && !allow_loopback {
        return Err(bad("must not be in a private, loopback or link-local network"));
    }
    Ok(())
}

/// The webhook, if the caller may manage it (its owner, or an admin); 404 otherwise.
async fn find_own(conn: &mut AsyncPgConnection, user: &AuthUser, id: uuid::Uuid) -> ApiResult<WebhookRow> {
    webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .first(conn)
        .await
        .optional()?
        .filter(|w| w.owner_id == user.id || policy::allows(user.role, policy::Permission::ManageIntegrations))
        .ok_or_else(ApiError::not_found)
}

/// Your webhooks (admins: everyone's), newest first.
#[utoipa::path(
    tag = "integration",
    operation_id = "list_webhooks",
    params(PageParams),
    responses((status = 200, body = Page<Webhook>))
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    user: AuthUser,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ManageWebhooks)?;
    let limit = page.limit()?;
    let mut query = webhooks::table.select(WebhookRow::as_select()).into_boxed();
    if !policy::allows(user.role, policy::Permission::ManageIntegrations) {
        query = query.filter(webhooks::owner_id.eq(user.id));
    }
    if let Some(after) = page.after::<uuid::Uuid>()? {
        query = query.filter(webhooks::id.lt(after));
    }
    let mut conn = state.conn().await?;
    let rows: Vec<WebhookRow> = query
        .order(webhooks::id.desc())
        .limit(limit + 1)
        .load(&mut conn)
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, Webhook::from)))
}

/// Subscribe an address to events. A partner organisation's user hears about its own referrals
/// only (`referral.status_changed`); program managers and admins about every event. The signing
/// secret is in this answer only (an answer holding a secret is never stored for replay).
#[utoipa::path(
    tag = "integration",
    operation_id = "create_webhook",
    request_body = CreateWebhook,
    responses(
        (status = 201, body = CreatedWebhook, headers(("Location" = String))),
        (status = 409, description = "The account keeps the most webhooks it may", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidatedJson<CreateWebhook>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ManageWebhooks)?;
    let input = body.0;
    let url = input.url.trim().to_string();
    check_url(&url, state.config.webhook_allow_loopback)?;
    let partner = policy::partner_scope(&user);
    if partner.is_some()
        && let Some(i) = input.events.iter().position(|e| !e.for_partners())
    {
        return Err(ApiError::invalid_field(
            &format!("events[{i}]"),
            "not_for_partners",
            "a partner organisation hears about its own referrals only (referral.status_changed)",
        ));
    }
    let events = crate::extract::dedup(input.events);
    let id = uuid::Uuid::now_v7();
    let secret = crate::auth::new_secret("whsec_");
    let sealed = state
        .vault
        .seal_bound(&SEALED_SECRETS.binding(id), secret.as_bytes())
        .map_err(ApiError::internal)?;
    let mut conn = state.conn().await?;
    let row = conn
        .transaction(async |conn| {
            let live: i64 = webhooks::table
                .filter(webhooks::owner_id.eq(user.id))
                .filter(webhooks::deleted_at.is_null())
                .count()
                .get_result(conn)
                .await?;
            if live >= MAX_WEBHOOKS {
                return Err(ApiError::conflict(
                    crate::error::ErrorCode::TooManyWebhooks,
                    format!("An account may keep {MAX_WEBHOOKS} webhooks; delete one first."),
                ));
            }
            let row: WebhookRow = diesel::insert_into(webhooks::table)
                .values(&WebhookRow {
                    id,
                    owner_id: user.id,
                    organization_id: partner,
                    url,
                    events,
                    secret_key_id: sealed.key_id,
                    secret_nonce: sealed.nonce,
                    secret_ciphertext: sealed.ciphertext,
                    active: true,
                    disabled_reason: None,
                    failing_since: None,
                    created_at: Utc::now(),
                    deleted_at: None,
                    last_failure_at: None,
                })
                .returning(WebhookRow::as_returning())
                .get_result(conn)
                .await?;
            // The host, not the whole address: query strings often carry tokens.
            let host = reqwest::Url::parse(&row.url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string));
            AuditEvent::by(&user, "webhook.create", "webhook", row.id)
                .details(json!({"host": host, "events": row.events}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/webhooks/{}", row.id)))
        .json(CreatedWebhook {
            webhook: row.into(),
            secret,
        }))
}

/// Delete a webhook: nothing more is delivered to it; its deliveries stay readable.
#[utoipa::path(
    tag = "integration",
    operation_id = "delete_webhook",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The webhook, deleted", body = Webhook))
)]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ManageWebhooks)?;
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let row = conn
        .transaction(async |conn| {
            let current = find_own(conn, &user, id).await?;
            if current.deleted_at.is_some() {
                return Ok(current);
            }
            let row: WebhookRow = diesel::update(webhooks::table.find(id))
                .set((webhooks::active.eq(false), webhooks::deleted_at.eq(Utc::now())))
                .returning(WebhookRow::as_returning())
                .get_result(conn)
                .await?;
            diesel::update(webhook_deliveries::table)
                .filter(webhook_deliveries::webhook_id.eq(id))
                .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
                .set((
                    webhook_deliveries::status.eq(DeliveryStatus::Failed),
                    webhook_deliveries::last_error.eq("the webhook was deleted"),
                    webhook_deliveries::claim_token.eq(None::<uuid::Uuid>),
                ))
                .execute(conn)
                .await?;
            AuditEvent::by(&user, "webhook.delete", "webhook", id)
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Webhook::from(row)))
}

/// A webhook's deliveries, newest first: status, attempts, the last answer or error.
#[utoipa::path(
    tag = "integration",
    operation_id = "list_webhook_deliveries",
    params(("id" = uuid::Uuid, Path), PageParams),
    responses((status = 200, body = Page<Delivery>))
)]
#[get("/webhooks/{id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<uuid::Uuid>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ManageWebhooks)?;
    let limit = page.limit()?;
    let after = page.after::<uuid::Uuid>()?;
    let mut conn = state.conn().await?;
    let webhook = find_own(&mut conn, &user, id.into_inner()).await?;
    let mut query = webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook.id))
        .select(Delivery::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(webhook_deliveries::id.lt(after));
    }
    let rows: Vec<Delivery> = query
        .order(webhook_deliveries::id.desc())
        .limit(limit + 1)
        .load(&mut conn)
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |d| d.id, |d| d)))
}

/// Send a delivery again (delivered or failed ones too): it is due at once, with the same event
/// id, and its attempts count anew.
#[utoipa::path(
    tag = "integration",
    operation_id = "redeliver_webhook_delivery",
    params(("id" = uuid::Uuid, Path), ("delivery" = uuid::Uuid, Path)),
    responses(
        (status = 202, description = "Due again", body = Delivery),
        (status = 409, description = "The webhook is disabled or deleted, or the delivery is being sent right now", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks/{id}/deliveries/{delivery}/redeliver")]
pub async fn redeliver(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ManageWebhooks)?;
    let (id, delivery) = path.into_inner();
    let mut conn = state.conn().await?;
    let row = conn
        .transaction(async |conn| {
            let webhook = find_own(conn, &user, id).await?;
            if !webhook.active {
                return Err(ApiError::conflict(
                    crate::error::ErrorCode::WebhookDisabled,
                    "The webhook is disabled or deleted; create it again to receive deliveries.",
                ));
            }
            let in_flight: Option<Option<uuid::Uuid>> = webhook_deliveries::table
                .filter(webhook_deliveries::id.eq(delivery))
                .filter(webhook_deliveries::webhook_id.eq(id))
                .select(webhook_deliveries::claim_token)
                .for_update()
                .first(conn)
                .await
                .optional()?;
            match in_flight {
                None => return Err(ApiError::not_found()),
                Some(Some(_)) => {
                    return Err(ApiError::conflict(
                        crate::error::ErrorCode::DeliveryInFlight,
                        "This delivery is being sent right now; look again in a minute.",
                    ));
                }
                Some(None) => {}
            }
            let row: Delivery = diesel::update(webhook_deliveries::table)
                .filter(webhook_deliveries::id.eq(delivery))
                .filter(webhook_deliveries::webhook_id.eq(id))
                .set((
                    webhook_deliveries::status.eq(DeliveryStatus::Pending),
                    webhook_deliveries::attempts.eq(0),
                    webhook_deliveries::next_attempt_at.eq(Utc::now()),
                ))
                .returning(Delivery::as_returning())
                .get_result(conn)
                .await
                .optional()?
                .ok_or_else(ApiError::not_found)?;
            AuditEvent::by(&user, "webhook.redeliver", "webhook", id)
                .details(json!({"delivery_id": delivery}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(HttpResponse::Accepted().json(row))
}

/// Where webhook signing secrets are sealed (re-sealed by `vault::reseal_stale` after a
/// rotation).
pub const SEALED_SECRETS: crate::survivors::vault::SealedColumns = crate::survivors::vault::SealedColumns {
    table: "webhooks",
    id: "id",
    key_id: "secret_key_id",
    nonce: "secret_nonce",
    ciphertext: "secret_ciphertext",
    binding_prefix: b"",
};
