//! Test harness: every test gets its own database, cloned from a template migrated once, and
//! drives the real application (`build_app`) over its HTTP interface.
#![allow(dead_code)]

use std::{
    collections::hash_map::DefaultHasher,
    hash::{Hash, Hasher},
    net::SocketAddr,
    sync::{Arc, LazyLock, Mutex},
};

use actix_http::Request;
use actix_service::boxed::{self, BoxService};
use actix_web::{
    body::{BoxBody, to_bytes},
    dev::ServiceResponse,
    http::{StatusCode, header::HeaderMap},
    test::{self, TestRequest},
    web::Bytes,
};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use haki::{
    auth::{Role, password},
    config::Config,
    db,
    ids::{PartnerId, UserId},
    state::AppState,
    users::{models::NewUser, queries as user_queries},
};
use serde_json::Value;

pub const PASSWORD: &str = "correct horse battery staple";
/// The token the test instance's `/metrics` requires.
pub const METRICS_TOKEN: &str = "metrics-test-token";
static PASSWORD_HASH: LazyLock<String> = LazyLock::new(|| password::hash_blocking(PASSWORD).expect("hash"));

/// The hash of [`PASSWORD`], for accounts created outside `create_user` (the demo dataset).
pub fn password_hash() -> &'static str {
    &PASSWORD_HASH
}

pub fn base_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL must point at a PostgreSQL server (make test sets it up)")
}

/// The same server URL with another database name.
pub fn url_for(database: &str) -> String {
    let url = base_url();
    let (without_query, query) = match url.split_once('?') {
        Some((u, q)) => (u.to_string(), format!("?{q}")),
        None => (url.clone(), String::new()),
    };
    let head = match without_query.rsplit_once('/') {
        Some((head, _)) if head.contains("://") && head.len() > head.find("://").unwrap() + 3 => head.to_string(),
        _ => without_query.clone(),
    };
    format!("{head}/{database}{query}")
}

/// The template's name changes whenever a migration changes, so a stale template is never used.
fn template_name() -> String {
    let mut hasher = DefaultHasher::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut entries: Vec<_> = walk(&dir);
    entries.sort();
    for path in entries {
        path.to_string_lossy().hash(&mut hasher);
        std::fs::read(&path).expect("read migration").hash(&mut hasher);
    }
    format!("haki_tpl_{:016x}", hasher.finish())
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("migrations dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path))
        } else {
            out.push(path)
        }
    }
    out
}

async fn admin_conn() -> AsyncPgConnection {
    AsyncPgConnection::establish(&base_url())
        .await
        .expect("connect to the test server")
}

async fn ensure_template(conn: &mut AsyncPgConnection) -> String {
    let name = template_name();
    // Serialises template creation across test processes.
    diesel::sql_query("SELECT pg_advisory_lock(727274)")
        .execute(conn)
        .await
        .expect("lock");
    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let found: Exists = diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
        .bind::<diesel::sql_types::Text, _>(&name)
        .get_result(conn)
        .await
        .expect("query template");
    if !found.exists {
        let building = format!("{name}_building");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {building}"))
            .execute(conn)
            .await
            .expect("drop");
        diesel::sql_query(format!("CREATE DATABASE {building}"))
            .execute(conn)
            .await
            .expect("create template");
        let url = url_for(&building);
        std::thread::spawn(move || db::run_migrations(&url).expect("migrate template"))
            .join()
            .expect("migration thread");
        diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
            .execute(conn)
            .await
            .expect("rename");
    }
    diesel::sql_query("SELECT pg_advisory_unlock(727274)")
        .execute(conn)
        .await
        .expect("unlock");
    name
}

