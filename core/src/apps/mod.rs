//! Apps and the grants a person gives them: what an app asks for, how it is known, how it
//! signs what it asks the profile server, and what the server tells it.
//!
//! An app is a site with keys: its origin's registration (`/.well-known/personal-profile`,
//! [`AppRegistration`]) publishes the P-256 key it signs with and the P-256 key data is sealed
//! to ([HPKE](sealed), RFC 9180). A page of the app asks for a grant with
//! `window.profile.requestGrant({scopes, purpose})` ([`GrantRequest`]): each [`Scope`] is a
//! category with the [`Action`]s `read`, `append` and `subscribe` and, optionally, some of its
//! fields. Once the person allows it, their device seals what the app may read to the app's
//! key (a [`sealed::SealedShare`], signed by the profile) and registers the grant with the
//! profile server, which enforces it (which categories, which actions, whether it was revoked)
//! without being able to open what it grants.
//!
//! The app signs every request to the profile server ([`AppStamp`]: the grant, the method, the
//! path, a digest of the body, the time and a nonce the server never accepts twice), and the
//! server tells it of changes ([`AppEvent`]) by a signed webhook or a WebSocket.

pub mod links;
#[cfg(feature = "hpke")]
pub mod sealed;

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::category::Category;
use crate::server_api::Bytes;
use crate::{AppId, PublicJwk};

/// Most scopes one grant holds: one per category.
pub const MAX_SCOPES: usize = Category::ALL.len();
/// Most fields one scope names.
pub const MAX_SCOPE_FIELDS: usize = 32;
/// Longest purpose an app gives, in characters (as for `request`).
pub const MAX_GRANT_PURPOSE: usize = crate::claims::MAX_PURPOSE;
/// Longest app name shown to the person, in characters.
pub const MAX_APP_NAME: usize = 80;
/// Most bytes of a share's plaintext. Beside the sealing (not behind the `hpke` feature) so
/// the profile server, which never seals or opens, bounds what it stores by the same figure.
pub const MAX_SHARE_BYTES: usize = 8 << 20;
/// Most bytes of an append's plaintext: an item and its envelope.
pub const MAX_APPEND_BYTES: usize = crate::category::MAX_ITEM_BYTES + 1024;
/// How far a signed request's `issuedAt` may be from the server's clock, in seconds; the
/// server keeps each nonce at least twice this long.
pub const MAX_STAMP_SKEW: u64 = 300;

/// What a grant lets an app do with a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Read the category's items (those of its fields the scope names), sealed to the app.
    Read,
    /// Add items to it (receipts, medical events, devices, bookmarks only).
    Append,
    /// Hear when what it may read changed (`share-updated`).
    Subscribe,
}

impl Action {
    pub const ALL: [Self; 3] = [Self::Read, Self::Append, Self::Subscribe];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Append => "append",
            Self::Subscribe => "subscribe",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an app may ever be granted `action` on `category`: every category may be read and
/// subscribed to; only receipts, medical events, devices and bookmarks appended to.
pub fn allows(category: Category, action: Action) -> bool {
    action != Action::Append
        || matches!(category, Category::Receipts | Category::Medical | Category::Devices | Category::Bookmarks)
}

/// One category of a grant, the actions on it and, when `fields` is given, only those of its
/// fields (for reading; an append is checked against the whole definition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawScope")]
pub struct Scope {
    pub category: Category,
    /// At least one, each once, in the order of [`Action::ALL`].
    pub actions: Vec<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    category: Category,
    actions: Vec<Action>,
    #[serde(default)]
    fields: Option<Vec<String>>,
}

impl TryFrom<RawScope> for Scope {
    type Error = String;

