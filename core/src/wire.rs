//! The native-messaging contract between the extension and `profile-host`.
//!
//! ```text
//! request  {"id": 7, "type": "getAddress", "origin": "https://shop.example", "params": {"kind": "shipping"}}
//! success  {"id": 7, "ok": true,  "result": {...}}
//! failure  {"id": 7, "ok": false, "error": {"code": "not_found", "message": "no shipping address saved"}}
//! ```
//!
//! Frames are Chrome's: a 4-byte native-endian length, then that much UTF-8 JSON, at most
//! [`MAX_FRAME`] bytes either way. [`parse_request`] turns one frame's bytes into a [`Request`]
//! or into the failure to send back, never a panic.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    AccountGuid, Address, AddressKind, Assertion, Challenge, DeviceId, ErrorCode, Origin, OriginError, Passphrase,
    PublicJwk, WireError,
};

/// Largest frame either side may send: 1 MiB.
pub const MAX_FRAME: usize = 1 << 20;

/// The page API version this contract serves (`window.profile.version`).
pub const API_VERSION: &str = "1";

/// A request's id, echoed in its answer so answers may come out of order.
pub type RequestId = u64;

/// One decoded request. `origin` was set by the extension from the browser-verified sender.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: RequestId,
    pub origin: Origin,
    pub call: Call,
}

/// Every method, with its parameters. Page methods first, then the extension's own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", content = "params", rename_all = "camelCase", deny_unknown_fields)]
pub enum Call {
    GetProfileUrl {},
    GetDeviceId {},
    GetAddress {
        kind: AddressKind,
    },
    SignUp(SignUpParams),
    Login(LoginParams),

    Hello {},
    Status {},
    Pair(PairParams),
    Unpair {},
    Unlock {
        passphrase: Passphrase,
    },
    Lock {},
    SaveAddress {
        kind: AddressKind,
        address: Address,
    },
    /// Both saved addresses, for the options page. Not a disclosure.
    ListAddresses {},
    ListAccounts {},
    /// What a page call would disclose, for the consent window, without disclosing it.
    Preview(PreviewParams),
    /// Remembers the person's "remember this site for this kind of request".
    Grant(GrantParams),
    ListGrants {},
    /// Forgets every grant naming `origin`, as the asking site or as the page around it.
    Revoke {
        origin: Origin,
    },
    ListDisclosures {
        /// Newest first; at most [`MAX_LISTED_DISCLOSURES`].
        #[serde(default)]
        limit: Option<usize>,
    },
    /// The devices paired with the profile, as the profile server lists them.
    ListDevices {},
    /// Signs one of the profile's devices out on the profile server.
    RevokeDevice {
        #[serde(rename = "deviceId")]
        device_id: String,
    },
}

/// Most ledger entries one `listDisclosures` answer carries (keeps the frame under 1 MiB).
pub const MAX_LISTED_DISCLOSURES: usize = 1000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignUpParams {
    pub challenge: Challenge,
    pub account_guid: AccountGuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginParams {
    pub challenge: Challenge,
    /// Which of the origin's accounts; the most recently used one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_guid: Option<AccountGuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviewParams {
    /// The page the call would come from.
    pub origin: Origin,
    /// The page around it, when the caller is a frame of another site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_origin: Option<Origin>,
    /// The page call; only page methods can be previewed.
    pub call: Box<Call>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantParams {
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_origin: Option<Origin>,
    pub kind: GrantKind,
}

/// The kind of request a remembered grant covers ("remember this site for this kind of
/// request"). Sign-up always asks, so it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GrantKind {
    ProfileUrl,
    DeviceId,
    ShippingAddress,
    BillingAddress,
    Login,
}

impl GrantKind {
    pub fn of(call: &Call) -> Option<Self> {
        match call {
            Call::GetProfileUrl {} => Some(Self::ProfileUrl),
            Call::GetDeviceId {} => Some(Self::DeviceId),
            Call::GetAddress { kind: AddressKind::Shipping } => Some(Self::ShippingAddress),
            Call::GetAddress { kind: AddressKind::Billing } => Some(Self::BillingAddress),
            Call::Login(_) => Some(Self::Login),
            _ => None,
        }
    }
}

/// `pair {profileUrl, email, passphrase}` or `pair {profileUrl, ticket}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged, rename_all = "camelCase")]
pub enum PairParams {
    #[serde(rename_all = "camelCase")]
    Passphrase { profile_url: String, email: String, passphrase: Passphrase },
    #[serde(rename_all = "camelCase")]
    Ticket { profile_url: String, ticket: String },
}

impl Call {
    /// The wire name of the method (`"getAddress"`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::GetProfileUrl {} => "getProfileUrl",
            Self::GetDeviceId {} => "getDeviceId",
            Self::GetAddress { .. } => "getAddress",
            Self::SignUp(_) => "signUp",
            Self::Login(_) => "login",
            Self::Hello {} => "hello",
            Self::Status {} => "status",
            Self::Pair(_) => "pair",
            Self::Unpair {} => "unpair",
            Self::Unlock { .. } => "unlock",
            Self::Lock {} => "lock",
            Self::SaveAddress { .. } => "saveAddress",
            Self::ListAddresses {} => "listAddresses",
            Self::ListAccounts {} => "listAccounts",
            Self::Preview(_) => "preview",
            Self::Grant(_) => "grant",
            Self::ListGrants {} => "listGrants",
            Self::Revoke { .. } => "revoke",
            Self::ListDisclosures { .. } => "listDisclosures",
            Self::ListDevices {} => "listDevices",
            Self::RevokeDevice { .. } => "revokeDevice",
        }
    }

    /// Page methods disclose something and are served only for web origins; the rest are the
    /// extension's own and are served only for the extension's own origin.
    pub fn is_page_method(&self) -> bool {
        matches!(
            self,
            Self::GetProfileUrl {} | Self::GetDeviceId {} | Self::GetAddress { .. } | Self::SignUp(_) | Self::Login(_)
        )
    }
}

