//! Postal addresses, checked when parsed, and the person's address book.
//!
//! An [`Address`] fits any country: beside the full name, the street lines, city, region,
//! postal code and country that every page has always received, it may hold the given and
//! family names, a house number and an apartment apart from the street, a dependent locality
//! and the region's ISO 3166-2 code. Parsing checks what holds everywhere (lengths, no control
//! characters, a country code's shape); which fields a country requires, its postal-code pattern,
//! its regions and the order of its lines come from Google's address metadata, behind the
//! `address-data` feature ([`format`]), which the host turns on and the extension's WASM
//! leaves off.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod book;
#[cfg(feature = "address-data")]
pub mod format;

pub use book::{
    AddressBook, AddressBookError, AddressId, DefaultChoice, Label, MAX_ADDRESSES, MAX_LABEL, MAX_REMOVED, SavedAddress,
};

/// Which of the person's addresses a site asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AddressKind {
    Shipping,
    Billing,
}

impl AddressKind {
    pub const ALL: [Self; 2] = [Self::Shipping, Self::Billing];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shipping => "shipping",
            Self::Billing => "billing",
        }
    }

    /// `Shipping`, `Billing`: the label an address gets when it is saved as one kind's.
    pub fn title(self) -> &'static str {
        match self {
            Self::Shipping => "Shipping",
            Self::Billing => "Billing",
        }
    }
}

/// A postal address. Deserializing checks it: `line1` and `country` are present and non-blank,
/// and so is `name` unless a given or family name is there to make it from; every field is at
/// most [`MAX_FIELD`] characters without control characters; `country` is an upper-case ISO
/// 3166-1 alpha-2 code. A country's own rules ([`format::check`]) are applied where addresses are
/// saved, not where they are read, so what was saved always opens again.
///
/// The members a page has always received keep their names and meaning: `name` is the full
/// name, `line1` and `line2` the street lines, `region` the region as written on the envelope.
///
/// `Debug` does not print the address: it is personal data.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "Map<String, Value>")]
pub struct Address {
    /// The full name, as the person writes it.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    pub line1: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    /// The house number, for the countries and forms that keep it apart from the street.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub house_number: Option<String>,
    /// The apartment, suite or unit, when kept apart from the street lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apartment: Option<String>,
    /// A district, neighbourhood or suburb within the city (Brazil's bairro, Korea's dong).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependent_locality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// The region (state, province, prefecture…) as written on the envelope (`CA`, `東京都`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The region's ISO 3166-2 code (`US-CA`), where the country has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// E.164 (`+442079460000`) once checked against the country's numbering plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Longest accepted field, in characters.
pub const MAX_FIELD: usize = 200;

/// One field of an address, as every surface shows it: the CLI's flags and the consent window's
/// lines (where the host gives none in the country's order) are made from [`ADDRESS_FIELDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressField {
    /// The name in the page API and the vault (`postalCode`).
    pub name: &'static str,
    /// What people call it (`Postal code`); a country's form may call it otherwise (`ZIP code`).
    pub label: &'static str,
    /// The HTML `autocomplete` token a form gives it (`postal-code`); empty when there is none.
    pub autocomplete: &'static str,
    /// Required in every country (a country may require more).
    pub required: bool,
    /// Where it goes in the lines people read when no country order is known: fields with the
    /// same line share it, in order. `None` for fields that only restate another (the given and
    /// family names, the region's code).
    pub line: Option<u8>,
}

const fn field(
    name: &'static str,
    label: &'static str,
    autocomplete: &'static str,
    required: bool,
    line: Option<u8>,
) -> AddressField {
    AddressField { name, label, autocomplete, required, line }
}

/// Every field of an address, in the order people read them when no country says otherwise.
pub const ADDRESS_FIELDS: [AddressField; 16] = [
    field("name", "Full name", "name", true, Some(0)),
    field("givenName", "Given name", "given-name", false, None),
    field("familyName", "Family name", "family-name", false, None),
    field("organization", "Organization", "organization", false, Some(1)),
    field("line1", "Street address", "address-line1", true, Some(2)),
    field("houseNumber", "House number", "", false, Some(2)),
    field("apartment", "Apartment, suite, unit", "", false, Some(3)),
    field("line2", "Address line 2", "address-line2", false, Some(3)),
    field("dependentLocality", "District", "address-level3", false, Some(4)),
    field("postalCode", "Postal code", "postal-code", false, Some(5)),
    field("city", "City", "address-level2", false, Some(5)),
    field("region", "Region / state", "address-level1", false, Some(5)),
    field("regionCode", "Region code", "", false, None),
    field("country", "Country", "country", true, Some(6)),
    field("phone", "Phone", "tel", false, Some(7)),
    field("email", "Email", "email", false, Some(8)),
];

