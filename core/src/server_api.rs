//! The profile server's HTTP contract: every path of its `/api/v1` API (and the few public
//! documents beside it), and every request and response body, as the server answers and a
//! device or a site sends. Both ends use these types, so the JSON on the wire has one
//! definition; nothing here does I/O.
//!
//! Request bodies refuse unknown fields (the server answers them `422`); response bodies do
//! not, so a newer server may add members. Secrets in bodies are [`Secret32`] or [`Bearer`],
//! which print redacted. Binary values (sealed blobs, wrapped keys) are [`Bytes`]: base64url.
//!
//! Errors are [`ErrorBody`]: `{"error": {"code", "message"}}`, plus `counter` on a `409
//! conflict` of the vault, `conflicts` on a `409 conflict` of vault items, and `retryAfter`
//! (also the `Retry-After` header) on `429 rate_limited` and `503 busy`.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};

use crate::apps::{AppName, GrantId, Scope, Sealed, SealedShare};
use crate::category::Category;
use crate::public::PublicPart;
use crate::vault::KdfParams;
use crate::{AccountGuid, AppId, Bearer, Origin, Permissions, PublicJwk, Secret32};

/// The paths, relative to a profile's `apiBase` (the server's public URL). Patterns with
/// `{id}` are axum's; the functions below fill them in.
pub mod path {
    /// `GET`: liveness, with a database ping ([`super::Health`]).
    pub const HEALTH: &str = "/healthz";
    /// `GET`: a user's public profile document ([`super::ProfileDocument`]).
    pub const PROFILE: &str = "/u/{id}";
    /// `GET`: the server's public signing key ([`super::Jwks`]).
    pub const JWKS: &str = "/.well-known/jwks.json";
    /// `POST` [`super::PreloginRequest`] → [`super::PreloginResponse`].
    pub const PRELOGIN: &str = "/api/v1/prelogin";
    /// `POST` [`super::LoginRequest`] → [`super::Tokens`].
    pub const LOGIN: &str = "/api/v1/login";
    /// `POST` [`super::RefreshRequest`] → [`super::Tokens`].
    pub const TOKEN: &str = "/api/v1/token";
    /// `GET` → [`super::DeviceList`].
    pub const DEVICES: &str = "/api/v1/devices";
    /// `DELETE`: signs a device out (204).
    pub const DEVICE: &str = "/api/v1/devices/{id}";
    /// `GET` → [`super::Vault`]; `PUT` [`super::VaultWrite`] → [`super::VaultWritten`].
    pub const VAULT: &str = "/api/v1/vault";
    /// `POST` [`super::ItemBatch`] → [`super::ItemsWritten`] (409 [`super::ErrorBody`] with
    /// `conflicts`); `GET` [`super::ItemsQuery`] (as the query) → [`super::ItemChanges`].
    pub const VAULT_ITEMS: &str = "/api/v1/vault/items";
    /// `PUT` [`crate::public::PublicPart`] → 204; `DELETE` → 204. What the profile document
    /// shows as `public`.
    pub const PUBLIC: &str = "/api/v1/public";
    /// `PUT` [`super::PassphraseChange`] → 204, or [`super::VaultWritten`] with `rotate`.
    pub const PASSPHRASE: &str = "/api/v1/passphrase";
    /// `PUT` [`super::PaperKeySet`] → 204.
    pub const PAPER_KEY: &str = "/api/v1/paper-key";
    /// `GET` [`super::AccountsQuery`] → [`super::AccountList`]; `PUT`
    /// [`super::AccountRegistration`] → [`super::Account`]; `DELETE` [`super::AccountRef`] (as
    /// the query) → 204.
    pub const ACCOUNTS: &str = "/api/v1/accounts";
    /// `POST` [`super::AccountRef`] → 204.
    pub const ACCOUNTS_LOGIN: &str = "/api/v1/accounts/login";
    /// `GET`, upgraded to a WebSocket of [`super::PushEvent`]s.
    pub const PUSH: &str = "/api/v1/push";
    /// `POST` [`super::AccountCheck`], signed → [`super::AccountCheckAnswer`].
    pub const ACCOUNT_CHECK: &str = "/api/v1/sites/account-check";
    /// `POST` (no body) → [`super::VerifySent`].
    pub const EMAIL_VERIFY: &str = "/api/v1/email/verify";
    /// `POST` [`super::RecoverRequest`] → [`super::RecoverSent`].
    pub const EMAIL_RECOVER: &str = "/api/v1/email/recover";
    /// `GET ?token=T`: the page a mailed link opens; `POST` (a form with `token`): spends it.
    pub const EMAIL_CONFIRM: &str = "/email/confirm";
    /// `GET`: OpenMetrics text, on its own listener or to the bearer of the metrics token.
    pub const METRICS: &str = "/metrics";

    // A person's devices, with their access token: the grants they gave apps.
    /// `POST` [`super::GrantRegistration`] → 201 [`super::GrantInfo`]; `GET` →
    /// [`super::GrantList`].
    pub const GRANTS: &str = "/api/v1/grants";
    /// `DELETE`: revokes the grant (204): its share is deleted, its key refused at once, and
    /// the app told `grant-revoked`.
    pub const GRANT: &str = "/api/v1/grants/{id}";
    /// `PUT` [`crate::apps::SealedShare`] (a newer version) → 204; the app's subscribers hear
    /// `share-updated`.
    pub const GRANT_SHARE: &str = "/api/v1/grants/{id}/share";
    /// `GET` → [`super::AppendList`]: what apps appended, still sealed to the profile.
    pub const APPENDS: &str = "/api/v1/appends";
    /// `POST` [`super::AppendsDone`] → 204: those appends were taken into the profile (or
    /// refused by the device) and are deleted.
    pub const APPENDS_DONE: &str = "/api/v1/appends/done";

