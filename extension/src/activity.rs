//! The activity log in people's words: each ledger entry as one sentence ("Shared your shipping
//! address with shop.example", "You declined to log in to shop.example") and its tone, so the
//! options page and the popup say what happened without field names or error codes.

use profile_core::Claim;
use serde::Serialize;
use serde_json::Value;

use crate::apps;
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
#[derive(Debug, Clone)]
pub struct Entry {
    pub origin: String,
    pub method: String,
    pub fields: Vec<String>,
    pub outcome: String,
}

impl Entry {
    /// `{origin, method, fields?, outcome}`, by hand (no derive's deserializer in the module);
    /// `None` when one is missing.
    pub fn read(entry: &Value) -> Option<Self> {
        let text = |name: &str| entry.get(name).and_then(Value::as_str).map(str::to_owned);
        let fields = entry
            .get("fields")
            .and_then(Value::as_array)
            .map(|fields| fields.iter().filter_map(Value::as_str).map(str::to_owned).collect());
        Some(Self {
            origin: text("origin")?,
            method: text("method")?,
            fields: fields.unwrap_or_default(),
            outcome: text("outcome")?,
        })
    }
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
        "request" if entry.fields.is_empty() => "details from your profile".to_owned(),
        "request" => claims_phrase(entry.fields.iter().map(String::as_str)),
        "addBookmark" => "a bookmark".to_owned(),
        other => format!("“{other}”"),
    }
}

/// Claims as a phrase: "your name, your email and whether you are 18 or older".
fn claims_phrase<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let said: Vec<String> = names
        .map(|name| match Claim::parse(name) {
            Ok(Claim::AgeOver(years)) => format!("whether you are {years} or older"),
            Ok(claim) => claim.label().replacen("Your ", "your ", 1),
            Err(_) => name.to_owned(),
        })
        .collect();
    and_list(&said)
}

/// What a remembered grant lets a site have without asking, as the extension's pages list it
/// ("Shipping address", "Your name and whether you are 18 or older"), from the grant's `kind`
/// as the host writes it.
pub fn grant_label(kind: &Value) -> String {
    if let Some(claims) = kind.get("claims").and_then(Value::as_array) {
        let phrase = claims_phrase(claims.iter().filter_map(Value::as_str));
        let mut chars = phrase.chars();
        return chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default();
    }
    match kind.as_str().unwrap_or_default() {
        "profileUrl" => "Profile URL",
        "deviceId" => "Device ID",
        "shippingAddress" => "Shipping address",
        "billingAddress" => "Billing address",
        "login" => "Logging you in",
        "fillShipping" => "Filling shipping forms when you open Personal Profile",
        "fillBilling" => "Filling billing forms when you open Personal Profile",
        other => other,
    }
    .to_owned()
}

/// An app's entry as a sentence, from its fields as the host records them: a grant's
/// `grant.<category>.<action>`, an app's `appended.<category>` and `read.<category>`, and
/// `revoked`. `None` for any other entry.
fn app_sentence(entry: &Entry, site: &str) -> Option<(String, Tone)> {
    let (mut granted, mut added, mut read) = (Vec::new(), Vec::new(), Vec::new());
    for field in &entry.fields {
        if let Some((category, action)) = field.strip_prefix("grant.").and_then(|scope| scope.split_once('.')) {
            let (items, _) = apps::phrases(category);
            granted.push(match action {
                "read" => format!("read your {items}"),
                "append" => format!("add {items}"),
                _ => format!("be told when your {items} change"),
            });
        } else if let Some(category) = field.strip_prefix("appended.") {
            added.push(apps::phrases(category).1.to_owned());
        } else if let Some(category) = field.strip_prefix("read.") {
            read.push(format!("your {}", apps::phrases(category).0));
        }
    }
    if entry.outcome != "disclosed" {
        // An item an app sent that did not pass the checks: the host kept nothing of it.
        return (!added.is_empty()).then(|| {
            (
                format!("{site} tried to add {}; it did not pass the checks and was not kept", and_list(&added)),
                Tone::Nothing,
            )
        });
    }
    Some(if !granted.is_empty() {
        (format!("Connected {site}: it may {}", and_list(&granted)), Tone::Shared)
    } else if !added.is_empty() {
        (format!("{site} added {} to your profile", and_list(&added)), Tone::Nothing)
    } else if !read.is_empty() {
        (format!("{site} read {}", and_list(&read)), Tone::Shared)
    } else if entry.method == "appRead" {
        // A share of an app that may read nothing: it held nothing of the profile.
        (format!("{site} checked its connection to your profile"), Tone::Nothing)
    } else if entry.fields.iter().any(|field| field == "revoked") {
        (format!("You disconnected {site}: it can no longer read or add anything"), Tone::Nothing)
    } else {
        return None;
    })
}

