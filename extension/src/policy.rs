//! What the service worker decides, as plain Rust: which page calls are valid, whether one
//! needs the person's click, what the consent prompt shows, and how host answers map onto the
//! page's error codes. No `chrome.*` here, so all of it is tested natively.

use profile_core::wire::{Call, Response, origin_error};
use profile_core::{AddressKind, ErrorCode, Origin, WireError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Clicks this soon after the prompt appears do not count (invariant 2).
pub const CLICK_GUARD_MS: f64 = 500.0;
/// A prompt nobody answers resolves as `timeout` after this long.
pub const PROMPT_TIMEOUT_MS: f64 = 60_000.0;

/// What the browser says about the caller: its frame's origin and, for a frame inside another
/// page, the top-level page's origin. Never anything the page itself sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sender {
    pub origin: String,
    #[serde(default)]
    pub top_origin: Option<String>,
}

/// What the page sent through `window.profile`: a method name and its argument.
#[derive(Debug, Clone, Deserialize)]
pub struct PageMessage {
    pub method: String,
    #[serde(default)]
    pub params: Value,
}

/// A page call that passed validation, ready for consent and then the host.
#[derive(Debug, Clone)]
pub struct PageCall {
    pub origin: Origin,
    /// Set when the calling frame is not the top-level page.
    pub top_origin: Option<Origin>,
    pub call: Call,
}

/// Checks the sender (from the browser) and the message (from the page).
pub fn validate(sender: &Sender, message: &PageMessage) -> Result<PageCall, WireError> {
    let origin = parse_web_origin(&sender.origin)?;
    let top_origin = match &sender.top_origin {
        Some(top) => Some(parse_web_origin(top)?).filter(|top| *top != origin),
        None => None,
    };
    let params = match &message.params {
        Value::Null => Value::Object(Default::default()),
        Value::Object(_) => message.params.clone(),
        // `getAddress("shipping")` passes the kind as a bare string.
        Value::String(kind) if message.method == "getAddress" => serde_json::json!({ "kind": kind }),
        _ => return Err(WireError::invalid(format!("bad argument for `{}`", message.method))),
    };
    let tagged = serde_json::json!({"type": message.method, "params": params});
    let call: Call =
        serde_json::from_value(tagged).map_err(|e| WireError::invalid(format!("{}: {e}", message.method)))?;
    if !call.is_page_method() {
        return Err(WireError::invalid(format!("`{}` is not a page method", message.method)));
    }
    Ok(PageCall { origin, top_origin, call })
}

fn parse_web_origin(text: &str) -> Result<Origin, WireError> {
    let origin = Origin::parse(text).map_err(|e| origin_error(&e))?;
    if origin.is_web() { Ok(origin) } else { Err(WireError::invalid("not a web page")) }
}

/// The kind of request a remembered grant covers: "remember this site for this kind of
/// request". Sign-up always asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// A remembered consent, as kept in `chrome.storage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredGrant {
    pub origin: Origin,
    /// The top-level page the frame was embedded in when the grant was given, if any: a grant
    /// made inside one page does not carry over to another.
    pub top_origin: Option<Origin>,
    pub kind: GrantKind,
}

/// Whether the call can be answered without a prompt.
pub fn granted(grants: &[StoredGrant], call: &PageCall) -> bool {
    GrantKind::of(&call.call).is_some_and(|kind| {
        grants.iter().any(|g| g.kind == kind && g.origin == call.origin && g.top_origin == call.top_origin)
    })
}

/// What the consent window shows: who asks, for what, and exactly what would leave.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prompt {
    pub origin: String,
    pub host: String,
    /// The page the asking frame sits in, when that is another site.
    pub top_origin: Option<String>,
    /// A short sentence: "shop.example wants your shipping address".
    pub headline: String,
    /// The values or descriptions that would leave, one per line.
    pub items: Vec<String>,
    /// Whether the "remember" checkbox is offered.
    pub rememberable: bool,
}

