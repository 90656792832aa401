//! The delivery worker: claims due deliveries with `FOR UPDATE SKIP LOCKED` (so any number of
//! service replicas share the outbox without sending one delivery twice at the same time), sends
//! each signed, and records the outcome: delivered, retried later with exponential backoff and
//! jitter, or failed after the last attempt. A webhook failing for too long is disabled, and says
//! why. Delivery is at least once: receivers de-duplicate by `X-Haki-Event-Id`.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, Utc};
use diesel::{
    QueryableByName,
    sql_types::{BigInt, Integer, Jsonb, Nullable, Text, Timestamptz, Uuid},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{config::Config, state::AppState, survivors::vault::Sealed};

/// How long a claimed delivery is reserved for the worker that claimed it: longer than any
/// request may take (`HAKI_WEBHOOK_TIMEOUT_SECONDS` is at most 60), so that a worker that dies
/// mid-way leaves it to be retried after.
pub const LEASE_SECS: i64 = 120;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = Uuid)]
    id: uuid::Uuid,
    #[diesel(sql_type = Uuid)]
    claim_token: uuid::Uuid,
    #[diesel(sql_type = Uuid)]
    webhook_id: uuid::Uuid,
    #[diesel(sql_type = Uuid)]
    event_id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Jsonb)]
    payload: serde_json::Value,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Text)]
    secret_key_id: String,
    #[diesel(sql_type = diesel::sql_types::Bytea)]
    secret_nonce: Vec<u8>,
    #[diesel(sql_type = diesel::sql_types::Bytea)]
    secret_ciphertext: Vec<u8>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    failing_since: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_failure_at: Option<DateTime<Utc>>,
}

/// Whether a webhook may still be told anything: active, not deleted, and its owner still holding
/// the right it was made with (a program manager or admin for the program's webhooks, a user of
/// the same organisation for a partner's).
pub const STILL_ENTITLED: &str = "w.active AND w.deleted_at IS NULL AND EXISTS (
    SELECT 1 FROM users u WHERE u.id = w.owner_id AND u.active
       AND CASE WHEN w.organization_id IS NULL THEN u.role IN ('admin', 'program_manager')
                ELSE u.role = 'partner' AND u.organization_id = w.organization_id END)";

/// Claims up to `limit` due deliveries of webhooks still entitled to them, in one statement;
/// each gets a fresh claim token, and is reserved for the lease.
fn claim_sql() -> String {
    format!(
        "WITH due AS (
             SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
              WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND {STILL_ENTITLED}
              ORDER BY d.next_attempt_at
              LIMIT $1
              FOR UPDATE OF d SKIP LOCKED),
         claimed AS (
             UPDATE webhook_deliveries d
                SET attempts = d.attempts + 1, last_attempt_at = now(), claim_token = gen_random_uuid(),
                    next_attempt_at = now() + make_interval(secs => $2)
               FROM due WHERE d.id = due.id
             RETURNING d.id, d.claim_token, d.webhook_id, d.event_id, d.event_type, d.payload, d.attempts)
         SELECT c.*, w.url, w.secret_key_id, w.secret_nonce, w.secret_ciphertext, w.failing_since, w.last_failure_at
           FROM claimed c JOIN webhooks w ON w.id = c.webhook_id"
    )
}

/// The signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> Result<String, hmac::digest::InvalidLength> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes())))
}

/// Whether an address is one the service may call: never private, link-local, unspecified or
/// multicast networks (a webhook must not reach into the service's own network); loopback only
/// when configured for development.
pub fn reachable(ip: IpAddr, allow_loopback: bool) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    if ip.is_loopback() {
        return allow_loopback;
    }
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || a >= 240 // reserved
                || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
                || (a == 198 && (b == 18 || b == 19)))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            // Only global unicast (2000::/3), and none of the forms that carry an IPv4 address
            // (NAT64 64:ff9b::/96 lies outside it anyway; 6to4, Teredo) nor documentation.
            (s[0] & 0xe000) == 0x2000 && s[0] != 0x2002 && !(s[0] == 0x2001 && (s[1] == 0 || s[1] == 0x0db8))
        }
    }
}

/// Resolves names like the system does, then keeps only addresses the service may call, so a
/// name that points into a private network is refused at delivery time too.
struct PublicOnly {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| reachable(a.ip(), allow_loopback)).collect();
            if allowed.is_empty() {
                return Err("the address resolves only to networks webhooks may not reach".into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client deliveries go out with: a timeout so a receiver that hangs is cut off, no
/// redirects (a redirect could lead into a private network), the filtering resolver.
pub fn client(config: &Config) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(config.webhook_timeout)
        .connect_timeout(config.webhook_timeout)
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would resolve the address itself, past the filter.
        .no_proxy()
        .dns_resolver(Arc::new(PublicOnly {
            allow_loopback: config.webhook_allow_loopback,
        }))
        .user_agent("haki-webhooks/1")
        .build()
}

/// The wait before attempt `attempts + 1`: the base doubled per attempt made, at most six hours,
/// then ±25% at random so that receivers coming back are not hit by every retry at once.
fn backoff(base: Duration, attempts: i32) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(20);
    let wait = base.saturating_mul(1 << exp).min(MAX_BACKOFF);
    wait.mul_f64(0.75 + rand::random::<f64>() * 0.5)
}

