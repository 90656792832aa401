//! What every handler shares: configuration, the pool, signing keys, limiters, metrics.

use std::{num::NonZeroU32, sync::Arc};

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
    pub pool: DbPool,
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
        Ok(Arc::new(AppState {
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

    /// A pooled connection; a database that cannot be reached becomes a 503.
    pub async fn conn(&self) -> ApiResult<DbConn> {
        Ok(self.pool.get().await?)
    }
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