/// Builds the prompt. `preview` is what the host would disclose (the address itself, the
/// device id), fetched before asking so the person sees exactly what leaves.
pub fn prompt(call: &PageCall, preview: Option<&Value>) -> Prompt {
    let host = call.origin.host().to_owned();
    let (headline, items) = match &call.call {
        Call::GetProfileUrl {} => {
            (format!("{host} wants your profile URL"), preview_string(preview, "your profile URL"))
        }
        Call::GetDeviceId {} => (
            format!("{host} wants this device's id for the site"),
            vec![format!("Device id {}", preview.and_then(Value::as_str).unwrap_or("(made for this site only)"))],
        ),
        Call::GetAddress { kind } => {
            (format!("{host} wants your {} address", kind.as_str()), address_lines(*kind, preview))
        }
        Call::SignUp(params) => (
            format!("{host} wants to create an account for you"),
            vec![
                format!("A new login key for {host}, account {}", params.account_guid),
                "Your profile URL and this device's id for the site".to_owned(),
            ],
        ),
        Call::Login(params) => (
            format!("Log in to {host}"),
            vec![match &params.account_guid {
                Some(guid) => format!("A login to {host} as account {guid}"),
                None => format!("A login to {host} with your account there"),
            }],
        ),
        other => (format!("{host} asks for `{}`", other.name()), Vec::new()),
    };
    Prompt {
        origin: call.origin.to_string(),
        host,
        top_origin: call.top_origin.as_ref().map(ToString::to_string),
        headline,
        items,
        rememberable: GrantKind::of(&call.call).is_some(),
    }
}

fn preview_string(preview: Option<&Value>, fallback: &str) -> Vec<String> {
    vec![preview.and_then(Value::as_str).unwrap_or(fallback).to_owned()]
}

fn address_lines(kind: AddressKind, preview: Option<&Value>) -> Vec<String> {
    let Some(address) = preview.and_then(Value::as_object) else {
        return vec![format!("Your saved {} address", kind.as_str())];
    };
    let field = |name: &str| address.get(name).and_then(Value::as_str).map(str::to_owned);
    let city_line =
        [field("postalCode"), field("city"), field("region")].into_iter().flatten().collect::<Vec<_>>().join(" ");
    [
        field("name"),
        field("organization"),
        field("line1"),
        field("line2"),
        Some(city_line),
        field("country"),
        field("phone"),
        field("email"),
    ]
    .into_iter()
    .flatten()
    .filter(|line| !line.is_empty())
    .collect()
}

/// Whether a click on the prompt counts.
pub fn click_counts(ms_since_shown: f64) -> bool {
    ms_since_shown >= CLICK_GUARD_MS
}

/// What the page's promise settles with.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum Settlement {
    Resolved { value: Value },
    Rejected { code: ErrorCode, message: String },
}

impl Settlement {
    pub fn reject(error: WireError) -> Self {
        Self::Rejected { code: error.code, message: error.message }
    }

