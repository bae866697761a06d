//! Each country's address rules, from Google's address metadata (`data/address-formats.json`,
//! the country-level data of libaddressinput, which Chromium's and Android's address forms use;
//! CC-BY 4.0, refreshed by `scripts/update-address-data`): which fields a country requires, its
//! postal-code pattern, its regions with their ISO 3166-2 ids, the order of its lines and what
//! it calls its fields. Phone numbers are checked against the country's numbering plan with the
//! `phonenumber` crate (libphonenumber's metadata) and kept in E.164.
//!
//! Behind the `address-data` feature: the host turns it on; the extension's WASM stays without
//! the data (the host serves a country's form over the wire, [`form`]).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use super::{ADDRESS_FIELDS, Address, AddressError, AddressForm, FormField, Region, Spellings};

const DATA: &str = include_str!("../../data/address-formats.json");

/// One country's entry as the metadata writes it (fields absent there fall back to `ZZ`'s).
#[derive(Debug, Default, Deserialize)]
struct Entry {
    name: Option<String>,
    fmt: Option<String>,
    require: Option<String>,
    upper: Option<String>,
    zip: Option<String>,
    zipex: Option<String>,
    zip_name_type: Option<String>,
    state_name_type: Option<String>,
    locality_name_type: Option<String>,
    sublocality_name_type: Option<String>,
    sub_keys: Option<String>,
    sub_names: Option<String>,
    sub_lnames: Option<String>,
    sub_isoids: Option<String>,
    sub_zips: Option<String>,
}

/// One part of a format line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// `%N`, `%A`, `%Z`…: one of the metadata's field letters.
    Field(char),
    Literal(String),
}

/// A region, as the metadata lists it.
#[derive(Debug)]
struct RegionEntry {
    key: String,
    name: Option<String>,
    latin_name: Option<String>,
    iso: Option<String>,
    /// The pattern its postal codes begin with (compiled when an address is checked).
    postal_prefix: Option<String>,
}

/// One country's rules, parsed once.
#[derive(Debug)]
pub struct Country {
    code: String,
    name: String,
    lines: Vec<Vec<Part>>,
    required: String,
    upper: String,
    /// The pattern of its postal codes (compiled when an address is checked: listing and
    /// formatting addresses, on the paths a page's call takes, need no regular expression).
    postal_code: Option<String>,
    postal_code_example: Option<String>,
    zip_name: String,
    state_name: String,
    locality_name: String,
    sublocality_name: String,
    regions: Vec<RegionEntry>,
}

/// Every country with address data, by ISO 3166-1 alpha-2 code.
fn countries() -> &'static BTreeMap<String, Country> {
    static COUNTRIES: OnceLock<BTreeMap<String, Country>> = OnceLock::new();
    COUNTRIES.get_or_init(|| {
        // The data is part of the build and parsed in the tests: it cannot fail here.
        let entries: BTreeMap<String, Entry> = serde_json::from_str(DATA).unwrap_or_default();
        let fallback = entries.get("ZZ");
        entries
            .iter()
            .filter(|(code, _)| code.as_str() != "ZZ")
            .map(|(code, e)| (code.clone(), parse(code, e, fallback)))
            .collect()
    })
}

fn parse(code: &str, entry: &Entry, fallback: Option<&Entry>) -> Country {
    let or_zz = |get: fn(&Entry) -> &Option<String>| -> String {
        get(entry).clone().or_else(|| fallback.and_then(|zz| get(zz).clone())).unwrap_or_default()
    };
    let list = |value: &Option<String>| -> Vec<Option<String>> {
        value
            .as_deref()
            .map(|v| v.split('~').map(|s| Some(s.to_owned()).filter(|s| !s.is_empty())).collect())
            .unwrap_or_default()
    };
    let (names, latin_names, isos, zips) =
        (list(&entry.sub_names), list(&entry.sub_lnames), list(&entry.sub_isoids), list(&entry.sub_zips));
    let regions = list(&entry.sub_keys)
        .into_iter()
        .enumerate()
        .filter_map(|(i, key)| {
            Some(RegionEntry {
                key: key?,
                name: names.get(i).cloned().flatten(),
                latin_name: latin_names.get(i).cloned().flatten(),
                iso: isos.get(i).cloned().flatten(),
                postal_prefix: zips.get(i).cloned().flatten(),
            })
        })
        .collect();
    Country {
        code: code.to_owned(),
        name: title_case(entry.name.as_deref().unwrap_or(code)),
        lines: format_lines(&or_zz(|e| &e.fmt)),
        required: or_zz(|e| &e.require),
        upper: or_zz(|e| &e.upper),
        postal_code: entry.zip.clone(),
        postal_code_example: entry.zipex.as_deref().and_then(|ex| ex.split(',').next()).map(str::to_owned),
        zip_name: or_zz(|e| &e.zip_name_type),
        state_name: or_zz(|e| &e.state_name_type),
        locality_name: or_zz(|e| &e.locality_name_type),
        sublocality_name: or_zz(|e| &e.sublocality_name_type),
        regions,
    }
}