    fn try_from(raw: RawScope) -> Result<Self, String> {
        let RawScope { category, mut actions, fields } = raw;
        if actions.is_empty() || actions.len() > Action::ALL.len() {
            return Err(format!("the scope of {category} names no action, or one twice"));
        }
        let asked = actions.len();
        actions.sort();
        actions.dedup();
        if actions.len() != asked {
            return Err(format!("the scope of {category} names an action twice"));
        }
        if let Some(action) = actions.iter().find(|a| !allows(category, **a)) {
            return Err(format!(
                "{category} cannot be granted `{action}`: apps append only to receipts, medical, devices and bookmarks"
            ));
        }
        if let Some(fields) = &fields {
            if fields.is_empty() || fields.len() > MAX_SCOPE_FIELDS {
                return Err(format!(
                    "the scope of {category} names 1 to {MAX_SCOPE_FIELDS} fields, or leaves `fields` out"
                ));
            }
            let known = field_names(category);
            if let Some(unknown) = fields.iter().find(|f| !known.contains(&f.as_str())) {
                return Err(format!(
                    "{category} has no field `{}` ({})",
                    crate::category::clip(unknown),
                    known.join(", ")
                ));
            }
            if fields.iter().enumerate().any(|(i, f)| fields[..i].contains(f)) {
                return Err(format!("the scope of {category} names a field twice"));
            }
        }
        Ok(Self { category, actions, fields })
    }
}

/// The names a scope may narrow a category to: its definition's fields, or an address's.
pub fn field_names(category: Category) -> Vec<&'static str> {
    if category == Category::Addresses {
        crate::ADDRESS_FIELDS.iter().map(|f| f.name).collect()
    } else {
        category.def().fields.iter().map(|f| f.name).collect()
    }
}

impl Scope {
    pub fn may(&self, action: Action) -> bool {
        self.actions.contains(&action)
    }

    /// Whether `field` of the category is in the scope.
    pub fn covers_field(&self, field: &str) -> bool {
        self.fields.as_ref().is_none_or(|fields| fields.iter().any(|f| f == field))
    }
}

/// `requestGrant({scopes, purpose})`'s parameters: at most one scope per category, a purpose of
/// 1 to [`MAX_GRANT_PURPOSE`] characters of one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawGrantRequest")]
pub struct GrantRequest {
    pub scopes: Vec<Scope>,
    pub purpose: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrantRequest {
    scopes: Vec<Scope>,
    purpose: String,
}

impl TryFrom<RawGrantRequest> for GrantRequest {
    type Error = String;