pub fn test_config(database_url: String) -> Config {
    Config {
        database_url,
        bind: "127.0.0.1:0".parse().expect("addr"),
        jwt_secret: b"test-secret-that-is-at-least-32-bytes-long".to_vec(),
        jwt_issuer: "haki".into(),
        jwt_audience: "haki-api".into(),
        token_ttl: std::time::Duration::from_secs(900),
        db_pool_size: 4,
        db_timeout: std::time::Duration::from_secs(2),
        cors_origins: vec!["http://dashboard.example".into()],
        body_limit: 64 * 1024,
        body_idle_timeout: std::time::Duration::from_secs(1),
        small_cell_k: 5,
        export_k: 5,
        session_idle: std::time::Duration::from_secs(30 * 60),
        session_lifetime: std::time::Duration::from_secs(12 * 3600),
        api_key_rate_per_minute: 600,
        webhook_allow_loopback: true,
        webhook_timeout: std::time::Duration::from_secs(2),
        webhook_max_attempts: 5,
        webhook_backoff: std::time::Duration::ZERO,
        webhook_disable_after: std::time::Duration::from_secs(72 * 3600),
        webhook_poll: std::time::Duration::from_secs(1),
        webhook_delivery: false,
        login_rate_per_minute: 10,
        lockout_threshold: 5,
        lockout_duration: std::time::Duration::from_secs(900),
        mfa_required_roles: Vec::new(),
        password_reset_ttl: std::time::Duration::from_secs(24 * 3600),
        smtp_url: None,
        mail_from: None,
        password_reset_url: None,
        document_store: std::env::temp_dir()
            .join("haki-test-documents")
            .to_string_lossy()
            .into_owned(),
        document_max_bytes: 25 * 1024 * 1024,
        trusted_proxies: vec!["10.9.0.0/16".parse().unwrap()],
        metrics_token: Some(METRICS_TOKEN.to_string()),
        workers: 1,
        shutdown_timeout: std::time::Duration::from_secs(1),
        data_key: [42; 32],
        data_keys_previous: Vec::new(),
        assessment_threshold: 3.0,
        referral_urgent_window: std::time::Duration::from_secs(24 * 3600),
        referral_emergency_window: std::time::Duration::from_secs(2 * 3600),
    }
}

/// Every line logged in this test process (debug and above), so that a test can check what the
/// service writes to its logs; warnings and errors also go to the output of a failing test.
static LOGGED: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Debug
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!("{} {} {}", record.level(), record.target(), record.args());
        if record.level() <= log::Level::Warn {
            eprintln!("{line}");
        }
        LOGGED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(line);
    }

    fn flush(&self) {}
}

fn capture_logs() {
    static CAPTURE: Capture = Capture;
    if log::set_logger(&CAPTURE).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
}

