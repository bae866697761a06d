#![doc = include_str!("../README.md")]

pub mod activity;
pub mod apps;
pub mod fill;
pub mod flow;
pub mod policy;

use policy::Settlement;
use profile_core::wire::Response;
use profile_core::{ErrorCode, WireError};
use serde::Serialize;
use wasm_bindgen::prelude::*;

// Values cross the JS boundary as JSON text: the glue calls `JSON.stringify` / `JSON.parse`,
// and Rust keeps a single serde backend (serde_json), which keeps the `.wasm` small. Text is
// parsed into a `Value` and each type is read from that: read straight from text, every type
// would bring a second copy of its deserializer.

/// JSON text as a `Value`; `null` when it is not JSON.
fn value(json: &str) -> serde_json::Value {
    serde_json::from_str(json).unwrap_or_default()
}

/// A host answer (`{id, ok, result?, error?}`), or `None` when the text is `null` (the host is
/// unavailable) or no answer. Read by hand from the `Value`: the derive's deserializers of
/// `Response`, `WireError` and `ErrorCode` would cost the module 4 KiB.
fn host_answer(json: &str) -> Option<Response> {
    let answer = value(json);
    let ok = answer.get("ok")?.as_bool()?;
    let error = answer.get("error").and_then(|error| {
        let code = error.get("code")?.as_str()?;
        let code = ERROR_CODES.into_iter().find(|known| known.as_str() == code).unwrap_or(ErrorCode::Internal);
        Some(WireError::new(code, error.get("message").and_then(serde_json::Value::as_str).unwrap_or_default()))
    });
    let result = answer.get("result").filter(|result| !result.is_null()).cloned();
    Some(Response { id: answer.get("id").and_then(serde_json::Value::as_u64), ok, result, error })
}

/// Every code the host may answer; one the module does not know is `internal`.
const ERROR_CODES: [ErrorCode; 14] = [
    ErrorCode::UserDenied,
    ErrorCode::Timeout,
    ErrorCode::Busy,
    ErrorCode::InsecureOrigin,
    ErrorCode::InvalidRequest,
    ErrorCode::NotPaired,
    ErrorCode::Locked,
    ErrorCode::NotFound,
    ErrorCode::NotSignedUp,
    ErrorCode::HostUnavailable,
    ErrorCode::ServerUnreachable,
    ErrorCode::AuthFailed,
    ErrorCode::RateLimited,
    ErrorCode::Internal,
];

fn text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// One page call, parsed once and driven by the service worker (see `flow`): built from the
/// browser's sender `{origin, topOrigin?}` and the page's message `{method, params}`, then
/// resumed with `next` until it settles.
#[derive(Debug)]
#[wasm_bindgen(js_name = PageCallFlow)]
pub struct PageCallFlow(flow::Flow);

#[wasm_bindgen(js_class = PageCallFlow)]
impl PageCallFlow {
    /// Throws the page's settlement (JSON text) when the call is refused.
    #[wasm_bindgen(constructor)]
    pub fn new(sender: &str, message: &str) -> Result<PageCallFlow, String> {
        #[cfg(feature = "panic-probe")]
        probe::check(message);
        flow::Flow::new(sender, message).map(PageCallFlow).map_err(|settlement| text(&settlement))
    }

    /// The next effect (JSON text: `{effect: "ask" | "tell" | "claim" | "askPerson" | "settle",
    /// …}`), given the JSON text of what the last one gave: the host's answer (`null` when the
    /// host is unavailable), whether the consent window was claimed, the person's decision;
    /// `null` to start and after a `tell`.
    pub fn next(&mut self, input: &str) -> String {
        let input = self.0.input(input);
        text(&self.0.next(input))
    }
}

/// The test build's panic probe: the page method `panicProbe` panics mid-call, leaving the
/// instance as a real panic would, in a state no later call may trust (here: a flag set, as a
/// `RefCell` left borrowed would be). A later call on that instance panics too; only a fresh
/// instance (the service worker's `__wbg_reset_state`) answers again.
#[cfg(feature = "panic-probe")]
#[allow(clippy::panic)]
mod probe {
    use std::sync::atomic::{AtomicBool, Ordering};

    static MID_CALL: AtomicBool = AtomicBool::new(false);

    pub fn check(message: &str) {
        if MID_CALL.load(Ordering::SeqCst) {
            panic!("a call on an instance a panic left behind");
        }
        if message.contains(r#""method":"panicProbe""#) {
            MID_CALL.store(true, Ordering::SeqCst);
            panic!("the panic probe, as the tests asked");
        }
    }
}

/// Checks a request from the extension's own pages (options, popup): `{type, params}` of one
/// of the extension's own methods, never a page method nor one only the service worker sends.
/// Returns it as `{type, params}`; throws `{code, message}`. Its parameters are the host's to
/// check (reading every method's here would cost the module the derive's visitor of them all,
/// see `Call::page_method`).
#[wasm_bindgen(js_name = validateOwnCall)]
pub fn validate_own_call(message: &str) -> Result<String, String> {
    policy::own_call(message).map(|call| text(&call)).map_err(|e| text(&e))
}

