//! The `haki` command: serve (default), migrate, openapi, user create.

use std::io::BufRead;

use clap::{Args, Parser, Subcommand};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use haki::{
    audit::AuditEvent,
    auth::{Role, password},
    config::{self, Config},
    db,
    ids::{PartnerId, UserId},
    state::AppState,
    users::{models::NewUser, queries},
};

/// mimalloc returns freed memory sooner than the system allocator, which kept each password
/// hashing thread's 19 MiB blocks (docs/performance.md, "Memory"), and allocates faster.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "haki", version, about = "Haki case-management API")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve the API (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Load a small fictional demo dataset (skipped when already loaded). The demo users' password
    /// is read from HAKI_DEMO_PASSWORD (default: "haki demo password"). Refused on a database that
    /// holds other data, unless forced.
    SeedDemo {
        /// Load it even into a database that holds other records.
        #[arg(long)]
        force: bool,
    },
    /// Re-encrypt every stored identity, second-factor secret and webhook signing secret, and
    /// rewrap every document's key, with the current HAKI_DATA_KEY (after a key rotation, with
    /// the old key in HAKI_DATA_KEYS_PREVIOUS); then the old key can be retired.
    ReencryptIdentities,
    /// Fill an empty database with a synthetic dataset for the benchmarks: N cases with their
    /// suspects, charges, court sessions, survivors, services, assessments, consents, referrals,
    /// documents' metadata and audit entries, and the people and partners they need. Every
    /// generated account's password is HAKI_BENCH_PASSWORD (default "bench passphrase, not for use").
    SeedBench {
        /// How many cases (e.g. 10000, 100000, 1000000).
        #[arg(long)]
        cases: u64,
    },
    /// Back up the database (a pg_dump archive) and the document store's objects (encrypted)
    /// into a directory. The keys are not in it: keep HAKI_DATA_KEY and HAKI_JWT_SECRET apart.
    Backup {
        /// The directory to write (created if missing).
        dir: std::path::PathBuf,
    },
    /// Restore a backup made by `haki backup` into an empty database and the configured
    /// document store, then apply any newer migrations.
    Restore {
        /// The backup's directory.
        dir: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from the first line of standard input.
    Create(CreateUserArgs),
}

#[derive(Args)]
struct CreateUserArgs {
    #[arg(long)]
    email: String,
    /// admin, program_manager, case_worker, aftercare_officer, analyst or partner.
    #[arg(long)]
    role: Role,
    /// Partner organisation id (required for the partner role).
    #[arg(long)]
    organization: Option<uuid::Uuid>,
    /// Display name (defaults to the email).
    #[arg(long)]
    name: Option<String>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    if let Err(err) = run(Cli::parse()) {
        eprintln!("haki: {err}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<(), BoxError> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&haki::openapi::spec())?);
            Ok(())
        }
        Command::Migrate => migrate(&config::database_url()?),
        Command::Serve => {
            let config = Config::from_env()?;
            migrate(&config.database_url)?;
            serve(config)
        }
        Command::User(UserCommand::Create(args)) => create_user(args),
        Command::ReencryptIdentities => reencrypt_identities(Config::from_env()?),
        Command::SeedBench { cases } => {
            let url = config::owner_database_url()?;
            migrate(&config::database_url()?)?;
            seed_bench(&url, cases)
        }
        Command::Backup { dir } => backup(&dir, false),
        Command::Restore { dir } => {
            backup(&dir, true)?;
            migrate(&config::database_url()?)
        }
        Command::SeedDemo { force } => {
            let url = config::database_url()?;
            migrate(&url)?;
            seed_demo(&url, force)
        }
    }
}

/// Migrations run as the schema's owner when `HAKI_MIGRATION_DATABASE_URL` names one.
fn migrate(database_url: &str) -> Result<(), BoxError> {
    let owner = config::migration_database_url();
    for name in db::migrate_as_owner(database_url, owner.as_deref())? {
        log::info!("applied migration {name}");
    }
    Ok(())
}

