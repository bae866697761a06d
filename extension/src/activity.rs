//! The activity log in people's words: each ledger entry as one sentence ("Shared your shipping
//! address with shop.example", "You declined to log in to shop.example") and its tone, so the
//! options page and the popup say what happened without field names or error codes.

use serde::{Deserialize, Serialize};

use crate::policy::site_label;

/// How an entry reads: whether something left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Tone {
    /// Something left, with the person's consent (or a grant they gave).
    Shared,
    /// The person said no.
    Declined,
    /// Nothing left, for another reason (nothing saved, locked, no answer in time).
    Nothing,
}

/// What a sentence needs of a ledger entry (`wire::Disclosure`): read as plain text, so the
/// module carries no second parser of origins.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    pub origin: String,
    pub method: String,
    #[serde(default)]
    pub fields: Vec<String>,
    pub outcome: String,
}

/// An entry's sentence and tone.
#[derive(Debug, Clone, Serialize)]
pub struct Described {
    pub sentence: String,
    pub tone: Tone,
}

/// What the call was after, as a noun phrase: "your shipping address", "your profile URL".
fn wanted(entry: &Entry) -> String {
    match entry.method.as_str() {
        "getAddress" | "fill" => {
            let kind = entry.fields.first().and_then(|field| field.split_once('.')).map(|(kind, _)| kind);
            kind.map_or_else(|| "an address".to_owned(), |kind| format!("your {kind} address"))
        }
        "getProfileUrl" => "your profile URL".to_owned(),
        "getDeviceId" => "an ID for this device".to_owned(),
        other => format!("“{other}”"),
    }
}

/// The entry as a sentence.
pub fn describe(entry: &Entry) -> Described {
    let site = site_label(&entry.origin);
    let method = entry.method.as_str();
    let (sentence, tone) = match entry.outcome.as_str() {
        "disclosed" => (
            match method {
                "signUp" if entry.fields.iter().any(|f| f == "profileUrl") => {
                    format!("Created an account at {site}, with your profile URL")
                }
                "signUp" => format!("Created an account at {site}"),
                "login" => format!("Logged you in to {site}"),
                "getDeviceId" => format!("Gave {site} an ID for this device"),
                "fill" => format!("Filled {} into a form on {site}", wanted(entry)),
                _ => format!("Shared {} with {site}", wanted(entry)),
            },
            Tone::Shared,
        ),
        "denied" => (
            match method {
                "signUp" => format!("You declined to create an account at {site}"),
                "login" => format!("You declined to log in to {site}"),
                _ => format!("You declined to share {} with {site}", wanted(entry)),
            },
            Tone::Declined,
        ),
        outcome => {
            let asked = match method {
                "signUp" => format!("{site} asked to create an account"),
                "login" => format!("{site} asked to log you in"),
                _ => format!("{site} asked for {}", wanted(entry)),
            };
            let why = match (outcome, method) {
                ("not_found", "login") => "you have no account there",
                ("not_found" | "not_paired", "getProfileUrl") => "this profile is not paired with a profile server",
                ("not_found", _) => "none is saved",
                ("timeout", _) => "no one answered in time",
                ("busy", _) => "another request was already waiting",
                ("locked", _) => "your profile was locked",
                ("host_unavailable", _) => "the host was not running",
                _ => "it could not be answered",
            };
            (format!("{asked}, but {why}: nothing was shared"), Tone::Nothing)
        }
    };
    Described { sentence, tone }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: &str, fields: &[&str], outcome: &str) -> Entry {
        Entry {
            origin: "http://localhost:8480".into(),
            method: method.into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            outcome: outcome.into(),
        }
    }

    #[test]
    fn each_entry_reads_as_a_sentence_without_field_names_or_codes() {
        let said = |method, fields: &[&str], outcome| {
            let described = describe(&entry(method, fields, outcome));
            (described.sentence, described.tone)
        };
        assert_eq!(
            said("getAddress", &["shipping.name", "shipping.postalCode"], "disclosed"),
            ("Shared your shipping address with localhost:8480".into(), Tone::Shared)
        );
        assert_eq!(
            said("signUp", &["accountGuid", "profileUrl", "deviceId"], "disclosed").0,
            "Created an account at localhost:8480, with your profile URL"
        );
        assert_eq!(said("login", &["accountGuid", "assertion"], "disclosed").0, "Logged you in to localhost:8480");
        assert_eq!(
            said("fill", &["shipping.name", "shipping.city"], "disclosed"),
            ("Filled your shipping address into a form on localhost:8480".into(), Tone::Shared)
        );
        assert_eq!(said("login", &[], "denied"), ("You declined to log in to localhost:8480".into(), Tone::Declined));
        assert_eq!(
            said("getAddress", &[], "not_found"),
            ("localhost:8480 asked for an address, but none is saved: nothing was shared".into(), Tone::Nothing)
        );
        assert_eq!(
            said("getDeviceId", &[], "timeout").0,
            "localhost:8480 asked for an ID for this device, but no one answered in time: nothing was shared"
        );
        for (method, fields, outcome) in [
            ("getAddress", &["billing.city"][..], "disclosed"),
            ("signUp", &["accountGuid"][..], "denied"),
            ("login", &[][..], "internal"),
        ] {
            let (sentence, _) = said(method, fields, outcome);
            assert!(!sentence.contains("billing.") && !sentence.contains('_'), "{sentence}");
            assert!(!sentence.contains("accountGuid") && !sentence.contains("internal"), "{sentence}");
        }
    }
}