enum Outcome {
    Delivered(u16),
    Failed { status: Option<u16>, error: String },
}

async fn send(state: &AppState, client: &reqwest::Client, d: &Claimed) -> Outcome {
    let sealed = Sealed {
        key_id: d.secret_key_id.clone(),
        nonce: d.secret_nonce.clone(),
        ciphertext: d.secret_ciphertext.clone(),
    };
    let secret = match state
        .vault
        .open_bound(&super::handlers::SEALED_SECRETS.binding(d.webhook_id), &sealed)
    {
        Ok(secret) => secret,
        Err(e) => {
            return Outcome::Failed {
                status: None,
                error: format!("the signing secret cannot be read: {e}"),
            };
        }
    };
    let url = match reqwest::Url::parse(&d.url) {
        Ok(url) => url,
        Err(e) => {
            return Outcome::Failed {
                status: None,
                error: format!("invalid address: {e}"),
            };
        }
    };
    // An address written as an IP is not resolved: check it here.
    if let Some(ip) = url
        .host_str()
        .and_then(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().ok())
        && !reachable(ip, state.config.webhook_allow_loopback)
    {
        return Outcome::Failed {
            status: None,
            error: "the address is in a network webhooks may not reach".into(),
        };
    }
    let body = serde_json::to_vec(&d.payload).unwrap_or_default();
    let timestamp = Utc::now().timestamp();
    let Ok(signed) = signature(&secret, timestamp, &body) else {
        return Outcome::Failed {
            status: None,
            error: "the signing secret is not usable".into(),
        };
    };
    let response = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-Haki-Event-Id", d.event_id.to_string())
        .header("X-Haki-Event-Type", &d.event_type)
        .header("X-Haki-Delivery-Id", d.id.to_string())
        .header("X-Haki-Signature", signed)
        .body(body)
        .send()
        .await;
    match response {
        Ok(r) if r.status().is_success() => Outcome::Delivered(r.status().as_u16()),
        Ok(r) => Outcome::Failed {
            status: Some(r.status().as_u16()),
            error: format!("the receiver answered {}", r.status()),
        },
        Err(e) if e.is_timeout() => Outcome::Failed {
            status: None,
            error: "the receiver did not answer in time".into(),
        },
        Err(e) => Outcome::Failed {
            status: None,
            error: format!("could not deliver: {}", error_chain(&e)),
        },
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

async fn record(
    conn: &mut AsyncPgConnection,
    config: &Config,
    d: &Claimed,
    outcome: Outcome,
) -> diesel::QueryResult<()> {
    // Only the worker still holding the claim records (a redelivery or a deletion since wins).
    match outcome {
        Outcome::Delivered(status) => {
            let updated = diesel::sql_query(
                "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now(), last_status_code = $3,
                        last_error = NULL, claim_token = NULL
                  WHERE id = $1 AND claim_token = $2 AND status = 'pending'",
            )
            .bind::<Uuid, _>(d.id)
            .bind::<Uuid, _>(d.claim_token)
            .bind::<Integer, _>(i32::from(status))
            .execute(conn)
            .await?;
            if updated > 0 {
                diesel::sql_query("UPDATE webhooks SET failing_since = NULL WHERE id = $1")
                    .bind::<Uuid, _>(d.webhook_id)
                    .execute(conn)
                    .await?;
            }
        }
        Outcome::Failed { status, error } => {
            let last = d.attempts >= config.webhook_max_attempts;
            let wait = backoff(config.webhook_backoff, d.attempts);
            let updated = diesel::sql_query(
                "UPDATE webhook_deliveries
                    SET status = CASE WHEN $3 THEN 'failed' ELSE 'pending' END,
                        next_attempt_at = now() + make_interval(secs => $4),
                        last_status_code = $5, last_error = $6, claim_token = NULL
                  WHERE id = $1 AND claim_token = $2 AND status = 'pending'",
            )
            .bind::<Uuid, _>(d.id)
            .bind::<Uuid, _>(d.claim_token)
            .bind::<diesel::sql_types::Bool, _>(last)
            .bind::<diesel::sql_types::Double, _>(wait.as_secs_f64())
            .bind::<Nullable<Integer>, _>(status.map(i32::from))
            .bind::<Text, _>(&error)
            .execute(conn)
            .await?;
            if updated == 0 {
                return Ok(());
            }
            // Failing since the first failure after a success, or after a quiet spell longer than
            // the window (failures days apart are not "failing for days"); too long, disabled.
            let window = chrono::Duration::from_std(config.webhook_disable_after).unwrap_or_default();
            let now = Utc::now();
            let since = match (d.failing_since, d.last_failure_at) {
                (Some(since), Some(previous)) if now - previous <= window => since,
                _ => now,
            };
            let disable = now - since > window;
            diesel::sql_query(
                "UPDATE webhooks SET failing_since = $2, last_failure_at = now(),
                        active = active AND NOT $3,
                        disabled_reason = CASE WHEN $3 THEN $4 ELSE disabled_reason END
                  WHERE id = $1",
            )
            .bind::<Uuid, _>(d.webhook_id)
            .bind::<Timestamptz, _>(since)
            .bind::<diesel::sql_types::Bool, _>(disable)
            .bind::<Text, _>(format!(
                "Disabled: every delivery failed since {} (last: {error}). Fix the receiver, then create the webhook again.",
                since.format("%Y-%m-%d %H:%M UTC")
            ))
            .execute(conn)
            .await?;
            if disable {
                diesel::sql_query(
                    "UPDATE webhook_deliveries SET status = 'failed', last_error = 'the webhook was disabled', claim_token = NULL
                      WHERE webhook_id = $1 AND status = 'pending'",
                )
                .bind::<Uuid, _>(d.webhook_id)
                .execute(conn)
                .await?;
            }
        }
    }
    Ok(())
}

/// One round: claims the due deliveries (up to `limit`), sends them concurrently and records
/// each outcome. Returns how many were attempted.
pub async fn run_once(state: &AppState, client: &reqwest::Client, limit: i64) -> Result<usize, crate::db::BoxError> {
    let mut conn = state.pool.get().await?;
    super::follow_ups_due(&mut conn).await?;
    let claimed: Vec<Claimed> = diesel::sql_query(claim_sql())
        .bind::<BigInt, _>(limit)
        .bind::<diesel::sql_types::Double, _>(LEASE_SECS as f64)
        .load(&mut conn)
        .await?;
    let outcomes = futures_util::future::join_all(claimed.iter().map(|d| send(state, client, d))).await;
    for (d, outcome) in claimed.iter().zip(outcomes) {
        record(&mut conn, &state.config, d, outcome).await?;
    }
    Ok(claimed.len())
}

/// The worker: a round every `HAKI_WEBHOOK_POLL_MS`, at once again while rounds find work, until
/// `stopping` turns true; a round under way (its claimed deliveries sent and recorded) finishes.
pub async fn run(state: Arc<AppState>, mut stopping: tokio::sync::watch::Receiver<bool>) {
    let client = match client(&state.config) {
        Ok(client) => client,
        Err(e) => {
            log::error!("webhook deliveries are off: the HTTP client cannot start: {e}");
            return;
        }
    };
    let mut every = tokio::time::interval(state.config.webhook_poll);
    loop {
        tokio::select! {
            biased;
            _ = stopping.changed() => return,
            _ = every.tick() => {}
        }
        loop {
            match run_once(&state, &client, 20).await {
                Ok(20) if !*stopping.borrow() => continue,
                Ok(_) => break,
                Err(e) => {
                    log::warn!("webhook deliveries: {e}");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_networks_are_out_of_reach() {
        for ip in [
            "192.0.0.8",
            "240.0.0.1",
            "fec0::1",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378::1",
            "2001:db8::1",
            "::a9fe:a9fe",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!reachable(ip.parse().unwrap(), true), "{ip}");
        }
        assert!(!reachable("127.0.0.1".parse().unwrap(), false));
        assert!(reachable("127.0.0.1".parse().unwrap(), true));
        assert!(reachable("41.90.64.1".parse().unwrap(), false));
        assert!(reachable("2001:4860::8888".parse().unwrap(), false));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_a_ceiling() {
        let base = Duration::from_secs(30);
        for attempts in 1..=6 {
            let wait = backoff(base, attempts).as_secs_f64();
            let nominal = 30.0 * f64::from(1u32 << (attempts - 1));
            assert!(
                wait >= nominal * 0.75 - 0.01 && wait <= nominal * 1.25 + 0.01,
                "{attempts}: {wait}"
            );
        }
        assert!(backoff(base, 40) <= MAX_BACKOFF.mul_f64(1.25));
    }

    #[test]
    fn signatures_cover_the_timestamp_and_the_body() {
        let sign = |secret: &[u8], t, body: &[u8]| signature(secret, t, body).unwrap();
        let a = sign(b"secret", 1700000000, b"{}");
        assert!(a.starts_with("t=1700000000,v1="));
        assert_ne!(a, sign(b"secret", 1700000001, b"{}"));
        assert_ne!(a, sign(b"secret", 1700000000, b"{ }"));
        assert_ne!(a, sign(b"other", 1700000000, b"{}"));
    }
}