#[actix_web::main]
async fn serve(config: Config) -> Result<(), BoxError> {
    // Requests use the HTTP workers' pools (AppState::conn); this one is background work's.
    let pool = db::build_pool(&config.database_url, db::BACKGROUND_CONNECTIONS, config.db_timeout)?;
    let bind = config.bind;
    let shutdown = config.shutdown_timeout;
    let state = AppState::new(config, pool)?;
    if state.config.db_pool_size < state.http_workers() {
        log::warn!(
            "HAKI_DB_POOL_SIZE={} is fewer than the {} HTTP workers: each gets one connection ({} in all)",
            state.config.db_pool_size,
            state.http_workers(),
            state.http_workers()
        );
    }
    // Work that goes on after an answer runs here, on the main runtime, which outlives the HTTP
    // workers: a stopping server finishes it.
    state.jobs.run_on(tokio::runtime::Handle::current());
    // Stored idempotent responses are purged once their 24 hours are over; what ended sessions,
    // challenges and reset tokens leave behind once it can matter no more; the tallies' shards are
    // folded together.
    // Background work stops between rounds when the server stops: a round in progress (a purge, a
    // batch of webhook deliveries) is finished, not cut off.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let purging = state.clone();
    let mut purge_stopping = stopping.clone();
    let purge = actix_web::rt::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(15 * 60));
        loop {
            tokio::select! {
                biased;
                _ = purge_stopping.changed() => break,
                _ = every.tick() => {}
            }
            match haki::idempotency::purge_expired(&purging).await {
                Ok(0) => {}
                Ok(n) => log::info!("purged {n} expired idempotent responses"),
                Err(err) => log::warn!("could not purge expired idempotent responses: {err}"),
            }
            match haki::documents::store::sweep(&purging, chrono::Duration::hours(1)).await {
                Ok(0) => {}
                Ok(n) => log::info!("removed {n} stored objects of uploads that never committed"),
                Err(err) => log::warn!("could not sweep the document store: {err}"),
            }
            match haki::auth::sessions::purge_expired(&purging).await {
                Ok(0) => {}
                Ok(n) => log::info!("purged {n} rows of ended sessions, challenges and reset tokens"),
                Err(err) => log::warn!("could not purge ended sessions: {err}"),
            }
            match haki::stats::tallies::merge_shards(&purging).await {
                Ok(0) => {}
                Ok(n) => log::info!("folded {n} tally shards"),
                Err(err) => log::warn!("could not fold tally shards: {err}"),
            }
        }
    });
    // Webhook deliveries, from the outbox (any number of replicas may run this).
    let deliveries = state
        .config
        .webhook_delivery
        .then(|| actix_web::rt::spawn(haki::webhooks::delivery::run(state.clone(), stopping)));
    let served = state.clone();
    let mut server = haki::with_connection_limits(actix_web::HttpServer::new(move || haki::build_app(served.clone())))
        .disable_signals()
        .shutdown_timeout(shutdown.as_secs());
    server = server.workers(state.http_workers());
    let server = server.bind(bind).map_err(|e| -> BoxError {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            format!("{bind} is already in use (another Haki?); set HAKI_BIND to a free address, e.g. HAKI_BIND=127.0.0.1:8081").into()
        } else {
            format!("cannot listen on {bind}: {e}; HAKI_BIND sets the address").into()
        }
    })?;
    // Bound and listening from here on.
    for addr in server.addrs() {
        log::info!("Haki listening on http://{addr} — API docs at http://{addr}/docs/ (spec: /openapi.json)");
    }
    let server = server.run();
    let handle = server.handle();
    // Ctrl-C (SIGINT) and SIGTERM alike: stop accepting, let requests in flight finish, let the
    // background loops finish the round under way and start no other, let the jobs started by
    // answered requests finish — all within HAKI_SHUTDOWN_TIMEOUT_SECONDS of the signal — then
    // exit. A second signal stops at once.
    let stop = std::sync::Arc::new(stop);
    let signalled_at = std::sync::Arc::new(std::sync::OnceLock::new());
    let at_once = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let (stop, signalled_at, at_once) = (stop.clone(), signalled_at.clone(), at_once.clone());
        actix_web::rt::spawn(async move {
            let signal = shutdown_signal().await;
            let _ = signalled_at.set(tokio::time::Instant::now());
            log::info!("{signal} received: finishing requests in flight, then stopping (again to stop at once)");
            let _ = stop.send(true);
            let graceful = handle.clone();
            actix_web::rt::spawn(async move { graceful.stop(true).await });
            let signal = shutdown_signal().await;
            log::warn!("{signal} received again: stopping now");
            at_once.store(true, std::sync::atomic::Ordering::SeqCst);
            handle.stop(false).await;
        });
    }
    server.await?;
    let _ = stop.send(true);
    if !at_once.load(std::sync::atomic::Ordering::SeqCst) {
        let deadline = signalled_at.get().copied().unwrap_or_else(tokio::time::Instant::now) + shutdown;
        let background = async {
            let _ = purge.await;
            if let Some(deliveries) = deliveries {
                let _ = deliveries.await;
            }
            state.jobs.finish().await;
        };
        if tokio::time::timeout_at(deadline, background).await.is_err() {
            log::warn!("background work did not finish within the shutdown timeout; it resumes on the next start");
        }
    }
    log::info!("Haki stopped");
    Ok(())
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

