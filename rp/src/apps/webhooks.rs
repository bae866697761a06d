//! Checking the webhooks profile servers POST to an app.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use profile_core::ecdsa::Signature;
use profile_core::server_api::{Jwks, ServerJwk, path};

use super::{AppError, AppEvent, GrantId, Reach};
use crate::outward::Outward;

/// How many event ids [`Webhooks::once`] remembers unless told otherwise.
pub const DEFAULT_SEEN_IDS: usize = 100_000;
/// The soonest a profile server's keys are fetched again for a key id they did not hold.
const REFETCH_AFTER: Duration = Duration::from_secs(30);
const MAX_JWKS: u64 = 64 * 1024;

/// Checks webhooks: each is a `POST` of an [`AppEvent`]'s JSON, signed (ES256, over the exact
/// body) by the profile server that holds the grant, with the key its `/.well-known/jwks.json`
/// publishes under the `Personal-Profile-Key-Id` header's id. Keys are fetched (blocking: call
/// [`Webhooks::verify`] inside `spawn_blocking`) and kept, and fetched again when a webhook names
/// an id they did not hold (at most every 30 seconds per server), so a server may rotate its key.
///
/// A webhook may come more than once (delivery is at least once): [`Webhooks::once`] remembers
/// the ids of the last events you handled. Keep one `Webhooks` for the app.
#[derive(Debug)]
pub struct Webhooks {
    outward: Outward,
    servers: Mutex<HashMap<String, ServerKeys>>,
    seen: Mutex<SeenIds>,
}

#[derive(Debug)]
struct ServerKeys {
    keys: Vec<ServerJwk>,
    fetched: Instant,
}

impl Webhooks {
    /// Remembers the last [`DEFAULT_SEEN_IDS`] event ids.
    pub fn new(reach: Reach) -> Self {
        Self::with_capacity(reach, DEFAULT_SEEN_IDS)
    }

    /// Remembers the last `seen_ids` event ids (at least one).
    pub fn with_capacity(reach: Reach, seen_ids: usize) -> Self {
        Self {
            outward: reach.outward(),
            servers: Mutex::default(),
            seen: Mutex::new(SeenIds { order: VecDeque::new(), ids: HashSet::new(), capacity: seen_ids.max(1) }),
        }
    }

    /// Checks a webhook and answers its event. `key_id` and `signature` are its
    /// `Personal-Profile-Key-Id` and `Personal-Profile-Signature` headers (empty when absent),
    /// `body` its exact bytes; `api_base_of` answers the API base of the profile server that
    /// holds the grant the body names ([`super::AppClient::api_base`]), or `None` when the app
    /// holds no such grant. The signature is checked with that server's key, so a server can
    /// speak only of its own grants.
    pub fn verify(
        &self,
        key_id: &str,
        signature: &str,
        body: &[u8],
        api_base_of: impl FnOnce(&GrantId) -> Option<String>,
    ) -> Result<AppEvent, AppError> {
        if key_id.is_empty() {
            return Err(AppError::WebhookHeader(profile_core::apps::KEY_ID_HEADER));
        }
        if signature.is_empty() {
            return Err(AppError::WebhookHeader(crate::SIGNATURE_HEADER));
        }
        let event: AppEvent = serde_json::from_slice(body).map_err(|e| AppError::WebhookBody(e.to_string()))?;
        let api_base = api_base_of(&event.grant_id).ok_or_else(|| AppError::UnknownGrant(event.grant_id.clone()))?;
        let key = self.key(&api_base, key_id)?;
        let signature = Signature::from_base64url(signature).map_err(|_| AppError::WebhookSignature(key_id.into()))?;
        let key = key.key.to_key().map_err(|_| AppError::WebhookSignature(key_id.into()))?;
        key.verify(body, &signature).map_err(|_| AppError::WebhookSignature(key_id.into()))?;
        Ok(event)
    }

    /// Handles an event once: runs `handle` unless an event with this id was handled before
    /// (`Ok(None)` then), and remembers the id only when `handle` succeeded, so an event whose
    /// handling failed is handled when the server sends it again (answer the webhook with an
    /// error, and it does). Two deliveries of one event at the same moment (a retry while the
    /// first is still being handled, or the socket and the webhook) may both run it: make
    /// handling idempotent, as reading the share again is. The oldest ids are forgotten beyond
    /// the capacity.
    pub fn once<T, E>(&self, event_id: &str, handle: impl FnOnce() -> Result<T, E>) -> Result<Option<T>, E> {
        if self.seen.lock().unwrap_or_else(|p| p.into_inner()).ids.contains(event_id) {
            return Ok(None);
        }
        let done = handle()?;
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).remember(event_id);
        Ok(Some(done))
    }

    /// The server's key `key_id`: kept, or fetched when not held and not fetched lately.
    fn key(&self, api_base: &str, key_id: &str) -> Result<ServerJwk, AppError> {
        let find = |keys: &[ServerJwk]| keys.iter().find(|k| k.kid == key_id && k.alg == "ES256").cloned();
        {
            let servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(server) = servers.get(api_base) {
                if let Some(key) = find(&server.keys) {
                    return Ok(key);
                }
                if server.fetched.elapsed() < REFETCH_AFTER {
                    return Err(AppError::UnknownKey { api_base: api_base.into(), key_id: key_id.into() });
                }
            }
        }
        let url = format!("{}{}", api_base.trim_end_matches('/'), path::JWKS);
        let body = self.outward.get(&url, "application/json", MAX_JWKS).map_err(AppError::Unreachable)?;
        let jwks: Jwks = serde_json::from_slice(&body)
            .map_err(|e| AppError::Answer { what: "the server's keys", detail: e.to_string() })?;
        let key = find(&jwks.keys);
        self.remember(api_base, jwks);
        key.ok_or_else(|| AppError::UnknownKey { api_base: api_base.into(), key_id: key_id.into() })
    }

    pub(super) fn remember(&self, api_base: &str, jwks: Jwks) {
        let mut servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        servers.insert(api_base.to_owned(), ServerKeys { keys: jwks.keys, fetched: Instant::now() });
    }
}

/// The last `capacity` ids, oldest first.
#[derive(Debug)]
struct SeenIds {
    order: VecDeque<String>,
    ids: HashSet<String>,
    capacity: usize,
}

impl SeenIds {
    fn remember(&mut self, id: &str) {
        if self.ids.contains(id) {
            return;
        }
        if self.order.len() >= self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        self.order.push_back(id.to_owned());
        self.ids.insert(id.to_owned());
    }
}