/// The log lines written so far by this test process.
pub fn logged() -> Vec<String> {
    LOGGED.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

pub struct TestApp {
    pub state: Arc<AppState>,
    pub db_name: String,
    service: BoxService<Request, ServiceResponse<BoxBody>, actix_web::Error>,
    /// Whether dropping it removes the database (a second instance on it does not).
    owns_database: bool,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// An app whose documents live in `store` (e.g. an S3-compatible server of the test).
    pub async fn with_store(store: Arc<dyn object_store::ObjectStore>) -> Self {
        Self::build(|_| {}, Some(store)).await
    }

    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::build(adjust, None).await
    }

    async fn build(adjust: impl FnOnce(&mut Config), store: Option<Arc<dyn object_store::ObjectStore>>) -> Self {
        capture_logs();
        let mut admin = admin_conn().await;
        let template = ensure_template(&mut admin).await;
        let db_name = format!("haki_test_{}", uuid::Uuid::now_v7().simple());
        diesel::sql_query(format!("CREATE DATABASE {db_name} TEMPLATE {template}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let mut config = test_config(url_for(&db_name));
        // Each test its own document store (a sweep in one must not see another's objects).
        config.document_store = std::env::temp_dir()
            .join("haki-test-documents")
            .join(&db_name)
            .to_string_lossy()
            .into_owned();
        adjust(&mut config);
        let pool = db::build_pool(&config.database_url, config.db_pool_size, config.db_timeout).expect("pool");
        let mut state = AppState::new(config, pool).expect("state");
        if let Some(store) = store {
            Arc::get_mut(&mut state).expect("state not shared yet").documents = store;
        }
        let service = boxed::service(test::init_service(haki::build_app(state.clone())).await);
        TestApp {
            state,
            db_name,
            service,
            owns_database: true,
        }
    }

    /// A second instance of the service on this test's database and document store, configured
    /// otherwise by `adjust` (e.g. after a key rotation).
    pub async fn restarted(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = self.state.config.clone();
        adjust(&mut config);
        let pool = db::build_pool(&config.database_url, config.db_pool_size, config.db_timeout).expect("pool");
        let state = AppState::new(config, pool).expect("state");
        let service = boxed::service(test::init_service(haki::build_app(state.clone())).await);
        TestApp {
            state,
            db_name: self.db_name.clone(),
            service,
            owns_database: false,
        }
    }

    /// A direct connection to this test's database, to set up fixtures and check what was written.
    pub async fn conn(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.state.config.database_url)
            .await
            .expect("connect")
    }

    pub async fn send(&self, req: TestRequest) -> Resp {
        let res = test::call_service(&self.service, req.to_request()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let body = to_bytes(res.into_body()).await.unwrap_or_default();
        Resp { status, headers, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send(TestRequest::get().uri(path).insert_header(bearer(token)))
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.send(
            TestRequest::post()
                .uri(path)
                .insert_header(bearer(token))
                .set_json(body),
        )
        .await
    }

    pub async fn patch(&self, path: &str, token: &str, if_match: Option<&str>, body: Value) -> Resp {
        let mut req = TestRequest::patch()
            .uri(path)
            .insert_header(bearer(token))
            .set_json(body);
        if let Some(tag) = if_match {
            req = req.insert_header(("If-Match", tag));
        }
        self.send(req).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.login_from(email, password, "10.0.0.1:5000").await
    }

    pub async fn login_from(&self, email: &str, password: &str, peer: &str) -> Resp {
        let peer: SocketAddr = peer.parse().expect("peer");
        self.send(
            TestRequest::post()
                .uri("/api/v1/auth/login")
                .peer_addr(peer)
                .set_json(serde_json::json!({"email": email, "password": password})),
        )
        .await
    }

    /// Creates a user straight in the database (password `PASSWORD`).
    pub async fn create_user(&self, role: Role, organization: Option<PartnerId>) -> TestUser {
        let id = UserId::new();
        let email = format!("{}-{}@haki.test", role, id.0.simple());
        let mut conn = self.conn().await;
        user_queries::insert(
            &mut conn,
            &NewUser {
                id,
                email: &email,
                display_name: "Test User",
                password_hash: &PASSWORD_HASH,
                role,
                organization_id: organization,
            },
        )
        .await
        .expect("insert user");
        let token = self.state.jwt.issue(id, role, organization, 1, None).expect("token");
        TestUser { id, email, token, role }
    }

    pub async fn admin(&self) -> TestUser {
        self.create_user(Role::Admin, None).await
    }

    /// A partner organisation created straight in the database.
    pub async fn create_partner(&self, name: &str) -> PartnerId {
        use haki::db::schema::partners;
        let id = PartnerId::new();
        let mut conn = self.conn().await;
        diesel::insert_into(partners::table)
            .values((partners::id.eq(id), partners::name.eq(name), partners::kind.eq("ngo")))
            .execute(&mut conn)
            .await
            .expect("insert partner");
        id
    }

    pub async fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.conn().await;
        let row: Count = diesel::sql_query(format!("SELECT ({sql})::bigint AS n"))
            .get_result(&mut conn)
            .await
            .expect("count");
        row.n
    }

    /// The tallies the dashboard and the indicator report read (kept by triggers as records
    /// change) hold exactly what counting the records from scratch gives.
    pub async fn assert_tallies_agree(&self) {
        let kept = "SELECT measure, day, county, a, b, sum(n), sum(records) FROM tallies GROUP BY 1, 2, 3, 4, 5
                    HAVING sum(n) <> 0 OR sum(records) <> 0";
        let counted =
            "SELECT measure, day, county, a, b, sum(n), sum(records) FROM tally_source GROUP BY 1, 2, 3, 4, 5";
        let drift = self
            .count(&format!(
                "SELECT count(*) FROM (({kept} EXCEPT {counted}) UNION ALL ({counted} EXCEPT {kept})) d"
            ))
            .await;
        assert_eq!(drift, 0, "tallies differ from the records in {drift} rows");
        assert!(
            self.count("SELECT count(*) FROM tallies").await > 0,
            "nothing was tallied"
        );
    }

    /// Runs a statement straight on this test's database (fixtures no endpoint writes as needed).
    pub async fn sql(&self, statement: &str) {
        diesel::sql_query(statement)
            .execute(&mut self.conn().await)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if !self.owns_database {
            return;
        }
        let name = self.db_name.clone();
        let _ = std::fs::remove_dir_all(std::env::temp_dir().join("haki-test-documents").join(&name));
        // Async work cannot run in Drop; a short-lived thread with its own runtime removes the database.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = AsyncPgConnection::establish(&base_url()).await {
                    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

pub struct TestUser {
    pub id: UserId,
    pub email: String,
    pub token: String,
    pub role: Role,
}

pub fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text());
        self
    }

    /// Asserts a problem+json error with this status and code, carrying a request id.
    #[track_caller]
    pub fn expect_problem(&self, status: u16, code: &str) -> Value {
        self.expect(status);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text()
        );
        let body = self.json();
        assert_eq!(body["status"], status);
        assert_eq!(body["code"], code, "{body}");
        assert!(body["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{body}");
        assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string());
        if status == 403 {
            // Every refusal names the permission that was missing, in the detail too.
            let permission = body["extensions"]["permission"]
                .as_str()
                .expect("403 names a permission");
            assert!(body["detail"].as_str().unwrap().contains(permission), "{body}");
        }
        body
    }
}