/// Decodes one frame's bytes. On failure returns the id when one could be read, and the error
/// to answer with.
pub fn parse_request(bytes: &[u8]) -> Result<Request, (Option<RequestId>, WireError)> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| (None, WireError::invalid(format!("message is not JSON: {e}"))))?;
    let Value::Object(mut map) = value else {
        return Err((None, WireError::invalid("message is not a JSON object")));
    };
    let id = match map.remove("id") {
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    }
    .ok_or_else(|| (None, WireError::invalid("`id` must be a non-negative integer")))?;
    let fail = |error: WireError| (Some(id), error);

    let origin = match map.remove("origin") {
        Some(Value::String(text)) => Origin::parse(&text).map_err(|e| fail(origin_error(&e)))?,
        Some(_) => return Err(fail(WireError::invalid("`origin` must be a string"))),
        None => return Err(fail(WireError::invalid("`origin` is missing"))),
    };
    let method = match map.remove("type") {
        Some(Value::String(name)) => name,
        Some(_) => return Err(fail(WireError::invalid("`type` must be a string"))),
        None => return Err(fail(WireError::invalid("`type` is missing"))),
    };
    let params = match map.remove("params") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(params @ Value::Object(_)) => params,
        Some(_) => return Err(fail(WireError::invalid("`params` must be an object"))),
    };
    if let Some(extra) = map.keys().next() {
        return Err(fail(WireError::invalid(format!("unknown member `{extra}`"))));
    }
    let tagged = Value::Object(Map::from_iter([
        ("type".to_owned(), Value::String(method.clone())),
        ("params".to_owned(), params),
    ]));
    let call = Call::deserialize(tagged).map_err(|e| {
        let message = if e.to_string().starts_with(&format!("unknown variant `{method}`")) {
            format!("unknown method `{method}`")
        } else {
            format!("bad params for `{method}`: {e}")
        };
        fail(WireError::invalid(message))
    })?;
    Ok(Request { id, origin, call })
}

/// Maps an origin refusal onto the code a page sees.
pub fn origin_error(error: &OriginError) -> WireError {
    let code = match error {
        OriginError::Scheme(_) | OriginError::InsecureHttp => ErrorCode::InsecureOrigin,
        _ => ErrorCode::InvalidRequest,
    };
    WireError::new(code, format!("origin refused: {error}"))
}

/// One answer. `id` is `None` only when the request's id could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub id: Option<RequestId>,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WireError>,
}

impl Response {
    pub fn success(id: RequestId, result: Value) -> Self {
        Self { id: Some(id), ok: true, result: Some(result), error: None }
    }

    pub fn failure(id: Option<RequestId>, error: WireError) -> Self {
        Self { id, ok: false, result: None, error: Some(error) }
    }

    /// Serializes the answer; one that would exceed [`MAX_FRAME`] becomes an `internal` failure.
    pub fn to_frame_body(&self) -> Vec<u8> {
        match serde_json::to_vec(self) {
            Ok(body) if body.len() <= MAX_FRAME => body,
            _ => {
                let failure = Self::failure(self.id, WireError::internal("answer too large for one message"));
                serde_json::to_vec(&failure).unwrap_or_default()
            }
        }
    }
}

