//! An app's server: what it publishes, and what it does with the grants people give it.
//!
//! An app is a site with two keys, both made from secrets it keeps ([`AppKeys`]): the P-256 key
//! it signs its requests with (a [`SiteKey`], as any site has) and the P-256 key what it may
//! read is sealed to (HPKE). It publishes both at `/.well-known/personal-profile`
//! ([`AppKeys::registration`]). A page of the app calls `window.profile.requestGrant({scopes,
//! purpose})`; once the person allows it, the page gets a [`GrantAnswer`] (`{grantId,
//! profileUrl, profileKey}`) and posts it to the app's server, which keeps it with the visitor's
//! session and makes an [`AppClient`] of it. Through the client it reads its share (sealed to
//! its key and signed by the profile: [`AppClient::share`]), appends items to the categories it
//! may append to (sealed to the profile's key: [`AppClient::append`]), and hears of changes by a
//! webhook ([`AppClient::set_webhook`], checked by [`Webhooks`]) or a WebSocket
//! ([`AppClient::events`]).
//!
//! ```no_run
//! use std::sync::Arc;
//! use profile_rp::apps::{AppClient, AppKeys, Category, GrantAnswer, Reach};
//! use profile_rp::Secret32;
//!
//! # fn example(signing: Secret32, encryption: Secret32, answer: GrantAnswer) -> Result<(), profile_rp::apps::AppError> {
//! // Once, at start: the keys from the app's secrets, and the registration to publish.
//! let keys = Arc::new(AppKeys::from_secrets(&signing, &encryption)?);
//! let registration = keys.registration("corner-till", "Corner Shop")?;   // serve as JSON
//!
//! // The page posted what requestGrant answered (with the visitor's session). Blocking: from
//! // async code, call the client inside `tokio::task::spawn_blocking`.
//! let client = AppClient::connect(keys.clone(), answer, Reach::Public)?;
//! let share = client.share()?;                          // opened and checked
//! let receipt = serde_json::json!({"merchant": "Corner Shop", "date": "2026-11-30",
//!     "currency": "EUR", "total": "4.20"});
//! client.append(Category::Receipts, receipt.as_object().cloned().unwrap_or_default())?;
//! // Keep `client.record()` (it is Serialize) and `AppClient::resume` it after a restart.
//! # Ok(())
//! # }
//! ```
//!
//! Every request the client makes is signed: an [`AppStamp`] (the grant, the method, the path,
//! a digest of the body, the time and a fresh nonce) in the `Personal-Profile-App` header and
//! the app key's signature over it in `Personal-Profile-Signature`. The profile server checks
//! the grant on each; every refusal is an [`AppError`] saying what was wrong
//! ([`AppError::revoked`] when the person revoked the grant: forget it).
//!
//! Like [`public`](crate::public), the client reaches only globally routable addresses over
//! https, without redirects or a proxy: a visitor's profile URL names the server it talks to,
//! so it cannot point the app at its own network. [`Reach::Loopback`] allows loopback and plain
//! http too, for development.

mod webhooks;

use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use profile_core::apps::SealedShare;
pub use profile_core::apps::sealed::ShareContents;
use profile_core::apps::sealed::{AppendContents, DecryptionKey, EncryptionKey, SealedError, open_share, seal_append};
pub use profile_core::apps::{
    Action, AppEvent, AppEventKind, AppName, AppRegistration, AppStamp, EVENT_ID_HEADER, GrantAnswer, GrantId,
    KEY_ID_HEADER, STAMP_HEADER, Scope,
};
pub use profile_core::category::{Category, ItemError, MAX_ITEM_BYTES};
use profile_core::server_api::{ApiErrorCode, AppendRequest, ErrorBody, WebhookSet, path};
pub use profile_core::server_api::{AppGrant, AppendAccepted};
use profile_core::{AppId, PublicJwk, Secret32};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
pub use webhooks::{DEFAULT_SEEN_IDS, Webhooks};

use crate::outward::Outward;
use crate::{SIGNATURE_HEADER, SiteKey, now};

/// How long one request to a profile server may take (a share may be several MiB).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest share read: its plaintext bound, as base64url, with room for its envelope.
const MAX_SHARE_RESPONSE: u64 = (profile_core::apps::sealed::MAX_SHARE_BYTES as u64) * 4 / 3 + 64 * 1024;
/// The largest other answer (or error body) read.
const MAX_ANSWER: u64 = 64 * 1024;

