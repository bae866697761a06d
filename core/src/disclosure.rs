//! What a page call discloses: the value it answers, computed from what the profile holds, and
//! the names of the fields that left. The host answers and previews a call with the same rules,
//! so the consent window shows exactly what the answer will carry, and the ledger names it.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::apps::{Action, GrantRequest, Scope};

use crate::category::{age, date, today};
use crate::wire::{Call, LoginParams};
use crate::{ADDRESS_FIELDS, AccountGuid, Address, AddressKind, Category, Claim, ClaimsRequest, Item};

/// Most medical events one `medical` claim carries, most recent first.
pub const MAX_CLAIMED_EVENTS: usize = 50;

/// What of the profile a page call may read; the host fills it from its state.
pub trait Profile {
    fn profile_url(&self) -> Option<&str>;
    /// The pairwise device id the calling site gets.
    fn device_id(&self) -> String;
    fn address(&self, kind: AddressKind) -> Option<&Address>;
    /// The account `login` would use at the calling site: the named one, or the one used last.
    fn login_account(&self, named: Option<&AccountGuid>) -> Option<&AccountGuid>;
    /// The identity record, when one is saved.
    fn identity(&self) -> Option<&Item>;
    /// A category's items, most recent first.
    fn items(&self, category: Category) -> Vec<&Item>;
    /// Now, in Unix seconds (an age is computed on today's date).
    fn now(&self) -> u64;
}

/// A claim's value from the profile; `None` when it holds nothing for it. A name, email or
/// phone not in the identity record comes from the default shipping address.
pub fn claim_value(claim: Claim, profile: &impl Profile) -> Option<Value> {
    let identity = |field: &str| profile.identity().and_then(|i| i.text(field)).map(str::to_owned);
    let from_address =
        |read: fn(&Address) -> Option<&str>| profile.address(AddressKind::Shipping).and_then(read).map(str::to_owned);
    let text = match claim {
        Claim::Address(kind) => return profile.address(kind).map(|a| json!(a.for_pages())),
        Claim::AgeOver(years) => {
            let born = date(&identity("birthDate")?).ok()?;
            return Some(json!(age(born, today(profile.now())) >= i32::from(years)));
        }
        Claim::Medical => {
            let events = profile.items(Category::Medical);
            let events = events.into_iter().take(MAX_CLAIMED_EVENTS).map(|item| {
                let mut event = item.fields.clone();
                event.insert("id".into(), json!(item.id));
                Value::Object(event)
            });
            return Some(Value::Array(events.collect())).filter(|v| v.as_array().is_some_and(|a| !a.is_empty()));
        }
        Claim::Name => identity("name").or_else(|| from_address(|a| Some(a.name.as_str()))),
        Claim::GivenName => identity("givenName").or_else(|| from_address(|a| a.given_name.as_deref())),
        Claim::FamilyName => identity("familyName").or_else(|| from_address(|a| a.family_name.as_deref())),
        Claim::Email => identity("email").or_else(|| from_address(|a| a.email.as_deref())),
        Claim::Phone => identity("phone").or_else(|| from_address(|a| a.phone.as_deref())),
        other => identity(other.identity_field()?),
    };
    text.filter(|t| !t.is_empty()).map(Value::String)
}

/// Each claim of `claims` the profile holds, by its name.
fn claims_object(claims: impl Iterator<Item = Claim>, profile: &impl Profile) -> Value {
    let found = claims.filter_map(|claim| Some((claim.to_string(), claim_value(claim, profile)?)));
    Value::Object(found.collect::<Map<String, Value>>())
}

/// What `request` answers: the claims the site needs and the optional ones the person kept
/// (the extension sends only those).
pub fn answer_claims(request: &ClaimsRequest, profile: &impl Profile) -> Value {
    json!({ "claims": claims_object(request.all(), profile) })
}

/// The value a page call would disclose, as the consent window previews it (`null` for a call
/// that discloses nothing of the profile, or finds nothing to disclose). A sign-up's answer
/// also carries its new key and assertion, which do not exist before the person allows it.
pub fn preview(call: &Call, profile: &impl Profile) -> Value {
    match call {
        Call::GetProfileUrl {} => json!(profile.profile_url()),
        Call::GetDeviceId {} => json!(profile.device_id()),
        Call::GetAddress { kind } => json!(profile.address(*kind).map(Address::for_pages)),
        Call::SignUp(_) => json!({"profileUrl": profile.profile_url(), "deviceId": profile.device_id()}),
        Call::Login(LoginParams { account_guid, .. }) => {
            json!(profile.login_account(account_guid.as_ref()).map(|guid| json!({"accountGuid": guid})))
        }
        Call::Request(request) => answer_claims(request, profile),
        Call::AddBookmark(offer) => Value::Object(offer.fields().clone()),
        Call::RequestGrant(request) => grant_preview(request, profile),
        _ => Value::Null,
    }
}