// ---- results -------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelloResult {
    pub api_version: String,
    pub host_version: String,
    pub paired: bool,
    pub locked: bool,
    pub profile_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusResult {
    #[serde(flatten)]
    pub hello: HelloResult,
    pub passphrase_set: bool,
    /// Paired with a ticket, and the vault not opened yet: `unlock {passphrase}` opens it.
    pub vault_needs_passphrase: bool,
    pub addresses: Vec<AddressKind>,
    pub accounts: usize,
    pub disclosures: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignUpResult {
    pub account_guid: AccountGuid,
    pub profile_url: Option<String>,
    pub device_id: DeviceId,
    pub public_key: PublicJwk,
    pub assertion: Assertion,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginResult {
    pub account_guid: AccountGuid,
    pub assertion: Assertion,
}

/// One site account as `listAccounts` shows it (no key material).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSummary {
    pub origin: Origin,
    pub account_guid: AccountGuid,
    pub app_id: Option<String>,
    pub permissions: Vec<String>,
    pub public_key: PublicJwk,
    pub counter: u64,
    pub created_at: u64,
    pub last_used_at: u64,
}

/// A remembered consent: `origin` (inside `top_origin`, when it was a frame of another site)
/// may receive `kind` without a prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_origin: Option<Origin>,
    pub kind: GrantKind,
    pub granted_at: u64,
}

impl Grant {
    /// Whether this is the grant `wanted` names: the same site, inside the same page, for the
    /// same kind of request. A call is answered without a prompt when a grant covers it, and
    /// granting again replaces the grant it covers.
    pub fn covers(&self, wanted: &GrantParams) -> bool {
        self.origin == wanted.origin && self.top_origin == wanted.top_origin && self.kind == wanted.kind
    }

    /// Whether revoking `site` removes this grant.
    pub fn names(&self, site: &Origin) -> bool {
        &self.origin == site || self.top_origin.as_ref() == Some(site)
    }
}

/// What `preview` answers: what the call would disclose, and each site's registrable domain
/// (`shop.example.co.uk` for `https://www.shop.example.co.uk`) for the consent window to stress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewResult {
    pub registrable_domain: Option<String>,
    pub top_registrable_domain: Option<String>,
    /// The value that would leave (`null` when there is none: no saved address, not paired).
    /// For `login`, `{accountGuid}` of the account that would be used; for `signUp`,
    /// `{profileUrl, deviceId}`.
    pub value: Value,
    /// What the site calls itself in its `/.well-known/personal-profile` document, when it
    /// publishes a well-formed one. A claim of the site's, never a proof: the origin is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<SiteApp>,
}

/// A site's registration, from `ORIGIN/.well-known/personal-profile`:
/// `{"appId": "demo-shop", "name": "Demo Shop", "iconUrl"?: …, "publicKey"?: JWK}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteApp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    pub name: String,
}

/// Longest app name shown.
pub const MAX_APP_NAME_CHARS: usize = 60;

impl SiteApp {
    /// Reads a site's document; `None` unless it has a usable name (1 to
    /// [`MAX_APP_NAME_CHARS`] printable characters once trimmed).
    pub fn from_document(document: &Value) -> Option<Self> {
        // No control characters, and no bidirectional overrides that could make a name
        // read as something else.
        let bidi = |c: char| matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        let printable = |text: &str| !text.chars().any(|c| c.is_control() || bidi(c));
        let name = document.get("name")?.as_str()?.trim();
        if name.is_empty() || name.chars().count() > MAX_APP_NAME_CHARS || !printable(name) {
            return None;
        }
        let app_id = (document.get("appId").and_then(Value::as_str))
            .filter(|id| !id.is_empty() && id.len() <= 200 && printable(id))
            .map(str::to_owned);
        Some(Self { app_id, name: name.to_owned() })
    }
}

