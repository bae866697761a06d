//! Sites' published keys: the P-256 key a site puts in its registration
//! (`ORIGIN/.well-known/personal-profile`, member `publicKey`), fetched and remembered for
//! checking the requests it signs ([`crate::routes::sites`]).
//!
//! The fetch is a GET of that one path, with a short timeout, no redirects, no proxy and a size
//! cap, and it connects only to globally routable addresses: every address the origin's name
//! resolves to is checked as it is connected to ([`profile_outward::OutwardOnly`], ureq's resolver seam), so
//! neither an address literal in any spelling (`[::ffff:127.0.0.1]`) nor a name that resolves
//! inward reaches this machine or its network. `sites_on_loopback` (development) allows
//! loopback addresses as well. Keys are remembered for a few minutes; at most eight fetches
//! run at once, the rest are refused ([`Busy`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use profile_core::ecdsa::PublicKey;
use profile_core::{Origin, PublicJwk};

use crate::throttle::Busy;

/// How long a site's key is remembered.
pub const KEY_TTL: Duration = Duration::from_secs(300);
/// A remembered key older than this is fetched again when it does not verify a signature.
pub const REFETCH_AFTER: Duration = Duration::from_secs(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
const DOCUMENT_LIMIT: u64 = 64 * 1024;

/// Sites' public keys, as fetched (or found missing) and when, and the agent that fetches them.
#[derive(Debug)]
pub struct SiteKeys {
    keys: Mutex<HashMap<Origin, (Instant, Option<PublicKey>)>>,
    agent: ureq::Agent,
    /// Fetches under way at most: each may hold a blocking thread for [`FETCH_TIMEOUT`], and
    /// anyone can ask for one, so they are bounded for the whole server.
    fetches: tokio::sync::Semaphore,
}

/// Site registrations fetched at once, at most; a check past that answers `503 busy`.
const MAX_FETCHES: usize = 8;
/// Sites' keys remembered, at most; past it the expired ones go, then all.
const MAX_REMEMBERED: usize = 10_000;

impl SiteKeys {
    /// Fetches from globally routable addresses only, and from loopback ones too when
    /// `loopback` is set (`sites_on_loopback`).
    pub fn new(loopback: bool) -> Self {
        let agent = profile_outward::agent(loopback, FETCH_TIMEOUT);
        Self { keys: Mutex::default(), agent, fetches: tokio::sync::Semaphore::new(MAX_FETCHES) }
    }

    /// The site's key: the remembered one when it is younger than `max_age`, else fetched
    /// (only from the addresses [`profile_outward::OutwardOnly`] lets through). `busy` when too many fetches are
    /// under way.
    pub async fn get(&self, origin: &Origin, max_age: Duration) -> Result<Option<PublicKey>, Busy> {
        if let Some((at, key)) = self.keys.lock().unwrap_or_else(|p| p.into_inner()).get(origin)
            && at.elapsed() < max_age
        {
            return Ok(*key);
        }
        let Ok(_slot) = self.fetches.try_acquire() else { return Err(Busy) };
        let url = format!("{origin}/.well-known/personal-profile");
        let agent = self.agent.clone();
        let key = tokio::task::spawn_blocking(move || fetch_key(&agent, &url)).await.ok().flatten();
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= MAX_REMEMBERED {
            keys.retain(|_, (at, _)| at.elapsed() < KEY_TTL);
            if keys.len() >= MAX_REMEMBERED {
                keys.clear();
            }
        }
        keys.insert(origin.clone(), (Instant::now(), key));
        Ok(key)
    }
}

fn fetch_key(agent: &ureq::Agent, url: &str) -> Option<PublicKey> {
    let mut response = agent.get(url).call().ok()?;
    if response.status() != 200 {
        return None;
    }
    let text = response.body_mut().with_config().limit(DOCUMENT_LIMIT).read_to_string().ok()?;
    let document: serde_json::Value = serde_json::from_str(&text).ok()?;
    let jwk: PublicJwk = serde_json::from_value(document.get("publicKey")?.clone()).ok()?;
    jwk.to_key().ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A site on loopback whose registration's key can be swapped.
    async fn site(key: Arc<Mutex<PublicJwk>>) -> Origin {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port()).parse().unwrap();
        let app = axum::Router::new().route(
            "/.well-known/personal-profile",
            axum::routing::get(move || {
                let key = key.lock().unwrap().clone();
                async move { axum::Json(serde_json::json!({"appId": "shop", "name": "Shop", "publicKey": key})) }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        origin
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_are_remembered_and_fetched_again_when_asked_for_younger() {
        let jwk = |byte| {
            profile_core::LoginKey::from_secret(&profile_core::Secret32::from_bytes([byte; 32])).unwrap().public_jwk()
        };
        let published = Arc::new(Mutex::new(jwk(1)));
        let origin = site(published.clone()).await;
        let keys = SiteKeys::new(true);
        let first = keys.get(&origin, KEY_TTL).await.unwrap().expect("the published key");
        assert_eq!(first, jwk(1).to_key().unwrap());
        *published.lock().unwrap() = jwk(2);
        assert_eq!(keys.get(&origin, KEY_TTL).await.unwrap(), Some(first), "remembered");
        assert_eq!(keys.get(&origin, REFETCH_AFTER).await.unwrap(), Some(first), "just fetched: not fetched again");
        assert_eq!(keys.get(&origin, Duration::ZERO).await.unwrap(), Some(jwk(2).to_key().unwrap()), "the rotated key");
        // Every fetch slot taken: the next fetch is refused at once, not queued.
        let held: Vec<_> = (0..MAX_FETCHES).map(|_| keys.fetches.try_acquire().unwrap()).collect();
        assert!(keys.get(&origin, Duration::ZERO).await.is_err(), "busy while {} fetches run", held.len());
        drop(held);
        let missing: Origin = "http://127.0.0.1:1".parse().unwrap();
        assert_eq!(keys.get(&missing, KEY_TTL).await.unwrap(), None, "no registration, no key");
    }

    /// A name that resolves inward is refused as it is connected to, and nothing connects.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn inward_names_are_never_connected_to() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let keys = SiteKeys::new(false);
        for url in [
            format!("http://localhost:{port}/x"),
            format!("http://127.0.0.1:{port}/x"),
            format!("http://[::ffff:127.0.0.1]:{port}/x"),
        ] {
            let agent = keys.agent.clone();
            let error = tokio::task::spawn_blocking(move || agent.get(&url).call().unwrap_err()).await.unwrap();
            assert!(matches!(error, ureq::Error::HostNotFound), "{error}");
        }
        assert!(listener.accept().is_err(), "nothing connected");
    }
}
