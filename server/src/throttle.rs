//! The throttle's policy in front of every credential check, and the bound on slow hashes.
//! The counting itself is one statement per subject in `auth_failures` ([`crate::db`]), built
//! from this policy; the handlers run each check as a counted attempt ([`crate::db::Db::attempt`]).
//!
//! **Claims.** Each check is counted against its subjects (the client's address and, when one
//! is named, the account) *before* it runs: one conditional statement per subject adds the
//! attempt to that subject's consecutive failures only when the subject may try now, and
//! refuses it otherwise, so no number of concurrent requests gets more checks than the policy
//! allows. A check that passes, and one that could not run (the server was busy, or failed),
//! is refunded; one that fails stays counted. When a later subject refuses, the earlier claims
//! are refunded: an attempt refused unchecked is not a failure. A request whose client goes away
//! mid-check stays counted, so hanging up cannot dodge the count.
//!
//! **Policy.** After [`FREE_FAILURES`] consecutive failures of an account (or
//! [`ADDRESS_FREE_FAILURES`] of an address) the next attempt must wait [`FIRST_WAIT_SECS`],
//! doubling with each further failure up to [`MAX_WAIT_SECS`]; an account with
//! [`LOCKOUT_FAILURES`] consecutive failures is refused until the operator lifts it (`admin
//! lockdown --lift`) or a recovery link does. Failures are counted by the name tried, whether or
//! not it exists, and every failure gets the same answer, so answers and timing say nothing
//! about which accounts exist. Addresses are counted per IPv4 host and per IPv6 /64.
//!
//! **Slow hashes.** Every Argon2id hash or verification holds one of [`SlowHashes`]' permits
//! (by default one per CPU) until it finishes, even when its request is dropped; when none is
//! free the request is answered at once, `503 busy` with a `Retry-After`, and nothing is hashed.
//! So a burst of requests costs bounded memory (one Argon2id run holds 19 MiB) and CPU.
//!
//! **Apps.** Each grant's well-signed requests draw on a bucket of [`APP_REQUEST_BURST`],
//! refilled at [`APP_REQUESTS_PER_SEC`] ([`GrantRate`], kept by each instance): past it, `429
//! rate_limited` with a `Retry-After`, before the request's nonce is spent. So what one app
//! makes the server store (spent nonces), and how often it wakes the person's devices, has a
//! bound whatever it sends.

use std::net::IpAddr;
use std::sync::Arc;

use argon2::{PasswordHasher, PasswordVerifier};
use profile_core::Secret32;

/// Failures an account is allowed before waits begin.
pub const FREE_FAILURES: i64 = 5;
/// Failures a client address is allowed before waits begin (more, since several people may
/// share one address; it brakes guessing across many accounts).
pub const ADDRESS_FREE_FAILURES: i64 = 50;
/// The first wait, doubled with each further failure.
pub const FIRST_WAIT_SECS: i64 = 30;
pub const MAX_WAIT_SECS: i64 = 3600;
/// Consecutive failures that lock an account until the operator lifts it.
pub const LOCKOUT_FAILURES: i64 = 100;
/// What a `busy` answer asks the client to wait.
pub const BUSY_RETRY_SECS: i64 = 1;

/// How long `failures` consecutive failures make the next attempt wait, when `free` of them
/// cost nothing.
pub fn wait_after(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = u32::try_from(failures - free).unwrap_or(u32::MAX).min(20);
    FIRST_WAIT_SECS.saturating_mul(1 << doublings).min(MAX_WAIT_SECS)
}

/// The throttle's subjects for one attempt: the client's address and, when one is named, the
/// account.
pub fn subjects(client: IpAddr, account: Option<&str>) -> Vec<String> {
    // One IPv6 host is usually given a whole /64: count the block, not each of its addresses.
    let address = match client {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => ipnet::Ipv6Net::new(v6, 64).map(|net| net.trunc().to_string()).unwrap_or_default(),
    };
    let mut subjects = vec![format!("ip:{address}")];
    subjects.extend(account.map(|id| format!("acct:{id}")));
    subjects
}

