#![doc = include_str!("../README.md")]

pub mod policy;

use policy::{PageMessage, Sender, Settlement, StoredGrant};
use profile_core::WireError;
use profile_core::wire::Response;
use serde::Serialize;
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
    let sender: Sender = parse(sender, "sender")?;
    let message: PageMessage = parse(message, "message")?;
    policy::validate(&sender, &message)
}

/// Validates a page call: `{origin, topOrigin?}` from the browser's `MessageSender`, `{method,
/// params}` from the page. Returns `{origin, topOrigin, request, grantKind}` where `request`
/// is the host request's `{type, params}`; throws `{code, message}` (as JSON text).
#[wasm_bindgen(js_name = validatePageCall)]
pub fn validate_page_call(sender: &str, message: &str) -> Result<String, String> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Validated<'a> {
        origin: String,
        top_origin: Option<String>,
        request: &'a profile_core::wire::Call,
        grant_kind: Option<policy::GrantKind>,
    }
    let call = call_from(sender, message).map_err(|e| text(&e))?;
    Ok(text(&Validated {
        origin: call.origin.to_string(),
        top_origin: call.top_origin.as_ref().map(ToString::to_string),
        request: &call.call,
        grant_kind: policy::GrantKind::of(&call.call),
    }))
}

/// Whether `grants` (as kept in `chrome.storage`) answer this call without a prompt.
#[wasm_bindgen(js_name = isGranted)]
pub fn is_granted(grants: &str, sender: &str, message: &str) -> bool {
    let grants: Vec<StoredGrant> = parse(grants, "grants").unwrap_or_default();
    call_from(sender, message).is_ok_and(|call| policy::granted(&grants, &call))
}

/// What the consent window shows, given what the host would disclose (`preview`, JSON).
#[wasm_bindgen(js_name = consentPrompt)]
pub fn consent_prompt(sender: &str, message: &str, preview: &str) -> Result<String, String> {
    let call = call_from(sender, message).map_err(|e| text(&e))?;
    let preview: Option<serde_json::Value> = serde_json::from_str(preview).ok();
    Ok(text(&policy::prompt(&call, preview.as_ref())))
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
