//! One page call as a value the service worker drives: built once from the browser's sender and
//! the page's message (so the caller's origin is parsed once per call), then asked again and
//! again what to do next. Each step returns an [`Effect`] (ask the host this, claim the one
//! consent window, ask the person with this prompt, settle the page with this); the worker
//! carries it out and hands the result back. No `chrome.*` and no I/O here, so the whole flow
//! is tested natively.

use profile_core::wire::{GrantKind, GrantParams, Response};
use profile_core::{Claim, ClaimSet, ErrorCode, WireError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::policy::{self, PageCall, PageMessage, Prompt, Sender, Settlement};
use crate::{host_answer, value};

/// What the service worker must do next for a page call.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "effect", rename_all = "camelCase")]
pub enum Effect {
    /// Send `request` to the host; resume with its answer (`None` when the host is unavailable).
    Ask { request: HostRequest },
    /// Send `request` to the host without waiting for its answer; resume at once.
    Tell { request: HostRequest },
    /// Claim the one consent window (one at a time, whichever site asks: a second could hide
    /// under or over the first); resume with whether it was free.
    Claim,
    /// Open the consent window with `prompt`; resume with the person's [`Decision`]. From here
    /// on the call must not be sent again: the person would be asked twice.
    AskPerson {
        prompt: Box<Prompt>,
        #[serde(rename = "timeoutMs")]
        timeout_ms: f64,
    },
    /// Settle the page's promise; the flow is over.
    Settle { settlement: Settlement },
}

/// A request for the host: `{origin, call: {type, params}}`; the worker sends `{id, type,
/// origin, params}`. `origin` is the page's (checked against the browser's sender) or, when
/// `None` (`null`), the extension's own, for the extension's own methods.
#[derive(Debug, Clone, Serialize)]
pub struct HostRequest {
    pub origin: Option<String>,
    pub call: HostCall,
}

/// A call as the wire has it, `{type, params}`: the page's, or one of the extension's own steps
/// around it. Written per method (`Call::page_params`), not by `Call`'s derive, whose code for
/// every method would weigh on the module.
#[derive(Debug, Clone, Serialize)]
pub struct HostCall {
    #[serde(rename = "type")]
    pub method: &'static str,
    pub params: Value,
}

impl HostCall {
    /// One of the extension's own methods.
    fn own(method: &'static str, params: Value) -> Self {
        Self { method, params }
    }

    /// The page's call.
    fn page(call: &PageCall) -> Self {
        Self { method: call.call.name(), params: call.call.page_params().unwrap_or(Value::Null) }
    }

    /// `preview {origin, topOrigin?, call}` of the page's call.
    fn preview(call: &PageCall) -> Self {
        let mut params = Map::new();
        params.insert("origin".into(), Value::String(call.origin.to_string()));
        if let Some(top) = &call.top_origin {
            params.insert("topOrigin".into(), Value::String(top.to_string()));
        }
        params.insert("call".into(), json!(Self::page(call)));
        Self::own("preview", Value::Object(params))
    }
}

/// What the person answered in the consent window.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Made {
        allow: bool,
        remember: bool,
        /// The optional claims of a request left ticked; the others stay home.
        keep: Vec<Claim>,
    },
    /// The window was left unanswered for [`policy::PROMPT_TIMEOUT_MS`].
    TimedOut,
}

impl Decision {
    /// `{allow, remember, keep?}` or `"timeout"`, as JSON text; anything else is a deny. Read
    /// through `Value` (no deserializer of its own: the module stays small). `keep` names the
    /// optional claims left ticked; without it none are kept, and a name the request did not
    /// make optional keeps nothing more (`ClaimsRequest::keeping`).
    fn read(text: &str) -> Self {
        match serde_json::from_str::<Value>(text).unwrap_or(Value::Null) {
            Value::String(s) if s == "timeout" => Self::TimedOut,
            value => Self::Made {
                allow: value.get("allow").and_then(Value::as_bool).unwrap_or(false),
                remember: value.get("remember").and_then(Value::as_bool).unwrap_or(false),
                keep: value
                    .get("keep")
                    .and_then(Value::as_array)
                    .map(|names| names.iter().filter_map(|n| Claim::parse(n.as_str()?).ok()).collect())
                    .unwrap_or_default(),
            },
        }
    }
}