/// A postal-code pattern of the metadata, matching a whole code (`whole`) or its beginning,
/// case ignored; `None` should one not compile (every one does: a test holds them to it).
fn anchored(pattern: &str, whole: bool) -> Option<Regex> {
    let pattern = if whole { format!("^(?:{pattern})$") } else { format!("^(?:{pattern})") };
    RegexBuilder::new(&pattern).case_insensitive(true).build().ok()
}

/// `%N%n%O%n%A%n%C, %S %Z` → lines of fields and the text between them.
fn format_lines(fmt: &str) -> Vec<Vec<Part>> {
    let mut lines: Vec<Vec<Part>> = vec![Vec::new()];
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        let part = match c {
            '%' => match chars.next() {
                Some('n') => {
                    lines.push(Vec::new());
                    continue;
                }
                Some(letter) => Part::Field(letter),
                None => break,
            },
            text => Part::Literal(text.to_string()),
        };
        let Some(line) = lines.last_mut() else { break };
        match (line.last_mut(), part) {
            (Some(Part::Literal(literal)), Part::Literal(more)) => literal.push_str(&more),
            (_, part) => line.push(part),
        }
    }
    lines
}

/// `UNITED STATES` → `United States`, `KOREA (REP.)` → `Korea (Rep.)`.
fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut start = true;
    for c in name.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = !c.is_alphanumeric() && c != '\'';
    }
    out
}

/// The rules of `country` (ISO 3166-1 alpha-2), when there is address data for it.
pub fn country(code: &str) -> Option<&'static Country> {
    countries().get(&code.to_ascii_uppercase())
}

/// Every country with address data, by code.
pub fn country_codes() -> impl Iterator<Item = &'static str> {
    countries().keys().map(String::as_str)
}

/// Which of our fields a metadata letter stands for.
fn fields_of(letter: char) -> &'static [&'static str] {
    match letter {
        'N' => &["name", "givenName", "familyName"],
        'O' => &["organization"],
        'A' => &["line1", "houseNumber", "apartment", "line2"],
        'D' => &["dependentLocality"],
        'C' => &["city"],
        'S' => &["region"],
        'Z' => &["postalCode"],
        _ => &[],
    }
}

