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
            config,
            pool,
        }))
    }

    /// A pooled connection; a database that cannot be reached becomes a 503.
    pub async fn conn(&self) -> ApiResult<DbConn> {
        Ok(self.pool.get().await?)
    }
}
