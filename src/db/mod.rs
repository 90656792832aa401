//! Connection pool, embedded migrations and the helpers every query module shares.

pub mod enums;
pub mod pagination;
pub mod schema;

use std::time::Duration;

use diesel::Connection;
use diesel_async::{
    AsyncPgConnection,
    async_connection_wrapper::AsyncConnectionWrapper,
    pooled_connection::{
        AsyncDieselConnectionManager,
        deadpool::{BuildError, Object, Pool},
    },
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConn = Object<AsyncPgConnection>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Settings of every pooled connection. JIT compilation off: the service's statements are short,
/// and compiling the expressions of a large one (the alerts) took a second where running it takes
/// a few milliseconds (measured on the benchmark dataset, see docs/performance.md). A transaction
/// left idle is ended: it would hold back the change feed (and vacuum) for everyone.
const SESSION_SETUP: &str = "SET jit = off; SET idle_in_transaction_session_timeout = '60s'";

pub fn build_pool(database_url: &str, max_size: usize, timeout: Duration) -> Result<DbPool, BuildError> {
    use diesel_async::{
        AsyncConnection, SimpleAsyncConnection,
        pooled_connection::{ManagerConfig, RecyclingMethod},
    };
    use futures_util::FutureExt;
    let mut config = ManagerConfig::default();
    // No test query on every checkout: it doubled the round trips of a one-statement request
    // (measured in bench/REPORT.md). A connection the server closed is still refused (the
    // manager checks that the socket is open and no transaction is left broken); one that breaks
    // between checkout and use fails that request with 503, like a failure mid-request would.
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(|url| {
        let url = url.to_string();
        async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            conn.batch_execute(SESSION_SETUP)
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The connections of `haki serve`'s background work (webhook deliveries, purges, emails), on
/// top of the requests' `HAKI_DB_POOL_SIZE`; it opens only what it uses.
pub const BACKGROUND_CONNECTIONS: usize = 4;

/// Applies pending migrations and returns their names. Blocking: call it before the server's
/// runtime starts or from a plain thread (it drives its own runtime when none is current).
pub fn run_migrations(database_url: &str) -> Result<Vec<String>, BoxError> {
    let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(database_url)?;
    let applied = conn.run_pending_migrations(MIGRATIONS)?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}

/// Migrates as the schema's owner (`owner_url`), then gives the service's own role (the user of
/// `service_url`) what it needs and no more: it reads and writes records, appends to the audit
/// log, and owns nothing — so it can neither disable the audit log's triggers nor change or
/// delete an entry. Without an owner URL the service's role migrates (and owns) everything.
pub fn migrate_as_owner(service_url: &str, owner_url: Option<&str>) -> Result<Vec<String>, BoxError> {
    use diesel::connection::SimpleConnection;
    let Some(owner_url) = owner_url else {
        // A replica started with the service's role only (the migrations applied beforehand by
        // the owner) writes nothing when nothing is pending: that role may not create tables.
        if pending_migrations(service_url)?.is_empty() {
            return Ok(Vec::new());
        }
        return run_migrations(service_url);
    };
    let applied = run_migrations(owner_url)?;
    let service_role = current_user(service_url)?;
    if service_role != current_user(owner_url)? {
        let mut owner = AsyncConnectionWrapper::<AsyncPgConnection>::establish(owner_url)?;
        owner.batch_execute(&service_grants(&service_role))?;
        // A role that still owns a table could switch the audit log's triggers off: refuse to
        // start rather than run so (a database made before the split: REASSIGN OWNED).
        let owned = owned_by(&mut owner, &service_role)?;
        if owned > 0 {
            return Err(format!(
                "the service's role {service_role} owns {owned} objects of the schema; hand them to the owner \
                 (REASSIGN OWNED BY {service_role} TO <owner>) so it cannot disable the audit log's triggers"
            )
            .into());
        }
    }
    Ok(applied)
}

/// The versions of the embedded migrations that the database at `url` has not applied, found by
/// reading alone.
pub fn pending_migrations(url: &str) -> Result<Vec<String>, BoxError> {
    use diesel::{RunQueryDsl, migration::MigrationSource, pg::Pg};
    #[derive(diesel::QueryableByName)]
    struct Applied {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    #[derive(diesel::QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(url)?;
    // A database never migrated has no such table.
    let table: Exists = diesel::sql_query("SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS exists")
        .get_result(&mut conn)?;
    let applied: Vec<String> = if table.exists {
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Applied>(&mut conn)?
            .into_iter()
            .map(|r| r.version)
            .collect()
    } else {
        Vec::new()
    };
    Ok(MigrationSource::<Pg>::migrations(&MIGRATIONS)?
        .iter()
        .map(|m| m.name().version().to_string())
        .filter(|v| !applied.contains(v))
        .collect())
}

fn owned_by(conn: &mut AsyncConnectionWrapper<AsyncPgConnection>, role: &str) -> Result<i64, BoxError> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
         WHERE s.nspname = 'public' AND pg_get_userbyid(c.relowner) = $1",
    )
    .bind::<diesel::sql_types::Text, _>(role)
    .get_result(conn)?;
    Ok(count.n)
}

fn current_user(url: &str) -> Result<String, BoxError> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Me {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(url)?;
    let me: Me = diesel::sql_query("SELECT current_user::text AS name").get_result(&mut conn)?;
    Ok(me.name)
}

/// The privileges of the service's role over the schema (re-applied after every migration, so new
/// tables are covered).
pub fn service_grants(role: &str) -> String {
    let role = format!("\"{}\"", role.replace('"', "\"\""));
    format!(
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;
         GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
         GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role};
         REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON __diesel_schema_migrations FROM {role};
         REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {role};"
    )
}

diesel::define_sql_function! {
    /// SQL `lower(text)`.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

diesel::define_sql_function! {
    /// When a survivor's next assessment is due; NULL once her restoration is closed (the schedule
    /// is in the migration `assessment_schedule`).
    #[sql_name = "survivor_next_assessment_due"]
    fn next_assessment_due(survivor: diesel::sql_types::Uuid) -> diesel::sql_types::Nullable<diesel::sql_types::Date>;
}

/// Escapes `%`, `_` and `\` so user text matches literally inside a LIKE pattern.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A statement written in SQL, like [`diesel::sql_query`], but prepared once per connection and
/// reused (`sql_query` is prepared and planned again on every call, which for the large
/// statements of the dashboard, the report, the alerts and the change feed cost more than
/// running them: see docs/performance.md). Bind values with `.bind::<SqlType, _>(value)`; read
/// rows with `QueryableByName`. For statements whose text is one of a few, never built from
/// input.
#[derive(Debug, Clone)]
pub struct Prepared(std::borrow::Cow<'static, str>);

pub fn prepared(sql: impl Into<std::borrow::Cow<'static, str>>) -> Prepared {
    Prepared(sql.into())
}

impl Prepared {
    pub fn bind<ST, Value>(self, value: Value) -> Bound<Self, Value, ST> {
        Bound::new(self, value)
    }
}

/// A [`Prepared`] statement and the values bound so far (the last one in `value`).
#[derive(Debug, Clone)]
pub struct Bound<Query, Value, ST> {
    query: Query,
    value: Value,
    sql_type: std::marker::PhantomData<ST>,
}

impl<Query, Value, ST> Bound<Query, Value, ST> {
    fn new(query: Query, value: Value) -> Self {
        Bound {
            query,
            value,
            sql_type: std::marker::PhantomData,
        }
    }

    pub fn bind<ST2, Value2>(self, value: Value2) -> Bound<Self, Value2, ST2> {
        Bound::new(self, value)
    }
}

impl<Query, Value, ST> diesel::query_builder::QueryFragment<diesel::pg::Pg> for Bound<Query, Value, ST>
where
    Query: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
    Value: diesel::serialize::ToSql<ST, diesel::pg::Pg>,
    diesel::pg::Pg: diesel::sql_types::HasSqlType<ST>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_bind_param_value_only(&self.value)
    }
}

impl<Query, Value, ST> diesel::query_builder::QueryId for Bound<Query, Value, ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Query, Value, ST> diesel::query_builder::Query for Bound<Query, Value, ST> {
    type SqlType = diesel::sql_types::Untyped;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for Prepared {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        out.push_sql(&self.0);
        Ok(())
    }
}

/// Cached by its text (the statement cache's key when there is no static id).
impl diesel::query_builder::QueryId for Prepared {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for Prepared {
    type SqlType = diesel::sql_types::Untyped;
}
