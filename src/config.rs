//! Configuration, read once from the environment (see `.env.example`).

use std::{
    env,
    net::{IpAddr, SocketAddr},
    time::Duration,
};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    pub jwt_secret: Vec<u8>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub token_ttl: Duration,
    /// A session unused for this long ends (its refresh token stops working).
    pub session_idle: Duration,
    /// A session ends this long after sign-in, however it is used.
    pub session_lifetime: Duration,
    pub db_pool_size: usize,
    pub db_timeout: Duration,
    pub cors_origins: Vec<String>,
    pub body_limit: usize,
    /// The longest pause between two parts of a request body (then 408).
    pub body_idle_timeout: Duration,
    pub small_cell_k: u32,
    /// Every row of a de-identified export shares its quasi-identifiers with at least k − 1 others.
    pub export_k: u32,
    pub login_rate_per_minute: u32,
    /// Requests each API key may make per minute (then 429 with Retry-After).
    pub api_key_rate_per_minute: u32,
    /// Webhooks may call loopback addresses over plain HTTP (development only).
    pub webhook_allow_loopback: bool,
    /// A receiver that has not answered by then is cut off.
    pub webhook_timeout: Duration,
    /// Attempts of one delivery before it is marked failed.
    pub webhook_max_attempts: i32,
    /// The wait after the first failed attempt; it doubles with each further one (with jitter).
    pub webhook_backoff: Duration,
    /// A webhook whose every delivery has failed for this long is disabled.
    pub webhook_disable_after: Duration,
    /// How often the delivery worker looks for due deliveries.
    pub webhook_poll: Duration,
    /// Whether this instance runs the delivery worker (off: deliveries wait in the outbox for an
    /// instance that does).
    pub webhook_delivery: bool,
    pub lockout_threshold: i32,
    pub lockout_duration: Duration,
    /// Roles that must sign in with a second factor (others may enrol one).
    pub mfa_required_roles: Vec<crate::auth::Role>,
    /// How long a password reset token works.
    pub password_reset_ttl: Duration,
    /// The SMTP server reset links are sent through (`smtp://`, `smtps://`; credentials in the
    /// URL); `None`: users cannot ask for a reset by email, an admin issues one.
    pub smtp_url: Option<String>,
    /// The sender of the service's email.
    pub mail_from: Option<String>,
    /// Where documents are stored: `s3://bucket[/prefix]` (credentials and endpoint from the
    /// `AWS_*` variables) or a directory (`file:///path`, or a path).
    pub document_store: String,
    /// The largest document accepted, in bytes.
    pub document_max_bytes: u64,
    /// The page of the frontend that takes a reset token: the emailed link is this followed by
    /// the token; `None`: the email holds the token alone.
    pub password_reset_url: Option<String>,
    /// The reverse proxies whose `X-Forwarded-For` is believed (addresses or CIDR blocks); empty:
    /// the header is ignored and the peer address is the client.
    pub trusted_proxies: Vec<Cidr>,
    /// The bearer token `/metrics` requires; `None`: metrics are off (401 to everyone).
    pub metrics_token: Option<String>,
    pub workers: usize,
    pub shutdown_timeout: Duration,
    /// AES-256 key of the identity vault (32 bytes); `data_keys_previous` still decrypt.
    pub data_key: [u8; 32],
    pub data_keys_previous: Vec<[u8; 32]>,
    /// Every assessment domain at or above this score meets the restoration threshold.
    pub assessment_threshold: f64,
    /// How soon an `urgent` referral must be acknowledged before it is overdue.
    pub referral_urgent_window: Duration,
    /// How soon an `emergency` referral must be acknowledged before it is overdue.
    pub referral_emergency_window: Duration,
}

// The secret is never printed, not even in debug logs.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("token_ttl", &self.token_ttl)
            .field("db_pool_size", &self.db_pool_size)
            .field("cors_origins", &self.cors_origins)
            .field("body_limit", &self.body_limit)
            .field("body_idle_timeout", &self.body_idle_timeout)
            .field("small_cell_k", &self.small_cell_k)
            .finish_non_exhaustive()
    }
}

pub const MIN_JWT_SECRET_BYTES: usize = 32;

