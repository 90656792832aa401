//! What every handler shares: configuration, the pool, signing keys, limiters, metrics.

use std::{
    cell::RefCell,
    num::NonZeroU32,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::{
    auth::jwt::JwtKeys,
    config::Config,
    db::{DbConn, DbPool},
    error::ApiResult,
    metrics::Metrics,
    survivors::vault::Vault,
};

pub struct AppState {
    pub config: Config,
    /// Connections for work off the HTTP workers: background rounds, jobs, commands, tests.
    pub pool: DbPool,
    /// The pools of the HTTP workers, one per worker thread (see [`AppState::conn`]), for the
    /// metrics.
    worker_pools: Mutex<Vec<(std::thread::ThreadId, DbPool)>>,
    /// Tells this state's worker pools from another's on the same thread (tests run many).
    id: u64,
    pub jwt: JwtKeys,
    /// Failed logins per client address: only failures count, so an office of colleagues behind
    /// one address can all sign in, while a burst of wrong guesses is stopped.
    pub login_failures: crate::auth::limits::LoginFailures,
    /// Requests per API key (each key its own budget).
    pub api_key_limiter: DefaultKeyedRateLimiter<crate::ids::ApiKeyId>,
    pub metrics: Metrics,
    pub vault: Vault,
    /// Where documents are stored (encrypted).
    pub documents: std::sync::Arc<dyn object_store::ObjectStore>,
    /// Sends reset links when an SMTP server is configured.
    pub mailer: Option<crate::mail::Mailer>,
    /// Keys the hashes the service keeps of what clients send (idempotent requests, typed login
    /// emails), so they cannot be reversed by guessing without the server's secret. Set up once;
    /// each hash starts from a copy.
    hash_mac: hmac::Hmac<sha2::Sha256>,
    /// Work that goes on after its request was answered (a reset email after the 202).
    pub jobs: Jobs,
}

/// Work that outlives the request that started it. `haki serve` runs it on its main runtime,
/// which outlives the HTTP workers, and waits for it when it stops; elsewhere (tests) it runs
/// where it was started.
#[derive(Default)]
pub struct Jobs {
    tracker: tokio_util::task::TaskTracker,
    runtime: std::sync::OnceLock<tokio::runtime::Handle>,
}

impl Jobs {
    /// Runs the jobs from now on on `runtime` (the server's main one).
    pub fn run_on(&self, runtime: tokio::runtime::Handle) {
        let _ = self.runtime.set(runtime);
    }

    pub fn spawn(&self, job: impl std::future::Future<Output = ()> + Send + 'static) {
        match self.runtime.get() {
            Some(runtime) => {
                self.tracker.spawn_on(job, runtime);
            }
            None => {
                self.tracker.spawn(job);
            }
        }
    }

    /// Waits for every job started so far; none is accepted after.
    pub async fn finish(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}

impl AppState {
    pub fn new(config: Config, pool: DbPool) -> Result<Arc<Self>, crate::db::BoxError> {
        if config.login_rate_per_minute == 0 {
            return Err("HAKI_LOGIN_RATE_PER_MINUTE must be at least 1".into());
        }
        let per_key =
            NonZeroU32::new(config.api_key_rate_per_minute).ok_or("HAKI_API_KEY_RATE_PER_MINUTE must be at least 1")?;
        static IDS: AtomicU64 = AtomicU64::new(0);
        Ok(Arc::new(AppState {
            worker_pools: Mutex::default(),
            id: IDS.fetch_add(1, Ordering::Relaxed),
            jwt: JwtKeys::new(&config),
            api_key_limiter: RateLimiter::keyed(Quota::per_minute(per_key)),
            login_failures: crate::auth::limits::LoginFailures::new(config.login_rate_per_minute),
            metrics: Metrics::new()?,
            mailer: crate::mail::Mailer::from_config(&config)?,
            documents: crate::documents::store::open(&config.document_store)?,
            vault: Vault::new(&config.data_key, &config.data_keys_previous),
            hash_mac: hash_mac(&config.jwt_secret)?,
            jobs: Jobs::default(),
            config,
            pool,
        }))
    }

    /// HMAC-SHA256 of `parts` (each length-prefixed, so their boundaries count) under the
    /// server's hash key.
    pub fn keyed_hash(&self, parts: &[&[u8]]) -> Vec<u8> {
        use hmac::Mac;
        let mut mac = self.hash_mac.clone();
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// A pooled connection; a database that cannot be reached becomes a 503. On an HTTP worker
    /// it comes from that worker's own pool: a connection's I/O runs on the thread that opened it,
    /// so a connection shared between workers wakes the other thread on every statement (measured:
    /// a quarter of the throughput of a read by id, see docs/performance.md).
    pub async fn conn(&self) -> ApiResult<DbConn> {
        let own = WORKER_POOL.with(|own| match &*own.borrow() {
            Some((id, pool)) if *id == self.id => Some(pool.clone()),
            _ => None,
        });
        Ok(own.as_ref().unwrap_or(&self.pool).get().await?)
    }

    /// Gives the calling thread (an HTTP worker starting) a pool of its own, its share of
    /// `HAKI_DB_POOL_SIZE` (at least one connection). Connections open when first needed. A
    /// thread that claims again (its services restarted) keeps the pool it has.
    pub fn claim_worker_pool(&self) -> Result<(), crate::db::BoxError> {
        let mut pools = self.worker_pools.lock().unwrap_or_else(PoisonError::into_inner);
        let thread = std::thread::current().id();
        let pool = match pools.iter().find(|(t, _)| *t == thread) {
            Some((_, pool)) => pool.clone(),
            None => {
                let config = &self.config;
                let pool =
                    crate::db::build_pool(&config.database_url, self.connections_per_worker(), config.db_timeout)?;
                pools.push((thread, pool.clone()));
                pool
            }
        };
        WORKER_POOL.with(|own| *own.borrow_mut() = Some((self.id, pool)));
        Ok(())
    }

    /// Each HTTP worker's share of `HAKI_DB_POOL_SIZE`: never more in all, at least one each.
    pub fn connections_per_worker(&self) -> usize {
        (self.config.db_pool_size / self.http_workers()).max(1)
    }

    /// The connections of all pools, for the metrics.
    pub fn pool_status(&self) -> deadpool::Status {
        let mut total = self.pool.status();
        let workers = self.worker_pools.lock().unwrap_or_else(PoisonError::into_inner);
        for status in workers.iter().map(|(_, pool)| pool.status()) {
            total.max_size += status.max_size;
            total.size += status.size;
            total.available += status.available;
            total.waiting += status.waiting;
        }
        total
    }

    /// Tells this state from another in the same process (tests run many).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// How many HTTP workers `haki serve` runs: `HAKI_WORKERS`, or one per core when it is 0 (the
    /// HTTP server's own default).
    pub fn http_workers(&self) -> usize {
        match self.config.workers {
            0 => std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            n => n,
        }
    }
}

thread_local! {
    static WORKER_POOL: RefCell<Option<(u64, DbPool)>> = const { RefCell::new(None) };
}

/// The keyed hash, under a key derived from the JWT secret for its own purpose (no further setting
/// to manage).
fn hash_mac(secret: &[u8]) -> Result<hmac::Hmac<sha2::Sha256>, crate::db::BoxError> {
    use hmac::Mac;
    type HmacSha256 = hmac::Hmac<sha2::Sha256>;
    let mut derive = <HmacSha256 as Mac>::new_from_slice(secret).map_err(|e| e.to_string())?;
    derive.update(b"haki keyed hashes v1");
    let key = derive.finalize().into_bytes();
    Ok(<HmacSha256 as Mac>::new_from_slice(&key).map_err(|e| e.to_string())?)
}