    // Apps, each request signed ([`crate::apps::AppStamp`] in its header, the signature
    // beside it) with the key the grant was made for.
    /// `GET` → [`super::AppGrant`]: the grant as the server enforces it.
    pub const APP_GRANT: &str = "/api/v1/app/grant";
    /// `GET` → [`crate::apps::SealedShare`]: the share, still sealed to the app.
    pub const APP_SHARE: &str = "/api/v1/app/share";
    /// `POST` [`super::AppendRequest`] → 201 [`super::AppendAccepted`], when the grant may
    /// append to that category.
    pub const APP_APPENDS: &str = "/api/v1/app/appends";
    /// `PUT` [`super::WebhookSet`] → 204; `DELETE` → 204. Needs `subscribe` on some scope.
    pub const APP_WEBHOOK: &str = "/api/v1/app/webhook";
    /// `GET`, upgraded to a WebSocket of [`crate::apps::AppEvent`]s. Needs `subscribe`.
    pub const APP_EVENTS: &str = "/api/v1/app/events";
    /// `PUT` [`crate::apps::links::LinkConfirm`] → 204: a linked profile names the grant it gave
    /// back (signed as an app, on the grant this profile gave it).
    pub const APP_LINK: &str = "/api/v1/app/link";

    // Linked profiles.
    /// `POST` [`super::LinkTicketSet`] (a device) → 201: a connection ticket's token, by hash.
    pub const LINK_TICKETS: &str = "/api/v1/links/tickets";
    /// `POST` [`crate::apps::links::LinkRedeem`] (anyone holding a ticket; no token) → 202,
    /// or 404 for a ticket unknown, spent or expired. Spends the ticket either way.
    pub const LINKS_REDEEM: &str = "/api/v1/links/redeem";
    /// `GET` → [`super::LinkRequestList`]: redemptions waiting for the issuer's devices.
    pub const LINK_REQUESTS: &str = "/api/v1/links/requests";
    /// `POST` [`super::AppendsDone`] (their ids) → 204.
    pub const LINK_REQUESTS_DONE: &str = "/api/v1/links/requests/done";

    /// [`PROFILE`] for one user.
    pub fn profile(id: &str) -> String {
        format!("/u/{id}")
    }

    /// [`DEVICE`] for one device.
    pub fn device(id: &str) -> String {
        format!("{DEVICES}/{id}")
    }

    /// [`GRANT`] for one grant.
    pub fn grant(id: &str) -> String {
        format!("{GRANTS}/{id}")
    }

    /// [`GRANT_SHARE`] for one grant.
    pub fn grant_share(id: &str) -> String {
        format!("{GRANTS}/{id}/share")
    }

    /// [`GRANT_SHARE`] for one grant, telling the app or not, with the sealing device's note
    /// ([`super::ShareNotify`]; the note is URL-safe by its shape).
    pub fn grant_share_noted(id: &str, notify: bool, note: &str) -> String {
        format!("{GRANTS}/{id}/share?notify={notify}&note={note}")
    }
}

/// The header a site's [`AccountCheck`] is signed in: base64url of the ES256 signature (`r‖s`)
/// over the exact body bytes, made with the key its registration publishes.
pub const SIGNATURE_HEADER: &str = "Personal-Profile-Signature";

/// Bytes as base64url (unpadded) in JSON: sealed blobs and wrapped keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&Base64UrlUnpadded::encode_string(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Base64UrlUnpadded::decode_vec(&text).map(Bytes).map_err(serde::de::Error::custom)
    }
}

/// Every error the server answers: `{"error": {"code", "message"}}`, and beside it the
/// vault's current `counter` on a conflict of the vault, every item in `conflicts` with its
/// current version on a conflict of a batch of items, or `retryAfter` (seconds) when the client
/// should wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub error: ErrorDetail,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<i64>,
    /// The items of a refused [`ItemBatch`] whose `version` was not the stored one, each with
    /// the stored version (0: never written).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<ItemVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: ApiErrorCode,
    pub message: String,
}

/// The stable codes of the server's errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiErrorCode {
    /// A body or query that is well-formed but not acceptable (400), or of the wrong shape (422).
    InvalidRequest,
    /// Not JSON where JSON is needed (415).
    UnsupportedMediaType,
    /// A body over the server's limit, a blob over its cap, or a vault past the items or bytes
    /// a user may keep (413).
    TooLarge,
    /// No such endpoint, profile, device or account (404).
    NotFound,
    /// No access token, or one that is no longer good (401).
    Unauthorized,
    /// A credential check failed (401).
    AuthFailed,
    /// A vault write based on a stale counter (409, with `counter`), or a batch of vault items
    /// based on stale versions (409, with `conflicts`).
    Conflict,
    /// The account or the client's address must wait (429, with `retryAfter`).
    RateLimited,
    /// No Argon2id slot or fetch slot is free (503, with `retryAfter`).
    Busy,
    /// The profile (403) or the whole server (503) is locked down.
    LockedDown,
    /// The server sends no email (503).
    EmailUnavailable,
    /// A site's account-check does not verify, or an app's request is unsigned, signed with
    /// another key, stale or replayed (401).
    BadSignature,
    /// An app asked for something its grant does not hold (403).
    OutsideGrant,
    /// The grant was revoked (403): nothing more is served for it.
    GrantRevoked,
    /// Anything unexpected (500), without details.
    Internal,
    /// A code this version does not know.
    #[serde(other)]
    Unknown,
}