/// Which addresses an app's server reaches: the profile servers its visitors name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// https, globally routable addresses only: what a deployed app uses.
    Public,
    /// For development and tests: plain http and loopback addresses too (nothing else private).
    Loopback,
}

impl Reach {
    fn outward(self) -> Outward {
        Outward::new(self == Self::Loopback, REQUEST_TIMEOUT)
    }
}

/// Why an app's call failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the system random number generator failed")]
    Random,
    #[error("the app's signing secret is not a P-256 private key")]
    Key,
    #[error("the registration: {0}")]
    Registration(String),
    #[error("cannot reach the profile's server: {0}")]
    Unreachable(String),
    #[error("the profile document: {0}")]
    Document(String),
    #[error("the profile server refused {what} ({status}, {}): {message}", code.as_str())]
    Refused { what: &'static str, status: u16, code: ApiErrorCode, message: String },
    #[error("the profile server's answer to {what} is not what was expected: {detail}")]
    Answer { what: &'static str, detail: String },
    #[error("the share: {0}")]
    Share(SealedError),
    #[error("the share is version {version}, older than version {seen} read before")]
    ShareOlder { version: u64, seen: u64 },
    #[error("the share names the profile {found}, not {expected}, which granted it")]
    ShareProfile { expected: String, found: String },
    #[error("the item does not fit its category: {0}")]
    Item(#[from] ItemError),
    #[error("the item is {0} bytes as JSON; a profile keeps at most {MAX_ITEM_BYTES}")]
    ItemTooLarge(usize),
    #[error("the append: {0}")]
    Append(SealedError),
    #[error("the event socket: {0}")]
    Events(String),
    #[error("the webhook has no {0} header")]
    WebhookHeader(&'static str),
    #[error("the webhook's body is not an event: {0}")]
    WebhookBody(String),
    #[error("the webhook's signature does not verify with the profile server's key {0}")]
    WebhookSignature(String),
    #[error("the profile server at {api_base} publishes no key {key_id}")]
    UnknownKey { api_base: String, key_id: String },
    #[error("the event is for grant {0}, which this app does not hold")]
    UnknownGrant(GrantId),
}

impl AppError {
    /// Whether the person revoked the grant: nothing more is served for it, so forget it.
    pub fn revoked(&self) -> bool {
        matches!(self, Self::Refused { code: ApiErrorCode::GrantRevoked, .. })
    }
}

/// The app's two keys: the one it signs its requests with and the one what it may read is
/// sealed to. Keep their secrets like a TLS key.
pub struct AppKeys {
    signing: SiteKey,
    decryption: DecryptionKey,
}

impl std::fmt::Debug for AppKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppKeys(..)")
    }
}

impl AppKeys {
    /// The site's own key to sign with, and the encryption key HPKE derives from `encryption`
    /// (the same 32 bytes always make the same key).
    pub fn new(signing: SiteKey, encryption: &Secret32) -> Self {
        Self { signing, decryption: DecryptionKey::from_secret(encryption) }
    }

    /// Both keys from stored secrets: `signing` must be a P-256 private key (32 random bytes
    /// almost always are).
    pub fn from_secrets(signing: &Secret32, encryption: &Secret32) -> Result<Self, AppError> {
        let signing = SiteKey::from_bytes(signing.expose()).ok_or(AppError::Key)?;
        Ok(Self::new(signing, encryption))
    }

    /// New random keys (demos and tests: grants are made for the keys an app published, so an
    /// app that forgets its keys loses its grants).
    pub fn generate() -> Result<Self, AppError> {
        let signing = SiteKey::generate().map_err(|_| AppError::Random)?;
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| AppError::Random)?;
        let encryption = Secret32::from_bytes(bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        Ok(Self::new(signing, &encryption))
    }

    pub fn site_key(&self) -> &SiteKey {
        &self.signing
    }

    /// The key shares are sealed to (`encryptionKey` in the registration).
    pub fn encryption_key(&self) -> PublicJwk {
        self.decryption.public().to_jwk()
    }

    /// The app's registration, to serve as JSON at `/.well-known/personal-profile`: its id,
    /// the name the consent window shows beside its origin, and both public keys.
    pub fn registration(&self, app_id: &str, name: &str) -> Result<AppRegistration, AppError> {
        Ok(AppRegistration {
            app_id: AppId::try_from(app_id.to_owned()).map_err(AppError::Registration)?,
            name: AppName::try_from(name.to_owned()).map_err(AppError::Registration)?,
            public_key: self.signing.public_jwk(),
            encryption_key: Some(self.encryption_key()),
        })
    }

    /// The two headers of a request of `grant_id`: the stamp (for `Personal-Profile-App`) and
    /// its signature (for `Personal-Profile-Signature`), as of now with a fresh nonce.
    pub fn stamp(&self, grant_id: &GrantId, method: &str, path: &str, body: &[u8]) -> Result<StampHeaders, AppError> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|_| AppError::Random)?;
        Ok(self.stamp_with(AppStamp::new(grant_id.clone(), method, path, body, now(), nonce)))
    }

    fn stamp_with(&self, stamp: AppStamp) -> StampHeaders {
        let (bytes, stamp) = stamp.to_header();
        StampHeaders { signature: self.signing.sign(&bytes), stamp }
    }
}