/// An address's fields as they arrived, each a string or absent.
#[derive(Default)]
struct RawAddress {
    name: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    organization: Option<String>,
    line1: Option<String>,
    line2: Option<String>,
    house_number: Option<String>,
    apartment: Option<String>,
    dependent_locality: Option<String>,
    city: Option<String>,
    region: Option<String>,
    region_code: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    phone: Option<String>,
    email: Option<String>,
}

impl RawAddress {
    /// Where the field named `name` (as in [`ADDRESS_FIELDS`]) goes.
    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "name" => &mut self.name,
            "givenName" => &mut self.given_name,
            "familyName" => &mut self.family_name,
            "organization" => &mut self.organization,
            "line1" => &mut self.line1,
            "line2" => &mut self.line2,
            "houseNumber" => &mut self.house_number,
            "apartment" => &mut self.apartment,
            "dependentLocality" => &mut self.dependent_locality,
            "city" => &mut self.city,
            "region" => &mut self.region,
            "regionCode" => &mut self.region_code,
            "postalCode" => &mut self.postal_code,
            "country" => &mut self.country,
            "phone" => &mut self.phone,
            "email" => &mut self.email,
            _ => return None,
        })
    }
}

/// An address is read from a JSON object by one routine, whatever the deserializer: the
/// extension's WASM would otherwise carry a copy of every field's reader per deserializer.
impl TryFrom<Map<String, Value>> for Address {
    type Error = AddressError;

    fn try_from(object: Map<String, Value>) -> Result<Self, Self::Error> {
        let mut raw = RawAddress::default();
        for (key, value) in object {
            let Some(field) = ADDRESS_FIELDS.iter().find(|f| f.name == key) else {
                return Err(AddressError::Unknown(key));
            };
            let value = match value {
                Value::String(text) => Some(text),
                Value::Null => None,
                _ => return Err(AddressError::NotText(field.name)),
            };
            if let Some(slot) = raw.slot(field.name) {
                *slot = value;
            }
        }
        Self::try_from(raw)
    }
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
    #[error("unknown field `{0}`")]
    Unknown(String),
    #[error("invalid type: `{0}` must be a string")]
    NotText(&'static str),
    /// A country's own rule (from the address metadata), in words.
    #[error("{0}")]
    Rule(String),
}

impl TryFrom<RawAddress> for Address {
    type Error = AddressError;

    fn try_from(mut raw: RawAddress) -> Result<Self, Self::Error> {
        // Every field trimmed and checked, an empty one absent (one loop: this runs in the
        // extension's WASM too).
        for field in &ADDRESS_FIELDS {
            if let Some(slot) = raw.slot(field.name) {
                *slot = slot.take().map(|v| checked(field.name, v)).transpose()?.filter(|v| !v.is_empty());
            }
        }
        let name = match raw.name.take() {
            Some(name) => name,
            // Made from the parts when only they were given, in the order they were listed.
            None => [&raw.given_name, &raw.family_name].into_iter().flatten().cloned().collect::<Vec<_>>().join(" "),
        };
        if name.is_empty() {
            return Err(AddressError::Missing("name"));
        }
        let country = raw.country.take().ok_or(AddressError::Missing("country"))?.to_ascii_uppercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(AddressError::Country);
        }
        let region_code = raw.region_code.take().map(|code| code.to_ascii_uppercase());
        if region_code.as_ref().is_some_and(|code| !region_code_shape(code, &country)) {
            return Err(AddressError::Rule(format!(
                "`regionCode` must be an ISO 3166-2 code of {country}, such as \"{country}-01\""
            )));
        }
        Ok(Self {
            name,
            line1: raw.line1.take().ok_or(AddressError::Missing("line1"))?,
            given_name: raw.given_name,
            family_name: raw.family_name,
            organization: raw.organization,
            line2: raw.line2,
            house_number: raw.house_number,
            apartment: raw.apartment,
            dependent_locality: raw.dependent_locality,
            city: raw.city,
            region: raw.region,
            region_code,
            postal_code: raw.postal_code,
            country,
            phone: raw.phone,
            email: raw.email,
        })
    }
}