/// "a, b and c".
fn and_list(said: &[String]) -> String {
    match said.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The entry as a sentence.
pub fn describe(entry: &Entry) -> Described {
    let site = site_label(&entry.origin);
    let method = entry.method.as_str();
    if let Some((sentence, tone)) = app_sentence(entry, site) {
        return Described { sentence, tone };
    }
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
                "addBookmark" => format!("Added a bookmark {site} offered"),
                _ => format!("Shared {} with {site}", wanted(entry)),
            },
            Tone::Shared,
        ),
        "denied" => (
            match method {
                "signUp" => format!("You declined to create an account at {site}"),
                "login" => format!("You declined to log in to {site}"),
                "addBookmark" => format!("You declined a bookmark {site} offered"),
                "requestGrant" => format!("You declined to connect {site} to your profile"),
                _ => format!("You declined to share {} with {site}", wanted(entry)),
            },
            Tone::Declined,
        ),
        outcome => {
            let asked = match method {
                "signUp" => format!("{site} asked to create an account"),
                "login" => format!("{site} asked to log you in"),
                "addBookmark" => format!("{site} offered a bookmark"),
                "requestGrant" => format!("{site} asked to connect to your profile"),
                _ => format!("{site} asked for {}", wanted(entry)),
            };
            let why = match (outcome, method) {
                ("not_found", "login") => "you have no account there",
                ("not_found" | "not_paired", "getProfileUrl") | ("not_paired", _) => {
                    "this profile is not paired with a profile server"
                }
                ("server_unreachable", _) => "your profile server could not be reached",
                ("not_found", _) => "none is saved",
                ("timeout", _) => "no one answered in time",
                ("busy", _) => "another request was already waiting",
                ("locked", _) => "your profile was locked",
                ("host_unavailable", _) => "the host was not running",
                _ => "it could not be answered",
            };
            match method {
                "revokeApp" => (format!("Could not disconnect {site}: {why}"), Tone::Nothing),
                _ => (format!("{asked}, but {why}: nothing was shared"), Tone::Nothing),
            }
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
        assert_eq!(
            said("request", &["ageOver:18", "email", "name"], "disclosed").0,
            "Shared whether you are 18 or older, your email and your name with localhost:8480"
        );
        assert_eq!(said("addBookmark", &["bookmarks.added"], "disclosed").0, "Added a bookmark localhost:8480 offered");
        assert_eq!(
            said("request", &[], "locked").0,
            "localhost:8480 asked for details from your profile, but your profile was locked: nothing was shared"
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

    #[test]
    fn an_apps_grant_reads_and_appends_read_as_sentences() {
        let said = |method, fields: &[&str], outcome| describe(&entry(method, fields, outcome)).sentence;
        assert_eq!(
            said(
                "requestGrant",
                &["grant.addresses.read", "grant.addresses.subscribe", "grant.receipts.append"],
                "disclosed"
            ),
            "Connected localhost:8480: it may read your addresses, be told when your addresses change and add receipts"
        );
        assert_eq!(
            said("requestGrant", &["grant.receipts.append"], "disclosed"),
            "Connected localhost:8480: it may add receipts"
        );
        assert_eq!(said("requestGrant", &[], "denied"), "You declined to connect localhost:8480 to your profile");
        assert_eq!(
            said("requestGrant", &[], "not_paired"),
            "localhost:8480 asked to connect to your profile, but this profile is not paired with a profile server: nothing was shared"
        );
        assert_eq!(
            said("appAppend", &["appended.receipts"], "disclosed"),
            "localhost:8480 added a receipt to your profile"
        );
        assert_eq!(
            said("appAppend", &["appended.medical"], "invalid_request"),
            "localhost:8480 tried to add a medical event; it did not pass the checks and was not kept"
        );
        assert_eq!(
            said("appRead", &["read.addresses", "read.identity"], "disclosed"),
            "localhost:8480 read your addresses and your name and contact details"
        );
        assert_eq!(said("appRead", &[], "disclosed"), "localhost:8480 checked its connection to your profile");
        assert_eq!(
            said("revokeApp", &["revoked"], "disclosed"),
            "You disconnected localhost:8480: it can no longer read or add anything"
        );
        assert_eq!(
            said("revokeApp", &[], "server_unreachable"),
            "Could not disconnect localhost:8480: your profile server could not be reached"
        );
    }

    #[test]
    fn a_grant_reads_as_what_the_site_gets_without_asking() {
        use serde_json::json;
        assert_eq!(grant_label(&json!("shippingAddress")), "Shipping address");
        assert_eq!(
            grant_label(&json!({"claims": ["name", "ageOver:18"]})),
            "Your name and whether you are 18 or older"
        );
        assert_eq!(grant_label(&json!({"claims": ["ageOver:21"]})), "Whether you are 21 or older");
    }
}