/// A signed request's two headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StampHeaders {
    /// For `Personal-Profile-App` ([`STAMP_HEADER`]): base64url of the
    /// stamp's exact JSON bytes.
    pub stamp: String,
    /// For `Personal-Profile-Signature`: base64url of the ES256 signature (`r‖s`) over them.
    pub signature: String,
}

/// What an app keeps of a grant between restarts: where it is, whose it is, and the newest
/// share it read (an older one is refused from then on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantRecord {
    pub grant_id: GrantId,
    pub profile_url: String,
    /// The key the profile signs its shares with, as `requestGrant` answered it.
    pub profile_key: PublicJwk,
    /// The profile server's API, from the profile document.
    pub api_base: String,
    /// The highest share version read, once one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_version: Option<u64>,
    /// The profile's encryption key, from that share: appends are sealed to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<PublicJwk>,
}

/// One grant, as the app's server uses it. Its calls block (at most 30 s each): from async
/// code, call them inside `tokio::task::spawn_blocking`. Share it (`Arc`) between requests.
#[derive(Debug)]
pub struct AppClient {
    keys: Arc<AppKeys>,
    outward: Outward,
    record: Mutex<GrantRecord>,
}

impl AppClient {
    /// A client for the grant `answer` names: reads the profile document at its profile URL
    /// for the profile server's API. Make one only of an answer your page posted with the
    /// visitor's session: the answer says which profile granted what, nothing more.
    pub fn connect(keys: Arc<AppKeys>, answer: GrantAnswer, reach: Reach) -> Result<Self, AppError> {
        let outward = reach.outward();
        let document = crate::public::fetch_document(&outward, &answer.profile_url).map_err(AppError::Unreachable)?;
        let document = crate::public::read_document(&answer.profile_url, &document).map_err(AppError::Document)?;
        let api_base = document.api_base.trim_end_matches('/').to_owned();
        outward.check_scheme(&format!("{api_base}/")).map_err(|e| AppError::Document(format!("its apiBase: {e}")))?;
        let record = GrantRecord {
            grant_id: answer.grant_id,
            profile_url: answer.profile_url,
            profile_key: answer.profile_key,
            api_base,
            share_version: None,
            encryption_key: None,
        };
        Ok(Self { keys, outward, record: Mutex::new(record) })
    }

    /// A client for a grant kept from before ([`AppClient::record`]); nothing is fetched.
    pub fn resume(keys: Arc<AppKeys>, record: GrantRecord, reach: Reach) -> Result<Self, AppError> {
        let outward = reach.outward();
        outward
            .check_scheme(&format!("{}/", record.api_base))
            .map_err(|e| AppError::Document(format!("its apiBase: {e}")))?;
        Ok(Self { keys, outward, record: Mutex::new(record) })
    }