/// What the worker hands back when it resumes the flow.
#[derive(Debug, Clone)]
pub enum Input {
    /// The first step, and the step after a [`Effect::Tell`].
    Nothing,
    /// The host's answer to an [`Effect::Ask`]; `None` when the host is unavailable.
    Host(Option<Response>),
    /// Whether the consent window was free ([`Effect::Claim`]).
    Claimed(bool),
    Decision(Decision),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Start,
    /// A public call (`getLanguage`), asked of the host without a window.
    Public,
    Grants,
    Claim,
    Preview,
    Person,
    /// The person allowed; whether they asked to remember it.
    Allowed {
        remember: bool,
    },
    /// The person declined (the host is told of the decision first).
    Declined,
    Remembered,
    Answer,
    Done,
}

/// A page call in progress.
#[derive(Debug)]
pub struct Flow {
    call: PageCall,
    /// The grant that answers this call without a prompt; `None` for calls that always ask
    /// (sign-up, a bookmark, a request with a medical claim).
    grant: Option<GrantParams>,
    /// The browser's UI language, for `getLanguage` when the profile names none.
    ui_language: Option<String>,
    step: Step,
}

impl Flow {
    /// Checks a page call: its JSON `message` from the page (at most 64 KiB, refused before it
    /// is parsed) and the browser-given `sender`. A refusal is the page's settlement.
    pub fn new(sender: &str, message: &str) -> Result<Self, Settlement> {
        policy::check_size(message).map_err(Settlement::reject)?;
        let sender = Sender::read(&value(sender)).map_err(Settlement::reject)?;
        let message = PageMessage::read(value(message)).map_err(Settlement::reject)?;
        let call = policy::validate(&sender, &message).map_err(Settlement::reject)?;
        let grant = policy::grant_for(&call);
        Ok(Self { call, grant, ui_language: sender.ui_language, step: Step::Start })
    }

    /// Reads the worker's text for the current step: JSON of a host answer (or `null`), of
    /// `true`/`false` for a claim, of a decision.
    pub fn input(&self, text: &str) -> Input {
        match self.step {
            Step::Start | Step::Allowed { .. } | Step::Declined | Step::Done => Input::Nothing,
            Step::Claim => Input::Claimed(text.trim() == "true"),
            Step::Person => Input::Decision(Decision::read(text)),
            Step::Public | Step::Grants | Step::Preview | Step::Remembered | Step::Answer => {
                Input::Host(host_answer(text))
            }
        }
    }