impl ApiErrorCode {
    /// The code as it is written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooLarge => "too_large",
            Self::NotFound => "not_found",
            Self::Unauthorized => "unauthorized",
            Self::AuthFailed => "auth_failed",
            Self::Conflict => "conflict",
            Self::RateLimited => "rate_limited",
            Self::Busy => "busy",
            Self::LockedDown => "locked_down",
            Self::EmailUnavailable => "email_unavailable",
            Self::BadSignature => "bad_signature",
            Self::OutsideGrant => "outside_grant",
            Self::GrantRevoked => "grant_revoked",
            Self::Internal => "internal",
            Self::Unknown => "unknown",
        }
    }
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
}

/// The server's public signing key as a JWK, with the members a verifier needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerJwk {
    #[serde(flatten)]
    pub key: PublicJwk,
    pub kid: String,
    /// `ES256`.
    pub alg: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: String,
}

/// `GET /.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<ServerJwk>,
}

/// `GET /u/{id}`: what a profile URL points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileDocument {
    pub profile_id: String,
    pub profile_url: String,
    /// Where the API is: the server's public URL, before the paths of [`path`].
    pub api_base: String,
    pub keys: Vec<ServerJwk>,
    /// What the person chose to publish, signed by their own key (absent until they do):
    /// check it with [`crate::public::verify_public`] against the URL this document came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<PublicPart>,
}

/// `POST /api/v1/prelogin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreloginRequest {
    pub profile_id: String,
    pub email: String,
}

/// The Argon2id parameters to derive with (stable stand-ins for an unknown account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreloginResponse {
    pub kdf: KdfParams,
}

/// `POST /api/v1/login`: `profileId`, `email` and one of `authKey` or `paperAuth`; or a
/// `ticket` alone. [`LoginRequest::credential`] reads which; the constructors write one.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_key: Option<Secret32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paper_auth: Option<Secret32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Bearer>,
    pub device_name: String,
}

/// What a login proves itself with.
#[derive(Debug)]
pub enum LoginCredential {
    /// The auth key the passphrase derives.
    AuthKey { profile_id: String, email: String, auth_key: Secret32 },
    /// The auth key the paper key derives.
    PaperAuth { profile_id: String, email: String, paper_auth: Secret32 },
    /// A one-time ticket from the operator.
    Ticket(Bearer),
}

impl LoginRequest {
    pub fn new(credential: LoginCredential, device_name: impl Into<String>) -> Self {
        let mut request = Self {
            profile_id: None,
            email: None,
            auth_key: None,
            paper_auth: None,
            ticket: None,
            device_name: device_name.into(),
        };
        match credential {
            LoginCredential::AuthKey { profile_id, email, auth_key } => {
                (request.profile_id, request.email, request.auth_key) = (Some(profile_id), Some(email), Some(auth_key));
            }
            LoginCredential::PaperAuth { profile_id, email, paper_auth } => {
                (request.profile_id, request.email, request.paper_auth) =
                    (Some(profile_id), Some(email), Some(paper_auth));
            }
            LoginCredential::Ticket(ticket) => request.ticket = Some(ticket),
        }
        request
    }

    /// A login with the auth key a passphrase derives.
    pub fn with_auth_key(profile_id: &str, email: &str, auth_key: &Secret32, device_name: &str) -> Self {
        let credential =
            LoginCredential::AuthKey { profile_id: profile_id.into(), email: email.into(), auth_key: auth_key.clone() };
        Self::new(credential, device_name)
    }

    /// A login with the auth key a paper key derives.
    pub fn with_paper_auth(profile_id: &str, email: &str, paper_auth: &Secret32, device_name: &str) -> Self {
        let credential = LoginCredential::PaperAuth {
            profile_id: profile_id.into(),
            email: email.into(),
            paper_auth: paper_auth.clone(),
        };
        Self::new(credential, device_name)
    }

    /// A login with a one-time ticket.
    pub fn with_ticket(ticket: &str, device_name: &str) -> Self {
        Self::new(LoginCredential::Ticket(Bearer::new(ticket.into())), device_name)
    }

    /// Which credential the request carries, or what is wrong with its mix of fields.
    pub fn credential(self) -> Result<(LoginCredential, String), &'static str> {
        let credential = match self {
            Self { profile_id: Some(profile_id), email: Some(email), ticket: None, auth_key, paper_auth, .. } => {
                match (auth_key, paper_auth) {
                    (Some(auth_key), None) => LoginCredential::AuthKey { profile_id, email, auth_key },
                    (None, Some(paper_auth)) => LoginCredential::PaperAuth { profile_id, email, paper_auth },
                    _ => return Err("give exactly one of authKey and paperAuth"),
                }
            }
            Self { profile_id: None, email: None, ticket: Some(ticket), auth_key: None, paper_auth: None, .. } => {
                LoginCredential::Ticket(ticket)
            }
            _ => return Err("give profileId, email and one of authKey or paperAuth; or give a ticket alone"),
        };
        Ok((credential, self.device_name))
    }
}

/// `POST /api/v1/token`: spends a refresh token for the next pair.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: Bearer,
}