    /// What to keep of the grant (and pass to [`AppClient::resume`]).
    pub fn record(&self) -> GrantRecord {
        self.record.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn grant_id(&self) -> GrantId {
        self.record().grant_id
    }

    /// The profile server's API base (webhooks are checked against its keys).
    pub fn api_base(&self) -> String {
        self.record().api_base
    }

    /// The grant as the profile server enforces it: its scopes and the share's version.
    pub fn grant(&self) -> Result<AppGrant, AppError> {
        let body = self.call("the grant", "GET", path::APP_GRANT, None, MAX_ANSWER)?;
        serde_json::from_slice(&body).map_err(|e| AppError::Answer { what: "the grant", detail: e.to_string() })
    }

    /// The share, opened: checked with the profile's key the page's answer gave (the profile
    /// server cannot pass off one of its own), opened with the app's key, and refused when
    /// older than the newest read before.
    pub fn share(&self) -> Result<ShareContents, AppError> {
        let body = self.call("the share", "GET", path::APP_SHARE, None, MAX_SHARE_RESPONSE)?;
        let sealed =
            serde_json::from_slice(&body).map_err(|e| AppError::Answer { what: "the share", detail: e.to_string() })?;
        self.accept_share(&sealed)
    }

    /// Opens a share as read and checks it against what the app knows of the grant; keeps its
    /// version and the profile's encryption key.
    fn accept_share(&self, sealed: &SealedShare) -> Result<ShareContents, AppError> {
        let mut record = self.record.lock().unwrap_or_else(|p| p.into_inner());
        let contents = open_share(&self.keys.decryption, &record.profile_key, &record.grant_id, sealed)
            .map_err(AppError::Share)?;
        if let Some(seen) = record.share_version
            && contents.version < seen
        {
            return Err(AppError::ShareOlder { version: contents.version, seen });
        }
        if contents.profile_url != record.profile_url {
            return Err(AppError::ShareProfile {
                expected: record.profile_url.clone(),
                found: contents.profile_url.clone(),
            });
        }
        record.share_version = Some(contents.version);
        record.encryption_key = Some(contents.encryption_key.clone());
        Ok(contents)
    }

    /// Appends an item to `category` (the grant must allow it): checked against the category's
    /// definition and its size here, signed with the app's key and sealed to the profile's
    /// encryption key from the newest share (read first when none was), and sent. The person's
    /// devices take it in once the signature checks with the key the app's registration
    /// published.
    pub fn append(&self, category: Category, fields: Map<String, Value>) -> Result<AppendAccepted, AppError> {
        let body = self.append_body(category, fields)?;
        let answer = self.call("the append", "POST", path::APP_APPENDS, Some(&body), MAX_ANSWER)?;
        serde_json::from_slice(&answer).map_err(|e| AppError::Answer { what: "the append", detail: e.to_string() })
    }

    /// The body of an append: the item checked, and sealed to the profile.
    fn append_body(&self, category: Category, fields: Map<String, Value>) -> Result<Vec<u8>, AppError> {
        let fields = category.def().check(&fields)?;
        let size = serde_json::to_vec(&fields).map_or(usize::MAX, |bytes| bytes.len());
        if size > MAX_ITEM_BYTES {
            return Err(AppError::ItemTooLarge(size));
        }
        let key = match self.record().encryption_key {
            Some(key) => key,
            None => self.share()?.encryption_key,
        };
        let key = EncryptionKey::from_jwk(&key).map_err(AppError::Append)?;
        let contents = AppendContents { grant_id: self.grant_id(), category, fields, made_at: now() };
        let mut rng = hpke_rng();
        let sign = |bytes: &[u8]| self.keys.signing.sign_bytes(bytes);
        let sealed = seal_append(&key, &contents, sign, &mut rng).map_err(AppError::Append)?;
        serde_json::to_vec(&AppendRequest { category, sealed })
            .map_err(|e| AppError::Append(SealedError::Malformed(e.to_string())))
    }

    /// Has the profile server POST this grant's events to `url` (https, a public address),
    /// signed with its key: check them with [`Webhooks`]. Needs `subscribe` on some scope.
    pub fn set_webhook(&self, url: &str) -> Result<(), AppError> {
        let body = serde_json::to_vec(&WebhookSet { url: url.to_owned() })
            .map_err(|e| AppError::Answer { what: "the webhook", detail: e.to_string() })?;
        self.call("the webhook", "PUT", path::APP_WEBHOOK, Some(&body), MAX_ANSWER).map(drop)
    }

    /// Stops the webhook.
    pub fn clear_webhook(&self) -> Result<(), AppError> {
        self.call("the webhook", "DELETE", path::APP_WEBHOOK, None, MAX_ANSWER).map(drop)
    }

    /// The grant's events as they happen, over a WebSocket (the upgrade request signed like
    /// every other). Needs `subscribe` on some scope. The socket is the profile server's, so
    /// events on it need no signature of their own.
    pub fn events(&self) -> Result<AppEvents, AppError> {
        let record = self.record();
        let url = format!("ws{}{}", record.api_base.trim_start_matches("http"), path::APP_EVENTS);
        let uri: ureq::http::Uri = url.parse().map_err(|_| AppError::Events(format!("not a URL: {url}")))?;
        let host = uri.host().ok_or_else(|| AppError::Events(format!("no host in {url}")))?;
        let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("wss") { 443 } else { 80 });
        let stamp = self.keys.stamp(&record.grant_id, "GET", &request_path(&uri), b"")?;
        let mut request = tungstenite::client::IntoClientRequest::into_client_request(url.as_str())
            .map_err(|e| AppError::Events(e.to_string()))?;
        for (name, value) in [(STAMP_HEADER, &stamp.stamp), (SIGNATURE_HEADER, &stamp.signature)] {
            let value = value.parse().map_err(|_| AppError::Events("an unusable header".into()))?;
            request.headers_mut().insert(name, value);
        }
        let stream = self.outward.connect(host, port).map_err(AppError::Unreachable)?;
        // The handshake may take the request timeout; the events then come when they come.
        stream.set_read_timeout(Some(REQUEST_TIMEOUT)).map_err(|e| AppError::Events(e.to_string()))?;
        let handshake_stream = stream.try_clone().map_err(|e| AppError::Events(e.to_string()))?;
        let (socket, response) = tungstenite::client_tls(request, handshake_stream).map_err(|e| match e {
            tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response)) => {
                let body = response.body().as_deref().unwrap_or_default();
                refused("the event socket", response.status().as_u16(), body)
            }
            e => AppError::Events(e.to_string()),
        })?;
        drop(response);
        stream.set_read_timeout(None).map_err(|e| AppError::Events(e.to_string()))?;
        Ok(AppEvents { socket })
    }

    /// One signed request: the body of its 2xx answer, at most `limit` bytes.
    fn call(
        &self,
        what: &'static str,
        method: &str,
        api_path: &str,
        body: Option<&[u8]>,
        limit: u64,
    ) -> Result<Vec<u8>, AppError> {
        let record = self.record();
        let url = format!("{}{api_path}", record.api_base);
        let uri: ureq::http::Uri = url.parse().map_err(|_| AppError::Document(format!("not a URL: {url}")))?;
        let stamp = self.keys.stamp(&record.grant_id, method, &request_path(&uri), body.unwrap_or_default())?;
        let agent = self.outward.agent();
        let headers = [(STAMP_HEADER, &stamp.stamp), (SIGNATURE_HEADER, &stamp.signature)];
        let sent = match (method, body) {
            ("GET", _) => agent.get(&url).header(headers[0].0, headers[0].1).header(headers[1].0, headers[1].1).call(),
            ("DELETE", _) => {
                agent.delete(&url).header(headers[0].0, headers[0].1).header(headers[1].0, headers[1].1).call()
            }
            (method, body) => {
                let builder = if method == "PUT" { agent.put(&url) } else { agent.post(&url) };
                builder
                    .header(headers[0].0, headers[0].1)
                    .header(headers[1].0, headers[1].1)
                    .header("Content-Type", "application/json")
                    .send(body.unwrap_or_default())
            }
        };
        let mut response = sent.map_err(|e| AppError::Unreachable(format!("{url}: {e}")))?;
        let status = response.status().as_u16();
        let limit = if response.status().is_success() { limit } else { MAX_ANSWER };
        let answer = response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| AppError::Unreachable(format!("{url}: {e}")))?;
        if !(200..300).contains(&status) {
            return Err(refused(what, status, &answer));
        }
        Ok(answer)
    }
}

