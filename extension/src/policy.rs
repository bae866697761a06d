//! What the service worker decides, as plain Rust: which page calls are valid, whether one
//! needs the person's click, what the consent prompt shows, and how host answers map onto the
//! page's error codes. No `chrome.*` here, so all of it is tested natively.

use profile_core::apps::{Action, GrantRequest};
use profile_core::category::Sensitivity;
use profile_core::wire::{
    Call, GrantKind, GrantParams, MAX_PAGE_MESSAGE, PreviewResult, Response, SiteApp, origin_error,
};
use profile_core::{Claim, ErrorCode, Origin, WireError};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::apps::{self, Can};

/// Clicks this soon after the prompt appears do not count (invariant 2).
pub const CLICK_GUARD_MS: f64 = 500.0;
/// A prompt nobody answers resolves as `timeout` after this long.
pub const PROMPT_TIMEOUT_MS: f64 = 60_000.0;

/// What the browser says about the caller: its frame's origin and, for a frame inside another
/// page, the top-level page's origin. Never anything the page itself sent.
#[derive(Debug, Clone)]
pub struct Sender {
    pub origin: String,
    pub top_origin: Option<String>,
    /// The browser's UI language (`chrome.i18n.getUILanguage()`), which `getLanguage` answers
    /// when the profile names none.
    pub ui_language: Option<String>,
}

impl Sender {
    /// `{origin, topOrigin?, uiLanguage?}` as the service worker writes it. Read by hand, as
    /// the page's message is: a derive's deserializer costs the module a kilobyte each.
    pub fn read(sender: &Value) -> Result<Self, WireError> {
        let text = |name: &str| sender.get(name).and_then(Value::as_str).map(str::to_owned);
        Ok(Self {
            origin: text("origin").ok_or_else(|| WireError::invalid("bad sender: no origin"))?,
            top_origin: text("topOrigin"),
            ui_language: text("uiLanguage"),
        })
    }
}

/// What the page sent through `window.profile`: a method name and its argument.
#[derive(Debug, Clone)]
pub struct PageMessage {
    pub method: String,
    pub params: Value,
}

impl PageMessage {
    /// `{method, params?}`.
    pub fn read(message: Value) -> Result<Self, WireError> {
        let Value::Object(mut message) = message else {
            return Err(WireError::invalid("bad message: not a JSON object"));
        };
        let Some(Value::String(method)) = message.get("method").cloned() else {
            return Err(WireError::invalid("bad message: `method` must be a string"));
        };
        let params = message.get_mut("params").map(Value::take).unwrap_or_default();
        Ok(Self { method, params })
    }
}

/// A page call that passed validation, ready for consent and then the host.
#[derive(Debug, Clone)]
pub struct PageCall {
    pub origin: Origin,
    /// Set when the calling frame is not the top-level page.
    pub top_origin: Option<Origin>,
    pub call: Call,
}

impl PageCall {
    /// Makes the call what the person allowed: a request keeps only the optional claims they
    /// left ticked in `kept` (a claim it did not make optional adds nothing); any other call
    /// stays as it is.
    pub fn keep(&mut self, kept: &[Claim]) {
        if let Call::Request(request) = &mut self.call {
            *request = request.keeping(kept);
        }
    }
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
    let method = message.method.as_str();
    let params = match &message.params {
        Value::Null => Map::new(),
        Value::Object(params) => params.clone(),
        // `getAddress("shipping")` passes the kind as a bare string.
        Value::String(kind) if method == "getAddress" => Map::from_iter([("kind".into(), kind.as_str().into())]),
        _ => return Err(WireError::invalid(format!("bad argument for `{method}`"))),
    };
    let call = Call::page_method(method, params)
        .ok_or_else(|| WireError::invalid(format!("`{method}` is not a page method")))?
        .map_err(|e| WireError::invalid(format!("{method}: {e}")))?;
    Ok(PageCall { origin, top_origin, call })
}

/// The extension's own methods that only the service worker sends: a preview and a grant are
/// steps of a page call, a fill follows the person's click in the popup.
const WORKER_ONLY: [&str; 3] = ["preview", "grant", "fill"];

