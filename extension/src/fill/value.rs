//! What each fill target gets from an address, formatted for its control: the one place that
//! reads `profile_core::Address` for filling, so a richer address model changes this file and
//! nothing around it. Given and family names are the saved ones, else derived from the full name
//! (last word the family name, the rest given; the other way round where the country writes the
//! family name first); the street and house number likewise. The region's other names and the
//! phone's national and international forms come from the host ([`Spellings`]: the address data
//! and libphonenumber stay there), and a select's option is chosen by code or by name as its
//! options say.

use profile_core::{Address, Spellings};

use super::alpha3::ALPHA3;
use super::classify::{Target, normalize};
use super::page::Tag;

/// What a control expects, beyond which part of the address it takes.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    pub tag: Tag,
    pub options: &'a [(String, String)],
    pub max_length: Option<usize>,
    pub placeholder: &'a str,
    /// The section also asks for a middle name apart.
    pub with_middle_name: bool,
}

/// What goes into a control: text, or the index of a select's option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fill {
    Text(String),
    Choose(usize),
}

/// An address and what the browser says of its country: the names a select may use for it, in
/// the page's language and in English (`Intl.DisplayNames`, in the extension's JavaScript).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub address: &'a Address,
    pub spellings: &'a Spellings,
    pub country_names: &'a [String],
}

/// Countries that write the family name first (CLDR's surname-first order).
const FAMILY_FIRST: &[&str] = &["CN", "HK", "HU", "JP", "KH", "KR", "MO", "TW", "VN"];

/// The alpha-3 code of an alpha-2 one.
pub fn alpha3(alpha2: &str) -> Option<&'static str> {
    (0..ALPHA3.len() / 5).map(|i| &ALPHA3[i * 5..i * 5 + 5]).find(|entry| &entry[..2] == alpha2).map(|e| &e[2..])
}

/// Given and family name from the full one: the family name is the last word (the first where
/// the country writes it first), the given name the rest.
pub fn split_name(name: &str, country: &str) -> (String, String) {
    let words: Vec<&str> = name.split_whitespace().collect();
    match words.as_slice() {
        [] => (String::new(), String::new()),
        [one] if FAMILY_FIRST.contains(&country) => (String::new(), (*one).to_owned()),
        [one] => ((*one).to_owned(), String::new()),
        [first, rest @ ..] if FAMILY_FIRST.contains(&country) => (rest.join(" "), (*first).to_owned()),
        [rest @ .., last] => (rest.join(" "), (*last).to_owned()),
    }
}

/// The street and the house number of a first address line: the number leads (`12 St James's
/// Square`, `10 rue de Rivoli`) or ends it (`Hauptstraße 5`, `Via Roma 10b`); without one, the
/// whole line is the street.
pub fn split_street(line: &str) -> (String, String) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let numbered = |word: &str| word.starts_with(|c: char| c.is_ascii_digit());
    match words.as_slice() {
        [first, rest @ ..] if !rest.is_empty() && numbered(first) => {
            (rest.join(" "), first.trim_end_matches(',').into())
        }
        [rest @ .., last] if !rest.is_empty() && numbered(last) => {
            (rest.join(" ").trim_end_matches(',').into(), (*last).into())
        }
        _ => (line.to_owned(), String::new()),
    }
}

fn digits(text: &str) -> String {
    let plus = if text.starts_with('+') { "+" } else { "" };
    format!("{plus}{}", text.chars().filter(char::is_ascii_digit).collect::<String>())
}

/// Shortens a value that does not fit the control's `maxlength` by dropping what is not a digit
/// (phone numbers); anything else that does not fit is not filled.
fn fitting(value: String, shape: &Shape<'_>) -> Option<String> {
    match shape.max_length {
        Some(max) if value.chars().count() > max => None,
        _ => Some(value),
    }
}

/// The option a select should take: the first whose value or text is one of `candidates`
/// (case, accents and punctuation aside), else the one option whose
/// text holds a candidate as whole words ("United States" in "United States of America").
/// Options with an empty value ("Select a state") are never chosen.
pub fn choose(options: &[(String, String)], candidates: &[String]) -> Option<usize> {
    let candidates: Vec<String> = candidates.iter().map(|c| normalize(c)).filter(|c| c.trim() != "").collect();
    let options: Vec<(String, String)> = options.iter().map(|(v, t)| (normalize(v), normalize(t))).collect();
    let usable = |(value, _): &(String, String)| !value.trim().is_empty();
    for candidate in &candidates {
        let found = options
            .iter()
            .position(|option @ (value, text)| usable(option) && (value == candidate || text == candidate));
        if found.is_some() {
            return found;
        }
    }
    for candidate in candidates.iter().filter(|c| c.len() >= 6) {
        let mut found =
            options.iter().enumerate().filter(|(_, option)| usable(option) && option.1.contains(candidate.as_str()));
        if let (Some((i, _)), None) = (found.next(), found.next()) {
            return Some(i);
        }
    }
    None
}