/// The profile server's refusal, read from its error body.
fn refused(what: &'static str, status: u16, body: &[u8]) -> AppError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(body) => AppError::Refused { what, status, code: body.error.code, message: body.error.message },
        Err(_) => AppError::Refused { what, status, code: ApiErrorCode::Unknown, message: "no error body".into() },
    }
}

/// The path and query a stamp names: what the profile server sees requested.
fn request_path(uri: &ureq::http::Uri) -> String {
    uri.path_and_query().map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned())
}

/// The OS random number generator, as HPKE takes it. It panics only when the OS generator
/// fails, which nothing a visitor or a profile server sends can cause.
fn hpke_rng() -> impl profile_core::apps::sealed::CryptoRng {
    getrandom::rand_core::UnwrapErr(getrandom::SysRng)
}

/// A grant's events as the profile server sends them (an iterator: `None` once it closed the
/// socket). Blocking: run it on a thread of its own.
#[derive(Debug)]
pub struct AppEvents {
    socket: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
}

impl Iterator for AppEvents {
    type Item = Result<AppEvent, AppError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.socket.read() {
                Ok(tungstenite::Message::Text(text)) => {
                    // An event this version does not know is passed over.
                    if let Ok(event) = serde_json::from_str::<AppEvent>(&text) {
                        return Some(Ok(event));
                    }
                }
                Ok(tungstenite::Message::Close(_))
                | Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(AppError::Events(e.to_string()))),
            }
        }
    }
}

#[cfg(test)]
mod tests;
