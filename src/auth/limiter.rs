//! Failed-login throttling: per client address and per user name, a few free failures, then an exponential
//! backoff during which attempts are refused before any password is hashed. The tables are bounded, so a flood
//! of addresses or names cannot grow the server's memory.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before backoff starts (a user mistyping a password a few times is not an attack).
pub const FREE_FAILURES: u32 = 5;
/// The first backoff; each further failure doubles it, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A key with no failure for this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Keys kept per table at most; past it the stalest are dropped.
const MAX_KEYS: usize = 50_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Instant,
}

struct Table<K> {
    entries: HashMap<K, Failures>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new() -> Self {
        Table { entries: HashMap::new() }
    }

    fn blocked(&self, key: &K, now: Instant) -> Option<Duration> {
        let f = self.entries.get(key)?;
        (f.blocked_until > now).then(|| f.blocked_until - now)
    }

    fn fail(&mut self, key: K, now: Instant) {
        if self.entries.len() >= MAX_KEYS && !self.entries.contains_key(&key) {
            self.entries.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if self.entries.len() >= MAX_KEYS {
                // Still full: drop the stalest half rather than grow.
                let mut lasts: Vec<Instant> = self.entries.values().map(|f| f.last).collect();
                lasts.sort_unstable();
                let cut = lasts[lasts.len() / 2];
                self.entries.retain(|_, f| f.last > cut);
            }
        }
        let f = self.entries.entry(key).or_insert(Failures { count: 0, last: now, blocked_until: now });
        if now.duration_since(f.last) >= FORGET_AFTER {
            f.count = 0;
        }
        f.count += 1;
        f.last = now;
        if f.count > FREE_FAILURES {
            let doublings = (f.count - FREE_FAILURES - 1).min(16);
            let backoff = FIRST_BACKOFF.saturating_mul(1 << doublings).min(MAX_BACKOFF);
            f.blocked_until = now + backoff;
        }
    }

    fn succeed(&mut self, key: &K) {
        self.entries.remove(key);
    }
}

/// The failed-login state of a server.
pub struct LoginLimiter {
    by_addr: Mutex<Table<IpAddr>>,
    by_user: Mutex<Table<String>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter { by_addr: Mutex::new(Table::new()), by_user: Mutex::new(Table::new()) }
    }
}

impl LoginLimiter {
    /// How long this address or user must still wait, if either is in backoff.
    pub fn blocked(&self, addr: Option<IpAddr>, user: &str, now: Instant) -> Option<Duration> {
        let by_addr = addr.and_then(|a| self.by_addr.lock().unwrap_or_else(|p| p.into_inner()).blocked(&a, now));
        let by_user = self.by_user.lock().unwrap_or_else(|p| p.into_inner()).blocked(&user.to_string(), now);
        by_addr.max(by_user)
    }

    pub fn record_failure(&self, addr: Option<IpAddr>, user: &str, now: Instant) {
        if let Some(a) = addr {
            self.by_addr.lock().unwrap_or_else(|p| p.into_inner()).fail(a, now);
        }
        self.by_user.lock().unwrap_or_else(|p| p.into_inner()).fail(user.to_string(), now);
    }

    /// A good password clears the user's and the address's failures.
    pub fn record_success(&self, addr: Option<IpAddr>, user: &str) {
        if let Some(a) = addr {
            self.by_addr.lock().unwrap_or_else(|p| p.into_inner()).succeed(&a);
        }
        self.by_user.lock().unwrap_or_else(|p| p.into_inner()).succeed(&user.to_string());
    }

    /// Keys currently tracked (address table, user table): for the tests that check the tables stay bounded.
    pub fn sizes(&self) -> (usize, usize) {
        (self.by_addr.lock().unwrap_or_else(|p| p.into_inner()).entries.len(), self.by_user.lock().unwrap_or_else(|p| p.into_inner()).entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_after_free_failures_doubles_and_is_capped() {
        let l = LoginLimiter::default();
        let ip: IpAddr = "127.0.0.1".parse().expect("ip");
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert!(l.blocked(Some(ip), "alice", t0).is_none());
            l.record_failure(Some(ip), "alice", t0);
        }
        assert!(l.blocked(Some(ip), "alice", t0).is_none(), "the free failures do not block");
        l.record_failure(Some(ip), "alice", t0);
        assert_eq!(l.blocked(Some(ip), "alice", t0), Some(FIRST_BACKOFF));
        l.record_failure(Some(ip), "alice", t0);
        assert_eq!(l.blocked(Some(ip), "bob", t0), Some(FIRST_BACKOFF * 2), "the address is blocked for any user");
        let other: IpAddr = "10.0.0.9".parse().expect("ip");
        assert_eq!(l.blocked(Some(other), "alice", t0), Some(FIRST_BACKOFF * 2), "the user is blocked from any address");
        assert!(l.blocked(Some(other), "bob", t0).is_none());
        for _ in 0..40 {
            l.record_failure(Some(ip), "alice", t0);
        }
        assert_eq!(l.blocked(Some(ip), "alice", t0), Some(MAX_BACKOFF));
        assert!(l.blocked(Some(ip), "alice", t0 + MAX_BACKOFF).is_none(), "backoff ends");
        l.record_success(Some(ip), "alice");
        assert!(l.blocked(Some(ip), "alice", t0).is_none());
    }

    #[test]
    fn tables_stay_bounded() {
        let l = LoginLimiter::default();
        let now = Instant::now();
        for i in 0..(MAX_KEYS + 1000) {
            l.record_failure(None, &format!("user{i}"), now + Duration::from_micros(i as u64));
        }
        let (_, users) = l.sizes();
        assert!(users <= MAX_KEYS, "{users}");
    }
}
