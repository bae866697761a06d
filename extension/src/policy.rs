//! What the service worker decides, as plain Rust: which page calls are valid, whether one
//! needs the person's click, what the consent prompt shows, and how host answers map onto the
//! page's error codes. No `chrome.*` here, so all of it is tested natively.

use profile_core::wire::{Call, GrantKind, GrantParams, MAX_PAGE_MESSAGE, PreviewResult, Response, origin_error};
use profile_core::{ErrorCode, Origin, WireError};
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

/// Refuses a page call whose JSON text is over [`MAX_PAGE_MESSAGE`], before anything parses it:
/// no page can make the extension forward a frame the host must refuse.
pub fn check_size(message: &str) -> Result<(), WireError> {
    if message.len() > MAX_PAGE_MESSAGE {
        return Err(WireError::invalid(format!(
            "the call is {} bytes; at most {MAX_PAGE_MESSAGE} are accepted",
            message.len()
        )));
    }
    Ok(())
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

/// The grant that would answer this call without a prompt; `None` for sign-up, which always
/// asks.
pub fn grant_for(call: &PageCall) -> Option<GrantParams> {
    GrantKind::of(&call.call).map(|kind| GrantParams {
        origin: call.origin.clone(),
        top_origin: call.top_origin.clone(),
        kind,
    })
}

/// An origin split for display, so the registrable domain can be stressed:
/// `https://pay.` + **`shop.example`** + `:8443`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteName {
    pub before: String,
    pub domain: String,
    pub after: String,
}

impl SiteName {
    /// `registrable` comes from the host (the Public Suffix List is too big for this module);
    /// without it, or when it does not end the host, the whole host is stressed.
    pub fn new(origin: &Origin, registrable: Option<&str>) -> Self {
        let (text, host) = (origin.as_str(), origin.host());
        let domain = registrable.filter(|d| host == *d || host.ends_with(&format!(".{d}"))).unwrap_or(host);
        let host_end = text.find("://").map_or(0, |i| i + 3) + host.len();
        let domain_start = host_end - domain.len();
        Self { before: text[..domain_start].to_owned(), domain: domain.to_owned(), after: text[host_end..].to_owned() }
    }
}

/// What the consent window shows: who asks, for what, and exactly what would leave.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prompt {
    pub origin: String,
    pub host: String,
    pub site: SiteName,
    /// The page the asking frame sits in, when that is another site.
    pub top_origin: Option<String>,
    pub top_site: Option<SiteName>,
    /// The name the site gives itself (its `.well-known` document): shown beside the origin,
    /// never instead of it.
    pub app_name: Option<String>,
    /// A short sentence: "shop.example wants your shipping address".
    pub headline: String,
    /// What would leave, one line each: the address itself, the device id, the account.
    pub items: Vec<String>,
    /// Said when the answer will be an error rather than a value (nothing saved, no account).
    pub note: Option<String>,
    /// Whether the "remember" checkbox is offered.
    pub rememberable: bool,
}

/// Builds the prompt from the host's `preview` of exactly what the call would disclose.
pub fn prompt(call: &PageCall, preview: &PreviewResult) -> Prompt {
    let host = call.origin.host().to_owned();
    let value = &preview.value;
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let (headline, items, note) = match &call.call {
        Call::GetProfileUrl {} => match text(value) {
            Some(url) => (format!("{host} wants your profile URL"), vec![url], None),
            None => (
                format!("{host} wants your profile URL"),
                Vec::new(),
                Some(
                    "This profile is not paired with a profile server, so it has no URL yet. The site will be told so."
                        .to_owned(),
                ),
            ),
        },
        Call::GetDeviceId {} => (
            format!("{host} wants this device's id"),
            vec![format!("Device id {}", text(value).unwrap_or_default())],
            Some("Each site gets a different id, so sites cannot link your visits.".to_owned()),
        ),
        Call::GetAddress { kind } => {
            let headline = format!("{host} wants your {} address", kind.as_str());
            match address_lines(value) {
                lines if lines.is_empty() => (
                    headline,
                    Vec::new(),
                    Some(format!("You have no saved {} address. The site will be told none is saved.", kind.as_str())),
                ),
                lines => (headline, lines, None),
            }
        }
        Call::SignUp(params) => {
            let mut items = vec![format!("A new login key for {host}, account {}", params.account_guid)];
            items.extend(value.get("profileUrl").and_then(text).map(|url| format!("Your profile URL {url}")));
            items.extend(value.get("deviceId").and_then(text).map(|id| format!("Device id {id}")));
            (format!("{host} wants to create an account for you"), items, None)
        }
        Call::Login(_) => match value.get("accountGuid").and_then(text) {
            Some(guid) => (format!("Log in to {host}"), vec![format!("A login to {host} as account {guid}")], None),
            None => (
                format!("Log in to {host}"),
                Vec::new(),
                Some(format!("You have no account at {host} on this device. The site will be told so.")),
            ),
        },
        other => (format!("{host} asks for `{}`", other.name()), Vec::new(), None),
    };
    Prompt {
        origin: call.origin.to_string(),
        site: SiteName::new(&call.origin, preview.registrable_domain.as_deref()),
        host,
        top_origin: call.top_origin.as_ref().map(ToString::to_string),
        top_site: call.top_origin.as_ref().map(|top| SiteName::new(top, preview.top_registrable_domain.as_deref())),
        app_name: preview.app.as_ref().map(|app| app.name.clone()),
        headline,
        items,
        note,
        rememberable: GrantKind::of(&call.call).is_some(),
    }
}