/// What a login or a refresh answers.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    /// An ES256 JWT.
    pub access_token: Bearer,
    pub token_type: TokenType,
    /// Seconds the access token lives.
    pub expires_in: i64,
    pub refresh_token: Bearer,
    /// This device's pairing: its record on the server, the `id` of [`DeviceInfo`]. Not the
    /// pairwise device id sites get (`crate::DeviceId`).
    pub pairing_id: String,
    pub profile_id: String,
    pub profile_url: String,
}

/// How the access token is presented: `Authorization: Bearer …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenType {
    Bearer,
}

/// `GET /api/v1/devices`: the user's devices, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {
    pub devices: Vec<DeviceInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    pub id: String,
    pub name: String,
    /// Whether this is the device asking.
    pub current: bool,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// When it was signed out (`null` while it is not).
    pub revoked_at: Option<i64>,
}

/// `GET /api/v1/vault`: the sealed vault, its KDF parameters and the wrapped data keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vault {
    pub profile_id: String,
    pub counter: i64,
    /// Sealed for `counter` (see [`crate::vault::seal_vault`]).
    pub blob: Bytes,
    pub kdf: KdfParams,
    pub credentials: Vec<WrappedKey>,
}

impl Vault {
    /// The data key as wrapped for one kind of credential.
    pub fn wrapped(&self, kind: CredentialKind) -> Option<&Bytes> {
        self.credentials.iter().find(|c| c.kind == kind).map(|c| &c.wrapped_key)
    }
}

/// The data key wrapped under one credential's key-encryption key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WrappedKey {
    pub kind: CredentialKind,
    pub wrapped_key: Bytes,
}

/// What holds a wrapped copy of the data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialKind {
    Passphrase,
    Paper,
}

impl CredentialKind {
    /// The name as stored and written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passphrase => "passphrase",
            Self::Paper => "paper",
        }
    }
}

impl std::str::FromStr for CredentialKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "passphrase" => Ok(Self::Passphrase),
            "paper" => Ok(Self::Paper),
            other => Err(format!("no credential kind `{other}`")),
        }
    }
}

/// `PUT /api/v1/vault`: the next version, based on `counter`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultWrite {
    /// The counter the new contents were based on; they are stored as `counter + 1`.
    pub counter: i64,
    /// Sealed for version `counter + 1` (see [`crate::vault::seal_vault`]).
    pub blob: Bytes,
}

/// The vault's counter after a write (or a rotation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultWritten {
    pub counter: i64,
}

/// The largest sealed vault item accepted (an [`ItemPut`]'s `blob`), in bytes.
pub const MAX_ITEM_BYTES: usize = 64 * 1024;
/// Most operations (puts and deletes together) in one [`ItemBatch`].
pub const MAX_BATCH_OPS: usize = 1_000;
/// The largest body `POST /api/v1/vault/items` reads: a batch's JSON, blobs in base64url. A
/// client splits bigger changes over several batches.
pub const MAX_BATCH_BODY_BYTES: usize = 8 << 20;
/// Most items in one [`ItemChanges`] page, and the `limit` when none is asked for.
pub const MAX_ITEMS_PAGE: u32 = 2_000;
/// An [`ItemChanges`] page stops before its JSON would pass about this many bytes (it always
/// carries at least one item when there is one to carry).
pub const MAX_PAGE_BYTES: usize = 8 << 20;
/// The longest [`ItemId`].
pub const MAX_ITEM_ID: usize = 64;

/// A vault item's id as the server knows it: 1 to [`MAX_ITEM_ID`] characters of `A-Z a-z 0-9
/// _ -`. Opaque to the server; a device sends an id derived from its own (a hex HMAC, say), so
/// ids say nothing of what the items are. Ordered byte by byte, as both databases order them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ItemId(String);

impl TryFrom<String> for ItemId {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        if (1..=MAX_ITEM_ID).contains(&text.len()) && text.bytes().all(allowed) {
            Ok(Self(text))
        } else {
            Err(format!("an item id is 1 to {MAX_ITEM_ID} characters of A-Z a-z 0-9 _ -"))
        }
    }
}

impl std::str::FromStr for ItemId {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Self::try_from(text.to_owned())
    }
}

impl From<ItemId> for String {
    fn from(id: ItemId) -> Self {
        id.0
    }
}

impl ItemId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ItemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `POST /api/v1/vault/items`: changes to vault items, stored all together or not at all.
/// Each operation names the `version` its writer based it on (0: the item was never written,
/// as far as the writer knows); when any differs from the stored one nothing is stored and the
/// answer is `409` with every such item in [`ErrorBody::conflicts`]. Each item written is
/// stored as `version + 1`, with the batch's new `seq`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ItemBatch {
    #[serde(default)]
    pub puts: Vec<ItemPut>,
    /// Removals: each leaves a tombstone (an item without a blob) at `version + 1`, kept so a
    /// removed item never comes back from a device that has not heard of its removal. Removing
    /// an item never written (version 0) stores a tombstone too.
    #[serde(default)]
    pub deletes: Vec<ItemDelete>,
}

/// An item's new contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ItemPut {
    pub id: ItemId,
    /// The version this change was based on (0: none).
    pub version: i64,
    /// Sealed, at most [`MAX_ITEM_BYTES`] (see [`crate::vault::seal_item`]).
    pub blob: Bytes,
}

/// An item's removal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ItemDelete {
    pub id: ItemId,
    /// The version this removal was based on (0: none).
    pub version: i64,
}