/// A `multipart/form-data` body of text fields and one file.
pub fn form(fields: &[(&str, &str)], file: Option<&[u8]>) -> (String, Vec<u8>) {
    let boundary = "haki-test-boundary-7d1e";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if let Some(bytes) = file {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../etc/passwd\"\r\nContent-Type: application/pdf\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub fn pdf(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    bytes.extend((0..size.saturating_sub(bytes.len())).map(|i| (i * 7 % 251) as u8));
    bytes
}

/// Uploads a `multipart/form-data` body built by [`form`].
pub async fn upload(app: &TestApp, token: &str, path: &str, fields: &[(&str, &str)], file: Option<&[u8]>) -> Resp {
    let (content_type, body) = form(fields, file);
    app.send(
        TestRequest::post()
            .uri(path)
            .insert_header(bearer(token))
            .insert_header(("Content-Type", content_type))
            .set_payload(body),
    )
    .await
}

/// A PostgreSQL cluster of the test's own (`scripts/pg.sh`), for what a shared server cannot
/// show: a server that stops and starts again, a restore into a fresh cluster. Stopped and
/// removed when dropped.
pub struct Cluster {
    pub dir: std::path::PathBuf,
    pub port: u16,
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = std::env::temp_dir().join(format!("haki-test-cluster-{}", uuid::Uuid::now_v7().simple()));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let cluster = Cluster { dir, port };
        cluster.pg(&["start"]);
        cluster.pg(&[
            "psql",
            "-d",
            "postgres",
            "-c",
            "CREATE ROLE haki_test LOGIN SUPERUSER PASSWORD 'haki_test'",
            "-c",
            "CREATE DATABASE haki OWNER haki_test",
        ]);
        cluster
    }

    /// The URL of its `haki` database.
    pub fn url(&self) -> String {
        format!("postgres://haki_test:haki_test@127.0.0.1:{}/haki", self.port)
    }

    /// Runs SQL in its `haki` database as the superuser.
    pub fn sql(&self, statement: &str) {
        self.pg(&["psql", "-d", "haki", "-v", "ON_ERROR_STOP=1", "-c", statement]);
    }

    /// The URL of its `haki` database for another role.
    pub fn url_as(&self, role: &str, password: &str) -> String {
        format!("postgres://{role}:{password}@127.0.0.1:{}/haki", self.port)
    }

    /// Stops the server (fast shutdown: connections are cut).
    pub fn stop(&self) {
        self.pg(&["stop"]);
    }

    /// Starts it again on the same port.
    pub fn resume(&self) {
        self.pg(&["start"]);
    }

    fn pg(&self, args: &[&str]) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg.sh");
        let mut command = std::process::Command::new(script);
        command.arg(args[0]).arg(&self.dir);
        if args[0] != "stop" {
            command.arg(self.port.to_string());
        }
        command.args(&args[1..]).env("PG_FSYNC", "off");
        let out = command.output().expect("scripts/pg.sh");
        assert!(
            out.status.success(),
            "pg.sh {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.pg(&["stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TestApp {
    /// An app on a database of its own cluster (migrated from scratch), not the shared server.
    pub async fn on_cluster(cluster: &Cluster, adjust: impl FnOnce(&mut Config)) -> TestApp {
        capture_logs();
        let url = cluster.url();
        tokio::task::spawn_blocking(move || db::migrate_as_owner(&url, None).expect("migrate"))
            .await
            .expect("migrate");
        let mut config = test_config(cluster.url());
        config.document_store = cluster.dir.join("documents").to_string_lossy().into_owned();
        adjust(&mut config);
        let pool = db::build_pool(&config.database_url, config.db_pool_size, config.db_timeout).expect("pool");
        let state = AppState::new(config, pool).expect("state");
        let service = boxed::service(test::init_service(haki::build_app(state.clone())).await);
        TestApp {
            state,
            db_name: "haki".into(),
            service,
            owns_database: false,
        }
    }
}

/// A minimal SMTP server that keeps each message it receives; with `hold`, it greets no client
/// before `hold` is notified.
pub async fn smtp_sink(hold: Option<Arc<tokio::sync::Notify>>) -> (u16, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = messages.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = kept.clone();
            let hold = hold.clone();
            tokio::spawn(async move {
                if let Some(hold) = hold {
                    hold.notified().await;
                }
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(message) = data.as_mut() {
                        if line == "." {
                            kept.lock().unwrap().push(data.take().unwrap());
                            write.write_all(b"250 kept\r\n").await.unwrap();
                        } else {
                            message.push_str(&line);
                            message.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go on\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, messages)
}
