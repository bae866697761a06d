//! What a page call discloses: the value it answers, computed from what the profile holds, and
//! the names of the fields that left. The host answers and previews a call with the same rules,
//! so the consent window shows exactly what the answer will carry, and the ledger names it.

use serde_json::{Map, Value, json};

use crate::category::{age, date, today};
use crate::wire::{Call, LoginParams};
use crate::{AccountGuid, Address, AddressKind, Category, Claim, ClaimsRequest, Item};

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
        _ => Value::Null,
    }
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
}