/// The address as people read it, made from profile-core's one table of address fields.
fn address_lines(address: &Value) -> Vec<String> {
    profile_core::lines_of(|name| address.get(name).and_then(Value::as_str))
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
    use profile_core::wire::Grant;
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
        assert!(matches!(call.call, Call::GetAddress { kind: profile_core::AddressKind::Shipping }));
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
            (
                sender("https://shop.example"),
                message(
                    "signUp",
                    json!({"challenge": "AAAAAAAAAAAAAAAAAAAAAA", "accountGuid": "a", "appId": "x".repeat(201)}),
                ),
                ErrorCode::InvalidRequest,
            ),
            (
                sender("https://shop.example"),
                message(
                    "signUp",
                    json!({"challenge": "AAAAAAAAAAAAAAAAAAAAAA", "accountGuid": "a", "permissions": vec!["p"; 33]}),
                ),
                ErrorCode::InvalidRequest,
            ),
        ];
        for (sender, message, code) in refused {
            assert_eq!(validate(&sender, &message).unwrap_err().code, code, "{sender:?} {message:?}");
        }
    }

    #[test]
    fn oversized_page_calls_are_refused_before_parsing() {
        let big = json!({"method": "signUp", "params": {"appId": "x".repeat(MAX_PAGE_MESSAGE)}}).to_string();
        assert_eq!(check_size(&big).unwrap_err().code, ErrorCode::InvalidRequest);
        assert!(check_size(&"x".repeat(MAX_PAGE_MESSAGE)).is_ok());
    }

    #[test]
    fn grants_are_per_origin_per_kind_and_per_embedding_page() {
        let frame = Sender { origin: "https://pay.example".into(), top_origin: Some("https://shop.example".into()) };
        let call = validate(&frame, &message("getAddress", json!("billing"))).unwrap();
        let wanted = grant_for(&call).unwrap();
        let grant = Grant {
            origin: wanted.origin.clone(),
            top_origin: wanted.top_origin.clone(),
            kind: wanted.kind,
            granted_at: 0,
        };
        assert!(grant.covers(&wanted));
        let elsewhere =
            Sender { origin: "https://pay.example".into(), top_origin: Some("https://evil.example".into()) };
        for other in [
            validate(&elsewhere, &message("getAddress", json!("billing"))),
            validate(&frame, &message("getAddress", json!("shipping"))),
            validate(&sender("https://pay.example"), &message("getAddress", json!("billing"))),
        ] {
            assert!(!grant.covers(&grant_for(&other.unwrap()).unwrap()));
        }
        let challenge = json!({"challenge": "AAAAAAAAAAAAAAAAAAAAAA", "accountGuid": "a"});
        assert_eq!(grant_for(&validate(&frame, &message("signUp", challenge)).unwrap()), None, "sign-up always asks");
    }

    fn preview(value: Value, domain: Option<&str>, top: Option<&str>) -> PreviewResult {
        PreviewResult {
            registrable_domain: domain.map(Into::into),
            top_registrable_domain: top.map(Into::into),
            value,
            app: None,
        }
    }

    #[test]
    fn the_prompt_shows_who_asks_and_exactly_what_leaves() {
        let frame =
            Sender { origin: "https://pay.shop.example:8443".into(), top_origin: Some("https://news.example".into()) };
        let call = validate(&frame, &message("getAddress", json!("shipping"))).unwrap();
        let address = json!({"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postalCode": "SW1Y 4JH", "country": "GB"});
        let shown = prompt(&call, &preview(address, Some("shop.example"), Some("news.example")));
        assert_eq!(shown.headline, "pay.shop.example wants your shipping address");
        assert_eq!(
            shown.site,
            SiteName { before: "https://pay.".into(), domain: "shop.example".into(), after: ":8443".into() }
        );
        assert_eq!(shown.top_origin.as_deref(), Some("https://news.example"));
        assert_eq!(shown.top_site.unwrap().domain, "news.example");
        assert_eq!(shown.items, ["Ada Lovelace", "12 St James's Square", "SW1Y 4JH London", "GB"]);
        assert!(shown.rememberable && shown.note.is_none());
        let nothing_saved = prompt(&call, &preview(Value::Null, None, None));
        assert!(nothing_saved.items.is_empty());
        assert!(nothing_saved.note.unwrap().contains("no saved shipping address"));
        assert_eq!(nothing_saved.site.domain, "pay.shop.example", "the whole host without a registrable domain");

        let login = validate(
            &sender("https://shop.example"),
            &message("login", json!({"challenge": "AAAAAAAAAAAAAAAAAAAAAA"})),
        )
        .unwrap();
        let shown = prompt(&login, &preview(json!({"accountGuid": "acct-9"}), Some("shop.example"), None));
        assert_eq!(shown.items, ["A login to shop.example as account acct-9"]);
        assert!(prompt(&login, &preview(Value::Null, None, None)).note.unwrap().contains("no account"));

        let device = validate(&sender("http://localhost:8080"), &message("getDeviceId", Value::Null)).unwrap();
        let shown = prompt(&device, &preview(json!("dev-id-123"), None, None));
        assert_eq!(shown.items, ["Device id dev-id-123"]);
        assert_eq!(
            shown.site,
            SiteName { before: "http://".into(), domain: "localhost".into(), after: ":8080".into() }
        );
        // A registrable domain that does not end the host is not trusted.
        assert_eq!(SiteName::new(&device.origin, Some("evil.example")).domain, "localhost");
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