impl Source<'_> {
    fn country(&self) -> &str {
        &self.address.country
    }

    /// What goes into a control that takes `target`; `None` when the address has nothing for it
    /// or nothing that fits.
    pub fn fill(&self, target: Target, shape: &Shape<'_>) -> Option<Fill> {
        let a = self.address;
        if shape.tag == Tag::Select {
            let candidates = self.candidates(target)?;
            return choose(shape.options, &candidates).map(Fill::Choose);
        }
        let (given, family) = self.names();
        let (street, number) = match &a.house_number {
            Some(number) => (a.line1.clone(), number.clone()),
            None => split_street(&a.line1),
        };
        // Whole street lines, as pages receive them (the house number and apartment in them).
        let written = a.for_pages();
        let (line1, line2) = (written.line1, written.line2.unwrap_or_default());
        let saved_phone = a.phone.clone();
        let international = self.spellings.phone_international.clone().or_else(|| saved_phone.clone());
        let national = self.spellings.phone_national.clone().or_else(|| saved_phone.clone());
        let text = match target {
            Target::FullName => a.name.clone(),
            Target::GivenName if shape.with_middle_name => given.split_whitespace().next()?.to_owned(),
            Target::GivenName => given,
            Target::AdditionalName => given.split_whitespace().skip(1).collect::<Vec<_>>().join(" "),
            Target::FamilyName => family,
            Target::Organization => a.organization.clone()?,
            Target::StreetAddress => match (line2.is_empty(), shape.tag) {
                (false, Tag::Textarea) => format!("{line1}\n{line2}"),
                (false, _) => format!("{line1}, {line2}"),
                (true, _) => line1,
            },
            Target::Line1 => line1,
            Target::Line2 => line2,
            Target::Line3 => return None,
            Target::Street => street,
            Target::HouseNumber => number,
            Target::DependentLocality => a.dependent_locality.clone()?,
            Target::City => a.city.clone()?,
            Target::Region => {
                let region = a.region.clone().or_else(|| a.region_code.clone())?;
                let code = self.region_forms().into_iter().filter(|c| c.len() <= 3).min_by_key(String::len);
                match (shape.max_length, code) {
                    (Some(max), Some(code)) if max <= 3 => code,
                    _ => region,
                }
            }
            Target::PostalCode => a.postal_code.clone()?,
            Target::Country => match shape.max_length {
                Some(2) => a.country.clone(),
                Some(3) => alpha3(&a.country)?.to_owned(),
                _ => self.country_names.first().cloned().unwrap_or_else(|| a.country.clone()),
            },
            Target::Phone => {
                let (international, national) = (international?, national?);
                let wanted = match shape.placeholder.trim_start().chars().next() {
                    Some('+') => international,
                    Some('0' | '(') => national.clone(),
                    // Spaced as the country spaces it, which every phone field takes.
                    _ => international,
                };
                return fitting(wanted.clone(), shape)
                    .or_else(|| fitting(digits(&wanted), shape))
                    .or_else(|| fitting(digits(&national), shape).map(|d| d.trim_start_matches('+').to_owned()))
                    .map(Fill::Text);
            }
            Target::PhoneNational => {
                let national = national?;
                return fitting(national.clone(), shape).or_else(|| fitting(digits(&national), shape)).map(Fill::Text);
            }
            Target::PhoneCountryCode => format!("+{}", self.spellings.calling_code.as_deref()?),
            Target::Email => a.email.clone()?,
        };
        if text.is_empty() {
            return None;
        }
        fitting(text, shape).map(Fill::Text)
    }

    /// The given and family names: as saved, else from the full name.
    fn names(&self) -> (String, String) {
        let a = self.address;
        let (given, family) = split_name(&a.name, self.country());
        (a.given_name.clone().unwrap_or(given), a.family_name.clone().unwrap_or(family))
    }

    /// The saved region and its other names and codes, as the host spelled them.
    fn region_forms(&self) -> Vec<String> {
        let saved = [self.address.region.clone(), self.address.region_code.clone()].into_iter().flatten();
        let mut forms: Vec<String> = saved.collect();
        forms.extend(self.spellings.region.iter().filter(|r| !forms.contains(r)).cloned().collect::<Vec<_>>());
        forms
    }

    /// The texts a select's option may carry for `target`.
    fn candidates(&self, target: Target) -> Option<Vec<String>> {
        let a = self.address;
        Some(match target {
            Target::Country => {
                let mut names = vec![a.country.clone()];
                names.extend(alpha3(&a.country).map(str::to_owned));
                names.extend(self.country_names.iter().cloned());
                names.extend(match a.country.as_str() {
                    "GB" => vec!["UK".to_owned(), "Great Britain".to_owned()],
                    "US" => vec!["USA".to_owned(), "United States of America".to_owned()],
                    _ => Vec::new(),
                });
                names
            }
            Target::Region => {
                let forms = self.region_forms();
                (!forms.is_empty()).then_some(forms)?
            }
            Target::PhoneCountryCode => {
                let code = self.spellings.calling_code.as_deref()?;
                let mut forms = vec![format!("+{code}"), code.to_owned(), a.country.clone()];
                forms.extend(self.country_names.iter().map(|name| format!("{name} +{code}")));
                forms.extend(self.country_names.iter().cloned());
                forms
            }
            other => match self.fill(
                other,
                &Shape { tag: Tag::Input, options: &[], max_length: None, placeholder: "", with_middle_name: false },
            )? {
                Fill::Text(text) => vec![text],
                Fill::Choose(_) => return None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(json: serde_json::Value) -> Address {
        serde_json::from_value(json).unwrap()
    }

    fn ada() -> Address {
        address(serde_json::json!({"name": "Ada Lovelace", "organization": "Analytical Engines",
            "line1": "12 St James's Square", "line2": "Flat 3", "city": "London", "postalCode": "SW1Y 4JH",
            "country": "GB", "phone": "+44 20 7946 0958", "email": "ada@example.org"}))
    }

    /// What the host spells for Ada's address (libphonenumber's national and international forms).
    fn ada_spelled() -> Spellings {
        Spellings {
            phone_national: Some("020 7946 0958".into()),
            phone_international: Some("+44 20 7946 0958".into()),
            calling_code: Some("44".into()),
            ..Spellings::default()
        }
    }

    fn input(max_length: Option<usize>, placeholder: &'static str) -> Shape<'static> {
        Shape { tag: Tag::Input, options: &[], max_length, placeholder, with_middle_name: false }
    }

    fn options(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(v, t)| ((*v).to_owned(), (*t).to_owned())).collect()
    }

    #[test]
    fn names_streets_and_phones_are_derived_for_the_field() {
        assert_eq!(split_name("Ada King Lovelace", "GB"), ("Ada King".into(), "Lovelace".into()));
        assert_eq!(split_name("Yamada Taro", "JP"), ("Taro".into(), "Yamada".into()));
        assert_eq!(split_name("Madonna", "US"), ("Madonna".into(), String::new()));
        assert_eq!(split_street("12 St James's Square"), ("St James's Square".into(), "12".into()));
        assert_eq!(split_street("Hauptstraße 5a"), ("Hauptstraße".into(), "5a".into()));
        assert_eq!(split_street("Rosebank"), ("Rosebank".into(), String::new()));
        let ada = ada();
        let spelled = ada_spelled();
        let source = Source { address: &ada, spellings: &spelled, country_names: &["United Kingdom".to_owned()] };
        let text = |target, shape: Shape<'_>| match source.fill(target, &shape) {
            Some(Fill::Text(text)) => text,
            other => panic!("{other:?}"),
        };
        assert_eq!(text(Target::GivenName, input(None, "")), "Ada");
        assert_eq!(text(Target::Phone, input(None, "07123 456789")), "020 7946 0958");
        assert_eq!(text(Target::Phone, input(Some(11), "")), "02079460958");
        assert_eq!(text(Target::PhoneNational, input(None, "")), "020 7946 0958");
        assert_eq!(text(Target::Country, input(None, "")), "United Kingdom");
        assert_eq!(text(Target::Country, input(Some(3), "")), "GBR");
        let textarea = Shape { tag: Tag::Textarea, ..input(None, "") };
        assert_eq!(text(Target::StreetAddress, textarea), "12 St James's Square\nFlat 3");
        assert_eq!(source.fill(Target::Line3, &input(None, "")), None);
        assert_eq!(source.fill(Target::PostalCode, &input(Some(4), "")), None, "what does not fit is not filled");

        // Names, house number and apartment saved apart are used as saved.
        let erika = address(serde_json::json!({"name": "Erika Mustermann-Gabler", "givenName": "Erika",
            "familyName": "Mustermann-Gabler", "line1": "Heidestraße", "houseNumber": "17", "apartment": "3. OG",
            "city": "Köln", "postalCode": "51147", "country": "DE"}));
        let spelled = Spellings::default();
        let source = Source { address: &erika, spellings: &spelled, country_names: &[] };
        let text = |target| match source.fill(target, &input(None, "")) {
            Some(Fill::Text(text)) => text,
            other => panic!("{other:?}"),
        };
        assert_eq!(text(Target::FamilyName), "Mustermann-Gabler");
        assert_eq!((text(Target::Street), text(Target::HouseNumber)), ("Heidestraße".into(), "17".into()));
        assert_eq!((text(Target::Line1), text(Target::Line2)), ("Heidestraße 17".into(), "3. OG".into()));
        // A dependent locality (a bairro) fills the field that asks for it, and nothing where
        // the address has none.
        let bairro = Address { dependent_locality: Some("Copacabana".into()), ..erika.clone() };
        let source = Source { address: &bairro, spellings: &spelled, country_names: &[] };
        assert_eq!(source.fill(Target::DependentLocality, &input(None, "")), Some(Fill::Text("Copacabana".into())));
        let source = Source { address: &erika, spellings: &spelled, country_names: &[] };
        assert_eq!(source.fill(Target::DependentLocality, &input(None, "")), None);
        // Without a city or a phone, those fields get nothing.
        let no_city = Address { city: None, phone: None, ..erika.clone() };
        let source = Source { address: &no_city, spellings: &spelled, country_names: &[] };
        assert_eq!(
            (source.fill(Target::City, &input(None, "")), source.fill(Target::Phone, &input(None, ""))),
            (None, None)
        );
    }

    #[test]
    fn selects_take_the_option_by_code_or_by_name() {
        let countries =
            options(&[("", "Select a country"), ("DE", "Germany"), ("GB", "United Kingdom"), ("US", "United States")]);
        let ada = ada();
        let names = ["Vereinigtes Königreich".to_owned(), "United Kingdom".to_owned()];
        let spelled = ada_spelled();
        let source = Source { address: &ada, spellings: &spelled, country_names: &names };
        let select = |list: &[(String, String)], target| {
            source.fill(
                target,
                &Shape { tag: Tag::Select, options: list, max_length: None, placeholder: "", with_middle_name: false },
            )
        };
        assert_eq!(select(&countries, Target::Country), Some(Fill::Choose(2)));
        let by_name = options(&[("1", "Deutschland"), ("2", "Vereinigtes Königreich")]);
        assert_eq!(select(&by_name, Target::Country), Some(Fill::Choose(1)));
        let alpha3 = options(&[("DEU", "DEU"), ("GBR", "GBR")]);
        assert_eq!(select(&alpha3, Target::Country), Some(Fill::Choose(1)));
        let codes = options(&[("+49", "Germany (+49)"), ("+44", "United Kingdom (+44)")]);
        assert_eq!(select(&codes, Target::PhoneCountryCode), Some(Fill::Choose(1)));

        let ohio = address(serde_json::json!({"name": "Ada King", "line1": "1 Main St", "city": "Columbus",
            "region": "OH", "postalCode": "43004", "country": "US"}));
        let spelled = Spellings { region: vec!["OH".into(), "US-OH".into(), "Ohio".into()], ..Spellings::default() };
        let source = Source { address: &ohio, spellings: &spelled, country_names: &[] };
        let states = options(&[("", "State"), ("NY", "New York"), ("OH", "Ohio")]);
        let by_state_name = options(&[("", "—"), ("35", "New York"), ("36", "Ohio")]);
        let iso = options(&[("US-NY", "New York"), ("US-OH", "Ohio")]);
        for (list, want) in [(states, 2), (by_state_name, 2), (iso, 1)] {
            let shape =
                Shape { tag: Tag::Select, options: &list, max_length: None, placeholder: "", with_middle_name: false };
            assert_eq!(source.fill(Target::Region, &shape), Some(Fill::Choose(want)), "{list:?}");
        }
        let niger = options(&[("NE", "Niger"), ("NG", "Nigeria")]);
        assert_eq!(choose(&niger, &["Nigeria".to_owned()]), Some(1));
        assert_eq!(choose(&options(&[("x", "United States of America")]), &["United States".to_owned()]), Some(0));
        assert_eq!(choose(&options(&[("", "Select")]), &["Select".to_owned()]), None, "never the placeholder");
    }
}