#[actix_web::main]
async fn create_user(args: CreateUserArgs) -> Result<(), BoxError> {
    let database_url = config::database_url()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let secret = line.trim_end_matches(['\r', '\n']).to_string();
    let min = usize::try_from(password::MIN_PASSWORD_LEN).unwrap_or(12);
    if secret.chars().count() < min {
        return Err(format!("the password (read from stdin) must have at least {min} characters").into());
    }
    // The same rule as the API's: no password a guessing list would try early.
    if let Err(e) = password::not_common(&secret) {
        let why = e
            .message
            .map(|m| m.to_string())
            .unwrap_or_else(|| "is too easy to guess".into());
        return Err(format!("the password (read from stdin) {why}").into());
    }
    if args.role == Role::Partner && args.organization.is_none() {
        return Err("--organization is required for the partner role".into());
    }
    let hash = password::hash_blocking(&secret).map_err(|e| e.to_string())?;
    let mut conn = AsyncPgConnection::establish(&database_url).await?;
    let email = args.email.trim().to_string();
    let name = args.name.unwrap_or_else(|| email.clone());
    let user = conn
        .transaction(async |conn| {
            let user = queries::insert(
                conn,
                &NewUser {
                    id: UserId::new(),
                    email: &email,
                    display_name: &name,
                    password_hash: &hash,
                    role: args.role,
                    organization_id: args.organization.map(PartnerId),
                },
            )
            .await?;
            AuditEvent::operator("user.create", "user", user.id)
                .details(serde_json::json!({"role": user.role, "via": "cli"}))
                .record(conn)
                .await?;
            Ok::<_, diesel::result::Error>(user)
        })
        .await
        .map_err(|e| -> BoxError {
            match e {
                diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                    format!("a user with the email {email} already exists").into()
                }
                diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::ForeignKeyViolation, _) => {
                    "--organization names no partner organisation".into()
                }
                other => other.into(),
            }
        })?;
    println!("created {} user {} ({})", user.role, user.email, user.id);
    Ok(())
}

#[actix_web::main]
async fn seed_demo(database_url: &str, force: bool) -> Result<(), BoxError> {
    let secret = std::env::var("HAKI_DEMO_PASSWORD").unwrap_or_else(|_| "haki demo password".into());
    let hash = password::hash_blocking(&secret).map_err(|e| e.to_string())?;
    let config = Config::from_env()?;
    let vault = haki::survivors::vault::Vault::new(&config.data_key, &config.data_keys_previous);
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    match haki::demo::seed(&mut conn, &hash, &vault, force).await? {
        haki::demo::Seeded::AlreadyLoaded => println!("demo data already loaded"),
        haki::demo::Seeded::Refused(holding) => {
            return Err(format!(
                "this database holds {holding} that are not the demo's; fictional records are not mixed into \
                 real ones. Use an empty database, or `seed-demo --force` to load them anyway."
            )
            .into());
        }
        haki::demo::Seeded::Loaded(summary) => {
            let store = haki::documents::store::open(&config.document_store)?;
            let documents = haki::demo::documents(&mut conn, &*store, &vault).await?;
            println!(
                "demo data loaded: cases {}; {documents} documents",
                summary.cases.join(", ")
            );
            println!("demo users (password: {secret:?}):");
            for (email, role) in summary.users {
                println!("  {email:<26} {role}");
            }
        }
    }
    Ok(())
}