/// What the consent window says of a grant: the purpose, and each scope with its category's
/// names, the actions, the fields it narrows to (with their labels) and how many the profile
/// holds now.
fn grant_preview(request: &GrantRequest, profile: &impl Profile) -> Value {
    let scopes = request.scopes.iter().map(|scope| {
        let def = scope.category.def();
        let labels = |names: &Vec<String>| {
            let label = |name: &str| -> String {
                let from_def = def.fields.iter().find(|f| f.name == name).map(|f| f.label);
                let label = from_def.or_else(|| ADDRESS_FIELDS.iter().find(|f| f.name == name).map(|f| f.label));
                label.unwrap_or(name).to_owned()
            };
            names.iter().map(|name| json!({"name": name, "label": label(name)})).collect::<Vec<_>>()
        };
        json!({
            "category": scope.category,
            "title": def.title,
            "noun": def.noun,
            "actions": scope.actions,
            "fields": scope.fields.as_ref().map(labels),
            "held": held(scope.category, profile),
            "sensitivity": def.sensitivity,
        })
    });
    json!({"purpose": request.purpose, "scopes": scopes.collect::<Vec<_>>()})
}

/// How many of a category the profile holds: the default addresses, the identity record, or
/// the items.
fn held(category: Category, profile: &impl Profile) -> usize {
    match category {
        Category::Addresses => {
            // One address may be the default of both kinds: counted once.
            let defaults: Vec<&Address> = AddressKind::ALL.into_iter().filter_map(|k| profile.address(k)).collect();
            defaults.iter().enumerate().filter(|(i, a)| !defaults[..*i].contains(a)).count()
        }
        Category::Identity => usize::from(profile.identity().is_some()),
        other => profile.items(other).len(),
    }
}

/// What a grant lets its app read, by category, with only the fields each scope names: the
/// default addresses (`{kind, address}`), the identity record and the items (`{id, fields,
/// updatedAt}`). A scope without `read` holds nothing.
pub fn share_categories(scopes: &[Scope], profile: &impl Profile) -> BTreeMap<Category, Vec<Value>> {
    let mut out = BTreeMap::new();
    for scope in scopes.iter().filter(|s| s.may(Action::Read)) {
        let only = |fields: Map<String, Value>| -> Map<String, Value> {
            fields.into_iter().filter(|(name, value)| scope.covers_field(name) && !value.is_null()).collect()
        };
        let item =
            |item: &Item| json!({"id": item.id, "fields": only(item.fields.clone()), "updatedAt": item.updated_at});
        let values = match scope.category {
            Category::Addresses => AddressKind::ALL
                .into_iter()
                .filter_map(|kind| {
                    let address = serde_json::to_value(profile.address(kind)?.for_pages()).ok()?;
                    let Value::Object(fields) = address else { return None };
                    Some(json!({"kind": kind.as_str(), "address": only(fields)}))
                })
                .collect(),
            Category::Identity => profile.identity().map(item).into_iter().collect(),
            other => profile.items(other).into_iter().map(item).collect(),
        };
        out.insert(scope.category, values);
    }
    out
}