impl Config {
    /// Everything the server needs. Fails without `DATABASE_URL` or a JWT secret of 32+ bytes.
    pub fn from_env() -> Result<Self, ConfigError> {
        let database_url = database_url()?;
        let jwt_secret = env::var("HAKI_JWT_SECRET")
            .map_err(|_| ConfigError::Missing("HAKI_JWT_SECRET"))?
            .into_bytes();
        if jwt_secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(ConfigError::Invalid {
                name: "HAKI_JWT_SECRET",
                reason: format!("must be at least {MIN_JWT_SECRET_BYTES} bytes"),
            });
        }
        let data_key = parse_key(&text("HAKI_DATA_KEY", ""), "HAKI_DATA_KEY")?;
        let data_keys_previous = text("HAKI_DATA_KEYS_PREVIOUS", "")
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| parse_key(k, "HAKI_DATA_KEYS_PREVIOUS"))
            .collect::<Result<_, _>>()?;
        let webhook_timeout: u64 = parse("HAKI_WEBHOOK_TIMEOUT_SECONDS", "10")?;
        if !(1..=60).contains(&webhook_timeout) {
            return Err(ConfigError::Invalid {
                name: "HAKI_WEBHOOK_TIMEOUT_SECONDS",
                reason: "must be between 1 and 60 (a delivery is reserved for 120 seconds)".into(),
            });
        }
        let assessment_threshold: f64 = parse("HAKI_ASSESSMENT_THRESHOLD", "3.0")?;
        if !(1.0..=4.0).contains(&assessment_threshold) {
            return Err(ConfigError::Invalid {
                name: "HAKI_ASSESSMENT_THRESHOLD",
                reason: "must be between 1.0 and 4.0".into(),
            });
        }
        let session_idle = Duration::from_secs(60 * parse::<u64>("HAKI_SESSION_IDLE_MINUTES", "30")?);
        let session_lifetime = Duration::from_secs(3600 * parse::<u64>("HAKI_SESSION_HOURS", "12")?);
        if session_idle.is_zero() || session_lifetime.is_zero() || session_idle > session_lifetime {
            return Err(ConfigError::Invalid {
                name: "HAKI_SESSION_IDLE_MINUTES",
                reason: "must be at least 1 and at most HAKI_SESSION_HOURS (at least 1) in minutes".into(),
            });
        }
        let mfa_required_roles = text("HAKI_MFA_REQUIRED_ROLES", "admin,program_manager")
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| {
                r.parse().map_err(|_| ConfigError::Invalid {
                    name: "HAKI_MFA_REQUIRED_ROLES",
                    reason: format!("`{r}` is not a role"),
                })
            })
            .collect::<Result<_, _>>()?;
        let password_reset_hours: u64 = parse("HAKI_PASSWORD_RESET_HOURS", "24")?;
        if !(1..=168).contains(&password_reset_hours) {
            return Err(ConfigError::Invalid {
                name: "HAKI_PASSWORD_RESET_HOURS",
                reason: "must be between 1 and 168 (a week)".into(),
            });
        }
        let smtp_url = Some(text("HAKI_SMTP_URL", "").trim().to_string()).filter(|u| !u.is_empty());
        let mail_from = Some(text("HAKI_MAIL_FROM", "").trim().to_string()).filter(|u| !u.is_empty());
        if smtp_url.is_some() && mail_from.is_none() {
            return Err(ConfigError::Missing("HAKI_MAIL_FROM (HAKI_SMTP_URL is set)"));
        }
        Ok(Config {
            session_idle,
            session_lifetime,
            mfa_required_roles,
            password_reset_ttl: Duration::from_secs(3600 * password_reset_hours),
            smtp_url,
            mail_from,
            document_store: document_store(),
            document_max_bytes: parse("HAKI_DOCUMENT_MAX_BYTES", "26214400")?,
            password_reset_url: Some(text("HAKI_PASSWORD_RESET_URL", "").trim().to_string()).filter(|u| !u.is_empty()),
            data_key,
            data_keys_previous,
            assessment_threshold,
            database_url,
            bind: parse("HAKI_BIND", "127.0.0.1:8080")?,
            jwt_secret,
            jwt_issuer: text("HAKI_JWT_ISSUER", "haki"),
            jwt_audience: text("HAKI_JWT_AUDIENCE", "haki-api"),
            token_ttl: Duration::from_secs(parse("HAKI_TOKEN_TTL_SECONDS", "900")?),
            db_pool_size: parse("HAKI_DB_POOL_SIZE", "10")?,
            db_timeout: Duration::from_millis(parse("HAKI_DB_TIMEOUT_MS", "5000")?),
            cors_origins: text("HAKI_CORS_ORIGINS", "")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            body_limit: parse("HAKI_BODY_LIMIT_BYTES", "262144")?,
            body_idle_timeout: Duration::from_secs(parse("HAKI_BODY_IDLE_TIMEOUT_SECONDS", "30")?),
            small_cell_k: parse("HAKI_SMALL_CELL_K", "5")?,
            export_k: parse("HAKI_EXPORT_K", "5")?,
            login_rate_per_minute: parse("HAKI_LOGIN_RATE_PER_MINUTE", "10")?,
            api_key_rate_per_minute: parse("HAKI_API_KEY_RATE_PER_MINUTE", "600")?,
            webhook_allow_loopback: parse("HAKI_WEBHOOK_ALLOW_LOOPBACK", "false")?,
            webhook_timeout: Duration::from_secs(webhook_timeout),
            webhook_max_attempts: parse("HAKI_WEBHOOK_MAX_ATTEMPTS", "8")?,
            webhook_backoff: Duration::from_secs(parse("HAKI_WEBHOOK_BACKOFF_SECONDS", "30")?),
            webhook_disable_after: Duration::from_secs(3600 * parse::<u64>("HAKI_WEBHOOK_DISABLE_AFTER_HOURS", "72")?),
            webhook_poll: Duration::from_millis(parse::<u64>("HAKI_WEBHOOK_POLL_MS", "1000")?.max(10)),
            webhook_delivery: parse("HAKI_WEBHOOK_DELIVERY", "true")?,
            lockout_threshold: parse("HAKI_LOCKOUT_THRESHOLD", "5")?,
            lockout_duration: Duration::from_secs(parse("HAKI_LOCKOUT_SECONDS", "900")?),
            trusted_proxies: trusted_proxies()?,
            metrics_token: Some(text("HAKI_METRICS_TOKEN", "").trim().to_string()).filter(|t| !t.is_empty()),
            workers: parse("HAKI_WORKERS", "0")?,
            shutdown_timeout: Duration::from_secs(parse("HAKI_SHUTDOWN_TIMEOUT_SECONDS", "30")?),
            referral_urgent_window: minutes("HAKI_REFERRAL_URGENT_MINUTES", "1440")?,
            referral_emergency_window: minutes("HAKI_REFERRAL_EMERGENCY_MINUTES", "120")?,
        })
    }
}