impl Country {
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Its name in English (`United Kingdom`).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn letters(&self) -> impl Iterator<Item = char> + '_ {
        self.lines.iter().flatten().filter_map(|part| match part {
            Part::Field(letter) => Some(*letter),
            Part::Literal(_) => None,
        })
    }

    /// What the country calls a field (`ZIP code`, `Post town`, `Prefecture`).
    pub fn label(&self, field: &str) -> &'static str {
        let named = match field {
            "postalCode" => match self.zip_name.as_str() {
                "zip" => "ZIP code",
                "pin" => "PIN code",
                "eircode" => "Eircode",
                _ => "Postal code",
            },
            "region" => match self.state_name.as_str() {
                "area" => "Area",
                "county" => "County",
                "department" => "Department",
                "district" => "District",
                "do_si" => "Do/Si",
                "emirate" => "Emirate",
                "island" => "Island",
                "oblast" => "Oblast",
                "parish" => "Parish",
                "prefecture" => "Prefecture",
                "state" => "State",
                _ => "Province",
            },
            "city" => match self.locality_name.as_str() {
                "district" => "District",
                "post_town" => "Post town",
                "suburb" => "Suburb",
                _ => "City",
            },
            "dependentLocality" => match self.sublocality_name.as_str() {
                "district" => "District",
                "neighborhood" => "Neighborhood",
                "townland" => "Townland",
                "village_township" => "Village/Township",
                _ => "Suburb",
            },
            "country" => "Country",
            _ => "",
        };
        if named.is_empty() { ADDRESS_FIELDS.iter().find(|f| f.name == field).map_or("", |f| f.label) } else { named }
    }

    /// Whether the country requires `field`.
    pub fn requires(&self, field: &str) -> bool {
        matches!(field, "name" | "line1" | "country")
            || self.required.chars().any(|letter| fields_of(letter).first() == Some(&field))
    }

    /// The form for this country's addresses: its fields in its order, with its names for them.
    pub fn form(&self) -> AddressForm {
        let mut names: Vec<&str> = self.letters().flat_map(fields_of).copied().collect();
        names.dedup();
        names.extend(["country", "phone", "email"]);
        let fields = names
            .into_iter()
            .filter_map(|name| ADDRESS_FIELDS.iter().find(|f| f.name == name))
            .map(|f| FormField {
                name: f.name.to_owned(),
                label: self.label(f.name).to_owned(),
                autocomplete: f.autocomplete.to_owned(),
                required: self.requires(f.name),
            })
            .collect();
        let regions = (self.regions.iter())
            .map(|r| Region {
                key: r.key.clone(),
                name: r.name.clone().or_else(|| r.latin_name.clone()).unwrap_or_else(|| r.key.clone()),
                code: r.iso.as_ref().map(|iso| format!("{}-{iso}", self.code)),
            })
            .collect();
        AddressForm {
            country: self.code.clone(),
            fields,
            regions,
            postal_code_example: self.postal_code_example.clone(),
            countries: country_codes().map(str::to_owned).collect(),
        }
    }

    /// The region `text` names, by its key, name, Latin name or ISO 3166-2 id (case ignored),
    /// and the form of it to keep: as typed in Latin letters when that is what matched, else
    /// the key the envelope uses.
    fn region(&self, text: &str) -> Option<(&RegionEntry, String)> {
        let wanted = text.to_lowercase();
        let same = |value: &Option<String>| value.as_ref().is_some_and(|v| v.to_lowercase() == wanted);
        let iso = text.to_ascii_uppercase();
        let iso = iso.strip_prefix(&format!("{}-", self.code)).unwrap_or(&iso);
        self.regions.iter().find_map(|r| {
            if same(&r.latin_name) && !same(&Some(r.key.clone())) {
                r.latin_name.clone().map(|latin| (r, latin))
            } else if r.key.to_lowercase() == wanted || same(&r.name) || r.iso.as_deref() == Some(iso) {
                Some((r, r.key.clone()))
            } else {
                None
            }
        })
    }

    /// A few of the country's regions, to name in an error.
    fn region_examples(&self) -> String {
        let some: Vec<String> = (self.regions.iter().take(3))
            .map(|r| match &r.name {
                Some(name) if name != &r.key => format!("{} ({name})", r.key),
                _ => r.key.clone(),
            })
            .collect();
        some.join(", ")
    }

    /// The address as this country writes it: its lines in its order (without the country,
    /// which the reader names in their own language), then any field its format has no place
    /// for, then the phone and the email. Nothing the address holds is left out.
    pub fn lines(&self, address: &Address) -> Vec<String> {
        let street: Vec<String> = [Some(address.street_line()), address.apartment.clone(), address.line2.clone()]
            .into_iter()
            .flatten()
            .collect();
        let value = |letter: char| -> Option<String> {
            match letter {
                'N' => Some(address.name.clone()),
                'A' => street.first().cloned(),
                'S' => address.region.clone().or_else(|| address.region_code.clone()),
                _ => fields_of(letter).first().and_then(|name| address.get(name)).map(str::to_owned),
            }
        };
        let mut lines = Vec::new();
        for line in &self.lines {
            let mut out = String::new();
            let (mut prefix, mut separator) = (String::new(), None::<String>);
            let mut seen_field = false;
            for part in line {
                match part {
                    Part::Literal(text) if !seen_field => prefix.push_str(text),
                    Part::Literal(text) => {
                        if !out.is_empty() && separator.is_none() {
                            separator = Some(text.clone());
                        }
                    }
                    Part::Field(letter) => {
                        seen_field = true;
                        match value(*letter) {
                            Some(v) if out.is_empty() => {
                                out.push_str(&prefix);
                                out.push_str(&v);
                            }
                            Some(v) => {
                                out.push_str(separator.as_deref().unwrap_or(" "));
                                out.push_str(&v);
                                separator = None;
                            }
                            None => {
                                if out.is_empty() {
                                    prefix.clear();
                                }
                            }
                        }
                    }
                }
            }
            let out = out.trim().to_owned();
            if !out.is_empty() {
                lines.push(out);
            }
            if line.contains(&Part::Field('A')) {
                lines.extend(street.iter().skip(1).cloned());
            }
        }
        // What the format has no place for still shows, each on a line of its own.
        let placed: Vec<&str> = self.letters().flat_map(fields_of).copied().collect();
        for field in &ADDRESS_FIELDS {
            let Some(text) = address.get(field.name) else { continue };
            let restated = match field.name {
                // Restated only when each of its words is a word of the full name ("Ann" is not
                // in "Joanna Smith"): a name that leaves is always shown.
                "givenName" | "familyName" => {
                    text.split_whitespace().all(|word| address.name.split_whitespace().any(|w| w == word))
                }
                "regionCode" => address.region.is_some() || placed.contains(&"region"),
                "houseNumber" | "apartment" | "line2" => placed.contains(&"line1"),
                "country" | "phone" | "email" | "name" => true,
                name => placed.contains(&name),
            };
            if !restated {
                lines.push(text.to_owned());
            }
        }
        lines.extend([address.phone.clone(), address.email.clone()].into_iter().flatten());
        lines
    }
}