/// `US-CA`, `JP-13`, `GB-ENG`: the country's code, a hyphen, one to three letters or digits.
fn region_code_shape(code: &str, country: &str) -> bool {
    code.strip_prefix(country).and_then(|rest| rest.strip_prefix('-')).is_some_and(|sub| {
        (1..=3).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    })
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
    /// The first street line: `line1`, with the house number after the street unless `line1`
    /// holds it already (the address data says nothing of where it goes; after the street is how
    /// most countries that keep it apart write it).
    pub fn street_line(&self) -> String {
        match &self.house_number {
            Some(number) if !self.line1.split_whitespace().any(|word| word.trim_matches(',') == number) => {
                format!("{} {number}", self.line1)
            }
            _ => self.line1.clone(),
        }
    }

    /// The address as a page receives it: `line1` and `line2` keep the meaning they always had,
    /// whole street lines (the house number in `line1`, the apartment in `line2`), and the parts
    /// kept apart come beside them (`houseNumber`, `apartment`).
    pub fn for_pages(&self) -> Self {
        let line2 = [self.apartment.as_deref(), self.line2.as_deref()].into_iter().flatten().collect::<Vec<_>>();
        Self { line1: self.street_line(), line2: (!line2.is_empty()).then(|| line2.join(", ")), ..self.clone() }
    }

    /// A field's value by its name in [`ADDRESS_FIELDS`]; `None` when empty or unknown.
    pub fn get(&self, name: &str) -> Option<&str> {
        let value = match name {
            "name" => Some(&self.name),
            "givenName" => self.given_name.as_ref(),
            "familyName" => self.family_name.as_ref(),
            "organization" => self.organization.as_ref(),
            "line1" => Some(&self.line1),
            "line2" => self.line2.as_ref(),
            "houseNumber" => self.house_number.as_ref(),
            "apartment" => self.apartment.as_ref(),
            "dependentLocality" => self.dependent_locality.as_ref(),
            "city" => self.city.as_ref(),
            "region" => self.region.as_ref(),
            "regionCode" => self.region_code.as_ref(),
            "postalCode" => self.postal_code.as_ref(),
            "country" => Some(&self.country),
            "phone" => self.phone.as_ref(),
            "email" => self.email.as_ref(),
            _ => None,
        };
        value.map(String::as_str)
    }

    /// An address from its fields by name, checked as deserializing checks it.
    pub fn from_fields(mut value: impl FnMut(&str) -> Option<String>) -> Result<Self, AddressError> {
        let mut raw = RawAddress::default();
        for field in &ADDRESS_FIELDS {
            if let Some(slot) = raw.slot(field.name) {
                *slot = value(field.name);
            }
        }
        Self::try_from(raw)
    }

    /// The names of the fields this address holds, as a page receives them, in reading order.
    pub fn field_names(&self) -> Vec<&'static str> {
        ADDRESS_FIELDS.iter().filter(|f| self.get(f.name).is_some()).map(|f| f.name).collect()
    }

    /// The address as people read it when no country order is known: one line per
    /// [`AddressField::line`], its fields joined by spaces.
    pub fn lines(&self) -> Vec<String> {
        lines_of(|name| self.get(name))
    }
}

/// Lines as people read them, from any source of field values by name (a checked [`Address`],
/// or an answer as it arrived), when no country order is known: one line per
/// [`AddressField::line`], its fields joined by spaces; empty fields left out. The given and
/// family names and the region's code get a line of their own only when they say something the
/// full name or the region does not, so nothing that leaves goes unshown.
pub fn lines_of<'a>(value: impl Fn(&str) -> Option<&'a str>) -> Vec<String> {
    let present = |name: &str| value(name).filter(|v| !v.is_empty());
    let name = present("name").unwrap_or_default();
    // One slot per line, filled in field order (no sorting or substring search: this runs in the
    // extension's WASM, where every routine counts).
    let mut lines: [Option<String>; 9] = Default::default();
    for field in &ADDRESS_FIELDS {
        let Some(text) = present(field.name) else { continue };
        let line = match (field.line, field.name) {
            (Some(line), _) => line,
            // Said already by the full name or by the region.
            (None, "givenName" | "familyName") if name.split(' ').any(|word| word == text) => continue,
            (None, "regionCode") if present("region").is_some() => continue,
            // Anything else goes beside its neighbours: names after the name, the code with the region.
            (None, "regionCode") => 5,
            (None, _) => 0,
        };
        match lines.get_mut(usize::from(line)) {
            Some(Some(joined)) => {
                joined.push(' ');
                joined.push_str(text);
            }
            Some(slot) => *slot = Some(text.to_owned()),
            None => {}
        }
    }
    lines.into_iter().flatten().collect()
}