    fn try_from(raw: RawGrantRequest) -> Result<Self, String> {
        let RawGrantRequest { scopes, purpose } = raw;
        check_scopes(&scopes)?;
        let purpose = purpose.trim().to_owned();
        if purpose.is_empty() || purpose.chars().count() > MAX_GRANT_PURPOSE || purpose.chars().any(char::is_control) {
            return Err(format!("`purpose` says why, in 1 to {MAX_GRANT_PURPOSE} characters of one line"));
        }
        Ok(Self { scopes, purpose })
    }
}

/// A grant's scopes: 1 to [`MAX_SCOPES`], no category twice.
pub fn check_scopes(scopes: &[Scope]) -> Result<(), String> {
    if scopes.is_empty() || scopes.len() > MAX_SCOPES {
        return Err(format!("`scopes` holds 1 to {MAX_SCOPES} categories"));
    }
    if let Some((_, twice)) =
        scopes.iter().enumerate().find(|(i, s)| scopes[..*i].iter().any(|o| o.category == s.category))
    {
        return Err(format!("{} is named twice in `scopes`", twice.category));
    }
    Ok(())
}

impl GrantRequest {
    /// The scope of `category`, when the request holds one.
    pub fn scope(&self, category: Category) -> Option<&Scope> {
        self.scopes.iter().find(|s| s.category == category)
    }
}

/// A grant's id: 16 random bytes as 22 characters of base64url, made by the person's device.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GrantId(String);

impl GrantId {
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(Base64UrlUnpadded::encode_string(&bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for GrantId {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let mut bytes = [0u8; 16];
        match Base64UrlUnpadded::decode(&text, &mut bytes) {
            Ok(decoded) if decoded.len() == 16 && text.len() == 22 => Ok(Self(text)),
            _ => Err("a grant id is 16 bytes of base64url (22 characters)".into()),
        }
    }
}

impl From<GrantId> for String {
    fn from(id: GrantId) -> Self {
        id.0
    }
}

impl fmt::Display for GrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What `requestGrant` answers the page: the grant, the profile's URL, and the key the profile
/// signs shares with, which the app keeps to check every share it reads (the profile server
/// serves the shares, so it must not be the one to say whose they are).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantAnswer {
    pub grant_id: GrantId,
    pub profile_url: String,
    pub profile_key: PublicJwk,
}

/// An app's registration as its origin publishes it at `/.well-known/personal-profile`:
/// `{appId, name, publicKey, encryptionKey?}` (other members are passed over). Without
/// `encryptionKey` it is a site that signs but cannot be granted data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRegistration {
    pub app_id: AppId,
    pub name: AppName,
    /// The P-256 key its requests are signed with.
    pub public_key: PublicJwk,
    /// The P-256 key what it may read is sealed to (HPKE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<PublicJwk>,
}

/// Most bytes of a registration document read.
pub const MAX_REGISTRATION: usize = 64 * 1024;

/// An app's name as people see it: 1 to [`MAX_APP_NAME`] characters of one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppName(String);

impl TryFrom<String> for AppName {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.chars().count() > MAX_APP_NAME || trimmed.chars().any(char::is_control) {
            return Err(format!("an app's name is 1 to {MAX_APP_NAME} characters of one line"));
        }
        Ok(Self(trimmed.to_owned()))
    }
}

impl From<AppName> for String {
    fn from(name: AppName) -> Self {
        name.0
    }
}

impl AppName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The header an app's request carries its [`AppStamp`] in: base64url of the exact JSON bytes
/// signed.
pub const STAMP_HEADER: &str = "Personal-Profile-App";
/// The header its signature is in, as for sites' signed requests: base64url of the ES256
/// signature (`r‖s`) over the stamp's exact bytes.
pub use crate::server_api::SIGNATURE_HEADER;

/// What an app signs for each request to the profile server: which grant, which request
/// (method, path with query, SHA-256 of the exact body), when, and a nonce never used before.
/// The server checks each against the request it came with and the nonce against those it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppStamp {
    #[serde(rename = "type")]
    pub kind: StampType,
    pub grant_id: GrantId,
    pub method: String,
    /// The path and query exactly as requested (`/api/v1/app/share?grant=…`).
    pub path: String,
    /// base64url of SHA-256 of the body (of nothing, for a GET).
    pub body_sha256: String,
    /// Unix seconds.
    pub issued_at: u64,
    /// 16 random bytes, base64url.
    pub nonce: String,
}

/// The stamp's `type`, `app.request`: a stamp's signature never passes for another signed thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StampType {
    #[serde(rename = "app.request")]
    Request,
}

/// Why a stamp does not match its request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StampError {
    #[error("the request's stamp is not base64url of a JSON app.request")]
    Malformed,
    #[error("the stamp names another request ({0})")]
    Mismatch(&'static str),
    #[error("the stamp's issuedAt is more than {MAX_STAMP_SKEW} seconds from the server's clock")]
    Stale,
}

impl AppStamp {
    /// A stamp for `method path` with `body`, as of `issued_at`, with a fresh `nonce`.
    pub fn new(grant_id: GrantId, method: &str, path: &str, body: &[u8], issued_at: u64, nonce: [u8; 16]) -> Self {
        Self {
            kind: StampType::Request,
            grant_id,
            method: method.to_ascii_uppercase(),
            path: path.into(),
            body_sha256: body_digest(body),
            issued_at,
            nonce: Base64UrlUnpadded::encode_string(&nonce),
        }
    }