    /// The next effect, given the result of the last one.
    pub fn next(&mut self, input: Input) -> Effect {
        match (self.step, input) {
            // Public: no window, not a disclosure.
            (Step::Start, _) if self.call.call.is_public() => self.call(Step::Public),
            (Step::Public, Input::Host(answer)) => {
                self.settle(policy::language(answer.as_ref(), self.ui_language.as_deref()))
            }
            (Step::Start, _) => match &self.grant {
                Some(_) => self.ask(Step::Grants, HostCall::own("listGrants", json!({}))),
                None => self.claim(),
            },
            (Step::Grants, Input::Host(answer)) => match &self.grant {
                Some(wanted) if granted(answer.as_ref(), wanted) => self.call(Step::Answer),
                _ => self.claim(),
            },
            (Step::Claim, Input::Claimed(true)) => {
                let preview = HostCall::preview(&self.call);
                self.ask(Step::Preview, preview)
            }
            (Step::Claim, Input::Claimed(false)) => self.settle(Settlement::reject(WireError::new(
                ErrorCode::Busy,
                "another request is waiting for the person's answer",
            ))),
            (Step::Preview, Input::Host(answer)) => match Settlement::from_host(answer.as_ref()) {
                Settlement::Resolved { value } => match policy::read_preview(value) {
                    Ok(preview) => {
                        self.step = Step::Person;
                        Effect::AskPerson {
                            prompt: Box::new(policy::prompt(&self.call, &preview)),
                            timeout_ms: policy::PROMPT_TIMEOUT_MS,
                        }
                    }
                    Err(e) => {
                        self.settle(Settlement::reject(WireError::internal(format!("bad preview from the host: {e}"))))
                    }
                },
                rejected => self.settle(rejected),
            },
            (Step::Person, Input::Decision(Decision::TimedOut)) => {
                self.settle(Settlement::reject(WireError::new(ErrorCode::Timeout, "no answer within 60 seconds")))
            }
            (Step::Person, Input::Decision(Decision::Made { allow, remember, keep })) => {
                if allow {
                    // Only what the person left ticked leaves, and only that is remembered.
                    self.call.keep(&keep);
                    self.grant = policy::grant_for(&self.call);
                }
                // A decision is the person's doing: it keeps an unlocked profile open.
                self.step = if allow { Step::Allowed { remember } } else { Step::Declined };
                Effect::Tell { request: HostRequest { origin: None, call: HostCall::own("activity", json!({})) } }
            }
            (Step::Declined, _) => {
                self.settle(Settlement::reject(WireError::new(ErrorCode::UserDenied, "the person declined")))
            }
            (Step::Allowed { remember }, _) => match (&self.grant, remember) {
                (Some(grant), true) => {
                    let grant = HostCall::own("grant", serde_json::to_value(grant).unwrap_or(Value::Null));
                    self.ask(Step::Remembered, grant)
                }
                _ => self.call(Step::Answer),
            },
            (Step::Remembered, Input::Host(_)) => self.call(Step::Answer),
            (Step::Answer, Input::Host(answer)) => self.settle(Settlement::from_host(answer.as_ref())),
            _ => self.settle(Settlement::reject(WireError::internal("the extension's page call went astray"))),
        }
    }

    /// Asks the host one of the extension's own methods.
    fn ask(&mut self, step: Step, call: HostCall) -> Effect {
        self.step = step;
        Effect::Ask { request: HostRequest { origin: None, call } }
    }

    /// The page call itself, for the page's origin.
    fn call(&mut self, step: Step) -> Effect {
        self.step = step;
        Effect::Ask {
            request: HostRequest { origin: Some(self.call.origin.to_string()), call: HostCall::page(&self.call) },
        }
    }

    fn claim(&mut self) -> Effect {
        self.step = Step::Claim;
        Effect::Claim
    }

    fn settle(&mut self, settlement: Settlement) -> Effect {
        self.step = Step::Done;
        Effect::Settle { settlement }
    }
}

/// Whether the host's `listGrants` answer holds a grant that covers `wanted` (the same kind;
/// for a request, a remembered set holding every claim asked for). The host writes origins
/// serialized, as `Origin` does, so they are compared as text rather than parsed again.
fn granted(answer: Option<&Response>, wanted: &GrantParams) -> bool {
    let Some(Response { ok: true, result: Some(Value::Array(rows)), .. }) = answer else { return false };
    let (origin, top) = (wanted.origin.as_str(), wanted.top_origin.as_ref().map(|o| o.as_str()));
    rows.iter().any(|row| {
        row.get("origin").and_then(Value::as_str) == Some(origin)
            && row.get("topOrigin").and_then(Value::as_str) == top
            && row.get("kind").is_some_and(|kind| covers(kind, wanted.kind))
    })
}