/// One entry of the disclosure ledger: what left to which site, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disclosure {
    /// Unix seconds.
    pub at: u64,
    pub origin: Origin,
    pub method: String,
    /// Names of the fields that left (empty when the request failed).
    pub fields: Vec<String>,
    /// `"disclosed"`, or the error code the page received.
    pub outcome: String,
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_site_registration_needs_a_printable_name() {
        let app = SiteApp::from_document(&serde_json::json!({"appId": "demo-shop", "name": "  Demo Shop "})).unwrap();
        assert_eq!((app.app_id.as_deref(), app.name.as_str()), (Some("demo-shop"), "Demo Shop"));
        let long = "x".repeat(MAX_APP_NAME_CHARS + 1);
        for bad in [
            serde_json::json!({"appId": "a"}),
            serde_json::json!({"name": ""}),
            serde_json::json!({"name": 7}),
            serde_json::json!({"name": long}),
            serde_json::json!({"name": "Bank\u{202e}lapyaP"}),
            serde_json::json!({"name": "Shop\u{7}"}),
            serde_json::json!("<html>"),
        ] {
            assert!(SiteApp::from_document(&bad).is_none(), "{bad}");
        }
        let no_id = SiteApp::from_document(&serde_json::json!({"name": "Shop", "appId": "bad\nid"})).unwrap();
        assert_eq!(no_id.app_id, None);
    }

    use serde_json::json;

    use super::*;

    const PAGE: &str = "https://shop.example";

    fn parse(value: Value) -> Result<Request, (Option<RequestId>, WireError)> {
        parse_request(value.to_string().as_bytes())
    }

    #[test]
    fn parses_every_shape_of_params() {
        let req =
            parse(json!({"id": 7, "type": "getAddress", "origin": PAGE, "params": {"kind": "shipping"}})).unwrap();
        assert_eq!(req.id, 7);
        assert!(matches!(req.call, Call::GetAddress { kind: AddressKind::Shipping }));
        assert!(req.call.is_page_method());
        for params in [json!(null), json!({})] {
            let req = parse(json!({"id": 1, "type": "getDeviceId", "origin": PAGE, "params": params})).unwrap();
            assert_eq!(req.call.name(), "getDeviceId");
        }
        let req = parse(json!({"id": 1, "type": "hello", "origin": PAGE})).unwrap();
        assert!(!req.call.is_page_method());
        let req = parse(json!({"id": 2, "type": "listDisclosures", "origin": PAGE, "params": {"limit": 3}})).unwrap();
        assert!(matches!(req.call, Call::ListDisclosures { limit: Some(3) }));
        let req =
            parse(json!({"id": 3, "type": "revokeDevice", "origin": PAGE, "params": {"deviceId": "d-1"}})).unwrap();
        assert!(matches!(&req.call, Call::RevokeDevice { device_id } if device_id == "d-1"));
        assert_eq!(req.call.name(), "revokeDevice");
    }

    #[test]
    fn refuses_malformed_messages_with_the_id_when_readable() {
        let cases: [(&[u8], Option<u64>, &str); 12] = [
            (b"not json", None, "not JSON"),
            (b"[1,2]", None, "not a JSON object"),
            (br#"{"type":"hello","origin":"https://a.example"}"#, None, "`id`"),
            (br#"{"id":"7","type":"hello"}"#, None, "`id`"),
            (br#"{"id":-1,"type":"hello"}"#, None, "`id`"),
            (br#"{"id":3,"type":"hello"}"#, Some(3), "`origin` is missing"),
            (br#"{"id":3,"type":5,"origin":"https://a.example"}"#, Some(3), "`type` must be"),
            (br#"{"id":3,"type":"fly","origin":"https://a.example"}"#, Some(3), "unknown method `fly`"),
            (
                br#"{"id":3,"type":"getAddress","origin":"https://a.example","params":{"kind":"home"}}"#,
                Some(3),
                "bad params",
            ),
            (br#"{"id":3,"type":"getAddress","origin":"https://a.example","params":[]}"#, Some(3), "`params` must be"),
            (br#"{"id":3,"type":"hello","origin":"https://a.example","extra":1}"#, Some(3), "unknown member"),
            (br#"{"id":3,"type":"hello","origin":"https://a.example","params":{"x":1}}"#, Some(3), "unknown field"),
        ];
        for (bytes, id, want) in cases {
            let (got_id, error) = parse_request(bytes).unwrap_err();
            assert_eq!(got_id, id, "{}", String::from_utf8_lossy(bytes));
            assert_eq!(error.code, ErrorCode::InvalidRequest);
            assert!(error.message.contains(want), "{}: {}", String::from_utf8_lossy(bytes), error.message);
        }
    }

    #[test]
    fn insecure_origins_get_their_own_code() {
        let (id, error) = parse(json!({"id": 4, "type": "getDeviceId", "origin": "http://evil.example"})).unwrap_err();
        assert_eq!((id, error.code), (Some(4), ErrorCode::InsecureOrigin));
        let (_, error) = parse(json!({"id": 4, "type": "getDeviceId", "origin": "null"})).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn responses_have_the_documented_shape() {
        let ok = serde_json::to_value(Response::success(7, json!({"a": 1}))).unwrap();
        assert_eq!(ok, json!({"id": 7, "ok": true, "result": {"a": 1}}));
        let fail = serde_json::to_value(Response::failure(None, WireError::new(ErrorCode::NotFound, "none"))).unwrap();
        assert_eq!(fail, json!({"id": null, "ok": false, "error": {"code": "not_found", "message": "none"}}));
        let huge = Response::success(1, Value::String("x".repeat(MAX_FRAME)));
        let body: Response = serde_json::from_slice(&huge.to_frame_body()).unwrap();
        assert_eq!(body.error.unwrap().code, ErrorCode::Internal);
    }
}
