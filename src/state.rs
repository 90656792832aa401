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
    /// Failed logins per client address: only failures count, so an office of colleagues behind
    /// one address can all sign in, while a burst of wrong guesses is stopped.
    pub login_failures: LoginFailures,
    /// Requests per API key (each key its own budget).
    pub api_key_limiter: DefaultKeyedRateLimiter<crate::ids::ApiKeyId>,
    pub metrics: Metrics,
    pub vault: Vault,
    /// Sends reset links when an SMTP server is configured.
    pub mailer: Option<crate::mail::Mailer>,
    /// Keys the hashes the service keeps of what clients send (idempotent requests, typed login
    /// emails), so they cannot be reversed by guessing without the server's secret. Set up once;
    /// each hash starts from a copy.
    hash_mac: hmac::Hmac<sha2::Sha256>,
}

impl AppState {
    pub fn new(config: Config, pool: DbPool) -> Result<Arc<Self>, crate::db::BoxError> {
        let per_minute =
            NonZeroU32::new(config.login_rate_per_minute).ok_or("HAKI_LOGIN_RATE_PER_MINUTE must be at least 1")?;
        let per_key =
            NonZeroU32::new(config.api_key_rate_per_minute).ok_or("HAKI_API_KEY_RATE_PER_MINUTE must be at least 1")?;
        Ok(Arc::new(AppState {
            jwt: JwtKeys::new(&config),
            api_key_limiter: RateLimiter::keyed(Quota::per_minute(per_key)),
            login_failures: LoginFailures {
                limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
                blocked: std::sync::Mutex::new(std::collections::HashMap::new()),
            },
            metrics: Metrics::new()?,
            mailer: crate::mail::Mailer::from_config(&config)?,
            vault: Vault::new(&config.data_key, &config.data_keys_previous),
            hash_mac: hash_mac(&config.jwt_secret)?,
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

/// Failed logins per client address, and the addresses blocked until a time.
pub struct LoginFailures {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    blocked: std::sync::Mutex<std::collections::HashMap<IpAddr, std::time::Instant>>,
}

impl LoginFailures {
    /// How long `addr` must still wait, if it is blocked.
    pub fn blocked(&self, addr: IpAddr) -> Option<std::time::Duration> {
        let now = std::time::Instant::now();
        let mut blocked = self.blocked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match blocked.get(&addr) {
            Some(until) if *until > now => Some(*until - now),
            Some(_) => {
                blocked.remove(&addr);
                None
            }
            None => None,
        }
    }

    /// Counts a failed login from `addr`; past the allowance, blocks it and says for how long.
    pub fn fail(&self, addr: IpAddr) -> Option<std::time::Duration> {
        use governor::clock::{Clock, DefaultClock};
        if self.limiter.len() > 100_000 {
            self.limiter.retain_recent();
        }
        let not_until = self.limiter.check_key(&addr).err()?;
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let mut blocked = self.blocked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        blocked.retain(|_, until| *until > now);
        blocked.insert(addr, now + wait);
        Some(wait)
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