/// Why an attempt was refused unchecked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Try again in so many seconds.
    Wait(i64),
    /// The account is locked until the operator (or a recovery link) lifts it.
    LockedOut,
}

/// No slow-hash permit (or fetch slot) is free: the client is asked to retry in
/// [`BUSY_RETRY_SECS`], and nothing was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server is busy; try again in a moment")]
pub struct Busy;

/// How a subject is throttled: its free failures, and whether it can be locked out.
pub fn policy(subject: &str) -> (i64, Option<i64>) {
    if subject.starts_with("acct:") { (FREE_FAILURES, Some(LOCKOUT_FAILURES)) } else { (ADDRESS_FREE_FAILURES, None) }
}

/// A bound on the Argon2id runs in progress.
#[derive(Debug, Clone)]
pub struct SlowHashes(Arc<tokio::sync::Semaphore>);

impl SlowHashes {
    /// Allows `permits` runs at once; 0 means one per CPU.
    pub fn new(permits: usize) -> Self {
        let permits = match permits {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        Self(Arc::new(tokio::sync::Semaphore::new(permits)))
    }

    /// An Argon2id PHC hash of `secret`, or [`Busy`].
    pub async fn hash(&self, secret: Secret32) -> anyhow::Result<Result<String, Busy>> {
        self.run(move || argon2_hash(secret.expose())).await
    }

    /// Whether `secret` matches the PHC `hash`, or [`Busy`].
    pub async fn verify(&self, secret: Secret32, hash: String) -> anyhow::Result<Result<bool, Busy>> {
        self.run(move || Ok(argon2::Argon2::default().verify_password(secret.expose(), hash.as_str()).is_ok())).await
    }

    /// Runs `work` on the blocking pool holding a permit, which it keeps until the work is done
    /// even when the caller stops waiting; answers [`Busy`] at once when none is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<Result<T, Busy>> {
        let Ok(permit) = self.0.clone().try_acquire_owned() else { return Ok(Err(Busy)) };
        let done = tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await?;
        Ok(Ok(done?))
    }
}