/// Why a batch is refused before anything is read (`400`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("the batch changes nothing: give at least one put or delete")]
    Empty,
    #[error("the batch has {0} operations; at most {MAX_BATCH_OPS} are taken at once")]
    TooMany(usize),
    #[error("item {0} appears more than once in the batch")]
    Repeated(ItemId),
    #[error("item {0} has a negative version")]
    NegativeVersion(ItemId),
}

impl ItemBatch {
    /// Every operation as `(id, base version, blob)`; `None` for a removal.
    pub fn operations(&self) -> impl Iterator<Item = (&ItemId, i64, Option<&Bytes>)> {
        let puts = self.puts.iter().map(|put| (&put.id, put.version, Some(&put.blob)));
        puts.chain(self.deletes.iter().map(|delete| (&delete.id, delete.version, None)))
    }

    /// Refuses an empty batch, one of more than [`MAX_BATCH_OPS`] operations, one naming an
    /// item twice, and a negative version.
    pub fn check(&self) -> Result<(), BatchError> {
        let count = self.puts.len() + self.deletes.len();
        if count == 0 {
            return Err(BatchError::Empty);
        }
        if count > MAX_BATCH_OPS {
            return Err(BatchError::TooMany(count));
        }
        let mut seen = std::collections::HashSet::with_capacity(count);
        for (id, version, _) in self.operations() {
            if version < 0 {
                return Err(BatchError::NegativeVersion(id.clone()));
            }
            if !seen.insert(id) {
                return Err(BatchError::Repeated(id.clone()));
            }
        }
        Ok(())
    }
}

/// An item and its version: what a batch stored, or a conflict's current version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemVersion {
    pub id: ItemId,
    pub version: i64,
}

/// What a batch stored: the user's new `seq` (every item of the batch carries it) and each
/// item's new version, puts first, in the batch's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemsWritten {
    pub seq: i64,
    pub versions: Vec<ItemVersion>,
}

/// The query of `GET /api/v1/vault/items`: the items changed after the position `(since,
/// after)` in `(seq, id)` order, that is with a `seq` above `since`, and with `after`, also
/// those of seq `since` whose id sorts after `after`. Start at `since=0`; when an answer says
/// `more`, ask again from its last item: `since=ITEM.seq&after=ITEM.id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemsQuery {
    #[serde(default)]
    pub since: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<ItemId>,
    /// At most [`MAX_ITEMS_PAGE`] (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Instead of the changes: these items as stored now (ids separated by commas, at most
    /// [`MAX_ITEMS_BY_ID`]), however long ago they changed. A device reads back the items whose
    /// history it checks (each device's head) this way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<String>,
}

/// Most items one `?ids=` read names.
pub const MAX_ITEMS_BY_ID: usize = 100;

impl ItemsQuery {
    /// The query string, `?since=…[&after=…][&limit=…]` (ids need no escaping).
    pub fn to_query(&self) -> String {
        let mut query = format!("?since={}", self.since);
        if let Some(after) = &self.after {
            query.push_str(&format!("&after={after}"));
        }
        if let Some(limit) = self.limit {
            query.push_str(&format!("&limit={limit}"));
        }
        if let Some(ids) = &self.ids {
            query.push_str(&format!("&ids={ids}"));
        }
        query
    }

    /// The query that reads on from the last item of a page that said `more`.
    pub fn after_item(&self, last: &ItemChange) -> Self {
        Self { since: last.seq, after: Some(last.id.clone()), limit: self.limit, ids: None }
    }
}

/// `GET /api/v1/vault/items`: the user's current `seq`, and the items changed after the asked
/// position, in `(seq, id)` order, each with its version, its seq and its blob (`null`: removed).
/// `more` says a page stopped early: read on from its last item ([`ItemsQuery::after_item`]).
/// When `more` is false the reader has every change up to `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemChanges {
    pub seq: i64,
    pub items: Vec<ItemChange>,
    pub more: bool,
}

/// One item as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemChange {
    pub id: ItemId,
    pub version: i64,
    /// The seq of the batch that wrote this version.
    pub seq: i64,
    /// Sealed; `null` for a removed item (a tombstone).
    pub blob: Option<Bytes>,
}

/// Proof of a credential the person holds now, for changing one: exactly one of the two.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CurrentProof {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_auth_key: Option<Secret32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paper_auth: Option<Secret32>,
}

impl CurrentProof {
    /// Proved by the auth key the current passphrase derives.
    pub fn auth_key(key: &Secret32) -> Self {
        Self { current_auth_key: Some(key.clone()), paper_auth: None }
    }

    /// Proved by the auth key the paper key derives.
    pub fn paper_auth(key: &Secret32) -> Self {
        Self { current_auth_key: None, paper_auth: Some(key.clone()) }
    }
}

/// `PUT /api/v1/passphrase`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PassphraseChange {
    #[serde(flatten)]
    pub proof: CurrentProof,
    pub kdf: KdfParams,
    pub auth_key: Secret32,
    /// The data key wrapped under the new passphrase's key-encryption key: the same data key,
    /// or with `rotate` the new one.
    pub wrapped_key: Bytes,
    /// Leave the user's other devices signed in (they are signed out by default).
    #[serde(default)]
    pub keep_devices: bool,
    /// Replace the data key too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate: Option<Rotation>,
}