/// The other ways forms write an address's parts, which only the address data and the numbering
/// plans know: the host adds them to each address it lists, so the extension fills a region list
/// that names "Bayern" or "BY", or a phone field that wants the national number, without carrying
/// either dataset. Every member may be empty (a country without data).
///
/// `Debug` does not print them: they restate personal data.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spellings {
    /// The region as saved, then its key, its names and its ISO 3166-2 code with and without the
    /// country (`OH`, `Ohio`, `US-OH`), each once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub region: Vec<String>,
    /// The phone as it is dialled within the country (`020 7946 0958`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_national: Option<String>,
    /// The phone in international form, spaced (`+44 20 7946 0958`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_international: Option<String>,
    /// The country's calling code, digits only (`44`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calling_code: Option<String>,
}

impl fmt::Debug for Spellings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spellings").finish_non_exhaustive()
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Address").field("country", &self.country).finish_non_exhaustive()
    }
}

/// How one country's addresses are written and entered, for a form that has no address data of
/// its own (the options page): the host answers it from the address metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressForm {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// The fields to ask for, in the country's order, with its names for them (`ZIP code`,
    /// `Postcode`, `Prefecture`) and what it requires; the country, phone and email last.
    pub fields: Vec<FormField>,
    /// The country's regions, when it has a list of them: a form offers a choice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<Region>,
    /// Postal codes as the country writes them (`95014`), to show as an example.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code_example: Option<String>,
    /// Every country there is address data for (ISO 3166-1 alpha-2), for a choice of country.
    pub countries: Vec<String>,
}

/// One field of a country's form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FormField {
    /// The name in [`ADDRESS_FIELDS`].
    pub name: String,
    pub label: String,
    pub autocomplete: String,
    pub required: bool,
}

/// One region of a country.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    /// As written on the envelope (`CA`, `東京都`): what `region` holds.
    pub key: String,
    /// Its name for people (`California`, `Tokyo`).
    pub name: String,
    /// Its ISO 3166-2 code (`US-CA`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
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
    fn the_new_fields_round_trip_and_the_full_name_can_be_made_from_its_parts() {
        let address: Address = serde_json::from_value(json!({
            "givenName": "Taro", "familyName": "Yamada", "line1": "Chiyoda 1-1", "apartment": "101",
            "dependentLocality": "Marunouchi", "region": "東京都", "regionCode": "jp-13", "postalCode": "100-0005",
            "country": "JP", "houseNumber": "1"
        }))
        .unwrap();
        assert_eq!(address.name, "Taro Yamada");
        assert_eq!(address.region_code.as_deref(), Some("JP-13"));
        let lines = address.lines();
        assert_eq!(lines, ["Taro Yamada", "Chiyoda 1-1 1", "101", "Marunouchi", "100-0005 東京都", "JP"]);
        let back: Address = serde_json::from_value(serde_json::to_value(&address).unwrap()).unwrap();
        assert_eq!(back, address);
        // A given name the full name does not hold is shown: everything that leaves is seen.
        let mut other = address.clone();
        other.given_name = Some("Hanako".into());
        assert_eq!(other.lines()[0], "Taro Yamada Hanako");
        // A region code without a region is shown where the region would be.
        other.region = None;
        assert!(other.lines().contains(&"100-0005 JP-13".to_owned()), "{:?}", other.lines());
    }

    #[test]
    fn pages_get_whole_street_lines_with_the_parts_beside_them() {
        let apart: Address = serde_json::from_value(json!({"name": "Erika Mustermann", "line1": "Heidestraße",
            "houseNumber": "17", "apartment": "3. OG", "city": "Köln", "postalCode": "51147", "country": "DE"}))
        .unwrap();
        let page = apart.for_pages();
        assert_eq!((page.line1.as_str(), page.line2.as_deref()), ("Heidestraße 17", Some("3. OG")));
        assert_eq!((page.house_number.as_deref(), page.apartment.as_deref()), (Some("17"), Some("3. OG")));
        let whole: Address =
            serde_json::from_value(json!({"name": "A", "line1": "Hauptstraße 5", "houseNumber": "5", "country": "DE"}))
                .unwrap();
        assert_eq!(whole.for_pages().line1, "Hauptstraße 5", "a number line1 holds already is not added again");
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
            (json!({"line1": null}), "`line1` is required"),
            (json!({"regionCode": "US-CA"}), "ISO 3166-2 code of GB"),
        ];
        for (patch, want) in cases {
            let mut value = sample();
            for (k, v) in patch.as_object().unwrap() {
                value[k] = v.clone();
            }
            let err = serde_json::from_value::<Address>(value).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
        // Countries without postal codes or cities have addresses too.
        let hong_kong = json!({"name": "Chan Tai Man", "line1": "1 Queen's Road Central", "country": "HK"});
        assert!(serde_json::from_value::<Address>(hong_kong).is_ok());
    }
}