/// Checks a call from the extension's own pages: `{type, params?}`, an extension-own method
/// that is not [`WORKER_ONLY`]. Answers `{type, params}` for the host, which reads the
/// parameters (and refuses a method it does not know).
pub fn own_call(message: &str) -> Result<Value, WireError> {
    let refuse = |why: &str| WireError::invalid(format!("bad request: {why}"));
    // Read in place: removing members from the map would link the B-tree's removal (4 KiB).
    let Ok(Value::Object(message)) = serde_json::from_str::<Value>(message) else {
        return Err(refuse("not a JSON object"));
    };
    if let Some(extra) = message.keys().find(|key| !matches!(key.as_str(), "type" | "params")) {
        return Err(refuse(&format!("unknown member `{}`", extra.chars().take(40).collect::<String>())));
    }
    let params = match message.get("params") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(params @ Value::Object(_)) => params.clone(),
        Some(_) => return Err(refuse("`params` must be an object")),
    };
    let Some(method) = message.get("type").and_then(Value::as_str) else {
        return Err(refuse("`type` must be a string"));
    };
    if Call::page_method(method, Map::new()).is_some() || WORKER_ONLY.contains(&method) {
        let method: String = method.chars().take(40).collect();
        return Err(WireError::invalid(format!("`{method}` is not for the extension's pages")));
    }
    Ok(serde_json::json!({"type": method, "params": params}))
}

fn parse_web_origin(text: &str) -> Result<Origin, WireError> {
    let origin = Origin::parse(text).map_err(|e| origin_error(&e))?;
    if origin.is_web() { Ok(origin) } else { Err(WireError::invalid("not a web page")) }
}

/// What `getLanguage` answers: the profile's language, or the browser's UI language `ui` when
/// the profile names none, is locked or the host cannot be reached (the browser's language
/// says nothing of the profile: every page reads it from `navigator.language`).
pub fn language(answer: Option<&Response>, ui: Option<&str>) -> Settlement {
    let browser = || Settlement::Resolved { value: ui.map_or(Value::Null, |tag| Value::String(tag.to_owned())) };
    // The host's `null` arrives as an answer without a result.
    if let Some(Response { ok: true, result: None, .. }) = answer {
        return browser();
    }
    match Settlement::from_host(answer) {
        Settlement::Resolved { value: Value::Null } => browser(),
        Settlement::Resolved { value: Value::String(tag) } => Settlement::Resolved { value: Value::String(tag) },
        Settlement::Resolved { .. } => Settlement::reject(WireError::internal("the host answered no language tag")),
        Settlement::Rejected { code: ErrorCode::Locked | ErrorCode::HostUnavailable, .. } => browser(),
        rejected => rejected,
    }
}

/// The grant that would answer this call without a prompt; `None` for calls that always ask:
/// sign-up, a bookmark, a request with a medical claim.
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

/// One thing that would leave, in words a person can judge: "A sign-in key made only for this
/// site", with a line on what it means.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leaf {
    pub title: String,
    pub detail: String,
}

/// An identifier the site would receive, shown behind "Details" (a person judges the leaf; the
/// identifier is there for the one who wants to check it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detail {
    pub label: String,
    pub value: String,
}

/// An address as a postal card: its lines, and its country as a code the page names in the
/// person's language (`Intl.DisplayNames`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostalCard {
    pub lines: Vec<String>,
    pub country: Option<String>,
}

/// One claim of a request as the consent window lists it: its label, exactly what would leave
/// (`lines`, and an address's country as a code the page names), whether the person may untick
/// it, and whether the profile holds anything for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimRow {
    /// Its wire name (`email`, `ageOver:18`): what the window reports as kept.
    pub claim: String,
    pub label: String,
    pub lines: Vec<String>,
    pub country: Option<String>,
    pub optional: bool,
    pub held: bool,
}

/// A bookmark a site offers: its title, its address split so the host stands out, its note.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BookmarkCard {
    pub title: String,
    pub url: SiteName,
    pub note: Option<String>,
}

/// A grant an app asks for: each thing it would be able to do, what leaves now and how long it
/// holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GrantCard {
    /// The app's name from its registration: the site's claim, shown beside its origin.
    pub app: String,
    /// What it will be able to do, a line per action on each category.
    pub can: Vec<Can>,
    /// What leaves when the person allows it.
    pub sealed: String,
    /// How long it holds.
    pub lasting: String,
    /// Said when a scope is of a sensitive category (medical events).
    pub sensitive: Option<String>,
}

