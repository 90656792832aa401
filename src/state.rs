//! What every handler shares: configuration, the pool, signing keys, limiters, metrics.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc};

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
    pub login_limiter: DefaultKeyedRateLimiter<IpAddr>,
    pub metrics: Metrics,
    pub vault: Vault,
    /// Keys the hashes the service keeps of what clients send (idempotent requests, typed login
    /// emails), so they cannot be reversed by guessing without the server's secret.
    hash_key: [u8; 32],
}

impl AppState {
    pub fn new(config: Config, pool: DbPool) -> Result<Arc<Self>, crate::db::BoxError> {
        let per_minute =
            NonZeroU32::new(config.login_rate_per_minute).ok_or("HAKI_LOGIN_RATE_PER_MINUTE must be at least 1")?;
        Ok(Arc::new(AppState {
            jwt: JwtKeys::new(&config),
            login_limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            metrics: Metrics::new()?,
            vault: Vault::new(&config.data_key, &config.data_keys_previous),
            hash_key: derive_hash_key(&config.jwt_secret),
            config,
            pool,
        }))
    }

    /// HMAC-SHA256 of `parts` (each length-prefixed, so their boundaries count) under the
    /// server's hash key.
    pub fn keyed_hash(&self, parts: &[&[u8]]) -> Vec<u8> {
        use hmac::Mac;
        // HMAC takes a key of any length, so this cannot fail.
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.hash_key).expect("any key length");
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

/// The hash key, derived from the JWT secret for its own purpose (no further setting to manage).
fn derive_hash_key(secret: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(b"haki keyed hashes v1");
    mac.finalize().into_bytes().into()
}