/// The address in the country's lines, or in the order of [`ADDRESS_FIELDS`] for a country
/// without data; the country itself left out.
pub fn lines(address: &Address) -> Vec<String> {
    match country(&address.country) {
        Some(country) => country.lines(address),
        None => super::lines_of(|name| if name == "country" { None } else { address.get(name) }),
    }
}

/// The form for `code`'s addresses, when there is data for it.
pub fn form(code: &str) -> Option<AddressForm> {
    country(code).map(Country::form)
}

/// Checks an address against its country's rules and puts it in their form: the country is
/// one with address data; the fields it requires are there; the postal code matches its
/// pattern (upper-cased where the country writes it so) and, where the region's codes begin
/// alike, the region; a region is one of the country's, kept as its envelope writes it, with
/// its ISO 3166-2 code; the phone is a number of the country (or an international one), kept in
/// E.164; the email looks like one. Errors say what is wrong in words.
pub fn check(mut address: Address) -> Result<Address, AddressError> {
    let rule = |text: String| Err(AddressError::Rule(text));
    let Some(country) = country(&address.country) else {
        return rule(format!(
            "`country` \"{}\" is not a country there is address data for: use its ISO 3166-1 alpha-2 code, such as \"DE\"",
            address.country
        ));
    };
    let place = country.name();
    if country.upper.contains('Z') {
        address.postal_code = address.postal_code.map(|code| code.to_uppercase());
    }
    let mut resolved = None;
    if !country.regions.is_empty() {
        let by_code = match &address.region_code {
            Some(code) => match country.region(code) {
                Some((region, _)) => Some(region),
                None => {
                    return rule(format!(
                        "`regionCode` \"{code}\" is not a {} of {place}",
                        country.label("region").to_lowercase()
                    ));
                }
            },
            None => None,
        };
        let by_text = match &address.region {
            Some(text) => match country.region(text) {
                Some(found) => Some(found),
                None => {
                    return rule(format!(
                        "`region` \"{text}\" is not a {} of {place} (for example {})",
                        country.label("region").to_lowercase(),
                        country.region_examples()
                    ));
                }
            },
            None => None,
        };
        if let (Some(a), Some((b, _))) = (by_code, &by_text)
            && !std::ptr::eq(a, *b)
        {
            return rule(format!("`region` and `regionCode` name different regions of {place}"));
        }
        let region = by_text.as_ref().map(|(r, _)| *r).or(by_code);
        address.region = by_text.map(|(_, kept)| kept).or_else(|| by_code.map(|r| r.key.clone()));
        address.region_code = region.and_then(|r| r.iso.as_ref()).map(|iso| format!("{}-{iso}", country.code));
        resolved = region;
    }
    for field in ["organization", "dependentLocality", "city", "region", "postalCode"] {
        if country.requires(field) && address.get(field).is_none() {
            return rule(format!("{} (`{field}`) is required in an address in {place}", article(country.label(field))));
        }
    }
    let whole = country.postal_code.as_deref().and_then(|pattern| anchored(pattern, true));
    if let (Some(code), Some(pattern)) = (&address.postal_code, &whole) {
        if !pattern.is_match(code) {
            let example =
                country.postal_code_example.as_deref().map(|e| format!(" (for example {e})")).unwrap_or_default();
            return rule(format!(
                "`postalCode` \"{code}\" is not a {} of {place}{example}",
                country.label("postalCode")
            ));
        }
        let prefix = resolved.and_then(|r| r.postal_prefix.as_deref().and_then(|p| anchored(p, false)).map(|p| (r, p)));
        if let Some((region, prefix)) = prefix
            && !prefix.is_match(code)
        {
            let name = region.name.as_deref().unwrap_or(&region.key);
            return rule(format!("`postalCode` \"{code}\" is not a {} of {name}", country.label("postalCode")));
        }
    }
    if let Some(phone) = &address.phone {
        address.phone = Some(e164(phone, &country.code).ok_or_else(|| {
            AddressError::Rule(format!(
                "`phone` \"{phone}\" is not a phone number of {place}: write it as it is dialled there, or in \
                 international form (+ and the country code)"
            ))
        })?);
    }
    if let Some(email) = &address.email {
        let parts = email.split_once('@');
        let fine = parts.is_some_and(|(user, domain)| {
            !user.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        }) && !email.chars().any(char::is_whitespace)
            && email.matches('@').count() == 1;
        if !fine {
            return rule(format!("`email` \"{email}\" is not an email address"));
        }
    }
    Ok(address)
}