/// What the consent window shows: who asks, for what, and exactly what would leave.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prompt {
    pub origin: String,
    /// The site as every page shows it: host and port, no scheme.
    pub host: String,
    pub site: SiteName,
    /// The page the asking frame sits in, when that is another site.
    pub top_origin: Option<String>,
    pub top_site: Option<SiteName>,
    /// The name the site gives itself (its `.well-known` document): shown beside the origin,
    /// marked unverified, never instead of it.
    pub app_name: Option<String>,
    /// The question: "Create an account at shop.example?".
    pub headline: String,
    /// The verb on the button that allows it: "Create account", "Log in", "Share address".
    pub action: String,
    /// What would leave, in plain words.
    pub leaves: Vec<Leaf>,
    /// The address that would leave, for an address request with one saved.
    pub address: Option<PostalCard>,
    /// Why the site says it asks, in its own words (a request's `purpose`).
    pub purpose: Option<String>,
    /// A request's claims, required first.
    pub claims: Vec<ClaimRow>,
    /// The bookmark a site offers.
    pub bookmark: Option<BookmarkCard>,
    /// What an app asks to be able to do (`requestGrant`).
    pub grant: Option<GrantCard>,
    /// The identifiers that would leave, for "Details".
    pub details: Vec<Detail>,
    /// Said when the answer will be an error rather than a value (nothing saved, no account).
    pub note: Option<String>,
    /// Whether "Always for this site" is offered.
    pub rememberable: bool,
    /// Why it is not, when a request holds a claim that is asked for every time.
    pub every_time: Option<String>,
}

/// A site as every page names it: host and port, without the scheme (`shop.example`,
/// `localhost:8480`).
pub fn site_label(origin: &str) -> &str {
    origin.split_once("://").map_or(origin, |(_, site)| site)
}

fn leaf(title: &str, detail: &str) -> Leaf {
    Leaf { title: title.to_owned(), detail: detail.to_owned() }
}

fn detail(label: &str, value: impl Into<String>) -> Detail {
    Detail { label: label.to_owned(), value: value.into() }
}

const PROFILE_URL_LEAF: (&str, &str) =
    ("Your profile URL", "The same on every site you share it with: it lets this site recognise you.");
const DEVICE_ID_LEAF: (&str, &str) = (
    "An ID for this device that differs on every site",
    "This site can tell your visits from this device apart from others; no two sites can link them.",
);

/// The host's `preview` answer ([`PreviewResult`]), read by hand from the `Value` (its derive,
/// with `SiteApp`'s, would cost the module 3 KiB): `{registrableDomain?, topRegistrableDomain?,
/// value, lines?, app?: {appId?, name}}`.
pub fn read_preview(mut answer: Value) -> Result<PreviewResult, &'static str> {
    let Some(answer) = answer.as_object_mut() else { return Err("not an object") };
    let text = |value: &Value| value.as_str().map(str::to_owned);
    let lines = answer.get("lines").and_then(Value::as_array).map(|lines| lines.iter().filter_map(text).collect());
    let app = answer.get("app").and_then(|app| {
        Some(SiteApp { app_id: app.get("appId").and_then(text), name: app.get("name").and_then(text)? })
    });
    Ok(PreviewResult {
        registrable_domain: answer.get("registrableDomain").and_then(text),
        top_registrable_domain: answer.get("topRegistrableDomain").and_then(text),
        value: answer.get_mut("value").map(Value::take).unwrap_or_default(),
        lines,
        app,
    })
}