/// A new data key, with the vault sealed under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rotation {
    /// The vault's current counter; the new blob is stored as `counter + 1`, exactly like a
    /// vault write.
    pub counter: i64,
    /// The vault sealed for `counter + 1` under the new data key.
    pub blob: Bytes,
    /// The new data key wrapped under the paper key's key-encryption key: required when the
    /// user has a paper key, refused otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paper_wrapped_key: Option<Bytes>,
}

/// `PUT /api/v1/paper-key`: sets or replaces the paper key.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaperKeySet {
    #[serde(flatten)]
    pub proof: CurrentProof,
    /// The auth key the new paper key derives.
    pub new_paper_auth: Secret32,
    /// The data key wrapped under the new paper key's key-encryption key.
    pub wrapped_key: Bytes,
}

/// `PUT /api/v1/accounts`: the account the person holds at an origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountRegistration {
    pub origin: Origin,
    pub account_guid: AccountGuid,
    /// Bounded as the page API bounds it.
    #[serde(default)]
    pub app_id: Option<AppId>,
    pub public_key: PublicJwk,
    /// What the site asked for at sign-up, as the page API passes it.
    #[serde(default)]
    pub permissions: Permissions,
}

/// One account of the registry, as the server answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub origin: Origin,
    pub account_guid: AccountGuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<AppId>,
    pub public_key: PublicJwk,
    #[serde(default)]
    pub permissions: Permissions,
    pub created_at: i64,
    /// When a device last said the person logged in (`null` before).
    pub last_login_at: Option<i64>,
}

/// The query of `GET /api/v1/accounts`: all the person's accounts, or the one at `origin`
/// and those with the same app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// `GET /api/v1/accounts`: `accounts` alone without an origin; with one, the account there
/// (none or one) and `sameApp`, the person's other accounts with its app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountList {
    pub accounts: Vec<Account>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_app: Option<Vec<Account>>,
}

/// One of the person's accounts: the query of `DELETE /api/v1/accounts` and the body of
/// `POST /api/v1/accounts/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountRef {
    pub origin: Origin,
    pub account_guid: AccountGuid,
}

/// `POST /api/v1/sites/account-check`, signed in [`SIGNATURE_HEADER`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountCheck {
    pub origin: Origin,
    pub account_guid: AccountGuid,
    /// When the site signed it (Unix seconds); at most 5 minutes from the server's clock.
    pub issued_at: i64,
}

/// Whether a person here holds that account and is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountCheckAnswer {
    pub valid: bool,
}

/// `POST /api/v1/email/verify` answers `202 {"sent": true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifySent {
    pub sent: bool,
}

/// `POST /api/v1/email/recover`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecoverRequest {
    pub profile_id: String,
    pub email: String,
}

/// The answer to a recovery request, the same whether or not the account exists: `202` with
/// a sentence saying a link is on its way if the address is the profile's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverSent {
    pub sent: String,
}

/// Most grants a profile holds (revoked ones count until room is needed, when the server
/// forgets those revoked longest ago, once their apps had a day to hear of it).
pub const MAX_GRANTS: usize = 1_000;
/// Most appends waiting for the person's devices, per grant; past it an app's append is
/// refused `429` until a device takes them in.
pub const MAX_PENDING_APPENDS: usize = 1_000;
/// Longest webhook URL.
pub const MAX_WEBHOOK_URL: usize = 2_048;

/// `POST /api/v1/grants`: a grant a person gave an app, registered by one of their devices
/// with the app's first share. The server keeps the app's key as the device saw it in the
/// app's registration and checks every request of the app with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantRegistration {
    pub grant_id: GrantId,
    pub origin: Origin,
    pub app_id: AppId,
    pub name: AppName,
    pub scopes: Vec<Scope>,
    /// The key the app signs its requests with.
    pub app_key: PublicJwk,
    pub share: SealedShare,
    /// The devices' note on the share ([`ShareNotify::note`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_note: Option<String>,
}

/// A grant as the server holds it, for the person's devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantInfo {
    pub grant_id: GrantId,
    pub origin: Origin,
    pub app_id: AppId,
    pub name: AppName,
    pub scopes: Vec<Scope>,
    /// Unix seconds.
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_read_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_append_at: Option<i64>,
    /// Items it appended, ever.
    #[serde(default)]
    pub appended: u64,
    /// The share's version the server holds.
    pub share_version: u64,
    /// The note of the device that sealed it ([`ShareNotify::note`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    /// Where its webhook goes, when it set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// For a grant to a linked profile: the grant it gave back, once it said
    /// ([`path::APP_LINK`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_grant: Option<crate::apps::links::LinkConfirm>,
}

/// The query of a share's `PUT` ([`path::GRANT_SHARE`]): `notify=false` stores the share
/// without `share-updated`, when nothing the app subscribed to changed (a category it may read
/// but did not ask to be told about). The server cannot see which categories changed; the
/// person's device says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareNotify {
    #[serde(default = "notify_by_default")]
    pub notify: bool,
    /// What the sealing device notes of the share for the person's other devices, opaque to the
    /// server (keyed digests of what it holds, and of what the app was told of): another device
    /// seals it again only when what it would seal differs, and tells the app only when what it
    /// subscribed to did. At most [`MAX_SHARE_NOTE`] characters of base64url and `.`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The longest share note.
pub const MAX_SHARE_NOTE: usize = 128;