/// `a ZIP code`, `an Eircode`.
fn article(label: &str) -> String {
    let vowel = label.chars().next().is_some_and(|c| "AEIOU".contains(c));
    format!("{} {label}", if vowel { "An" } else { "A" })
}

/// The other ways forms write `address`'s region and phone ([`Spellings`]): from the country's
/// regions in the address data and from libphonenumber's metadata.
pub fn spellings(address: &Address) -> Spellings {
    let saved = [address.region.as_deref(), address.region_code.as_deref()];
    let country = country(&address.country);
    let found = country.and_then(|c| saved.into_iter().flatten().find_map(|text| c.region(text)).map(|(r, _)| (c, r)));
    let mut forms: Vec<String> = saved.into_iter().flatten().map(str::to_owned).collect();
    if let Some((country, found)) = found {
        forms.push(found.key.clone());
        forms.extend(found.name.iter().chain(&found.latin_name).cloned());
        forms.extend(found.iso.iter().flat_map(|iso| [iso.clone(), format!("{}-{iso}", country.code)]));
    }
    // A country whose data lists no regions: an ISO 3166-2 code saved is also its part after
    // the country (`DE-BY`, `BY`).
    let prefix = format!("{}-", address.country);
    let bare: Vec<String> = forms.iter().filter_map(|r| r.strip_prefix(&prefix)).map(str::to_owned).collect();
    forms.extend(bare);
    let mut region: Vec<String> = Vec::new();
    for text in forms {
        if !region.contains(&text) {
            region.push(text);
        }
    }
    let region_id = address.country.parse::<phonenumber::country::Id>().ok();
    let number = address.phone.as_deref().and_then(|phone| phonenumber::parse(region_id, phone).ok());
    let formatted = |mode| number.as_ref().map(|n| n.format().mode(mode).to_string());
    let plan = phonenumber::metadata::DATABASE.by_id(address.country.as_str());
    Spellings {
        region,
        phone_national: formatted(phonenumber::Mode::National),
        phone_international: formatted(phonenumber::Mode::International),
        calling_code: plan.map(|plan| plan.country_code().to_string()),
    }
}