/// Builds the prompt from the host's `preview` of exactly what the call would disclose.
pub fn prompt(call: &PageCall, preview: &PreviewResult) -> Prompt {
    let host = site_label(call.origin.as_str()).to_owned();
    let value = &preview.value;
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let (mut leaves, mut details, mut address, mut note) = (Vec::new(), Vec::new(), None, None);
    let (mut purpose, mut claims, mut bookmark, mut grant) = (None, Vec::new(), None, None);
    let (headline, action) = match &call.call {
        Call::GetProfileUrl {} => {
            match text(value) {
                Some(url) => {
                    leaves.push(leaf(PROFILE_URL_LEAF.0, PROFILE_URL_LEAF.1));
                    details.push(detail("Profile URL", url));
                }
                None => note = Some(
                    "This profile is not paired with a profile server, so it has no URL yet. The site will be told so."
                        .to_owned(),
                ),
            }
            (format!("{host} wants your profile URL"), "Share profile URL")
        }
        Call::GetDeviceId {} => {
            leaves.push(leaf(DEVICE_ID_LEAF.0, DEVICE_ID_LEAF.1));
            details.push(detail("Device ID for this site", text(value).unwrap_or_default()));
            (format!("{host} wants an ID for this device"), "Share device ID")
        }
        Call::GetAddress { kind } => {
            // In the country's order when the host knows it; else profile-core's one table.
            let lines = preview.lines.clone().unwrap_or_else(|| address_lines(value));
            if lines.is_empty() {
                note =
                    Some(format!("You have no saved {} address. The site will be told none is saved.", kind.as_str()));
            } else {
                address = Some(PostalCard { lines, country: value.get("country").and_then(text) });
            }
            (format!("{host} wants your {} address", kind.as_str()), "Share address")
        }
        Call::SignUp(params) => {
            leaves.push(leaf(
                "A sign-in key made only for this site",
                "You log in here with a click, without a password. No other site can use it.",
            ));
            details.push(detail("Account", params.account_guid.as_str()));
            if let Some(url) = value.get("profileUrl").and_then(text) {
                leaves.push(leaf(PROFILE_URL_LEAF.0, PROFILE_URL_LEAF.1));
                details.push(detail("Profile URL", url));
            }
            if let Some(id) = value.get("deviceId").and_then(text) {
                leaves.push(leaf(DEVICE_ID_LEAF.0, DEVICE_ID_LEAF.1));
                details.push(detail("Device ID for this site", id));
            }
            if !params.permissions.is_empty() {
                details.push(detail("Permissions it asks for", params.permissions.as_slice().join(", ")));
            }
            (format!("Create an account at {host}?"), "Create account")
        }
        Call::Login(_) => {
            match value.get("accountGuid").and_then(text) {
                Some(guid) => {
                    leaves.push(leaf(
                        "Proof that you hold this site's sign-in key",
                        "It logs you in to the account you made here with this profile. It works once, for this site only.",
                    ));
                    details.push(detail("Account", guid));
                }
                None => note = Some(format!("You have no account at {host} on this device. The site will be told so.")),
            }
            (format!("Log in to {host}?"), "Log in")
        }
        Call::Request(request) => {
            let held = value.get("claims");
            let required = request.claims.iter().map(|claim| (*claim, false));
            for (claim, optional) in required.chain(request.optional.iter().map(|claim| (*claim, true))) {
                claims.push(claim_row(claim, optional, held.and_then(|held| held.get(claim.to_string()))));
            }
            if !claims.iter().any(|claim| claim.held) {
                note = Some("Your profile holds none of these, so nothing will be sent.".to_owned());
            }
            purpose = Some(request.purpose.clone());
            (format!("{host} asks for details from your profile"), "Share")
        }
        Call::AddBookmark(offer) => {
            let field = |name: &str| offer.fields().get(name).and_then(text);
            bookmark = Some(BookmarkCard {
                title: field("title").unwrap_or_default(),
                url: url_parts(&field("url").unwrap_or_default()),
                note: field("note"),
            });
            leaves.push(leaf(
                "Saved in your bookmarks, on all your devices",
                "Nothing of your profile leaves: the site learns only that you added it.",
            ));
            (format!("{host} wants to add a bookmark"), "Add bookmark")
        }
        Call::RequestGrant(request) => {
            let app = preview.app.as_ref().map_or(host.as_str(), |app| app.name.as_str()).to_owned();
            purpose = Some(request.purpose.clone());
            let headline = format!("{app} wants to connect to your profile");
            grant = Some(grant_card(request, value, app));
            (headline, "Connect")
        }
        other => (format!("{host} asks for `{}`", other.name()), "Allow"),
    };
    let action = if note.is_some() { "Continue" } else { action };
    Prompt {
        origin: call.origin.to_string(),
        site: SiteName::new(&call.origin, preview.registrable_domain.as_deref()),
        host,
        top_origin: call.top_origin.as_ref().map(ToString::to_string),
        top_site: call.top_origin.as_ref().map(|top| SiteName::new(top, preview.top_registrable_domain.as_deref())),
        app_name: preview.app.as_ref().map(|app| app.name.clone()),
        headline,
        action: action.to_owned(),
        leaves,
        address,
        purpose,
        claims,
        bookmark,
        grant,
        details,
        note,
        rememberable: GrantKind::of(&call.call).is_some(),
        every_time: (matches!(&call.call, Call::Request(request) if request.all().any(Claim::ask_every_time)))
            .then(|| "Medical events are asked for every time: no site is ever remembered for them.".to_owned()),
    }
}