    /// Maps a host answer; a missing or malformed one is `host_unavailable` / `internal`.
    pub fn from_host(answer: Option<&Response>) -> Self {
        match answer {
            None => Self::reject(WireError::new(
                ErrorCode::HostUnavailable,
                "Personal Profile's host is not running or not installed",
            )),
            Some(Response { ok: true, result: Some(value), .. }) => Self::Resolved { value: value.clone() },
            Some(Response { error: Some(error), .. }) => Self::reject(error.clone()),
            Some(_) => Self::reject(WireError::internal("malformed answer from the host")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sender(origin: &str) -> Sender {
        Sender { origin: origin.into(), top_origin: None }
    }

    fn message(method: &str, params: Value) -> PageMessage {
        PageMessage { method: method.into(), params }
    }

    #[test]
    fn validates_sender_and_message() {
        let call = validate(&sender("https://Shop.Example"), &message("getAddress", json!("shipping"))).unwrap();
        assert_eq!(call.origin.as_str(), "https://shop.example");
        assert!(matches!(call.call, Call::GetAddress { kind: AddressKind::Shipping }));
        assert!(validate(&sender("https://shop.example"), &message("getDeviceId", Value::Null)).is_ok());

        let refused = [
            (sender("http://shop.example"), message("getDeviceId", Value::Null), ErrorCode::InsecureOrigin),
            (sender("null"), message("getDeviceId", Value::Null), ErrorCode::InvalidRequest),
            (
                sender("chrome-extension://anejejpdgphdflenbcklaacafpcfcman"),
                message("getDeviceId", Value::Null),
                ErrorCode::InvalidRequest,
            ),
            (sender("https://shop.example"), message("listAccounts", Value::Null), ErrorCode::InvalidRequest),
            (sender("https://shop.example"), message("getAddress", json!("home")), ErrorCode::InvalidRequest),
            (
                sender("https://shop.example"),
                message("login", json!({"challenge": "short"})),
                ErrorCode::InvalidRequest,
            ),
            (sender("https://shop.example"), message("getDeviceId", json!([1])), ErrorCode::InvalidRequest),
        ];
        for (sender, message, code) in refused {
            assert_eq!(validate(&sender, &message).unwrap_err().code, code, "{sender:?} {message:?}");
        }
    }

    #[test]
    fn grants_are_per_origin_per_kind_and_per_embedding_page() {
        let frame = Sender { origin: "https://pay.example".into(), top_origin: Some("https://shop.example".into()) };
        let call = validate(&frame, &message("getAddress", json!("billing"))).unwrap();
        let grant = StoredGrant {
            origin: call.origin.clone(),
            top_origin: call.top_origin.clone(),
            kind: GrantKind::of(&call.call).unwrap(),
        };
        assert!(granted(std::slice::from_ref(&grant), &call));
        let elsewhere =
            Sender { origin: "https://pay.example".into(), top_origin: Some("https://evil.example".into()) };
        assert!(!granted(
            std::slice::from_ref(&grant),
            &validate(&elsewhere, &message("getAddress", json!("billing"))).unwrap()
        ));
        assert!(!granted(
            std::slice::from_ref(&grant),
            &validate(&frame, &message("getAddress", json!("shipping"))).unwrap()
        ));
        let challenge = json!({"challenge": "AAAAAAAAAAAAAAAAAAAAAA", "accountGuid": "a"});
        assert_eq!(
            GrantKind::of(&validate(&frame, &message("signUp", challenge)).unwrap().call),
            None,
            "sign-up always asks"
        );
    }

    #[test]
    fn the_prompt_shows_who_asks_and_exactly_what_leaves() {
        let frame = Sender { origin: "https://pay.example".into(), top_origin: Some("https://shop.example".into()) };
        let call = validate(&frame, &message("getAddress", json!("shipping"))).unwrap();
        let address = json!({"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postalCode": "SW1Y 4JH", "country": "GB"});
        let prompt = prompt(&call, Some(&address));
        assert_eq!(prompt.headline, "pay.example wants your shipping address");
        assert_eq!(prompt.top_origin.as_deref(), Some("https://shop.example"));
        assert_eq!(prompt.items, ["Ada Lovelace", "12 St James's Square", "SW1Y 4JH London", "GB"]);
        assert!(prompt.rememberable);
        assert_eq!(super::prompt(&call, None).items, ["Your saved shipping address"]);

        let login = validate(
            &sender("https://shop.example"),
            &message("login", json!({"challenge": "AAAAAAAAAAAAAAAAAAAAAA", "accountGuid": "acct-9"})),
        )
        .unwrap();
        assert_eq!(super::prompt(&login, None).items, ["A login to shop.example as account acct-9"]);
        // The top-level page is named only when it is another site.
        let same = Sender { origin: "https://shop.example".into(), top_origin: Some("https://shop.example".into()) };
        assert_eq!(validate(&same, &message("getDeviceId", Value::Null)).unwrap().top_origin, None);
    }

    #[test]
    fn early_clicks_do_not_count_and_host_answers_map_to_page_settlements() {
        assert!(!click_counts(499.0));
        assert!(click_counts(500.0));
        assert_eq!(
            Settlement::from_host(None),
            Settlement::Rejected {
                code: ErrorCode::HostUnavailable,
                message: "Personal Profile's host is not running or not installed".into()
            }
        );
        let ok = Response::success(1, json!("id"));
        assert_eq!(Settlement::from_host(Some(&ok)), Settlement::Resolved { value: json!("id") });
        let failed = Response::failure(Some(1), WireError::new(ErrorCode::NotFound, "no billing address saved"));
        assert_eq!(
            serde_json::to_value(Settlement::from_host(Some(&failed))).unwrap(),
            json!({"status": "rejected", "code": "not_found", "message": "no billing address saved"})
        );
    }
}