/// A phone number in E.164, read as `country` dials it (or in international form).
fn e164(text: &str, country: &str) -> Option<String> {
    let region = country.parse::<phonenumber::country::Id>().ok();
    let number = phonenumber::parse(region, text).ok()?;
    phonenumber::is_valid(&number).then(|| number.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn address(value: Value) -> Address {
        serde_json::from_value(value).unwrap()
    }

    fn refused(value: Value) -> String {
        check(address(value)).unwrap_err().to_string()
    }

    #[test]
    fn the_data_parses_and_every_pattern_compiles() {
        let entries: BTreeMap<String, Entry> = serde_json::from_str(DATA).unwrap();
        assert!(entries.len() > 240, "{}", entries.len());
        assert!(entries.contains_key("ZZ"));
        for (code, entry) in &entries {
            if let Some(zip) = &entry.zip {
                assert!(Regex::new(zip).is_ok(), "{code}'s postal code pattern");
            }
            if let Some(zips) = &entry.sub_zips {
                for zip in zips.split('~').filter(|z| !z.is_empty()) {
                    assert!(Regex::new(zip).is_ok(), "{code}'s region pattern {zip}");
                }
            }
        }
        assert_eq!(country_codes().count(), entries.len() - 1);
        for code in country_codes() {
            let country = country(code).unwrap();
            assert!(!country.lines.is_empty(), "{code}");
            let example = country.postal_code_example.as_deref();
            let pattern = country.postal_code.as_deref().and_then(|p| anchored(p, true));
            assert_eq!(pattern.is_some(), country.postal_code.is_some(), "{code}'s pattern compiles");
            if let (Some(example), Some(pattern)) = (example, &pattern) {
                assert!(pattern.is_match(example), "{code}'s own example {example} fits its pattern");
            }
        }
    }

    #[test]
    fn united_states() {
        let ok =
            check(address(json!({"name": "Ada Lovelace", "line1": "1600 Amphitheatre Pkwy", "city": "Mountain View",
            "region": "california", "postalCode": "94043", "country": "US", "phone": "(650) 253-0000"})))
            .unwrap();
        assert_eq!((ok.region.as_deref(), ok.region_code.as_deref()), (Some("CA"), Some("US-CA")));
        assert_eq!(ok.phone.as_deref(), Some("+16502530000"));
        assert_eq!(lines(&ok), ["Ada Lovelace", "1600 Amphitheatre Pkwy", "Mountain View, CA 94043", "+16502530000"]);
        let by_code =
            check(address(json!({"name": "A", "line1": "1 Main St", "city": "Austin", "regionCode": "us-tx",
            "postalCode": "73301-0001", "country": "US"})))
            .unwrap();
        assert_eq!(by_code.region.as_deref(), Some("TX"));
        let base = json!({"name": "A", "line1": "1 Main St", "city": "Austin", "region": "TX", "postalCode": "73301", "country": "US"});
        let with = |patch: Value| {
            let mut v = base.clone();
            for (k, x) in patch.as_object().unwrap() {
                v[k] = x.clone();
            }
            v
        };
        assert!(
            refused(with(json!({"postalCode": "7330"})))
                .contains("is not a ZIP code of United States (for example 95014)")
        );
        assert!(refused(with(json!({"postalCode": "94043"}))).contains("is not a ZIP code of Texas"));
        assert!(
            refused(with(json!({"region": "Texxas"})))
                .contains("is not a state of United States (for example AL (Alabama)")
        );
        assert!(refused(with(json!({"region": null}))).contains("A State (`region`) is required"));
        assert!(refused(with(json!({"city": null}))).contains("A City (`city`) is required"));
        assert!(refused(with(json!({"regionCode": "US-CA"}))).contains("different regions"));
        assert!(refused(with(json!({"phone": "12"}))).contains("is not a phone number of United States"));
        assert!(refused(with(json!({"email": "ada at example"}))).contains("not an email address"));
        let form = form("US").unwrap();
        let names: Vec<_> = form.fields.iter().map(|f| (f.name.as_str(), f.label.as_str(), f.required)).collect();
        assert_eq!(
            &names[..4],
            [
                ("name", "Full name", true),
                ("givenName", "Given name", false),
                ("familyName", "Family name", false),
                ("organization", "Organization", false)
            ]
        );
        assert!(names.contains(&("postalCode", "ZIP code", true)) && names.contains(&("region", "State", true)));
        assert!(!names.iter().any(|(n, ..)| *n == "dependentLocality"), "the US has no dependent localities");
        assert!(
            form.regions.iter().any(|r| r.key == "CA" && r.name == "California" && r.code.as_deref() == Some("US-CA"))
        );
        assert!(form.countries.len() > 240 && form.postal_code_example.as_deref() == Some("95014"));
    }

    #[test]
    fn united_kingdom() {
        let ok = check(address(json!({"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London",
            "postalCode": "sw1y 4jh", "country": "GB", "phone": "020 7946 0000"})))
        .unwrap();
        assert_eq!(ok.postal_code.as_deref(), Some("SW1Y 4JH"), "upper-cased as the country writes it");
        assert_eq!(ok.phone.as_deref(), Some("+442079460000"));
        assert_eq!(lines(&ok), ["Ada Lovelace", "12 St James's Square", "London", "SW1Y 4JH", "+442079460000"]);
        assert!(
            refused(
                json!({"name": "A", "line1": "1 High St", "city": "London", "postalCode": "12345", "country": "GB"})
            )
            .contains("is not a Postal code of United Kingdom")
        );
        assert_eq!(form("GB").unwrap().fields.iter().find(|f| f.name == "city").unwrap().label, "Post town");
        // A region in a country without a list of them is kept as written.
        let county =
            check(address(json!({"name": "A", "line1": "1 High St", "city": "Oxford", "region": "Oxfordshire",
            "postalCode": "OX1 1AA", "country": "GB"})))
            .unwrap();
        assert_eq!((county.region.as_deref(), county.region_code.as_deref()), (Some("Oxfordshire"), None));
        assert!(lines(&county).contains(&"Oxfordshire".to_owned()), "a field the format has no place for still shows");
    }

    #[test]
    fn germany_with_a_house_number_apart() {
        let ok = check(address(json!({"name": "Erika Mustermann", "givenName": "Erika", "familyName": "Mustermann",
            "line1": "Heidestraße", "houseNumber": "17", "apartment": "3. OG", "city": "Köln", "postalCode": "51147",
            "country": "DE"})))
        .unwrap();
        assert_eq!(lines(&ok), ["Erika Mustermann", "Heidestraße 17", "3. OG", "51147 Köln"]);
        assert!(
            refused(json!({"name": "A", "line1": "Heidestraße 17", "city": "Köln", "country": "DE"}))
                .contains("A Postal code (`postalCode`) is required in an address in Germany")
        );
        assert!(
            refused(
                json!({"name": "A", "line1": "Heidestraße 17", "city": "Köln", "postalCode": "5114", "country": "DE"})
            )
            .contains("for example 26133")
        );
    }

    #[test]
    fn spellings_name_the_region_every_way_and_the_phone_as_dialled() {
        let ohio = check(address(json!({"name": "Ada King", "line1": "1 Main St", "city": "Columbus", "region": "oh",
            "postalCode": "43004", "country": "US", "phone": "(614) 555-0100"})))
        .unwrap();
        let spelled = spellings(&ohio);
        assert_eq!(spelled.region, ["OH", "US-OH", "Ohio"]);
        assert_eq!(spelled.phone_national.as_deref(), Some("(614) 555-0100"));
        assert_eq!(spelled.phone_international.as_deref(), Some("+1 614-555-0100"));
        assert_eq!(spelled.calling_code.as_deref(), Some("1"));
        let bavaria = check(address(json!({"name": "A", "line1": "Marienplatz 1", "city": "München",
            "postalCode": "80331", "region": "DE-BY", "country": "DE", "phone": "+49 89 1234567"})))
        .unwrap();
        let spelled = spellings(&bavaria);
        assert_eq!(spelled.region, ["DE-BY", "BY"], "Germany's data lists no regions: the code is kept both ways");

        assert_eq!(spelled.phone_national.as_deref(), Some("089 1234567"));
        let tokyo = check(address(json!({"name": "山田太郎", "line1": "千代田区千代田1-1", "region": "東京都",
            "postalCode": "100-0005", "country": "JP"})))
        .unwrap();
        let spelled = spellings(&tokyo);
        assert!(
            ["東京都", "Tokyo", "13", "JP-13"].iter().all(|r| spelled.region.iter().any(|s| s == r)),
            "{:?}",
            spelled.region
        );
        assert_eq!((spelled.phone_national, spelled.calling_code.as_deref()), (None, Some("81")));
        assert_eq!(format!("{:?}", spellings(&ohio)), "Spellings { .. }");
    }

    #[test]
    fn france_puts_the_organization_first() {
        let ok = check(address(json!({"name": "Ada King", "organization": "Société X", "line1": "1 Rue de Rivoli",
            "city": "Paris", "postalCode": "75001", "country": "FR", "phone": "+33 1 42 60 00 00"})))
        .unwrap();
        assert_eq!(lines(&ok)[..4], ["Société X", "Ada King", "1 Rue de Rivoli", "75001 Paris"]);
        assert_eq!(ok.phone.as_deref(), Some("+33142600000"));
    }

    #[test]
    fn japan_in_its_own_order_and_script() {
        // Japan writes the city within the street address: its format has no city of its own.
        let ok = check(address(json!({"name": "山田太郎", "line1": "千代田区千代田1-1", "region": "東京都",
            "postalCode": "100-0005", "country": "JP"})))
        .unwrap();
        assert_eq!(ok.region_code.as_deref(), Some("JP-13"));
        assert_eq!(lines(&ok), ["〒100-0005", "東京都", "千代田区千代田1-1", "山田太郎"]);
        let mut with_city = ok.clone();
        with_city.city = Some("千代田区".into());
        assert_eq!(lines(&with_city).last().map(String::as_str), Some("千代田区"), "a city given anyway still shows");
        // Latin letters are kept in Latin letters.
        let latin =
            check(address(json!({"name": "Taro Yamada", "line1": "1-1 Chiyoda, Chiyoda-ku", "region": "tokyo",
            "postalCode": "1000005", "country": "JP"})))
            .unwrap();
        assert_eq!((latin.region.as_deref(), latin.region_code.as_deref()), (Some("Tokyo"), Some("JP-13")));
        assert!(
            refused(json!({"name": "A", "line1": "1-1 Chiyoda", "postalCode": "100-0005", "country": "JP"}))
                .contains("A Prefecture (`region`) is required")
        );
        let labels: Vec<_> = form("JP").unwrap().fields.into_iter().map(|f| f.name).collect();
        assert_eq!(labels[..2], ["postalCode", "region"], "the form follows the country's order");
    }

    #[test]
    fn brazil_with_a_dependent_locality() {
        let ok = check(address(
            json!({"name": "João Silva", "line1": "Rua Augusta, 100", "dependentLocality": "Consolação",
            "city": "São Paulo", "region": "SP", "postalCode": "01305-000", "country": "BR", "phone": "11 3333-4444"}),
        ))
        .unwrap();
        assert_eq!(ok.region_code.as_deref(), Some("BR-SP"));
        assert_eq!(ok.phone.as_deref(), Some("+551133334444"));
        assert_eq!(lines(&ok)[..5], ["João Silva", "Rua Augusta, 100", "Consolação", "São Paulo-SP", "01305-000"]);
        assert!(
            refused(json!({"name": "A", "line1": "Rua 1", "city": "Rio", "region": "RJ", "postalCode": "01305-000",
            "country": "BR"}))
            .contains("is not a Postal code of Rio de Janeiro")
        );
        assert_eq!(
            form("BR").unwrap().fields.iter().find(|f| f.name == "dependentLocality").unwrap().label,
            "Neighborhood"
        );
    }

    #[test]
    fn countries_without_data_or_postal_codes() {
        assert!(
            refused(json!({"name": "A", "line1": "1", "city": "X", "country": "QQ"})).contains("no address data")
                || refused(json!({"name": "A", "line1": "1", "city": "X", "country": "QQ"})).contains("not a country")
        );
        assert!(
            check(address(json!({"name": "Chan", "line1": "1 Queen's Road", "region": "Hong Kong Island",
            "country": "HK"})))
            .is_ok()
        );
        assert!(form("QQ").is_none());
    }

    proptest::proptest! {
        /// Anything typed as a phone number or an address is an answer or an error in words,
        /// never a panic (the host checks what the options page and the CLI send).
        #[test]
        fn nothing_typed_makes_the_check_panic(
            phone in "[+0-9 ()\\-x.#*a-z\\u{660}-\\u{669}\\u{ff10}-\\u{ff19}]{0,40}",
            postal in "[0-9A-Za-z \\-]{0,12}",
            region in "[A-Za-z \\-]{0,16}",
            country in proptest::sample::select(vec!["US", "GB", "DE", "FR", "JP", "BR", "HK", "IN", "ZZ"]),
        ) {
            let _ = e164(&phone, country);
            let fields = [("name", "A"), ("line1", "1 Main St"), ("city", "Town"), ("country", country)];
            let mut value = serde_json::Map::new();
            for (key, text) in fields.into_iter().chain([("phone", phone.as_str()), ("postalCode", postal.as_str()), ("region", region.as_str())]) {
                value.insert(key.into(), Value::String(text.into()));
            }
            if let Ok(address) = Address::try_from(value) {
                let _ = check(address);
            }
        }
    }
}