/// A `requestGrant`'s card: the call's own scopes (what will be sent), each said with the
/// labels and counts of the host's preview (`{scopes: [{category, fields: [{name, label}] |
/// null, held}]}`), read by hand.
fn grant_card(request: &GrantRequest, preview: &Value, app: String) -> GrantCard {
    let (mut can, mut reads, mut sensitive) = (Vec::new(), false, false);
    let previewed = preview["scopes"].as_array().map(Vec::as_slice).unwrap_or_default();
    for scope in &request.scopes {
        let category = scope.category.as_str();
        let shown = previewed.iter().find(|s| s["category"].as_str() == Some(category)).unwrap_or(&Value::Null);
        let fields = scope.fields.as_ref().map(|names| {
            let mut list = String::new();
            for name in names {
                let labelled = shown["fields"].as_array().and_then(|f| f.iter().find(|f| f["name"] == name.as_str()));
                apps::join(&mut list, labelled.and_then(|f| f["label"].as_str()).unwrap_or(name));
            }
            list
        });
        apps::scope_lines(&mut can, category, &scope.actions, fields, shown["held"].as_u64());
        reads |= scope.may(Action::Read);
        sensitive |= scope.category.def().sensitivity == Sensitivity::AskEveryTime;
    }
    let sealed = if reads {
        format!(
            "What it may read is sealed so only {app} can open it; your profile server cannot. It also gets your profile URL, to reach your profile server."
        )
    } else {
        format!("Nothing of your profile leaves but its URL, which {app} uses to reach your profile server.")
    };
    GrantCard {
        lasting: format!("{app} can use this until you revoke it in Personal Profile's options."),
        sensitive: sensitive.then(|| {
            "Medical events are sensitive: connect only an app you trust with your health, such as your clinic's."
                .to_owned()
        }),
        app,
        can,
        sealed,
    }
}

/// Most medical events the window lists one by one; the rest are counted.
const LISTED_EVENTS: usize = 5;

/// A claim and exactly what of it would leave: an age as yes or no, an address as its lines,
/// medical events as a short list, anything else as its text.
fn claim_row(claim: Claim, optional: bool, value: Option<&Value>) -> ClaimRow {
    let (mut lines, mut country) = (Vec::new(), None);
    match (claim, value) {
        (_, None | Some(Value::Null)) => {}
        (Claim::AgeOver(years), Some(over)) => {
            lines.push(if over.as_bool() == Some(true) { format!("Yes, {years} or older") } else { "No".to_owned() })
        }
        (Claim::Address(_), Some(found)) => {
            lines = address_lines(found);
            country = found.get("country").and_then(Value::as_str).map(str::to_owned);
        }
        (Claim::Medical, Some(Value::Array(events))) => {
            for event in events.iter().take(LISTED_EVENTS) {
                let part = |name: &str| event.get(name).and_then(Value::as_str).filter(|t| !t.is_empty());
                let said: Vec<&str> = ["kind", "date", "provider"].into_iter().filter_map(part).collect();
                let notes = if part("notes").is_some() { ", with its notes" } else { "" };
                lines.push(format!("{}{notes}", said.join(" · ")));
            }
            if events.len() > LISTED_EVENTS {
                lines.push(format!("and {} more", events.len() - LISTED_EVENTS));
            }
        }
        (_, Some(Value::String(text))) => lines.push(text.clone()),
        // Identity's claims are text; anything else is shown as the JSON that would leave.
        (_, Some(other)) => lines.push(serde_json::to_string(other).unwrap_or_default()),
    }
    ClaimRow { claim: claim.to_string(), label: claim.label(), held: !lines.is_empty(), lines, country, optional }
}

