//! Site-to-server requests, signed with the key a site publishes in its registration
//! (`ORIGIN/.well-known/personal-profile`, member `publicKey`, a P-256 JWK).
//!
//! `POST /api/v1/sites/account-check` with the JSON body `{origin, accountGuid, issuedAt}` and
//! the header `Personal-Profile-Signature`: base64url of the ES256 signature (`r‖s`) over the
//! exact body bytes. The answer is `{"valid": true|false}`: whether a person on this server
//! holds that account at that origin and is not locked down. Nothing else is revealed.
//!
//! The server fetches only registrations of origins that some profile here has an account at
//! (so it cannot be made to fetch arbitrary URLs), never of loopback origins unless
//! `sites_on_loopback` is set (development), with a short timeout, no redirects and a size cap,
//! and remembers keys for a few minutes. A signature the remembered key does not verify makes
//! the server fetch the key again, at most every 30 seconds per site, so a site that rotates its
//! key is answered at once. A bad, stale or unverifiable request gets one answer,
//! `401 bad_signature`, and counts against the caller's address in the throttle.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64ct::{Base64UrlUnpadded, Encoding};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use profile_core::{AccountGuid, Origin, PublicJwk};
use serde::Deserialize;
use serde_json::json;

use crate::api::{ApiError, AppState, ClientAddr};

pub const SIGNATURE_HEADER: &str = "personal-profile-signature";
/// How far `issuedAt` may be from the server's clock.
const MAX_SKEW_SECS: i64 = 300;
/// How long a site's key is remembered.
const KEY_TTL: Duration = Duration::from_secs(300);
/// A remembered key older than this is fetched again when it does not verify a signature.
const REFETCH_AFTER: Duration = Duration::from_secs(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
const DOCUMENT_LIMIT: u64 = 64 * 1024;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AccountCheck {
    origin: Origin,
    account_guid: AccountGuid,
    issued_at: i64,
}

/// Sites' public keys, as fetched (or found missing) and when.
#[derive(Debug, Default)]
pub struct SiteKeys(Mutex<HashMap<Origin, (Instant, Option<VerifyingKey>)>>);

impl SiteKeys {
    /// The site's key: the remembered one when it is younger than `max_age`, else fetched.
    async fn get(&self, origin: &Origin, max_age: Duration) -> Option<VerifyingKey> {
        if let Some((at, key)) = self.0.lock().unwrap_or_else(|p| p.into_inner()).get(origin)
            && at.elapsed() < max_age
        {
            return *key;
        }
        let url = format!("{origin}/.well-known/personal-profile");
        let key = tokio::task::spawn_blocking(move || fetch_key(&url)).await.ok().flatten();
        let mut keys = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() > 10_000 {
            keys.clear();
        }
        keys.insert(origin.clone(), (Instant::now(), key));
        key
    }
}

fn fetch_key(url: &str) -> Option<VerifyingKey> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(FETCH_TIMEOUT))
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent.get(url).call().ok()?;
    if response.status() != 200 {
        return None;
    }
    let text = response.body_mut().with_config().limit(DOCUMENT_LIMIT).read_to_string().ok()?;
    let document: serde_json::Value = serde_json::from_str(&text).ok()?;
    let jwk: PublicJwk = serde_json::from_value(document.get("publicKey")?.clone()).ok()?;
    jwk.to_key().ok()
}

/// Whether the origin names this machine (`localhost`, `127.0.0.1`, `[::1]`).
fn is_loopback(origin: &Origin) -> bool {
    let host = origin.host().trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

/// Answers a site's signed question about one of its accounts.
pub async fn account_check(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let check: AccountCheck = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", e.to_string()))?;
    let subjects = crate::auth::subjects(client, None);
    state.db.throttle(&subjects).await?.map_err(crate::auth::rate_limited)?;
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            format!(
                "sign the exact body with the key in your /.well-known/personal-profile, put it in \
                 {SIGNATURE_HEADER}, and send the current time as issuedAt"
            ),
        )
    };
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| Base64UrlUnpadded::decode_vec(text.trim()).ok())
        .and_then(|raw| Signature::from_slice(&raw).ok());
    let fresh = (check.issued_at - crate::now()).abs() <= MAX_SKEW_SECS;
    let reachable = state.settings.sites_on_loopback || !is_loopback(&check.origin);
    let known: bool = sqlx::query("SELECT 1 FROM accounts WHERE origin = $1 LIMIT 1")
        .bind(check.origin.as_str())
        .fetch_optional(&state.db.pool)
        .await?
        .is_some();
    // Only registered origins are fetched, so no one can send the server to other URLs.
    let mut verified = false;
    if let Some(signature) = signature.filter(|_| known && fresh && reachable) {
        let verifies = |key: Option<VerifyingKey>| key.is_some_and(|key| key.verify(&body, &signature).is_ok());
        // A site that rotated its key is fetched again, but not at every bad signature.
        verified = verifies(state.site_keys.get(&check.origin, KEY_TTL).await)
            || verifies(state.site_keys.get(&check.origin, REFETCH_AFTER).await);
    }
    if !verified {
        state.db.record_failure(&subjects).await?;
        return Err(refused());
    }
    let valid = sqlx::query(
        "SELECT 1 FROM accounts a JOIN users u ON u.id = a.user_id \
         WHERE a.origin = $1 AND a.account_guid = $2 AND u.locked_at IS NULL",
    )
    .bind(check.origin.as_str())
    .bind(check.account_guid.as_str())
    .fetch_optional(&state.db.pool)
    .await?
    .is_some();
    Ok(Json(json!({ "valid": valid && !state.db.site_locked_down().await? })))
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
                async move { Json(json!({"appId": "shop", "name": "Shop", "publicKey": key})) }
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
        let keys = SiteKeys::default();
        let first = keys.get(&origin, KEY_TTL).await.expect("the published key");
        assert_eq!(first, jwk(1).to_key().unwrap());
        *published.lock().unwrap() = jwk(2);
        assert_eq!(keys.get(&origin, KEY_TTL).await, Some(first), "remembered");
        assert_eq!(keys.get(&origin, REFETCH_AFTER).await, Some(first), "just fetched: not fetched again");
        assert_eq!(keys.get(&origin, Duration::ZERO).await, Some(jwk(2).to_key().unwrap()), "the rotated key");
        let missing: Origin = "http://127.0.0.1:1".parse().unwrap();
        assert_eq!(keys.get(&missing, KEY_TTL).await, None, "no registration, no key");
    }

    #[test]
    fn loopback_origins_are_recognised() {
        for loopback in
            ["http://localhost:8480", "http://127.0.0.1:9", "https://127.0.0.2", "https://[::1]", "https://a.localhost"]
        {
            assert!(is_loopback(&loopback.parse().unwrap()), "{loopback}");
        }
        for public in ["https://shop.example", "https://localhost.example", "https://127.example"] {
            assert!(!is_loopback(&public.parse().unwrap()), "{public}");
        }
    }
}
