//! What a page call discloses: the value it answers, computed from what the profile holds, and
//! the names of the fields that left. The host answers and previews a call with the same rules,
//! so the consent window shows exactly what the answer will carry, and the ledger names it.

use serde_json::{Value, json};

use crate::wire::{Call, LoginParams};
use crate::{AccountGuid, Address, AddressKind};

/// What of the profile a page call may read; the host fills it from its state.
pub trait Profile {
    fn profile_url(&self) -> Option<&str>;
    /// The pairwise device id the calling site gets.
    fn device_id(&self) -> String;
    fn address(&self, kind: AddressKind) -> Option<&Address>;
    /// The account `login` would use at the calling site: the named one, or the one used last.
    fn login_account(&self, named: Option<&AccountGuid>) -> Option<&AccountGuid>;
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
        _ => Value::Null,
    }
}

/// What left, by field name, for the ledger: the non-null members of the answer
/// (`shipping.city`, …), or the method's one value.
pub fn disclosed_fields(call: &Call, answer: &Value) -> Vec<String> {
    let prefix = match call {
        Call::GetAddress { kind } => format!("{}.", kind.as_str()),
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

    struct Sample(Address, AccountGuid);

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
    }

    #[test]
    fn the_preview_is_the_answer_and_the_ledger_names_its_fields() {
        let address: Address = serde_json::from_value(json!({"name": "Ada", "line1": "1 Loop", "city": "Paris",
            "postalCode": "75001", "country": "FR"}))
        .unwrap();
        let profile = Sample(address, AccountGuid::try_from("acct-1".to_owned()).unwrap());
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
