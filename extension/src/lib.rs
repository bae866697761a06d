#![doc = include_str!("../README.md")]

pub mod policy;

use policy::{PageMessage, Sender, Settlement};
use profile_core::WireError;
use profile_core::wire::{Call, Grant, GrantParams, PreviewParams, PreviewResult, Response};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

// Values cross the JS boundary as JSON text: the glue calls `JSON.stringify` / `JSON.parse`,
// and Rust keeps a single serde backend (serde_json), which keeps the `.wasm` small.

fn parse<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> Result<T, WireError> {
    serde_json::from_str(json).map_err(|e| WireError::invalid(format!("bad {what}: {e}")))
}

fn text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

fn call_from(sender: &str, message: &str) -> Result<policy::PageCall, WireError> {
    policy::check_size(message)?;
    let sender: Sender = parse(sender, "sender")?;
    let message: PageMessage = parse(message, "message")?;
    policy::validate(&sender, &message)
}

/// Validates a page call: `{origin, topOrigin?}` from the browser's `MessageSender`, `{method,
/// params}` from the page. Returns the host requests' params: `{origin, request, preview,
/// grant}`, where `request` is the page call's `{type, params}`, `preview` the params of the
/// `preview` that shows it and `grant` those of the `grant` that remembers it (`null` when it
/// cannot be remembered). Throws `{code, message}` (as JSON text).
#[wasm_bindgen(js_name = validatePageCall)]
pub fn validate_page_call(sender: &str, message: &str) -> Result<String, String> {
    #[derive(Serialize)]
    struct Validated<'a> {
        origin: String,
        request: &'a Call,
        preview: PreviewParams,
        grant: Option<GrantParams>,
    }
    #[cfg(feature = "panic-probe")]
    probe::check(message);
    let call = call_from(sender, message).map_err(|e| text(&e))?;
    Ok(text(&Validated {
        origin: call.origin.to_string(),
        request: &call.call,
        preview: PreviewParams {
            origin: call.origin.clone(),
            top_origin: call.top_origin.clone(),
            call: Box::new(call.call.clone()),
        },
        grant: policy::grant_for(&call),
    }))
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

/// Whether the host's `listGrants` answer holds `grant`, the grant `validatePageCall` named
/// for the call.
#[wasm_bindgen(js_name = isGranted)]
pub fn is_granted(grants_answer: &str, grant: &str) -> bool {
    let grants: Vec<Grant> = match Settlement::from_host(parse(grants_answer, "answer").ok().as_ref()) {
        Settlement::Resolved { value } => serde_json::from_value(value).unwrap_or_default(),
        Settlement::Rejected { .. } => Vec::new(),
    };
    parse::<GrantParams>(grant, "grant").is_ok_and(|wanted| policy::granted(&grants, &wanted))
}

/// What the consent window shows, from the host's `preview` answer. Throws the page's
/// settlement (JSON text) when the host could not preview (locked, unavailable).
#[wasm_bindgen(js_name = consentPrompt)]
pub fn consent_prompt(sender: &str, message: &str, preview_answer: &str) -> Result<String, String> {
    let call = call_from(sender, message).map_err(|e| text(&Settlement::reject(e)))?;
    let preview = match Settlement::from_host(parse(preview_answer, "answer").ok().as_ref()) {
        Settlement::Resolved { value } => serde_json::from_value::<PreviewResult>(value)
            .map_err(|e| text(&Settlement::reject(WireError::internal(format!("bad preview from the host: {e}")))))?,
        rejected => return Err(text(&rejected)),
    };
    Ok(text(&policy::prompt(&call, &preview)))
}

/// Checks a request from the extension's own pages (options, popup): `{type, params}` of one
/// of the extension's own methods. Returns it normalized; throws `{code, message}`.
#[wasm_bindgen(js_name = validateOwnCall)]
pub fn validate_own_call(message: &str) -> Result<String, String> {
    // Through `Value`, as page calls are: one deserializer for `Call` keeps the module small.
    let value: serde_json::Value = parse(message, "request").map_err(|e| text(&e))?;
    let call = Call::deserialize(value).map_err(|e| text(&WireError::invalid(format!("bad request: {e}"))))?;
    if call.is_page_method() || matches!(call, Call::Preview(_) | Call::Grant(_)) {
        return Err(text(&WireError::invalid(format!("`{}` is not for the extension's pages", call.name()))));
    }
    Ok(text(&call))
}

/// Whether a click `msSinceShown` after the prompt appeared counts.
#[wasm_bindgen(js_name = clickCounts)]
pub fn click_counts(ms_since_shown: f64) -> bool {
    policy::click_counts(ms_since_shown)
}

/// How long a prompt waits for the person before the call answers `timeout`.
#[wasm_bindgen(js_name = promptTimeoutMs)]
pub fn prompt_timeout_ms() -> f64 {
    policy::PROMPT_TIMEOUT_MS
}

/// Maps a host answer (JSON, or `null` when the host is gone) onto the page's settlement:
/// `{status: "resolved", value}` or `{status: "rejected", code, message}`.
#[wasm_bindgen]
pub fn settle(answer: &str) -> String {
    let answer: Option<Response> = serde_json::from_str(answer).ok().flatten();
    text(&Settlement::from_host(answer.as_ref()))
}