    /// The exact bytes to sign, and base64url of them for [`STAMP_HEADER`].
    pub fn to_header(&self) -> (Vec<u8>, String) {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        let header = Base64UrlUnpadded::encode_string(&bytes);
        (bytes, header)
    }

    /// Reads a stamp header: the bytes signed and what they say. Bounded to 2 KiB.
    pub fn from_header(header: &str) -> Result<(Vec<u8>, Self), StampError> {
        if header.len() > 2048 {
            return Err(StampError::Malformed);
        }
        let bytes = Base64UrlUnpadded::decode_vec(header.trim()).map_err(|_| StampError::Malformed)?;
        let stamp: Self = serde_json::from_slice(&bytes).map_err(|_| StampError::Malformed)?;
        let mut nonce = [0u8; 16];
        match Base64UrlUnpadded::decode(&stamp.nonce, &mut nonce) {
            Ok(n) if n.len() == 16 => Ok((bytes, stamp)),
            _ => Err(StampError::Malformed),
        }
    }

    /// Whether the stamp is for this request (`method`, `path` with its query, `body`) and
    /// fresh at `now`. The signature and the nonce are the caller's to check.
    pub fn matches(&self, method: &str, path: &str, body: &[u8], now: u64) -> Result<(), StampError> {
        if !self.method.eq_ignore_ascii_case(method) {
            return Err(StampError::Mismatch("method"));
        }
        if self.path != path {
            return Err(StampError::Mismatch("path"));
        }
        if self.body_sha256 != body_digest(body) {
            return Err(StampError::Mismatch("body"));
        }
        if self.issued_at.abs_diff(now) > MAX_STAMP_SKEW {
            return Err(StampError::Stale);
        }
        Ok(())
    }
}

fn body_digest(body: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(&Sha256::digest(body))
}

/// HPKE's ciphertext: the encapsulated key and the sealed bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sealed {
    pub enc: Bytes,
    pub ciphertext: Bytes,
}

/// A share as the profile server stores and serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SealedShare {
    /// Rises with every sealing; the app keeps the highest it saw.
    pub version: u64,
    pub sealed: Sealed,
    /// base64url of the profile's ES256 signature (`r‖s`) over `sealed::share_signed_bytes`.
    pub signature: String,
}

/// Header naming a webhook's event id (also in its body), for de-duplication.
pub const EVENT_ID_HEADER: &str = "Personal-Profile-Event-Id";
/// Header naming which of the profile server's keys (its JWKS `kid`) signed a webhook; the
/// signature is in [`SIGNATURE_HEADER`], over the exact body.
pub const KEY_ID_HEADER: &str = "Personal-Profile-Key-Id";

