//! Limits on guessing: failed sign-in attempts per client address (only failures count, so an
//! office of colleagues behind one address can all sign in), with every attempt still in flight
//! counted as a possible failure — a burst of concurrent guesses is stopped as surely as a
//! sequence — and one password check at a time per account, so that a burst against one account
//! meets its lockout after as many guesses as a sequence would. IPv6 clients are counted per /64
//! (one home or office network); IPv4-mapped addresses as IPv4. The counts live in each replica.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    net::{IpAddr, Ipv6Addr},
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use crate::{error::ApiError, ids::UserId};

/// The 429 for a wait.
pub fn too_many(wait: Duration) -> ApiError {
    ApiError::too_many_requests(wait.as_secs_f64().ceil() as u64)
}

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Window {
    failures: VecDeque<Instant>,
    pending: u32,
}

impl Window {
    fn forget_before(&mut self, oldest: Instant) {
        while self.failures.front().is_some_and(|t| *t <= oldest) {
            self.failures.pop_front();
        }
    }
}

/// Failed attempts per client address in the last minute.
pub struct LoginFailures {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, Window>>,
    verifying: Mutex<HashSet<UserId>>,
}

/// The network an address counts for.
fn network(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::from(u64::MAX)))),
        },
        v4 => v4,
    }
}

impl LoginFailures {
    pub fn new(per_minute: u32) -> Self {
        LoginFailures {
            per_minute,
            windows: Mutex::new(HashMap::new()),
            verifying: Mutex::new(HashSet::new()),
        }
    }

    /// Starts an attempt from `addr`, counted as a possible failure until it ends; refused (with
    /// how long to wait) when the failures of the last minute and the attempts in flight use up
    /// the allowance.
    pub fn begin(&self, addr: IpAddr) -> Result<Attempt<'_>, Duration> {
        let key = network(addr);
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() > 100_000 {
            windows.retain(|_, w| {
                w.forget_before(now.checked_sub(WINDOW).unwrap_or(now));
                w.pending > 0 || !w.failures.is_empty()
            });
        }
        let window = windows.entry(key).or_default();
        if let Some(oldest) = now.checked_sub(WINDOW) {
            window.forget_before(oldest);
        }
        if window.failures.len() as u64 + u64::from(window.pending) >= u64::from(self.per_minute) {
            // Free again when the oldest failure leaves the window (or an attempt in flight ends).
            let wait = window
                .failures
                .front()
                .map(|t| WINDOW.saturating_sub(now - *t))
                .unwrap_or(Duration::from_secs(1));
            return Err(wait.max(Duration::from_secs(1)));
        }
        window.pending += 1;
        Ok(Attempt {
            limits: self,
            key,
            failed: false,
        })
    }

    /// Holds the account's password check: `None` while another check of it is in flight.
    pub fn verify_alone(&self, user: UserId) -> Option<AccountCheck<'_>> {
        let fresh = self
            .verifying
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user);
        // (Built only when it is ours: dropping one releases the account.)
        fresh.then(|| AccountCheck { limits: self, user })
    }
}

/// An attempt in flight. It ends as a failure with [`Attempt::fail`]; dropped, it was no failure.
pub struct Attempt<'a> {
    limits: &'a LoginFailures,
    key: IpAddr,
    failed: bool,
}

impl Attempt<'_> {
    /// Counts the attempt as a failure of its address.
    pub fn fail(mut self) {
        self.failed = true;
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let mut windows = self.limits.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(window) = windows.get_mut(&self.key) {
            window.pending = window.pending.saturating_sub(1);
            if self.failed {
                window.failures.push_back(Instant::now());
            }
        }
    }
}

/// The one password check of an account in flight; the next may start once it is dropped.
pub struct AccountCheck<'a> {
    limits: &'a LoginFailures,
    user: UserId,
}

impl Drop for AccountCheck<'_> {
    fn drop(&mut self) {
        self.limits
            .verifying
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_in_flight_count_until_they_succeed() {
        let limits = LoginFailures::new(3);
        let addr: IpAddr = "10.1.1.1".parse().unwrap();
        let a = limits.begin(addr).unwrap();
        let b = limits.begin(addr).unwrap();
        let c = limits.begin(addr).unwrap();
        // A burst: the fourth concurrent attempt is refused before any has failed.
        assert!(limits.begin(addr).is_err());
        drop(a); // a success frees its place
        let d = limits.begin(addr).unwrap();
        b.fail();
        c.fail();
        d.fail();
        let wait = limits.begin(addr).err().unwrap();
        assert!(wait > Duration::from_secs(50) && wait <= WINDOW);
        // Another address, and another /64, are not affected; the same /64 is.
        assert!(limits.begin("10.1.1.2".parse().unwrap()).is_ok());
        let six = limits.begin("2001:db8:1:2::1".parse().unwrap()).unwrap();
        six.fail();
        limits.begin("2001:db8:1:2::1".parse().unwrap()).unwrap().fail();
        limits.begin("2001:db8:1:2:ffff::9".parse().unwrap()).unwrap().fail();
        assert!(limits.begin("2001:db8:1:2::7".parse().unwrap()).is_err());
        assert!(limits.begin("2001:db8:1:3::1".parse().unwrap()).is_ok());
        assert!(limits.begin("::ffff:10.1.1.1".parse().unwrap()).is_err());
    }

    #[test]
    fn one_password_check_per_account_at_a_time() {
        let limits = LoginFailures::new(3);
        let user = UserId::new();
        let first = limits.verify_alone(user).unwrap();
        assert!(limits.verify_alone(user).is_none());
        assert!(limits.verify_alone(UserId::new()).is_some());
        drop(first);
        assert!(limits.verify_alone(user).is_some());
    }
}