/// Whether `note` is a share note's shape ([`ShareNotify::note`]).
pub fn is_share_note(note: &str) -> bool {
    note.len() <= MAX_SHARE_NOTE && note.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn notify_by_default() -> bool {
    true
}

/// `POST /api/v1/links/tickets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkTicketSet {
    /// [`crate::apps::links::Token::hash`] of the ticket's token.
    pub token_hash: String,
    /// Unix seconds; at most [`crate::apps::links::TICKET_TTL`] from now.
    pub expires_at: i64,
}

/// `GET /api/v1/links/requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRequestList {
    pub requests: Vec<crate::apps::links::LinkRequest>,
}

/// `GET /api/v1/grants`: every grant of the profile, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantList {
    pub grants: Vec<GrantInfo>,
}

/// `GET /api/v1/app/grant`: what an app may do, as the server enforces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppGrant {
    pub grant_id: GrantId,
    pub profile_url: String,
    pub scopes: Vec<Scope>,
    pub share_version: u64,
}

/// `POST /api/v1/app/appends`: an item for `category`, sealed by the app to the profile's
/// encryption key (`apps::sealed::seal_append`), at most
/// `apps::sealed::MAX_APPEND_BYTES` of plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppendRequest {
    pub category: Category,
    pub sealed: Sealed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendAccepted {
    pub id: String,
}

/// An append waiting for the person's devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingAppend {
    pub id: String,
    pub grant_id: GrantId,
    pub category: Category,
    pub sealed: Sealed,
    /// Unix seconds.
    pub received_at: i64,
}

/// `GET /api/v1/appends`: oldest first, at most 500.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendList {
    pub appends: Vec<PendingAppend>,
}

/// `POST /api/v1/appends/done`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendsDone {
    pub ids: Vec<String>,
}

/// `PUT /api/v1/app/webhook`: where the app's events are POSTed (https, a public address; at
/// most [`MAX_WEBHOOK_URL`] bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSet {
    pub url: String,
}

