//! The audit trail: one writer used by every domain, and the admin's view of it.
//! The table is append-only; the database itself rejects UPDATE, DELETE and TRUNCATE.

pub mod handlers;
mod reads;

pub use reads::record_reads;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use crate::{
    auth::{AuthUser, Role},
    db::schema::audit_log,
    extract::RequestMeta,
    ids::UserId,
};

/// One audited act: who (actor and role), did what (action), to what (resource type and id),
/// from where (request id, client address), with what details (never secrets).
#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditEvent {
    actor_id: Option<UserId>,
    actor_role: Option<Role>,
    action: String,
    resource_type: String,
    resource_id: Option<String>,
    request_id: Option<String>,
    client_addr: Option<String>,
    details: Value,
}

impl AuditEvent {
    /// An act of an authenticated user.
    /// An act of an authenticated user; done with an API key, the entry names the key.
    pub fn by(user: &AuthUser, action: &str, resource_type: &str, resource_id: impl ToString) -> Self {
        AuditEvent {
            actor_id: Some(user.id),
            actor_role: Some(user.role),
            details: match user.api_key {
                Some(key) => serde_json::json!({"api_key": key}),
                None => Value::Object(Default::default()),
            },
            ..Self::anonymous(&user.meta, action, resource_type, Some(resource_id.to_string()))
        }
    }

    /// An act with no authenticated actor yet (a login attempt).
    pub fn anonymous(meta: &RequestMeta, action: &str, resource_type: &str, resource_id: Option<String>) -> Self {
        AuditEvent {
            actor_id: None,
            actor_role: None,
            action: action.to_string(),
            resource_type: resource_type.to_string(),
            resource_id,
            request_id: Some(meta.request_id.clone()).filter(|id| !id.is_empty()),
            client_addr: meta.client_addr(),
            details: Value::Object(Default::default()),
        }
    }

    /// An act done from the command line on the server itself.
    pub fn operator(action: &str, resource_type: &str, resource_id: impl ToString) -> Self {
        AuditEvent {
            client_addr: Some("cli".into()),
            request_id: None,
            ..Self::anonymous(
                &RequestMeta {
                    request_id: String::new(),
                    client_ip: None,
                },
                action,
                resource_type,
                Some(resource_id.to_string()),
            )
        }
    }

    pub fn actor(mut self, id: UserId, role: Role) -> Self {
        self.actor_id = Some(id);
        self.actor_role = Some(role);
        self
    }

    /// The entry's details (the API key an act was done with is kept).
    pub fn details(mut self, details: Value) -> Self {
        let key = self.details.get("api_key").cloned();
        self.details = details;
        if let (Some(key), Value::Object(map)) = (key, &mut self.details) {
            map.insert("api_key".into(), key);
        }
        self
    }

    /// Writes the entry; call it inside the transaction of the change it records. Inside an
    /// idempotent request this also marks its claim committed, in that same transaction (see
    /// `idempotency::mark_committed`).
    /// The two statements go out together (pipelined): the connection is taken shared, so the
    /// caller may send other statements of the same transaction alongside.
    pub async fn record(self, conn: &AsyncPgConnection) -> QueryResult<()> {
        let insert = diesel::insert_into(audit_log::table).values(&self).execute(&mut &*conn);
        futures_util::try_join!(insert, crate::idempotency::mark_committed(conn)).map(|_| ())
    }

    /// Writes several entries in one statement (e.g. one per record of a list page). The
    /// statement's text is the same for any number of entries (arrays, unnested), so each
    /// connection prepares it once.
    pub async fn record_all(events: Vec<AuditEvent>, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        InsertAll::of(&events).execute_on(conn).await
    }
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_audit_log);
}

/// `INSERT INTO audit_log … SELECT * FROM unnest($1, …, $8)`: one row per entry, eight array
/// parameters whatever their number.
struct InsertAll {
    actor_ids: Vec<Option<uuid::Uuid>>,
    actor_roles: Vec<Option<String>>,
    actions: Vec<String>,
    resource_types: Vec<String>,
    resource_ids: Vec<Option<String>>,
    request_ids: Vec<Option<String>>,
    client_addrs: Vec<Option<String>>,
    details: Vec<Value>,
}

impl InsertAll {
    async fn execute_on(self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        self.execute(conn).await.map(|_| ())
    }

    fn of(events: &[AuditEvent]) -> Self {
        InsertAll {
            actor_ids: events.iter().map(|e| e.actor_id.map(|id| id.0)).collect(),
            actor_roles: events
                .iter()
                .map(|e| e.actor_role.map(|r| r.as_ref().to_string()))
                .collect(),
            actions: events.iter().map(|e| e.action.clone()).collect(),
            resource_types: events.iter().map(|e| e.resource_type.clone()).collect(),
            resource_ids: events.iter().map(|e| e.resource_id.clone()).collect(),
            request_ids: events.iter().map(|e| e.request_id.clone()).collect(),
            client_addrs: events.iter().map(|e| e.client_addr.clone()).collect(),
            details: events.iter().map(|e| e.details.clone()).collect(),
        }
    }
}

impl diesel::query_builder::QueryId for InsertAll {
    type QueryId = InsertAll;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for InsertAll {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        use diesel::sql_types::{Array, Jsonb, Nullable, Text, Uuid};
        out.push_sql(
            "INSERT INTO audit_log (actor_id, actor_role, action, resource_type, resource_id, request_id, \
             client_addr, details) SELECT * FROM unnest(",
        );
        out.push_bind_param::<Array<Nullable<Uuid>>, _>(&self.actor_ids)?;
        out.push_sql("::uuid[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.actor_roles)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.actions)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.resource_types)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.resource_ids)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.request_ids)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.client_addrs)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Jsonb>, _>(&self.details)?;
        out.push_sql("::jsonb[])");
        Ok(())
    }
}
