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
//! conflict` and `retryAfter` (also the `Retry-After` header) on `429 rate_limited` and `503
//! busy`.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};

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

    /// [`PROFILE`] for one user.
    pub fn profile(id: &str) -> String {
        format!("/u/{id}")
    }

    /// [`DEVICE`] for one device.
    pub fn device(id: &str) -> String {
        format!("{DEVICES}/{id}")
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
/// vault's current `counter` on a conflict, or `retryAfter` (seconds) when the client should
/// wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub error: ErrorDetail,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<i64>,
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
    /// A body over the server's limit, or a blob over its cap (413).
    TooLarge,
    /// No such endpoint, profile, device or account (404).
    NotFound,
    /// No access token, or one that is no longer good (401).
    Unauthorized,
    /// A credential check failed (401).
    AuthFailed,
    /// A vault write based on a stale counter (409, with `counter`).
    Conflict,
    /// The account or the client's address must wait (429, with `retryAfter`).
    RateLimited,
    /// No Argon2id slot or fetch slot is free (503, with `retryAfter`).
    Busy,
    /// The profile (403) or the whole server (503) is locked down.
    LockedDown,
    /// The server sends no email (503).
    EmailUnavailable,
    /// A site's account-check does not verify (401).
    BadSignature,
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

/// What a device's push socket hears, as JSON text messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum PushEvent {
    /// The vault was written; this is its counter now.
    VaultChanged { counter: i64 },
    /// An account was registered at this origin.
    AccountAdded { origin: String },
    /// A device was signed out: its pairing.
    DeviceRevoked { pairing_id: String },
    /// Events were missed: read the vault again.
    Resync,
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
