//! Postal addresses, checked when parsed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which of the person's addresses a site asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AddressKind {
    Shipping,
    Billing,
}

impl AddressKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shipping => "shipping",
            Self::Billing => "billing",
        }
    }
}

/// A postal address as the page API defines it. Deserializing checks it: required fields are
/// present and non-blank, every field is at most [`MAX_FIELD`] characters without control
/// characters, and `country` is an upper-case ISO 3166-1 alpha-2 code.
///
/// `Debug` does not print the address: it is personal data.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawAddress")]
pub struct Address {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    pub line1: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub postal_code: String,
    pub country: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Longest accepted field, in characters.
pub const MAX_FIELD: usize = 200;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawAddress {
    name: String,
    organization: Option<String>,
    line1: String,
    line2: Option<String>,
    city: String,
    region: Option<String>,
    postal_code: String,
    country: String,
    phone: Option<String>,
    email: Option<String>,
}

/// What is wrong with an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("`{0}` is required")]
    Missing(&'static str),
    #[error("`{0}` is longer than {MAX_FIELD} characters")]
    TooLong(&'static str),
    #[error("`{0}` holds a control character")]
    Control(&'static str),
    #[error("`country` must be an ISO 3166-1 alpha-2 code such as \"DE\"")]
    Country,
}

impl TryFrom<RawAddress> for Address {
    type Error = AddressError;

    fn try_from(raw: RawAddress) -> Result<Self, Self::Error> {
        let required = |field: &'static str, value: String| -> Result<String, AddressError> {
            let value = checked(field, value)?;
            if value.is_empty() { Err(AddressError::Missing(field)) } else { Ok(value) }
        };
        let optional = |field: &'static str, value: Option<String>| -> Result<_, AddressError> {
            let value = value.map(|v| checked(field, v)).transpose()?;
            Ok(value.filter(|v| !v.is_empty()))
        };
        let country = required("country", raw.country)?.to_ascii_uppercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(AddressError::Country);
        }
        Ok(Self {
            name: required("name", raw.name)?,
            organization: optional("organization", raw.organization)?,
            line1: required("line1", raw.line1)?,
            line2: optional("line2", raw.line2)?,
            city: required("city", raw.city)?,
            region: optional("region", raw.region)?,
            postal_code: required("postalCode", raw.postal_code)?,
            country,
            phone: optional("phone", raw.phone)?,
            email: optional("email", raw.email)?,
        })
    }
}

fn checked(field: &'static str, value: String) -> Result<String, AddressError> {
    let value = value.trim().to_owned();
    if value.chars().count() > MAX_FIELD {
        return Err(AddressError::TooLong(field));
    }
    if value.chars().any(char::is_control) {
        return Err(AddressError::Control(field));
    }
    Ok(value)
}

impl Address {
    /// The names of the fields this address holds, as a page receives them.
    pub fn field_names(&self) -> Vec<&'static str> {
        let optional = [
            ("organization", &self.organization),
            ("line2", &self.line2),
            ("region", &self.region),
            ("phone", &self.phone),
            ("email", &self.email),
        ];
        let mut names = vec!["name", "line1", "city", "postalCode", "country"];
        names.extend(optional.iter().filter(|(_, v)| v.is_some()).map(|(name, _)| *name));
        names
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Address").field("country", &self.country).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    pub(crate) fn sample() -> serde_json::Value {
        json!({"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London",
               "postalCode": "SW1Y 4JH", "country": "gb", "email": "ada@example.org"})
    }

    #[test]
    fn parses_normalizes_and_hides_itself_from_debug() {
        let address: Address = serde_json::from_value(sample()).unwrap();
        assert_eq!(address.country, "GB");
        assert_eq!(address.field_names(), ["name", "line1", "city", "postalCode", "country", "email"]);
        assert!(!format!("{address:?}").contains("Ada"));
        let back: Address = serde_json::from_value(serde_json::to_value(&address).unwrap()).unwrap();
        assert_eq!(back, address);
    }

    #[test]
    fn refuses_bad_addresses() {
        let cases = [
            (json!({"name": " "}), "`name` is required"),
            (json!({"country": "GBR"}), "alpha-2"),
            (json!({"city": "x".repeat(201)}), "longer than"),
            (json!({"line2": "a\u{0}b"}), "control"),
            (json!({"nickname": "x"}), "unknown field"),
            (json!({"name": 5}), "invalid type"),
        ];
        for (patch, want) in cases {
            let mut value = sample();
            for (k, v) in patch.as_object().unwrap() {
                value[k] = v.clone();
            }
            let err = serde_json::from_value::<Address>(value).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }
}