/// A window in minutes, from one minute to 30 days.
fn minutes(name: &'static str, default: &str) -> Result<Duration, ConfigError> {
    let value: u64 = parse(name, default)?;
    if !(1..=43_200).contains(&value) {
        return Err(ConfigError::Invalid {
            name,
            reason: "must be between 1 and 43200 minutes (30 days)".into(),
        });
    }
    Ok(Duration::from_secs(60 * value))
}

/// A 32-byte key given in base64.
fn parse_key(value: &str, name: &'static str) -> Result<[u8; 32], ConfigError> {
    use base64::{Engine, engine::general_purpose::STANDARD};
    if value.is_empty() {
        return Err(ConfigError::Missing(name));
    }
    let bytes = STANDARD.decode(value.trim()).map_err(|e| ConfigError::Invalid {
        name,
        reason: e.to_string(),
    })?;
    bytes.try_into().map_err(|_| ConfigError::Invalid {
        name,
        reason: "must be 32 bytes, base64-encoded".into(),
    })
}

/// Where documents are stored (`HAKI_DOCUMENT_STORE`): a directory or `s3://bucket[/prefix]`.
pub fn document_store() -> String {
    text("HAKI_DOCUMENT_STORE", ".data/documents").trim().to_string()
}

/// The URL to connect with as the schema's owner: `HAKI_MIGRATION_DATABASE_URL` when set,
/// otherwise `DATABASE_URL`.
pub fn owner_database_url() -> Result<String, ConfigError> {
    migration_database_url().map_or_else(database_url, Ok)
}

/// `HAKI_MIGRATION_DATABASE_URL`, when set: the schema owner's connection.
pub fn migration_database_url() -> Option<String> {
    env::var("HAKI_MIGRATION_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

pub fn database_url() -> Result<String, ConfigError> {
    env::var("DATABASE_URL").map_err(|_| ConfigError::Missing("DATABASE_URL"))
}

fn trusted_proxies() -> Result<Vec<Cidr>, ConfigError> {
    if env::var("HAKI_TRUST_FORWARDED_FOR").is_ok_and(|v| v.trim() == "true") {
        return Err(ConfigError::Invalid {
            name: "HAKI_TRUST_FORWARDED_FOR",
            reason: "is replaced by HAKI_TRUSTED_PROXIES: list the proxies' addresses instead".into(),
        });
    }
    text("HAKI_TRUSTED_PROXIES", "")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse().map_err(|reason| ConfigError::Invalid {
                name: "HAKI_TRUSTED_PROXIES",
                reason,
            })
        })
        .collect()
}

/// An IP address or a CIDR block (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            max
        } else {
            prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}` has a prefix length outside 0–{max}"))?
        };
        Ok(Cidr { addr, prefix })
    }
}

fn text(name: &'static str, default: &str) -> String {
    env::var(name).unwrap_or_else(|_| default.to_string())
}

fn parse<T>(name: &'static str, default: &str) -> Result<T, ConfigError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    text(name, default)
        .trim()
        .parse()
        .map_err(|e: T::Err| ConfigError::Invalid {
            name,
            reason: e.to_string(),
        })
}