/// Whether a grant of the kind `granted` (as the host writes it) answers a call of the kind
/// `wanted`, as `GrantKind::covers` decides, without `GrantKind`'s deserializer in the module:
/// the kinds are compared as JSON, and a remembered set of claims is read as one.
fn covers(granted: &Value, wanted: GrantKind) -> bool {
    match (granted.get("claims"), wanted) {
        (Some(set), GrantKind::Claims(_)) => {
            ClaimSet::deserialize(set).is_ok_and(|set| GrantKind::Claims(set).covers(wanted))
        }
        _ => serde_json::to_value(wanted).is_ok_and(|wanted| *granted == wanted),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SHOP: &str = r#"{"origin": "https://shop.example"}"#;

    fn flow(sender: &str, method: &str, params: Value) -> Flow {
        Flow::new(sender, &json!({"method": method, "params": params}).to_string()).unwrap()
    }

    /// Drives the flow one step with `input` as the worker's JSON text; the effect as JSON.
    fn step(flow: &mut Flow, input: Value) -> Value {
        let input = flow.input(&input.to_string());
        serde_json::to_value(flow.next(input)).unwrap()
    }

    fn ok(id: u64, result: Value) -> Value {
        json!({"id": id, "ok": true, "result": result})
    }

    fn grant(origin: &str, top: Option<&str>, kind: &str) -> Value {
        json!({"origin": origin, "topOrigin": top, "kind": kind, "grantedAt": 1})
    }

    #[test]
    fn a_remembered_grant_asks_the_host_for_grants_then_answers_without_a_prompt() {
        let mut call = flow(SHOP, "getDeviceId", Value::Null);
        assert_eq!(
            step(&mut call, Value::Null),
            json!({"effect": "ask", "request": {"origin": null, "call": {"type": "listGrants", "params": {}}}})
        );
        let grants = ok(
            1,
            json!([grant("https://other.example", None, "deviceId"), grant("https://shop.example", None, "deviceId")]),
        );
        assert_eq!(
            step(&mut call, grants),
            json!({"effect": "ask", "request": {"origin": "https://shop.example", "call": {"type": "getDeviceId", "params": {}}}})
        );
        assert_eq!(
            step(&mut call, ok(2, json!("dev-1"))),
            json!({"effect": "settle", "settlement": {"status": "resolved", "value": "dev-1"}})
        );
        assert_eq!(step(&mut call, Value::Null)["settlement"]["code"], "internal", "a settled flow stays settled");
    }

    #[test]
    fn without_a_grant_the_person_is_asked_once_and_remembering_saves_the_grant() {
        let mut call = flow(SHOP, "getAddress", json!("billing"));
        step(&mut call, Value::Null);
        // A grant for another kind, or inside another page, is not this one.
        let grants = ok(
            1,
            json!([
                grant("https://shop.example", None, "shippingAddress"),
                grant("https://shop.example", Some("https://news.example"), "billingAddress")
            ]),
        );
        assert_eq!(step(&mut call, grants), json!({"effect": "claim"}));
        let preview = step(&mut call, json!(true));
        assert_eq!(preview["request"]["call"]["type"], "preview");
        assert_eq!(
            preview["request"]["call"]["params"],
            json!({"origin": "https://shop.example", "call": {"type": "getAddress", "params": {"kind": "billing"}}})
        );
        let ask = step(&mut call, ok(2, json!({"value": {"name": "Ada"}, "registrableDomain": "shop.example"})));
        assert_eq!(ask["effect"], "askPerson");
        assert_eq!(ask["prompt"]["address"]["lines"], json!(["Ada"]));
        assert_eq!(ask["timeoutMs"], json!(60_000.0));
        assert_eq!(
            step(&mut call, json!({"allow": true, "remember": true})),
            json!({"effect": "tell", "request": {"origin": null, "call": {"type": "activity", "params": {}}}})
        );
        assert_eq!(
            step(&mut call, Value::Null)["request"],
            json!({"origin": null, "call": {"type": "grant", "params": {"origin": "https://shop.example", "kind": "billingAddress"}}})
        );
        assert_eq!(step(&mut call, ok(3, json!({"granted": true})))["request"]["call"]["type"], "getAddress");
        assert_eq!(step(&mut call, ok(4, json!({"name": "Ada"})))["settlement"]["value"]["name"], "Ada");
    }

    #[test]
    fn sign_up_always_asks_and_busy_deny_timeout_and_a_missing_host_settle_the_page() {
        let sign_up = json!({"challenge": "AAAAAAAAAAAAAAAAAAAAAA", "accountGuid": "a"});
        let mut call = flow(SHOP, "signUp", sign_up.clone());
        assert_eq!(step(&mut call, Value::Null), json!({"effect": "claim"}), "no grant is looked up for sign-up");
        assert_eq!(step(&mut call, json!(false))["settlement"]["code"], "busy");

        let mut call = flow(SHOP, "signUp", sign_up.clone());
        step(&mut call, Value::Null);
        step(&mut call, json!(true));
        assert_eq!(step(&mut call, Value::Null)["settlement"]["code"], "host_unavailable");

        let mut call = flow(SHOP, "signUp", sign_up.clone());
        step(&mut call, Value::Null);
        step(&mut call, json!(true));
        let locked = json!({"id": 1, "ok": false, "error": {"code": "locked", "message": "locked"}});
        assert_eq!(step(&mut call, locked)["settlement"]["code"], "locked");

        for (decision, told, code) in [
            (json!({"allow": false, "remember": true}), true, "user_denied"),
            (json!("nonsense"), true, "user_denied"),
            (json!("timeout"), false, "timeout"),
        ] {
            let mut call = flow(SHOP, "signUp", sign_up.clone());
            step(&mut call, Value::Null);
            step(&mut call, json!(true));
            step(&mut call, ok(1, json!({"value": {}})));
            let mut effect = step(&mut call, decision.clone());
            if told {
                assert_eq!(effect["request"]["call"]["type"], "activity", "{decision}");
                effect = step(&mut call, Value::Null);
            }
            assert_eq!(effect["settlement"]["code"], code, "{decision}");
        }
    }

    #[test]
    fn the_language_is_asked_of_the_host_without_a_window_and_the_browsers_answers_when_none_is_set() {
        let sender = r#"{"origin": "https://shop.example", "uiLanguage": "de-CH"}"#;
        for (answer, expected) in [
            (ok(1, json!("fr-CH")), json!({"status": "resolved", "value": "fr-CH"})),
            (ok(1, Value::Null), json!({"status": "resolved", "value": "de-CH"})),
            (
                json!({"id": 1, "ok": false, "error": {"code": "locked", "message": "locked"}}),
                json!({"status": "resolved", "value": "de-CH"}),
            ),
            (Value::Null, json!({"status": "resolved", "value": "de-CH"})),
            (
                json!({"id": 1, "ok": false, "error": {"code": "internal", "message": "x"}}),
                json!({"status": "rejected", "code": "internal", "message": "x"}),
            ),
        ] {
            let mut call = flow(sender, "getLanguage", Value::Null);
            assert_eq!(
                step(&mut call, Value::Null),
                json!({"effect": "ask", "request": {"origin": "https://shop.example", "call": {"type": "getLanguage", "params": {}}}}),
                "straight to the host: no grant, no window"
            );
            assert_eq!(
                step(&mut call, answer.clone()),
                json!({"effect": "settle", "settlement": expected}),
                "{answer}"
            );
        }
    }

    #[test]
    fn a_request_sends_only_the_optional_claims_left_ticked_and_remembers_exactly_those() {
        let params = json!({"claims": ["name", "ageOver:18"], "optional": ["email", "phone"], "purpose": "Wine"});
        let mut call = flow(SHOP, "request", params);
        assert_eq!(step(&mut call, Value::Null)["request"]["call"]["type"], "listGrants");
        // A grant of a set that lacks one of the claims does not cover the call.
        let grants = ok(
            1,
            json!([{"origin": "https://shop.example", "kind": {"claims": ["name", "ageOver:18"]}, "grantedAt": 1}]),
        );
        assert_eq!(step(&mut call, grants), json!({"effect": "claim"}));
        step(&mut call, json!(true));
        let preview = json!({"value": {"claims": {"name": "Ada", "ageOver:18": true, "email": "a@x.org"}}});
        let ask = step(&mut call, ok(2, preview));
        assert_eq!(ask["prompt"]["rememberable"], true);
        // The window reports email kept, and a claim the request never made optional.
        let decision = json!({"allow": true, "remember": true, "keep": ["email", "birthDate", "nonsense"]});
        assert_eq!(step(&mut call, decision)["request"]["call"]["type"], "activity");
        assert_eq!(
            step(&mut call, Value::Null)["request"]["call"]["params"],
            json!({"origin": "https://shop.example", "kind": {"claims": ["name", "email", "ageOver:18"]}}),
            "the grant is of what was allowed"
        );
        assert_eq!(
            step(&mut call, ok(3, json!({"granted": true})))["request"],
            json!({"origin": "https://shop.example", "call": {"type": "request", "params":
                {"claims": ["name", "ageOver:18"], "optional": ["email"], "purpose": "Wine"}}})
        );

        // A set that holds every claim answers without a window.
        let mut again =
            flow(SHOP, "request", json!({"claims": ["ageOver:18"], "optional": ["name"], "purpose": "Wine"}));
        step(&mut again, Value::Null);
        let grants = ok(
            1,
            json!([{"origin": "https://shop.example", "kind": {"claims": ["name", "email", "ageOver:18"]}, "grantedAt": 1}]),
        );
        assert_eq!(step(&mut again, grants)["request"]["call"]["type"], "request");

        // Medical claims are never remembered: no grant is looked up, and none is saved.
        let mut medical = flow(SHOP, "request", json!({"claims": ["medical"], "purpose": "Visit"}));
        assert_eq!(step(&mut medical, Value::Null), json!({"effect": "claim"}));
        step(&mut medical, json!(true));
        let ask = step(&mut medical, ok(1, json!({"value": {"claims": {}}})));
        assert_eq!(ask["prompt"]["rememberable"], false);
        step(&mut medical, json!({"allow": true, "remember": true}));
        assert_eq!(step(&mut medical, Value::Null)["request"]["call"]["type"], "request", "no grant saved");
    }

    fn grant_request() -> Value {
        json!({"scopes": [
            {"category": "receipts", "actions": ["append"]},
            {"category": "addresses", "actions": ["read", "subscribe"], "fields": ["line1", "city"]}
        ], "purpose": "Your receipts from the till"})
    }

    fn grant_preview() -> Value {
        json!({"registrableDomain": "till.example", "app": {"appId": "till", "name": "Corner Store"}, "value": {
        "purpose": "Your receipts from the till",
        "scopes": [
            {"category": "receipts", "title": "Receipts", "noun": "receipt", "actions": ["append"], "fields": null,
                "held": 12, "sensitivity": "ordinary"},
            {"category": "addresses", "title": "Addresses and homes", "noun": "address", "actions": ["read", "subscribe"],
                "fields": [{"name": "line1", "label": "Street address"}, {"name": "city", "label": "City"}],
                "held": 2, "sensitivity": "ordinary"}
        ]}})
    }

    #[test]
    fn a_grant_always_asks_is_never_remembered_and_settles_with_the_hosts_answer() {
        let till = r#"{"origin": "https://till.example"}"#;
        let mut call = flow(till, "requestGrant", grant_request());
        assert_eq!(step(&mut call, Value::Null), json!({"effect": "claim"}), "no grant is looked up");
        let preview = step(&mut call, json!(true));
        assert_eq!(
            preview["request"]["call"]["params"],
            json!({"origin": "https://till.example", "call": {"type": "requestGrant", "params": grant_request()}})
        );
        let ask = step(&mut call, ok(1, grant_preview()));
        assert_eq!(ask["effect"], "askPerson");
        assert_eq!(ask["prompt"]["rememberable"], false, "no remember checkbox");
        assert_eq!(ask["prompt"]["action"], "Connect");
        assert_eq!(ask["prompt"]["grant"]["can"][1]["detail"], "2 saved; it sees Street address, City");
        // Remembering is neither offered nor honoured: no grant is saved, the call goes on.
        assert_eq!(step(&mut call, json!({"allow": true, "remember": true}))["request"]["call"]["type"], "activity");
        let forwarded = step(&mut call, Value::Null);
        assert_eq!(
            forwarded["request"],
            json!({"origin": "https://till.example", "call": {"type": "requestGrant", "params": grant_request()}})
        );
        let answer = json!({"grantId": "AAAAAAAAAAAAAAAAAAAAAA", "profileUrl": "https://p.example/u/ada",
            "profileKey": {"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}});
        assert_eq!(
            step(&mut call, ok(2, answer.clone())),
            json!({"effect": "settle", "settlement": {"status": "resolved", "value": answer}})
        );

        // The host refuses before any window: unpaired, or an app that cannot receive a grant.
        for (code, message) in [
            ("not_paired", "this profile is not paired with a profile server"),
            ("invalid_request", "till.example publishes no encryption key"),
        ] {
            let mut call = flow(till, "requestGrant", grant_request());
            step(&mut call, Value::Null);
            step(&mut call, json!(true));
            let refused = json!({"id": 1, "ok": false, "error": {"code": code, "message": message}});
            assert_eq!(
                step(&mut call, refused),
                json!({"effect": "settle", "settlement": {"status": "rejected", "code": code, "message": message}})
            );
        }

        // Declined, or left unanswered.
        for (decision, code) in [(json!({"allow": false}), "user_denied"), (json!("timeout"), "timeout")] {
            let mut call = flow(till, "requestGrant", grant_request());
            step(&mut call, Value::Null);
            step(&mut call, json!(true));
            step(&mut call, ok(1, grant_preview()));
            let mut effect = step(&mut call, decision.clone());
            if effect["effect"] == "tell" {
                effect = step(&mut call, Value::Null);
            }
            assert_eq!(effect["settlement"]["code"], code, "{decision}");
        }
    }

    #[test]
    fn a_call_is_refused_before_any_effect() {
        let refused = |sender: &str, message: &str| Flow::new(sender, message).unwrap_err();
        let big = json!({"method": "getDeviceId", "params": {"x": "x".repeat(profile_core::wire::MAX_PAGE_MESSAGE)}});
        for (sender, message, code) in [
            (SHOP, big.to_string(), ErrorCode::InvalidRequest),
            (
                r#"{"origin": "http://shop.example"}"#,
                json!({"method": "getDeviceId"}).to_string(),
                ErrorCode::InsecureOrigin,
            ),
            (SHOP, json!({"method": "listGrants"}).to_string(), ErrorCode::InvalidRequest),
            (SHOP, json!({"method": "listApps"}).to_string(), ErrorCode::InvalidRequest),
            // A grant the app could never be given, or one that says nothing: refused before
            // any window, as the host would.
            (
                SHOP,
                json!({"method": "requestGrant", "params": {"scopes": [{"category": "addresses", "actions": ["append"]}], "purpose": "x"}}).to_string(),
                ErrorCode::InvalidRequest,
            ),
            (
                SHOP,
                json!({"method": "requestGrant", "params": {"scopes": [], "purpose": "x"}}).to_string(),
                ErrorCode::InvalidRequest,
            ),
            (
                SHOP,
                json!({"method": "requestGrant", "params": {"scopes": [{"category": "receipts", "actions": ["read"]}]}}).to_string(),
                ErrorCode::InvalidRequest,
            ),
            (
                SHOP,
                json!({"method": "requestGrant", "params": {"scopes": [{"category": "addresses", "actions": ["read"], "fields": ["pin"]}], "purpose": "x"}}).to_string(),
                ErrorCode::InvalidRequest,
            ),
            ("nonsense", json!({"method": "getDeviceId"}).to_string(), ErrorCode::InvalidRequest),
        ] {
            match refused(sender, &message) {
                Settlement::Rejected { code: got, .. } => assert_eq!(got, code, "{sender} {message:.80}"),
                other => panic!("{other:?}"),
            }
        }
    }
}
