#![doc = include_str!("../README.md")]

pub mod policy;

use policy::{PageMessage, Sender, Settlement, StoredGrant};
use profile_core::WireError;
use profile_core::wire::Response;
use serde::Serialize;
use wasm_bindgen::prelude::*;

fn from_js<T: serde::de::DeserializeOwned>(value: JsValue, what: &str) -> Result<T, WireError> {
    serde_wasm_bindgen::from_value(value).map_err(|e| WireError::invalid(format!("bad {what}: {e}")))
}

fn to_js<T: Serialize>(value: &T) -> JsValue {
    // Maps as plain objects, so JSON.stringify and the page see ordinary objects.
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value.serialize(&serializer).unwrap_or(JsValue::NULL)
}

fn call_from_js(sender: JsValue, message: JsValue) -> Result<policy::PageCall, WireError> {
    let sender: Sender = from_js(sender, "sender")?;
    let message: PageMessage = from_js(message, "message")?;
    policy::validate(&sender, &message)
}

/// Validates a page call: `{origin, topOrigin?}` from the browser's `MessageSender`, `{method,
/// params}` from the page. Returns `{origin, request, grantKind}` where `request` is the
/// host request's `{type, params}`; throws `{code, message}`.
#[wasm_bindgen(js_name = validatePageCall)]
pub fn validate_page_call(sender: JsValue, message: JsValue) -> Result<JsValue, JsValue> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Validated {
        origin: String,
        top_origin: Option<String>,
        request: serde_json::Value,
        grant_kind: Option<policy::GrantKind>,
    }
    let call = call_from_js(sender, message).map_err(|e| to_js(&e))?;
    let request = serde_json::to_value(&call.call).map_err(|e| to_js(&WireError::internal(e.to_string())))?;
    Ok(to_js(&Validated {
        origin: call.origin.to_string(),
        top_origin: call.top_origin.as_ref().map(ToString::to_string),
        grant_kind: policy::GrantKind::of(&call.call),
        request,
    }))
}

/// Whether `grants` (as kept in `chrome.storage`) answer this call without a prompt.
#[wasm_bindgen(js_name = isGranted)]
pub fn is_granted(grants: JsValue, sender: JsValue, message: JsValue) -> bool {
    let grants: Vec<StoredGrant> = from_js(grants, "grants").unwrap_or_default();
    call_from_js(sender, message).is_ok_and(|call| policy::granted(&grants, &call))
}

/// What the consent window shows, given what the host would disclose (`preview`).
#[wasm_bindgen(js_name = consentPrompt)]
pub fn consent_prompt(sender: JsValue, message: JsValue, preview: JsValue) -> Result<JsValue, JsValue> {
    let call = call_from_js(sender, message).map_err(|e| to_js(&e))?;
    let preview: Option<serde_json::Value> = serde_wasm_bindgen::from_value(preview).ok();
    Ok(to_js(&policy::prompt(&call, preview.as_ref())))
}

/// Whether a click `msSinceShown` after the prompt appeared counts.
#[wasm_bindgen(js_name = clickCounts)]
pub fn click_counts(ms_since_shown: f64) -> bool {
    policy::click_counts(ms_since_shown)
}

/// Maps a host answer (or `undefined` when the host is gone) onto the page's settlement:
/// `{status: "resolved", value}` or `{status: "rejected", code, message}`.
#[wasm_bindgen]
pub fn settle(answer: JsValue) -> JsValue {
    let answer: Option<Response> = serde_wasm_bindgen::from_value(answer).ok().flatten();
    to_js(&Settlement::from_host(answer.as_ref()))
}