/// An Argon2id PHC hash (the crate's defaults, above the OWASP floor) of `secret`. Blocks:
/// outside [`SlowHashes`] only where no request waits (at start).
pub fn argon2_hash(secret: &[u8]) -> anyhow::Result<String> {
    let salt = crate::random::<16>()?;
    argon2::Argon2::default()
        .hash_password_with_salt(secret, &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash: {e}"))
}

/// Requests a grant may make at once, after a quiet while.
pub const APP_REQUEST_BURST: f64 = 300.0;
/// Requests a grant may make each second, over time.
pub const APP_REQUESTS_PER_SEC: f64 = 5.0;
/// Buckets kept before the full ones (as good as none) are dropped.
const KEPT_BUCKETS: usize = 10_000;

/// Each grant's bucket of requests on this instance.
#[derive(Debug, Default)]
pub struct GrantRate(std::sync::Mutex<std::collections::HashMap<String, (f64, std::time::Instant)>>);

impl GrantRate {
    /// Takes one request from `grant`'s bucket: `Ok`, or the seconds to wait for the next.
    pub fn take(&self, grant: &str) -> Result<(), i64> {
        self.take_at(grant, std::time::Instant::now())
    }

    fn take_at(&self, grant: &str, now: std::time::Instant) -> Result<(), i64> {
        let mut buckets = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let refilled = |(tokens, at): (f64, std::time::Instant)| {
            (tokens + now.saturating_duration_since(at).as_secs_f64() * APP_REQUESTS_PER_SEC).min(APP_REQUEST_BURST)
        };
        if buckets.len() >= KEPT_BUCKETS && !buckets.contains_key(grant) {
            buckets.retain(|_, bucket| refilled(*bucket) < APP_REQUEST_BURST);
        }
        let tokens = buckets.get(grant).copied().map_or(APP_REQUEST_BURST, refilled);
        if tokens < 1.0 {
            // Whole seconds, at least one: the wait until one request has refilled.
            return Err(((1.0 - tokens) / APP_REQUESTS_PER_SEC).ceil().max(1.0) as i64);
        }
        buckets.insert(grant.to_owned(), (tokens - 1.0, now));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_gets_its_burst_then_its_rate_and_other_grants_keep_theirs() {
        let (rate, start) = (GrantRate::default(), std::time::Instant::now());
        for _ in 0..APP_REQUEST_BURST as usize {
            assert_eq!(rate.take_at("g1", start), Ok(()));
        }
        assert_eq!(rate.take_at("g1", start), Err(1), "the burst is spent");
        assert_eq!(rate.take_at("g2", start), Ok(()), "another grant's bucket is its own");
        let later = start + std::time::Duration::from_secs(1);
        for _ in 0..APP_REQUESTS_PER_SEC as usize {
            assert_eq!(rate.take_at("g1", later), Ok(()));
        }
        assert_eq!(rate.take_at("g1", later), Err(1), "refilled at its rate, no more");
        let much_later = start + std::time::Duration::from_secs(3600);
        assert_eq!(rate.take_at("g1", much_later), Ok(()));
        let kept = rate.0.lock().unwrap()["g1"].0;
        assert!((kept - (APP_REQUEST_BURST - 1.0)).abs() < 1e-9, "never more than the burst: {kept}");
    }

    #[test]
    fn full_buckets_are_dropped_once_many_are_kept() {
        let (rate, start) = (GrantRate::default(), std::time::Instant::now());
        for n in 0..KEPT_BUCKETS {
            assert_eq!(rate.take_at(&format!("g{n}"), start), Ok(()));
        }
        let later = start + std::time::Duration::from_secs(60);
        assert_eq!(rate.take_at("new", later), Ok(()));
        assert_eq!(rate.0.lock().unwrap().len(), 1, "only the new grant's bucket is not full");
    }

    #[test]
    fn addresses_are_counted_per_ipv4_host_and_per_ipv6_slash_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(subjects(ip("192.0.2.7"), Some("u")), ["ip:192.0.2.7", "acct:u"]);
        assert_eq!(subjects(ip("2001:db8:1:2:aaaa::1"), None), ["ip:2001:db8:1:2::/64"]);
        assert_eq!(subjects(ip("2001:db8:1:2:bbbb::9"), None), subjects(ip("2001:db8:1:2::1"), None));
    }

    #[test]
    fn waits_grow_and_stop_at_the_cap() {
        let wait = |failures| wait_after(failures, FREE_FAILURES);
        assert_eq!((1..FREE_FAILURES).map(wait).max(), Some(0));
        assert_eq!(wait(FREE_FAILURES), FIRST_WAIT_SECS);
        assert_eq!(wait(FREE_FAILURES + 2), FIRST_WAIT_SECS * 4);
        assert_eq!(wait(LOCKOUT_FAILURES), MAX_WAIT_SECS);
        assert_eq!(wait(i64::MAX), MAX_WAIT_SECS);
        assert_eq!(wait_after(ADDRESS_FREE_FAILURES - 1, ADDRESS_FREE_FAILURES), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_hashes_beyond_the_permits_are_refused_at_once() {
        let hashes = SlowHashes::new(1);
        let secret = || Secret32::from_bytes([1; 32]);
        let hash = hashes.hash(secret()).await.unwrap().unwrap();
        let (first, second) = tokio::join!(hashes.verify(secret(), hash.clone()), async {
            tokio::task::yield_now().await;
            hashes.verify(secret(), hash.clone()).await
        });
        let outcomes = [first.unwrap(), second.unwrap()];
        assert!(outcomes.iter().any(|o| matches!(o, Ok(true))), "{outcomes:?}");
        assert!(outcomes.iter().any(|o| o.is_err()), "one is busy: {outcomes:?}");
        assert!(matches!(hashes.verify(Secret32::from_bytes([2; 32]), hash).await, Ok(Ok(false))), "free again");
    }
}