/// Each ledger entry's sentence and tone (`[{sentence, tone: "shared" | "declined" |
/// "nothing"}]`, one per entry of the `[Disclosure]` JSON given, `null` for one that does not
/// parse), for the options page and the popup.
#[wasm_bindgen(js_name = describeActivity)]
pub fn describe_activity(entries: &str) -> String {
    let entries: Vec<serde_json::Value> = serde_json::from_str(entries).unwrap_or_default();
    let described: Vec<_> = entries
        .into_iter()
        .map(|entry| activity::Entry::read(&entry).map(|entry| activity::describe(&entry)))
        .collect();
    text(&described)
}

/// Each grant's label, what the site gets without asking (`[label]`, one per entry of the
/// `[Grant]` JSON given), for the options page and the popup.
#[wasm_bindgen(js_name = describeGrants)]
pub fn describe_grants(grants: &str) -> String {
    let grants: Vec<serde_json::Value> = serde_json::from_str(grants).unwrap_or_default();
    let labels: Vec<String> = grants.iter().map(|grant| activity::grant_label(&grant["kind"])).collect();
    text(&labels)
}

/// What each app of a `listApps` answer may do, in words (`[[{action, text, detail}]]`, one list
/// per app of the `[AppEntry]` JSON given), for the options page.
#[wasm_bindgen(js_name = describeApps)]
pub fn describe_apps(apps: &str) -> String {
    let apps: Vec<serde_json::Value> = serde_json::from_str(apps).unwrap_or_default();
    let said: Vec<Vec<apps::Can>> = apps.iter().map(|app| apps::app_lines(&app["scopes"])).collect();
    text(&said)
}

/// Whether a click `msSinceShown` after the prompt appeared counts.
#[wasm_bindgen(js_name = clickCounts)]
pub fn click_counts(ms_since_shown: f64) -> bool {
    policy::click_counts(ms_since_shown)
}

/// Maps a host answer (JSON, or `null` when the host is gone) onto the page's settlement:
/// `{status: "resolved", value}` or `{status: "rejected", code, message}`.
#[wasm_bindgen]
pub fn settle(answer: &str) -> String {
    text(&Settlement::from_host(host_answer(answer).as_ref()))
}

/// The toolbar popup's preview of a tab's forms (`fill::Request`: `{origin, frames, addresses,
/// names, choice?}`): each frame's sections, field by field, with what each button would put
/// there. Throws `{code, message}` when the request does not parse.
#[wasm_bindgen(js_name = fillPreview)]
pub fn fill_preview(request: &str) -> Result<String, String> {
    let request = fill::Request::read(request).map_err(|e| text(&e))?;
    Ok(text(&request.tab.preview(&request.addresses, request.choice.as_deref())))
}

/// What a fill button does (`fill::Request` with `{button, kind?, address?, fields?, again?}`):
/// per frame the values to set, per origin the fields the ledger records; `null` when no
/// address is saved.
#[wasm_bindgen(js_name = fillPlan)]
pub fn fill_plan(request: &str) -> Result<String, String> {
    let request = fill::Request::read(request).map_err(|e| text(&e))?;
    Ok(text(&request.plan()))
}

/// After a fill (`fill::Request` with `{kind, filled: [[frameId, count]]}`): `{filled, sentence}`.
#[wasm_bindgen(js_name = fillReport)]
pub fn fill_report(request: &str) -> Result<String, String> {
    let request = fill::Request::read(request).map_err(|e| text(&e))?;
    let (filled, sentence) = request.report();
    Ok(text(&serde_json::json!({"filled": filled, "sentence": sentence})))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_extensions_pages_cannot_send_a_fill_only_the_worker_after_a_click() {
        let fill = r#"{"type":"fill","params":{"origin":"https://shop.example","kind":"shipping","fields":["name"]}}"#;
        let refused = super::validate_own_call(fill).unwrap_err();
        assert!(refused.contains("not for the extension's pages"), "{refused}");
        assert!(super::validate_own_call(r#"{"type":"listAddresses","params":{}}"#).is_ok());
        // The options page's apps: listed and revoked by the person.
        assert!(super::validate_own_call(r#"{"type":"listApps"}"#).is_ok());
        assert!(
            super::validate_own_call(r#"{"type":"revokeApp","params":{"grantId":"AAAAAAAAAAAAAAAAAAAAAA"}}"#).is_ok()
        );
        // A page's grant request goes through the consent window, never from the extension's pages.
        assert!(super::validate_own_call(r#"{"type":"requestGrant","params":{}}"#).is_err());
        // Nor a page method, a preview or a grant: those are steps of a page call.
        for method in ["getAddress", "request", "addBookmark", "getLanguage", "preview", "grant"] {
            let call = format!(r#"{{"type":"{method}","params":{{}}}}"#);
            assert!(super::validate_own_call(&call).unwrap_err().contains("not for the extension's pages"), "{method}");
        }
        let listed = super::validate_own_call(r#"{"type":"listItems","params":{"category":"receipts"}}"#).unwrap();
        assert_eq!(listed, r#"{"params":{"category":"receipts"},"type":"listItems"}"#);
        for bad in [r#"{"type":"listItems","params":[]}"#, r#"{"params":{}}"#, r#"{"type":"hello","x":1}"#, "[]"] {
            assert!(super::validate_own_call(bad).unwrap_err().contains("invalid_request"), "{bad}");
        }
    }
}