/// A web address split so its host stands out: `https://` + **`shop.example`** + `/ring`. A
/// user name before `@` stays in the plain part, so `https://bank.example@evil.example/`
/// stresses `evil.example`.
fn url_parts(url: &str) -> SiteName {
    let host_start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[host_start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_start = host_start + authority.rfind('@').map_or(0, |i| i + 1);
    let host_end = host_start + url[host_start..].find(['/', '?', '#', ':']).unwrap_or(url.len() - host_start);
    SiteName {
        before: url[..host_start].to_owned(),
        domain: url[host_start..host_end].to_owned(),
        after: url[host_end..].to_owned(),
    }
}

/// The address as people read it, made from profile-core's one table of address fields, for a
/// host that sends no lines in the country's order; the country is left to the postal card,
/// which names it.
fn address_lines(address: &Value) -> Vec<String> {
    profile_core::lines_of(|name| if name == "country" { None } else { address.get(name).and_then(Value::as_str) })
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
        Sender { origin: origin.into(), top_origin: None, ui_language: None }
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
        let frame = Sender {
            origin: "https://pay.example".into(),
            top_origin: Some("https://shop.example".into()),
            ui_language: None,
        };
        let call = validate(&frame, &message("getAddress", json!("billing"))).unwrap();
        let wanted = grant_for(&call).unwrap();
        let grant = Grant {
            origin: wanted.origin.clone(),
            top_origin: wanted.top_origin.clone(),
            kind: wanted.kind,
            granted_at: 0,
        };
        assert!(grant.covers(&wanted));
        let elsewhere = Sender {
            origin: "https://pay.example".into(),
            top_origin: Some("https://evil.example".into()),
            ui_language: None,
        };
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
            lines: None,
            app: None,
        }
    }

    #[test]
    fn the_prompt_shows_who_asks_and_exactly_what_leaves() {
        let frame = Sender {
            origin: "https://pay.shop.example:8443".into(),
            top_origin: Some("https://news.example".into()),
            ui_language: None,
        };
        let call = validate(&frame, &message("getAddress", json!("shipping"))).unwrap();
        let shown_value = || json!({"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postalCode": "SW1Y 4JH", "country": "GB"});
        let shown = prompt(&call, &preview(shown_value(), Some("shop.example"), Some("news.example")));
        assert_eq!(shown.headline, "pay.shop.example:8443 wants your shipping address");
        assert_eq!(shown.action, "Share address");
        assert_eq!(
            shown.site,
            SiteName { before: "https://pay.".into(), domain: "shop.example".into(), after: ":8443".into() }
        );
        assert_eq!(shown.top_origin.as_deref(), Some("https://news.example"));
        assert_eq!(shown.top_site.unwrap().domain, "news.example");
        let card = shown.address.clone().unwrap();
        assert_eq!(card.lines, ["Ada Lovelace", "12 St James's Square", "SW1Y 4JH London"]);
        assert_eq!(card.country.as_deref(), Some("GB"), "the page names the country");
        // The host's lines, in the country's order, when it sends them.
        let mut in_order = preview(shown_value(), Some("shop.example"), None);
        in_order.lines =
            Some(vec!["Ada Lovelace".into(), "12 St James's Square".into(), "London".into(), "SW1Y 4JH".into()]);
        assert_eq!(prompt(&call, &in_order).address.unwrap().lines[2..], ["London", "SW1Y 4JH"]);
        assert!(shown.rememberable && shown.note.is_none() && shown.details.is_empty());
        let nothing_saved = prompt(&call, &preview(Value::Null, None, None));
        assert!(nothing_saved.address.is_none() && nothing_saved.leaves.is_empty());
        assert_eq!(nothing_saved.action, "Continue", "nothing to share: the button does not say Share");
        assert!(nothing_saved.note.unwrap().contains("no saved shipping address"));
        assert_eq!(nothing_saved.site.domain, "pay.shop.example", "the whole host without a registrable domain");

        let login = validate(
            &sender("https://shop.example"),
            &message("login", json!({"challenge": "AAAAAAAAAAAAAAAAAAAAAA"})),
        )
        .unwrap();
        let shown = prompt(&login, &preview(json!({"accountGuid": "acct-9"}), Some("shop.example"), None));
        assert_eq!(shown.headline, "Log in to shop.example?");
        assert_eq!(shown.action, "Log in");
        assert_eq!(shown.leaves[0].title, "Proof that you hold this site's sign-in key");
        assert_eq!(shown.details, [Detail { label: "Account".into(), value: "acct-9".into() }], "ids behind Details");
        assert!(shown.leaves.iter().all(|leaf| !leaf.title.contains("acct-9") && !leaf.detail.contains("acct-9")));
        assert!(prompt(&login, &preview(Value::Null, None, None)).note.unwrap().contains("no account"));

        let device = validate(&sender("http://localhost:8080"), &message("getDeviceId", Value::Null)).unwrap();
        let shown = prompt(&device, &preview(json!("dev-id-123"), None, None));
        assert_eq!(shown.leaves[0].title, "An ID for this device that differs on every site");
        assert_eq!(shown.details[0].value, "dev-id-123");
        assert_eq!(shown.host, "localhost:8080", "a site is named by host and port, no scheme");

        let sign_up = validate(
            &sender("https://shop.example"),
            &message("signUp", json!({"challenge": "AAAAAAAAAAAAAAAAAAAAAA", "accountGuid": "shop-53ed1f"})),
        )
        .unwrap();
        let value = json!({"profileUrl": "https://p.example/u/ada", "deviceId": "pairwise"});
        let asked = prompt(&sign_up, &preview(value, Some("shop.example"), None));
        assert_eq!(
            (asked.headline.as_str(), asked.action.as_str()),
            ("Create an account at shop.example?", "Create account")
        );
        let titles: Vec<_> = asked.leaves.iter().map(|leaf| leaf.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "A sign-in key made only for this site",
                "Your profile URL",
                "An ID for this device that differs on every site"
            ]
        );
        let labels: Vec<_> = asked.details.iter().map(|d| (d.label.as_str(), d.value.as_str())).collect();
        assert_eq!(
            labels,
            [
                ("Account", "shop-53ed1f"),
                ("Profile URL", "https://p.example/u/ada"),
                ("Device ID for this site", "pairwise")
            ]
        );
        assert_eq!(
            shown.site,
            SiteName { before: "http://".into(), domain: "localhost".into(), after: ":8080".into() }
        );
        // A registrable domain that does not end the host is not trusted.
        assert_eq!(SiteName::new(&device.origin, Some("evil.example")).domain, "localhost");
        // The top-level page is named only when it is another site.
        let same = Sender {
            origin: "https://shop.example".into(),
            top_origin: Some("https://shop.example".into()),
            ui_language: None,
        };
        assert_eq!(validate(&same, &message("getDeviceId", Value::Null)).unwrap().top_origin, None);
    }

    #[test]
    fn a_request_lists_each_claim_with_what_would_leave_an_age_as_yes_or_no() {
        let shop = sender("https://shop.example");
        let asked = json!({"claims": ["name", "ageOver:18", "address.shipping"], "optional": ["email", "phone"],
            "purpose": "To verify your age for wine delivery"});
        let call = validate(&shop, &message("request", asked)).unwrap();
        let held = json!({"claims": {"name": "Ada Lovelace", "ageOver:18": true, "email": "ada@example.org",
            "address.shipping": {"name": "Ada Lovelace", "line1": "1 Loop", "city": "Paris", "postalCode": "75001", "country": "FR"}}});
        let shown = prompt(&call, &preview(held, Some("shop.example"), None));
        assert_eq!(shown.headline, "shop.example asks for details from your profile");
        assert_eq!(shown.purpose.as_deref(), Some("To verify your age for wine delivery"), "the site's words, apart");
        let rows: Vec<_> =
            shown.claims.iter().map(|c| (c.claim.as_str(), c.lines.join(" / "), c.optional, c.held)).collect();
        assert_eq!(
            rows,
            [
                ("name", "Ada Lovelace".to_owned(), false, true),
                ("ageOver:18", "Yes, 18 or older".to_owned(), false, true),
                ("address.shipping", "Ada Lovelace / 1 Loop / 75001 Paris".to_owned(), false, true),
                ("email", "ada@example.org".to_owned(), true, true),
                ("phone", String::new(), true, false),
            ]
        );
        assert_eq!(shown.claims[2].country.as_deref(), Some("FR"));
        assert_eq!(shown.claims[1].label, "Whether you are 18 or older (only yes or no: not your date of birth)");
        assert!(shown.rememberable && shown.note.is_none() && shown.action == "Share");
        let under = prompt(&call, &preview(json!({"claims": {"ageOver:18": false}}), None, None));
        assert_eq!(under.claims[1].lines, ["No"]);
        let nothing = prompt(&call, &preview(json!({"claims": {}}), None, None));
        assert!(nothing.note.unwrap().contains("nothing will be sent"));
        assert_eq!(nothing.action, "Continue");

        // Only the optional claims left ticked stay; one the request did not make optional adds
        // nothing.
        let mut kept = call.clone();
        kept.keep(&[Claim::Email, Claim::BirthDate]);
        let Call::Request(narrowed) = &kept.call else { panic!("{:?}", kept.call) };
        assert_eq!(narrowed.optional, [Claim::Email]);
        assert_eq!(
            narrowed.claims,
            [Claim::Name, Claim::AgeOver(18), Claim::Address(profile_core::AddressKind::Shipping)]
        );
        assert_eq!(
            grant_for(&kept).unwrap().kind,
            GrantKind::Claims(
                profile_core::ClaimSet::of([
                    Claim::Name,
                    Claim::AgeOver(18),
                    Claim::Email,
                    Claim::Address(profile_core::AddressKind::Shipping)
                ])
                .unwrap()
            )
        );

        // Medical events: a short list, and the site is never remembered for them.
        let medical = validate(&shop, &message("request", json!({"claims": ["medical"], "purpose": "Visit"}))).unwrap();
        let events: Vec<Value> = (1..=7)
            .map(|day| json!({"id": "x", "date": format!("2026-03-0{day}"), "kind": "Check-up", "provider": "Dr Jenner", "notes": "fine"}))
            .collect();
        let shown = prompt(&medical, &preview(json!({"claims": {"medical": events}}), None, None));
        assert_eq!(shown.claims[0].lines.len(), 6);
        assert_eq!(shown.claims[0].lines[0], "Check-up · 2026-03-01 · Dr Jenner, with its notes");
        assert_eq!(shown.claims[0].lines[5], "and 2 more");
        assert!(!shown.rememberable && grant_for(&medical).is_none());
        assert!(shown.every_time.unwrap().contains("asked for every time"));
    }

    #[test]
    fn a_bookmark_shows_its_title_its_address_with_the_host_stressed_and_its_note() {
        let offer = json!({"url": "https://shop.example@evil.example:8443/ring?size=52", "title": "The ring", "note": "Size 52"});
        let call = validate(&sender("https://shop.example"), &message("addBookmark", offer)).unwrap();
        let shown = prompt(&call, &preview(Value::Null, Some("shop.example"), None));
        assert_eq!(
            (shown.headline.as_str(), shown.action.as_str()),
            ("shop.example wants to add a bookmark", "Add bookmark")
        );
        let card = shown.bookmark.unwrap();
        assert_eq!((card.title.as_str(), card.note.as_deref()), ("The ring", Some("Size 52")));
        assert_eq!(
            card.url,
            SiteName {
                before: "https://shop.example@".into(),
                domain: "evil.example".into(),
                after: ":8443/ring?size=52".into()
            },
            "the host that serves the page is the one stressed"
        );
        assert!(!shown.rememberable, "a bookmark is confirmed every time");
        assert_eq!(url_parts("https://news.example").domain, "news.example");
    }

    #[test]
    fn a_grant_says_who_asks_what_it_could_do_what_leaves_and_for_how_long() {
        let asked = json!({"scopes": [
            {"category": "addresses", "actions": ["read", "subscribe"], "fields": ["line1", "city", "postalCode"]},
            {"category": "receipts", "actions": ["append"]}
        ], "purpose": "Receipts for what you buy"});
        let call = validate(&sender("https://till.example"), &message("requestGrant", asked)).unwrap();
        let mut shown = preview(
            json!({"scopes": [
                {"category": "addresses", "fields": [{"name": "line1", "label": "Street address"},
                    {"name": "city", "label": "City"}, {"name": "postalCode", "label": "Postal code"}], "held": 2},
                {"category": "receipts", "fields": null, "held": 12}
            ]}),
            Some("till.example"),
            None,
        );
        shown.app = Some(SiteApp { app_id: Some("till".into()), name: "Corner Store".into() });
        let asked = prompt(&call, &shown);
        assert_eq!(asked.headline, "Corner Store wants to connect to your profile");
        assert_eq!(asked.app_name.as_deref(), Some("Corner Store"), "beside the origin, marked unverified");
        assert_eq!(asked.purpose.as_deref(), Some("Receipts for what you buy"), "the app's words, apart");
        assert_eq!((asked.action.as_str(), asked.rememberable), ("Connect", false));
        let card = asked.grant.unwrap();
        let said: Vec<String> =
            card.can.iter().map(|can| [can.text.clone(), can.detail.clone().unwrap_or_default()].join(": ")).collect();
        assert_eq!(
            said,
            [
                "Read your addresses: 2 saved; it sees Street address, City, Postal code",
                "Be told when your addresses change: ",
                "Add receipts to your profile: "
            ]
        );
        assert!(
            card.sealed.starts_with(
                "What it may read is sealed so only Corner Store can open it; your profile server cannot."
            )
        );
        assert_eq!(card.lasting, "Corner Store can use this until you revoke it in Personal Profile's options.");
        assert_eq!(card.sensitive, None);

        // Medical events: a note that they are sensitive. An app that only adds: nothing sealed
        // leaves. Without a registration's name, the site is named.
        let clinic = json!({"scopes": [{"category": "medical", "actions": ["append"]}], "purpose": "Your visit"});
        let call = validate(&sender("https://clinic.example"), &message("requestGrant", clinic)).unwrap();
        let asked = prompt(&call, &preview(json!({"scopes": []}), None, None));
        assert_eq!(asked.headline, "clinic.example wants to connect to your profile");
        let card = asked.grant.unwrap();
        assert_eq!(card.can[0].text, "Add medical events to your profile");
        assert!(card.sensitive.unwrap().starts_with("Medical events are sensitive"));
        assert!(card.sealed.starts_with("Nothing of your profile leaves but its URL"));
    }

    #[test]
    fn the_language_needs_no_prompt_and_is_no_disclosure() {
        let call = validate(&sender("https://shop.example"), &message("getLanguage", Value::Null)).unwrap();
        assert!(call.call.is_public() && grant_for(&call).is_none());
        let answer = |result: Value| Response::success(1, result);
        assert_eq!(language(Some(&answer(json!("pt-BR"))), Some("en")), Settlement::Resolved { value: json!("pt-BR") });
        assert_eq!(language(None, Some("en-GB")), Settlement::Resolved { value: json!("en-GB") }, "no host");
        assert!(matches!(language(Some(&answer(json!(3))), Some("en")), Settlement::Rejected { .. }));
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