/// What a device's push socket hears, as JSON text messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum PushEvent {
    /// The vault or its items were written: this is the vault's counter now, and the user's
    /// item `seq` (read the items changed since the last seq heard; 0 from servers before
    /// vault items).
    VaultChanged {
        counter: i64,
        #[serde(default)]
        seq: i64,
    },
    /// An account was registered at this origin.
    AccountAdded { origin: String },
    /// A device was signed out: its pairing.
    DeviceRevoked { pairing_id: String },
    /// Events were missed: read the vault again.
    Resync,
    /// An app appended an item: read `/api/v1/appends`.
    AppendReceived { grant_id: String },
    /// Someone redeemed a connection ticket: read `/api/v1/links/requests`.
    LinkRequested {},
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn bodies_keep_their_wire_shape() {
        let key = Secret32::from_bytes([1; 32]);
        let login = serde_json::to_value(LoginRequest::with_ticket("t-1", "kiosk")).unwrap();
        assert_eq!(login, json!({"ticket": "t-1", "deviceName": "kiosk"}));
        let login = serde_json::to_value(LoginRequest::with_auth_key("p", "a@b.c", &key, "laptop")).unwrap();
        assert_eq!(login, json!({"profileId": "p", "email": "a@b.c", "authKey": key, "deviceName": "laptop"}));
        let error = ErrorBody {
            error: ErrorDetail { code: ApiErrorCode::Conflict, message: "stale".into() },
            counter: Some(3),
            conflicts: vec![],
            retry_after: None,
        };
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            json!({"error": {"code": "conflict", "message": "stale"}, "counter": 3})
        );
        assert_eq!(serde_json::to_value(PushEvent::Resync).unwrap(), json!({"type": "resync"}));
        assert_eq!(
            serde_json::to_value(PushEvent::DeviceRevoked { pairing_id: "d".into() }).unwrap(),
            json!({"type": "device-revoked", "pairingId": "d"})
        );
        let list = AccountList { accounts: vec![], same_app: None };
        assert_eq!(serde_json::to_value(&list).unwrap(), json!({"accounts": []}));
        for code in [ApiErrorCode::InvalidRequest, ApiErrorCode::EmailUnavailable, ApiErrorCode::BadSignature] {
            assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
        }
        let unknown: ApiErrorCode = serde_json::from_value(json!("something_new")).unwrap();
        assert_eq!(unknown, ApiErrorCode::Unknown);

        let changed = PushEvent::VaultChanged { counter: 4, seq: 9 };
        assert_eq!(serde_json::to_value(&changed).unwrap(), json!({"type": "vault-changed", "counter": 4, "seq": 9}));
        let older: PushEvent = serde_json::from_value(json!({"type": "vault-changed", "counter": 4})).unwrap();
        assert_eq!(older, PushEvent::VaultChanged { counter: 4, seq: 0 }, "a server before items sends no seq");
    }

    fn id(text: &str) -> ItemId {
        text.parse().unwrap()
    }

    #[test]
    fn item_bodies_keep_their_wire_shape() {
        let batch: ItemBatch = serde_json::from_value(json!({
            "puts": [{"id": "a1", "version": 0, "blob": "UFBTMQ"}],
            "deletes": [{"id": "b_2-", "version": 3}]
        }))
        .unwrap();
        assert_eq!(batch.puts[0].blob, Bytes(b"PPS1".to_vec()));
        assert_eq!(
            batch.operations().map(|(id, v, blob)| (id.as_str(), v, blob.is_some())).collect::<Vec<_>>(),
            [("a1", 0, true), ("b_2-", 3, false)]
        );
        let only_deletes: ItemBatch = serde_json::from_value(json!({"deletes": [{"id": "x", "version": 1}]})).unwrap();
        assert!(only_deletes.puts.is_empty());
        assert!(serde_json::from_value::<ItemBatch>(json!({"puts": [], "extra": 1})).is_err());

        let conflict = ErrorBody {
            error: ErrorDetail { code: ApiErrorCode::Conflict, message: "stale".into() },
            counter: None,
            conflicts: vec![ItemVersion { id: id("a1"), version: 2 }],
            retry_after: None,
        };
        assert_eq!(
            serde_json::to_value(&conflict).unwrap(),
            json!({"error": {"code": "conflict", "message": "stale"}, "conflicts": [{"id": "a1", "version": 2}]})
        );
        let changes = ItemChanges {
            seq: 7,
            items: vec![
                ItemChange { id: id("a1"), version: 2, seq: 6, blob: Some(Bytes(b"PPS1".to_vec())) },
                ItemChange { id: id("b"), version: 1, seq: 7, blob: None },
            ],
            more: false,
        };
        assert_eq!(
            serde_json::to_value(&changes).unwrap(),
            json!({"seq": 7, "items": [
                {"id": "a1", "version": 2, "seq": 6, "blob": "UFBTMQ"},
                {"id": "b", "version": 1, "seq": 7, "blob": null}
            ], "more": false})
        );
        let query = ItemsQuery { since: 7, limit: Some(10), ..ItemsQuery::default() };
        assert_eq!(query.to_query(), "?since=7&limit=10");
        assert_eq!(query.after_item(&changes.items[1]).to_query(), "?since=7&after=b&limit=10");
    }

    #[test]
    fn item_ids_and_batches_are_bounded() {
        for good in ["a", "A-z_09", &"f".repeat(MAX_ITEM_ID)] {
            assert_eq!(id(good).as_str(), good);
        }
        for bad in ["", "a b", "a/b", "ü", "a.b", &"f".repeat(MAX_ITEM_ID + 1)] {
            assert!(bad.parse::<ItemId>().is_err(), "{bad:?}");
            assert!(serde_json::from_value::<ItemDelete>(json!({"id": bad, "version": 0})).is_err(), "{bad:?}");
        }
        let put = |name: &str, version| ItemPut { id: id(name), version, blob: Bytes(vec![]) };
        let delete = |name: &str, version| ItemDelete { id: id(name), version };
        assert_eq!(ItemBatch::default().check(), Err(BatchError::Empty));
        let ok = ItemBatch { puts: vec![put("a", 0)], deletes: vec![delete("b", 2)] };
        assert_eq!(ok.check(), Ok(()));
        let twice = ItemBatch { puts: vec![put("a", 0)], deletes: vec![delete("a", 1)] };
        assert_eq!(twice.check(), Err(BatchError::Repeated(id("a"))));
        let negative = ItemBatch { puts: vec![put("a", -1)], deletes: vec![] };
        assert_eq!(negative.check(), Err(BatchError::NegativeVersion(id("a"))));
        let many = ItemBatch { puts: (0..=MAX_BATCH_OPS).map(|n| put(&format!("i{n}"), 0)).collect(), deletes: vec![] };
        assert_eq!(many.check(), Err(BatchError::TooMany(MAX_BATCH_OPS + 1)));
        let full = ItemBatch { puts: many.puts[..MAX_BATCH_OPS].to_vec(), deletes: vec![] };
        assert_eq!(full.check(), Ok(()));
    }

    #[test]
    fn a_login_names_one_credential() {
        let key = Secret32::from_bytes([1; 32]);
        let (credential, name) = LoginRequest::with_paper_auth("p", "e", &key, "n").credential().unwrap();
        assert!(matches!(credential, LoginCredential::PaperAuth { .. }) && name == "n");
        let both: LoginRequest = serde_json::from_value(
            json!({"profileId": "p", "email": "e", "authKey": key, "paperAuth": key, "deviceName": "n"}),
        )
        .unwrap();
        assert_eq!(both.credential().unwrap_err(), "give exactly one of authKey and paperAuth");
        let mixed: LoginRequest =
            serde_json::from_value(json!({"ticket": "t", "authKey": key, "deviceName": "n"})).unwrap();
        assert!(mixed.credential().unwrap_err().contains("a ticket alone"));
    }

    #[test]
    fn secrets_in_bodies_print_redacted() {
        const TOKEN: &str = "zK3vUqB8sEcReTtOkEnVaLuE0123456789abcdefg";
        let tokens = Tokens {
            access_token: Bearer::new(TOKEN.into()),
            token_type: TokenType::Bearer,
            expires_in: 600,
            refresh_token: Bearer::new(TOKEN.into()),
            pairing_id: "dev-1".into(),
            profile_id: "user-1".into(),
            profile_url: "https://p.example/u/user-1".into(),
        };
        let login = LoginRequest::with_ticket(TOKEN, "kiosk");
        let refresh = RefreshRequest { refresh_token: Bearer::new(TOKEN.into()) };
        for printed in [format!("{login:?}"), format!("{refresh:?}"), format!("{tokens:?}")] {
            assert!(!printed.contains(TOKEN) && !printed.contains(&TOKEN[..8]), "{printed}");
        }
        let wire = serde_json::to_value(&tokens).unwrap();
        assert_eq!((wire["accessToken"].as_str(), wire["tokenType"].as_str()), (Some(TOKEN), Some("Bearer")));
    }
}