/// What left, by field name, for the ledger: the non-null members of the answer
/// (`shipping.city`, …), or the method's one value.
pub fn disclosed_fields(call: &Call, answer: &Value) -> Vec<String> {
    let prefix = match call {
        Call::GetAddress { kind } => format!("{}.", kind.as_str()),
        // The claims that left, by name (`ageOver:18`, not the date it was computed from).
        Call::Request(_) => {
            return answer.get("claims").map(|c| disclosed_fields(&Call::GetDeviceId {}, c)).unwrap_or_default();
        }
        // Nothing of the profile left: a bookmark came in.
        Call::AddBookmark(_) => return vec!["bookmarks.added".to_owned()],
        // What the app was granted, scope by scope (what it reads leaves sealed, later).
        Call::RequestGrant(request) => {
            return request
                .scopes
                .iter()
                .flat_map(|s| s.actions.iter().map(move |a| format!("grant.{}.{a}", s.category)))
                .collect();
        }
        _ => String::new(),
    };
    match answer {
        Value::Object(members) => {
            members.iter().filter(|(_, v)| !v.is_null()).map(|(name, _)| format!("{prefix}{name}")).collect()
        }
        Value::Null => Vec::new(),
        _ => vec![match call {
            Call::GetProfileUrl {} => "profileUrl".to_owned(),
            _ => "deviceId".to_owned(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sample(Address, AccountGuid, Option<Item>);

    impl Profile for Sample {
        fn profile_url(&self) -> Option<&str> {
            Some("https://p.example/u/ada")
        }
        fn device_id(&self) -> String {
            "pairwise".into()
        }
        fn address(&self, kind: AddressKind) -> Option<&Address> {
            (kind == AddressKind::Shipping).then_some(&self.0)
        }
        fn login_account(&self, _: Option<&AccountGuid>) -> Option<&AccountGuid> {
            Some(&self.1)
        }
        fn identity(&self) -> Option<&Item> {
            self.2.as_ref()
        }
        fn items(&self, _: Category) -> Vec<&Item> {
            Vec::new()
        }
        fn now(&self) -> u64 {
            1_780_000_000 // 2026-05-28
        }
    }

    #[test]
    fn a_request_answers_an_age_as_yes_or_no_and_never_the_date() {
        let address: Address = serde_json::from_value(json!({"name": "Ada Lovelace", "line1": "1 Loop",
            "city": "Paris", "postalCode": "75001", "country": "FR", "email": "ada@example.org"}))
        .unwrap();
        let identity = |born: &str| Item {
            id: crate::ItemId::single(),
            fields: json!({"birthDate": born, "language": "fr"}).as_object().unwrap().clone(),
            updated_at: 0,
            source: None,
        };
        let guid = AccountGuid::try_from("acct-1".to_owned()).unwrap();
        let request: Call = serde_json::from_value(json!({"type": "request", "params": {
            "claims": ["name", "ageOver:18"], "optional": ["email", "phone"], "purpose": "Wine delivery"}}))
        .unwrap();
        let adult = Sample(address.clone(), guid.clone(), Some(identity("2008-05-28")));
        let answer = preview(&request, &adult);
        assert_eq!(answer, json!({"claims": {"name": "Ada Lovelace", "ageOver:18": true, "email": "ada@example.org"}}));
        assert!(!answer.to_string().contains("2008"), "the date never leaves");
        assert_eq!(disclosed_fields(&request, &answer), ["ageOver:18", "email", "name"]);
        let minor = Sample(address.clone(), guid.clone(), Some(identity("2008-05-29")));
        assert_eq!(preview(&request, &minor)["claims"]["ageOver:18"], false, "18 tomorrow");
        let unknown = Sample(address, guid, None);
        assert_eq!(preview(&request, &unknown)["claims"].get("ageOver:18"), None, "no date, no answer");
    }

    #[test]
    fn the_preview_is_the_answer_and_the_ledger_names_its_fields() {
        let address: Address = serde_json::from_value(json!({"name": "Ada", "line1": "1 Loop", "city": "Paris",
            "postalCode": "75001", "country": "FR"}))
        .unwrap();
        let profile = Sample(address, AccountGuid::try_from("acct-1".to_owned()).unwrap(), None);
        let shipping = Call::GetAddress { kind: AddressKind::Shipping };
        let value = preview(&shipping, &profile);
        assert_eq!(value["city"], "Paris");
        assert_eq!(
            disclosed_fields(&shipping, &value),
            ["shipping.city", "shipping.country", "shipping.line1", "shipping.name", "shipping.postalCode"]
        );
        assert_eq!(preview(&Call::GetAddress { kind: AddressKind::Billing }, &profile), Value::Null);
        let device = preview(&Call::GetDeviceId {}, &profile);
        assert_eq!(disclosed_fields(&Call::GetDeviceId {}, &device), ["deviceId"]);
        assert_eq!(
            disclosed_fields(&Call::GetProfileUrl {}, &preview(&Call::GetProfileUrl {}, &profile)),
            ["profileUrl"]
        );
        assert_eq!(preview(&Call::Hello {}, &profile), Value::Null);
    }

    #[test]
    fn a_grant_shares_only_the_fields_its_scopes_name_and_nothing_it_may_not_read() {
        let address: Address = serde_json::from_value(json!({"name": "Ada Lovelace", "line1": "1 Loop",
            "city": "Paris", "postalCode": "75001", "country": "FR", "phone": "+33 1 23 45 67 89"}))
        .unwrap();
        let identity = Item {
            id: crate::ItemId::single(),
            fields: json!({"name": "Ada", "birthDate": "1815-12-10"}).as_object().unwrap().clone(),
            updated_at: 3,
            source: None,
        };
        let profile = Sample(address, AccountGuid::try_from("a".to_owned()).unwrap(), Some(identity));
        let call: Call = serde_json::from_value(json!({"type": "requestGrant", "params": {"scopes": [
            {"category": "addresses", "actions": ["read", "subscribe"], "fields": ["line1", "city", "postalCode"]},
            {"category": "identity", "actions": ["read"], "fields": ["name"]},
            {"category": "receipts", "actions": ["append"]}
        ], "purpose": "Deliveries"}}))
        .unwrap();
        let Call::RequestGrant(request) = &call else { unreachable!() };
        let shared = share_categories(&request.scopes, &profile);
        assert_eq!(
            serde_json::to_value(&shared).unwrap(),
            json!({
                "identity": [{"id": "me", "fields": {"name": "Ada"}, "updatedAt": 3}],
                "addresses": [{"kind": "shipping", "address": {"line1": "1 Loop", "city": "Paris", "postalCode": "75001"}}]
            }),
            "no birth date, no phone, nothing of receipts (append only)"
        );
        let shown = preview(&call, &profile);
        assert_eq!(shown["purpose"], "Deliveries");
        assert_eq!(
            shown["scopes"][0]["fields"][0],
            json!({"name": "line1", "label": shown["scopes"][0]["fields"][0]["label"]})
        );
        assert_eq!(shown["scopes"][0]["held"], 1);
        assert_eq!(shown["scopes"][2]["actions"], json!(["append"]));
        assert_eq!(
            disclosed_fields(&call, &Value::Null),
            ["grant.addresses.read", "grant.addresses.subscribe", "grant.identity.read", "grant.receipts.append"]
        );
    }
}