#[actix_web::main]
async fn seed_bench(database_url: &str, cases: u64) -> Result<(), BoxError> {
    use std::io::Write;
    let secret = std::env::var("HAKI_BENCH_PASSWORD").unwrap_or_else(|_| "bench passphrase, not for use".into());
    let hash = password::hash_blocking(&secret).map_err(|e| e.to_string())?;
    let scale = haki::seed_bench::Scale::new(cases);
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    let started = std::time::Instant::now();
    let width = 40;
    haki::seed_bench::seed(&mut conn, &scale, &hash, |done| {
        let filled = (done * width / cases.max(1)) as usize;
        let secs = started.elapsed().as_secs_f64();
        let rate = done as f64 / secs.max(0.001);
        let left = (cases - done) as f64 / rate.max(1.0);
        eprint!(
            "\r[{}{}] {done}/{cases} cases, {secs:.0} s, about {left:.0} s left ",
            "#".repeat(filled),
            ".".repeat(width as usize - filled)
        );
        let _ = std::io::stderr().flush();
    })
    .await?;
    eprintln!();
    println!(
        "seeded {cases} cases in {:.1} s ({} case workers, {} aftercare officers, {} partners); rows:",
        started.elapsed().as_secs_f64(),
        scale.case_workers,
        scale.aftercare_officers,
        scale.partners
    );
    for t in haki::seed_bench::table_sizes(&mut conn).await? {
        println!("  {:<28} {:>12}", t.table, t.rows);
    }
    Ok(())
}

#[actix_web::main]
async fn backup(dir: &std::path::Path, restore: bool) -> Result<(), BoxError> {
    let url = config::owner_database_url()?;
    let store = haki::documents::store::open(&config::document_store())?;
    if restore {
        let objects = haki::backup::restore(&url, store, dir).await?;
        println!(
            "restored the database and {objects} document objects from {}",
            dir.display()
        );
    } else {
        let objects = haki::backup::backup(&url, store, dir).await?;
        println!(
            "backed up the database and {objects} document objects to {}",
            dir.display()
        );
    }
    Ok(())
}

#[actix_web::main]
async fn reencrypt_identities(config: Config) -> Result<(), BoxError> {
    let vault = haki::survivors::vault::Vault::new(&config.data_key, &config.data_keys_previous);
    let mut conn = AsyncPgConnection::establish(&config.database_url).await?;
    let count = conn
        .transaction(async |conn| {
            // Locked until commit: a concurrent PUT of an identity waits instead of being overwritten.
            use haki::survivors::vault::{IDENTITIES, reseal_stale};
            let count = reseal_stale(conn, &vault, &IDENTITIES).await?;
            let factors = reseal_stale(conn, &vault, &haki::auth::mfa::SEALED_SECRETS).await?;
            let documents = reseal_stale(conn, &vault, &haki::documents::SEALED_KEYS).await?;
            let webhooks = reseal_stale(conn, &vault, &haki::webhooks::handlers::SEALED_SECRETS).await?;
            AuditEvent::operator("identities.reencrypt", "system", "identity-vault")
                .details(
                    serde_json::json!({"count": count, "second_factors": factors, "documents": documents,
                                       "webhooks": webhooks, "key_id": vault.current_key_id()}),
                )
                .record(conn)
                .await?;
            Ok::<_, BoxError>((count, factors, documents, webhooks))
        })
        .await?;
    let (count, factors, documents, webhooks) = count;
    println!(
        "re-encrypted {count} identities, {factors} second-factor secrets and {webhooks} webhook signing secrets, and rewrapped {documents} document keys, with key {}",
        vault.current_key_id()
    );
    Ok(())
}
