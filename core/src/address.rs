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

/// One field of an address, as every surface shows it: the CLI's flags, the options page's form
/// and the consent window's lines are all made from [`ADDRESS_FIELDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressField {
    /// The name in the page API and the vault (`postalCode`).
    pub name: &'static str,
    /// What people call it (`Postal code`).
    pub label: &'static str,
    /// The HTML `autocomplete` token a form gives it (`postal-code`).
    pub autocomplete: &'static str,
    pub required: bool,
    /// Where it goes in the lines people read: fields with the same line share it, in order.
    pub line: u8,
}

const fn field(
    name: &'static str,
    label: &'static str,
    autocomplete: &'static str,
    required: bool,
    line: u8,
) -> AddressField {
    AddressField { name, label, autocomplete, required, line }
}

/// Every field of an address, in the order people read them.
pub const ADDRESS_FIELDS: [AddressField; 10] = [
    field("name", "Full name", "name", true, 0),
    field("organization", "Organization", "organization", false, 1),
    field("line1", "Address line 1", "address-line1", true, 2),
    field("line2", "Address line 2", "address-line2", false, 3),
    field("postalCode", "Postal code", "postal-code", true, 4),
    field("city", "City", "address-level2", true, 4),
    field("region", "Region / state", "address-level1", false, 4),
    field("country", "Country (2 letters, e.g. GB)", "country", true, 5),
    field("phone", "Phone", "tel", false, 6),
    field("email", "Email", "email", false, 7),
];

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
    /// A field's value by its name in [`ADDRESS_FIELDS`]; `None` when empty or unknown.
    pub fn get(&self, name: &str) -> Option<&str> {
        let value = match name {
            "name" => Some(&self.name),
            "organization" => self.organization.as_ref(),
            "line1" => Some(&self.line1),
            "line2" => self.line2.as_ref(),
            "city" => Some(&self.city),
            "region" => self.region.as_ref(),
            "postalCode" => Some(&self.postal_code),
            "country" => Some(&self.country),
            "phone" => self.phone.as_ref(),
            "email" => self.email.as_ref(),
            _ => None,
        };
        value.map(String::as_str)
    }

    /// An address from its fields by name, checked as deserializing checks it.
    pub fn from_fields(mut value: impl FnMut(&str) -> Option<String>) -> Result<Self, AddressError> {
        let raw = RawAddress {
            name: value("name").unwrap_or_default(),
            line1: value("line1").unwrap_or_default(),
            city: value("city").unwrap_or_default(),
            postal_code: value("postalCode").unwrap_or_default(),
            country: value("country").unwrap_or_default(),
            organization: value("organization"),
            line2: value("line2"),
            region: value("region"),
            phone: value("phone"),
            email: value("email"),
        };
        Self::try_from(raw)
    }

    /// The names of the fields this address holds, as a page receives them, in reading order.
    pub fn field_names(&self) -> Vec<&'static str> {
        ADDRESS_FIELDS.iter().filter(|f| self.get(f.name).is_some()).map(|f| f.name).collect()
    }

    /// The address as people read it: one line per [`AddressField::line`], its fields joined
    /// by spaces.
    pub fn lines(&self) -> Vec<String> {
        lines_of(|name| self.get(name))
    }
}

/// Lines as people read them, from any source of field values by name (a checked [`Address`],
/// or an answer as it arrived): one line per [`AddressField::line`], its fields joined by
/// spaces; empty fields left out.
pub fn lines_of<'a>(value: impl Fn(&str) -> Option<&'a str>) -> Vec<String> {
    let mut lines: Vec<(u8, String)> = Vec::new();
    for field in &ADDRESS_FIELDS {
        let Some(value) = value(field.name).filter(|v| !v.is_empty()) else { continue };
        match lines.last_mut() {
            Some((line, text)) if *line == field.line => {
                text.push(' ');
                text.push_str(value);
            }
            _ => lines.push((field.line, value.to_owned())),
        }
    }
    lines.into_iter().map(|(_, text)| text).collect()
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
        assert_eq!(address.field_names(), ["name", "line1", "postalCode", "city", "country", "email"]);
        assert_eq!(
            address.lines(),
            ["Ada Lovelace", "12 St James's Square", "SW1Y 4JH London", "GB", "ada@example.org"]
        );
        let rebuilt = Address::from_fields(|name| address.get(name).map(str::to_owned)).unwrap();
        assert_eq!(rebuilt, address);
        for field in &ADDRESS_FIELDS {
            let mut value = sample();
            value[field.name] = json!("x".repeat(201));
            assert!(serde_json::from_value::<Address>(value).is_err(), "{} is a field the parser knows", field.name);
        }
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