/// What the profile server tells an app, by webhook (a signed `POST` of this JSON) or on its
/// WebSocket (a text message each). `id` is the same however often it is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppEvent {
    pub id: String,
    pub grant_id: GrantId,
    /// Unix seconds.
    pub occurred_at: u64,
    #[serde(flatten)]
    pub kind: AppEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum AppEventKind {
    /// The share was sealed again (something the app may read changed): read it.
    ShareUpdated { version: u64 },
    /// The person revoked the grant: its share is gone and its key refused. Nothing follows.
    GrantRevoked {},
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn grant(value: serde_json::Value) -> Result<GrantRequest, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    #[test]
    fn grant_requests_are_checked_before_any_window() {
        let ok = grant(json!({"scopes": [
            {"category": "receipts", "actions": ["append", "read"]},
            {"category": "addresses", "actions": ["subscribe", "read"], "fields": ["line1", "city"]}
        ], "purpose": "  Keep your receipts  "}))
        .unwrap();
        assert_eq!(ok.purpose, "Keep your receipts");
        assert_eq!(ok.scopes[0].actions, [Action::Read, Action::Append], "sorted");
        assert!(ok.scope(Category::Addresses).unwrap().covers_field("city"));
        assert!(!ok.scope(Category::Addresses).unwrap().covers_field("phone"));
        assert!(ok.scope(Category::Receipts).unwrap().covers_field("merchant"), "no fields: all");
        for (bad, says) in [
            (json!({"scopes": [], "purpose": "x"}), "1 to"),
            (json!({"scopes": [{"category": "identity", "actions": ["append"]}], "purpose": "x"}), "append only"),
            (json!({"scopes": [{"category": "receipts", "actions": []}], "purpose": "x"}), "no action"),
            (json!({"scopes": [{"category": "receipts", "actions": ["read", "read"]}], "purpose": "x"}), "twice"),
            (
                json!({"scopes": [{"category": "receipts", "actions": ["read"], "fields": ["passport"]}], "purpose": "x"}),
                "no field",
            ),
            (
                json!({"scopes": [{"category": "receipts", "actions": ["read"]}, {"category": "receipts", "actions": ["append"]}], "purpose": "x"}),
                "named twice",
            ),
            (json!({"scopes": [{"category": "receipts", "actions": ["read"]}], "purpose": ""}), "purpose"),
            (json!({"scopes": [{"category": "receipts", "actions": ["delete"]}], "purpose": "x"}), "unknown variant"),
            (json!({"scopes": [{"category": "passports", "actions": ["read"]}], "purpose": "x"}), "unknown variant"),
            (
                json!({"scopes": [{"category": "receipts", "actions": ["read"]}], "purpose": "x", "more": 1}),
                "unknown field",
            ),
        ] {
            let error = grant(bad.clone()).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn grant_ids_are_sixteen_bytes() {
        let id = GrantId::from_bytes([7; 16]);
        assert_eq!(id.as_str().len(), 22);
        assert_eq!(GrantId::try_from(id.as_str().to_owned()).unwrap(), id);
        for bad in ["", "short", &"A".repeat(23), "!!!!!!!!!!!!!!!!!!!!!!"] {
            assert!(GrantId::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_stamp_matches_only_its_own_request() {
        let stamp = AppStamp::new(GrantId::from_bytes([1; 16]), "post", "/api/v1/app/appends", b"{}", 1_000, [2; 16]);
        let (bytes, header) = stamp.to_header();
        let (read, again) = AppStamp::from_header(&header).unwrap();
        assert_eq!((read, &again), (bytes, &stamp));
        assert_eq!(stamp.matches("POST", "/api/v1/app/appends", b"{}", 1_100), Ok(()));
        assert_eq!(stamp.matches("GET", "/api/v1/app/appends", b"{}", 1_000), Err(StampError::Mismatch("method")));
        assert_eq!(stamp.matches("POST", "/api/v1/app/share", b"{}", 1_000), Err(StampError::Mismatch("path")));
        assert_eq!(stamp.matches("POST", "/api/v1/app/appends", b"{ }", 1_000), Err(StampError::Mismatch("body")));
        assert_eq!(
            stamp.matches("POST", "/api/v1/app/appends", b"{}", 1_000 + MAX_STAMP_SKEW + 1),
            Err(StampError::Stale)
        );
        assert!(AppStamp::from_header("not base64!").is_err());
        assert!(AppStamp::from_header(&"A".repeat(4000)).is_err());
    }

    #[test]
    fn events_keep_their_wire_shape() {
        let event = AppEvent {
            id: "e1".into(),
            grant_id: GrantId::from_bytes([0; 16]),
            occurred_at: 5,
            kind: AppEventKind::ShareUpdated { version: 3 },
        };
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({"id": "e1", "grantId": "AAAAAAAAAAAAAAAAAAAAAA", "occurredAt": 5, "type": "share-updated", "version": 3})
        );
        let revoked: AppEvent = serde_json::from_value(
            json!({"id": "e2", "grantId": "AAAAAAAAAAAAAAAAAAAAAA", "occurredAt": 6, "type": "grant-revoked"}),
        )
        .unwrap();
        assert_eq!(revoked.kind, AppEventKind::GrantRevoked {});
    }
}
