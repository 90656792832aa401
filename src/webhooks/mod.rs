//! Webhooks: partners and the program subscribe an HTTPS address to events; each event is written
//! to the outbox (`webhook_deliveries`) in the transaction of the change that raised it, and a
//! worker in the service delivers it, signed, retried with backoff (`delivery`). Payloads are thin:
//! the event, ids, the new status and a link — never a survivor's details.

pub mod delivery;
pub mod handlers;

use diesel::sql_types::{Nullable, Text, Uuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::{
    ids::{CaseId, CourtSessionId, PartnerId, ReferralId},
    referrals::models::ReferralStatus,
    text_enum,
};

text_enum! {
    /// What a webhook can hear about. `referral.status_changed`: a referral was acknowledged,
    /// accepted, declined or withdrawn (partners hear about their own referrals only).
    /// `case.stage_changed`: a case moved to another stage. `court_session.scheduled`: a court
    /// session was scheduled. `survivor.follow_up_due`: a survivor's two-year follow-up is due
    /// within 30 days (told once). The last three are the program's only.
    pub enum EventType {
        #[serde(rename = "referral.status_changed")] #[strum(serialize = "referral.status_changed")] ReferralStatusChanged,
        #[serde(rename = "case.stage_changed")] #[strum(serialize = "case.stage_changed")] CaseStageChanged,
        #[serde(rename = "court_session.scheduled")] #[strum(serialize = "court_session.scheduled")] CourtSessionScheduled,
        #[serde(rename = "survivor.follow_up_due")] #[strum(serialize = "survivor.follow_up_due")] SurvivorFollowUpDue,
    }
}

impl EventType {
    /// Events a partner organisation's webhook may subscribe to.
    pub fn for_partners(self) -> bool {
        self == EventType::ReferralStatusChanged
    }
}

/// The deliveries of one event to every active webhook that subscribed to it and may hear it:
/// the event's envelope (`$1` its type) around `data` (`$2`), for the program's webhooks and, when
/// a partner organisation (`$3`) is given, that organisation's. One event id for all.
fn emit_sql() -> String {
    format!(
        "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, payload)
         SELECT gen_random_uuid(), w.id, e.id, $1::text,
                jsonb_build_object('id', e.id, 'type', $1::text, 'created_at', now(), 'data', e.data)
           FROM (SELECT gen_random_uuid() AS id, $2::jsonb AS data) e, webhooks w
          WHERE $1::text = ANY (w.events) AND (w.organization_id IS NULL OR w.organization_id = $3::uuid)
            AND {}",
        delivery::STILL_ENTITLED
    )
}

async fn emit(
    conn: &mut AsyncPgConnection,
    event: EventType,
    data: serde_json::Value,
    partner: Option<uuid::Uuid>,
) -> diesel::QueryResult<()> {
    diesel::sql_query(emit_sql())
        .bind::<Text, _>(event.as_ref())
        .bind::<diesel::sql_types::Jsonb, _>(data)
        .bind::<Nullable<Uuid>, _>(partner)
        .execute(conn)
        .await
        .map(|_| ())
}

/// A referral's status changed: tell the program's webhooks and its organisation's.
pub async fn referral_status_changed(conn: &mut AsyncPgConnection, referral: ReferralId) -> diesel::QueryResult<()> {
    use diesel::{ExpressionMethods, NullableExpressionMethods, QueryDsl};

    use crate::db::schema::{cases, referrals};
    let (partner, external_id, status, reference): (PartnerId, String, ReferralStatus, Option<String>) =
        referrals::table
            .left_join(cases::table)
            .filter(referrals::id.eq(referral))
            .select((
                referrals::partner_id,
                referrals::external_id,
                referrals::status,
                cases::reference.nullable(),
            ))
            .first(conn)
            .await?;
    emit(
        conn,
        EventType::ReferralStatusChanged,
        serde_json::json!({
            "referral_id": referral, "external_id": external_id, "status": status,
            "case_reference": reference, "url": format!("/api/v1/referrals/{referral}"),
        }),
        Some(partner.0),
    )
    .await
}

/// A case moved from one stage to another: tell the program's webhooks.
pub async fn case_stage_changed(
    conn: &mut AsyncPgConnection,
    case: CaseId,
    reference: &str,
    from: crate::cases::models::Stage,
    to: crate::cases::models::Stage,
) -> diesel::QueryResult<()> {
    emit(
        conn,
        EventType::CaseStageChanged,
        serde_json::json!({
            "case_id": case, "reference": reference, "from": from, "to": to,
            "url": format!("/api/v1/cases/{case}"),
        }),
        None,
    )
    .await
}

/// A court session was scheduled: tell the program's webhooks.
pub async fn court_session_scheduled(
    conn: &mut AsyncPgConnection,
    session: CourtSessionId,
    case: CaseId,
    scheduled_on: chrono::NaiveDate,
) -> diesel::QueryResult<()> {
    emit(
        conn,
        EventType::CourtSessionScheduled,
        serde_json::json!({
            "court_session_id": session, "case_id": case, "scheduled_on": scheduled_on,
            "url": format!("/api/v1/court-sessions/{session}"),
        }),
        None,
    )
    .await
}

/// Follow-ups that came within 30 days of their due date since the last look: each is noted and
/// its event queued for the program's webhooks in one statement, once, whichever instance looks.
pub async fn follow_ups_due(conn: &mut AsyncPgConnection) -> diesel::QueryResult<usize> {
    diesel::sql_query(format!(
        "WITH noticed AS (
             INSERT INTO follow_up_notices (follow_up_id)
             SELECT f.id FROM follow_ups f
              WHERE f.status = 'scheduled'
                AND f.due_on <= (now() AT TIME ZONE 'Africa/Nairobi')::date + 30
                AND NOT EXISTS (SELECT 1 FROM follow_up_notices x WHERE x.follow_up_id = f.id)
             ON CONFLICT DO NOTHING
             RETURNING follow_up_id),
         events AS (
             SELECT gen_random_uuid() AS id, f.id AS follow_up_id, f.survivor_id, f.due_on
               FROM noticed n JOIN follow_ups f ON f.id = n.follow_up_id)
         INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, payload)
         SELECT gen_random_uuid(), w.id, e.id, 'survivor.follow_up_due',
                jsonb_build_object('id', e.id, 'type', 'survivor.follow_up_due', 'created_at', now(),
                  'data', jsonb_build_object('follow_up_id', e.follow_up_id, 'survivor_id', e.survivor_id,
                                             'due_on', e.due_on, 'url', '/api/v1/follow-ups/' || e.follow_up_id))
           FROM events e, webhooks w
          WHERE w.organization_id IS NULL AND 'survivor.follow_up_due' = ANY (w.events)
            AND {}",
        delivery::STILL_ENTITLED
    ))
    .execute(conn)
    .await
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_webhooks)
        .service(handlers::create_webhook)
        .service(handlers::delete_webhook)
        .service(handlers::list_deliveries)
        .service(handlers::redeliver);
}
