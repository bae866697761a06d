//! The categories of a profile, each defined once: its fields with their types and bounds, how
//! the consent window and the options page name it, and how sensitive it is.
//!
//! A category's items are JSON objects checked against its definition ([`CategoryDef::check`]):
//! the host checks every item before it joins the profile (from the options page, the command
//! line, a file, a page or an app), the options page draws its forms from the definitions the
//! host sends, and claims and grants name categories and fields by these names. Adding a
//! category is one entry in [`DEFINITIONS`] and a variant of [`Category`] (CONTRIBUTING.md).

mod checks;
pub mod item;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub(crate) use checks::clip;
pub use checks::{age, date, today};
pub use item::{Item, ItemError, ItemId, ItemInput, MAX_ITEM_BYTES};

/// A category of the profile. Its name is the same in claims, grants, the command line and
/// the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Category {
    /// Name, email, phone, date of birth, language: one record.
    Identity,
    /// The saved addresses and homes (the address book).
    Addresses,
    Receipts,
    Medical,
    /// Home-automation devices and their settings.
    Devices,
    Bookmarks,
    Contacts,
    Vehicles,
}

impl Category {
    pub const ALL: [Self; 8] = [
        Self::Identity,
        Self::Addresses,
        Self::Receipts,
        Self::Medical,
        Self::Devices,
        Self::Bookmarks,
        Self::Contacts,
        Self::Vehicles,
    ];

    pub fn as_str(self) -> &'static str {
        self.def().name
    }

    pub fn def(self) -> &'static CategoryDef {
        // DEFINITIONS is in the order of ALL (a unit test holds it there).
        &DEFINITIONS[self as usize]
    }

    /// The categories whose items are records of their own (every one but the address book,
    /// which keeps its own model, [`crate::AddressBook`]).
    pub fn holds_items(self) -> bool {
        self != Self::Addresses
    }
}

impl FromStr for Category {
    type Err = ItemError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|c| c.as_str() == name).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|c| c.as_str()).collect();
            ItemError::Category(format!("`{}` is not a category ({})", clip(name), names.join(", ")))
        })
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How carefully a category is handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Sensitivity {
    /// A site may be remembered for it.
    Ordinary,
    /// Asked for every time: a site is never remembered for it.
    AskEveryTime,
}

/// One category: what the options page, the consent window and every check read.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryDef {
    pub category: Category,
    /// Its name on the wire and the command line (`receipts`).
    pub name: &'static str,
    /// As a heading (`Receipts`).
    pub title: &'static str,
    /// One of its items, in a sentence (`receipt`).
    pub noun: &'static str,
    /// What it is for, in a line.
    pub about: &'static str,
    pub fields: &'static [FieldDef],
    pub sensitivity: Sensitivity,
    /// Holds one record (identity) rather than a list.
    pub single: bool,
    /// Most items a profile keeps of it.
    pub max_items: usize,
    /// The date field lists sort by, most recent first; else the time each item was saved.
    pub newest_by: Option<&'static str>,
    /// The fields that name an item in a list, in order (`merchant`, `date`, `total`).
    pub summary: &'static [&'static str],
}

/// One field of a category's items.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDef {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// The person may publish it in the public part of their profile.
    pub publishable: bool,
}

/// A field's type, with its bounds.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Kind {
    /// A line of text of at most `max` characters.
    Line {
        max: usize,
    },
    /// Text with line breaks, at most `max` characters.
    Text {
        max: usize,
    },
    /// `YYYY-MM-DD`.
    Date,
    /// An amount of money as a decimal string.
    Amount,
    /// ISO 4217.
    Currency,
    /// BCP 47.
    Language,
    /// A GTIN, UPC or EAN, check digit verified.
    Gtin,
    /// A VIN, check digit verified.
    Vin,
    /// An `https:` address.
    Url,
    Email,
    /// A whole number from `min` to `max`.
    Number {
        min: i64,
        max: i64,
    },
    /// One of these words.
    Choice {
        options: &'static [&'static str],
    },
    /// Any JSON of at most `max` bytes (a receipt as the store sent it, a device's settings).
    Json {
        max: usize,
    },
    /// Up to 20 short words.
    Tags,
    /// A P-256 public key as a JWK.
    PublicKey,
    /// A list of at most `max` records of `fields`.
    List {
        fields: &'static [FieldDef],
        max: usize,
    },
}

const fn field(name: &'static str, label: &'static str, kind: Kind) -> FieldDef {
    FieldDef { name, label, kind, required: false, publishable: false }
}

const fn required(name: &'static str, label: &'static str, kind: Kind) -> FieldDef {
    FieldDef { name, label, kind, required: true, publishable: false }
}

const fn public(name: &'static str, label: &'static str, kind: Kind) -> FieldDef {
    FieldDef { name, label, kind, required: false, publishable: true }
}

const LINE: Kind = Kind::Line { max: 200 };

/// Every category, in the order of [`Category::ALL`].
pub static DEFINITIONS: [CategoryDef; 8] = [
    CategoryDef {
        category: Category::Identity,
        name: "identity",
        title: "You",
        noun: "identity",
        about: "Your name, how to reach you, your date of birth and your language.",
        fields: &[
            field("name", "Full name", LINE),
            field("givenName", "Given name", LINE),
            field("familyName", "Family name", LINE),
            public("displayName", "Display name", Kind::Line { max: 100 }),
            field("email", "Email", Kind::Email),
            field("phone", "Phone", Kind::Line { max: 40 }),
            field("birthDate", "Date of birth", Kind::Date),
            public("language", "Language", Kind::Language),
        ],
        sensitivity: Sensitivity::Ordinary,
        single: true,
        max_items: 1,
        newest_by: None,
        summary: &["name", "email"],
    },
    CategoryDef {
        category: Category::Addresses,
        name: "addresses",
        title: "Addresses and homes",
        noun: "address",
        about: "Where you live, work and ship to; what forms are filled with.",
        fields: &[],
        sensitivity: Sensitivity::Ordinary,
        single: false,
        max_items: crate::address::MAX_ADDRESSES,
        newest_by: None,
        summary: &[],
    },
    CategoryDef {
        category: Category::Receipts,
        name: "receipts",
        title: "Receipts",
        noun: "receipt",
        about: "What you bought, where and when, with each item's barcode.",
        fields: &[
            required("merchant", "Merchant", LINE),
            required("date", "Date", Kind::Date),
            required("currency", "Currency", Kind::Currency),
            required("total", "Total", Kind::Amount),
            field("tax", "Tax", Kind::Amount),
            field("order", "Order number", Kind::Line { max: 100 }),
            field(
                "items",
                "Items",
                Kind::List {
                    fields: &[
                        required("name", "Item", LINE),
                        field("gtin", "Barcode (GTIN/UPC/EAN)", Kind::Gtin),
                        field("quantity", "Quantity", Kind::Number { min: 0, max: 1_000_000 }),
                        field("unitPrice", "Unit price", Kind::Amount),
                        field("total", "Total", Kind::Amount),
                    ],
                    max: 200,
                },
            ),
            field("receipt", "The receipt as the store sent it", Kind::Json { max: 16 * 1024 }),
        ],
        sensitivity: Sensitivity::Ordinary,
        single: false,
        max_items: 100_000,
        newest_by: Some("date"),
        summary: &["merchant", "date", "total", "currency"],
    },
    CategoryDef {
        category: Category::Medical,
        name: "medical",
        title: "Medical events",
        noun: "medical event",
        about: "Visits, vaccinations, results. Asked for every time: no site is ever remembered for them.",
        fields: &[
            required("date", "Date", Kind::Date),
            required("kind", "What", Kind::Line { max: 100 }),
            field("provider", "Provider", LINE),
            field("notes", "Notes", Kind::Text { max: 4000 }),
        ],
        sensitivity: Sensitivity::AskEveryTime,
        single: false,
        max_items: 20_000,
        newest_by: Some("date"),
        summary: &["kind", "date", "provider"],
    },
    CategoryDef {
        category: Category::Devices,
        name: "devices",
        title: "Home devices",
        noun: "device",
        about: "Your home-automation devices, the hub each is on, and their settings.",
        fields: &[
            required("hub", "Hub", Kind::Line { max: 100 }),
            required("device", "Device", Kind::Line { max: 100 }),
            field("kind", "Kind", Kind::Line { max: 60 }),
            field("settings", "Settings", Kind::Json { max: 8 * 1024 }),
        ],
        sensitivity: Sensitivity::Ordinary,
        single: false,
        max_items: 5_000,
        newest_by: None,
        summary: &["device", "hub", "kind"],
    },
    CategoryDef {
        category: Category::Bookmarks,
        name: "bookmarks",
        title: "Bookmarks",
        noun: "bookmark",
        about: "Pages you keep, and things you wish for: the ring you want, at the store that has it.",
        fields: &[
            required("url", "Address", Kind::Url),
            required("title", "Title", Kind::Line { max: 300 }),
            field("note", "Note", Kind::Text { max: 2000 }),
            field("tags", "Tags", Kind::Tags),
        ],
        sensitivity: Sensitivity::Ordinary,
        single: false,
        max_items: 50_000,
        newest_by: None,
        summary: &["title", "url"],
    },
    CategoryDef {
        category: Category::Contacts,
        name: "contacts",
        title: "Contacts",
        noun: "contact",
        about: "People you know: a card you type, or a link to their own profile that follows it.",
        fields: &[
            required("name", "Name", LINE),
            field("organization", "Organization", LINE),
            field("profileUrl", "Their profile URL", Kind::Url),
            field(
                "lines",
                "Ways to reach them",
                Kind::List {
                    fields: &[
                        required("kind", "Kind", Kind::Choice { options: &["phone", "sip", "email", "messaging"] }),
                        required("value", "Number, address or handle", Kind::Line { max: 300 }),
                        field("label", "Label", Kind::Line { max: 60 }),
                    ],
                    max: 20,
                },
            ),
            field("note", "Note", Kind::Text { max: 2000 }),
        ],
        sensitivity: Sensitivity::Ordinary,
        single: false,
        max_items: 20_000,
        newest_by: None,
        summary: &["name", "organization"],
    },
    CategoryDef {
        category: Category::Vehicles,
        name: "vehicles",
        title: "Vehicles",
        noun: "vehicle",
        about: "Your vehicles and their digital keys.",
        fields: &[
            required("vin", "VIN", Kind::Vin),
            public("make", "Make", Kind::Line { max: 60 }),
            public("model", "Model", Kind::Line { max: 60 }),
            public("year", "Year", Kind::Number { min: 1886, max: 2200 }),
            field("plate", "Plate", Kind::Line { max: 20 }),
            public("keyId", "Key ID", Kind::Line { max: 100 }),
            public("publicKey", "Key's public half", Kind::PublicKey),
        ],
        sensitivity: Sensitivity::Ordinary,
        single: false,
        max_items: 100,
        newest_by: None,
        summary: &["make", "model", "year"],
    },
];

impl CategoryDef {
    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks an item's fields against the definition and answers them as they are kept:
    /// every field known, every required one present, each value of its kind and within its
    /// bounds (trimmed, in its canonical form), empty ones dropped. Nothing given panics it.
    pub fn check(&self, fields: &Map<String, Value>) -> Result<Map<String, Value>, ItemError> {
        if !self.category.holds_items() {
            return Err(ItemError::Category("addresses are saved through the address book".into()));
        }
        check_record(self.fields, fields, "", check_value)
    }

    /// [`check`](Self::check) for what a page offers (a bookmark): only fields of the plain
    /// kinds (lines, text, web addresses, emails, choices, numbers) are taken, with the same
    /// rules. It leaves out the tables and parsers of the other kinds (currencies, language
    /// tags, dates, keys), which the extension's module must not carry.
    pub fn check_offer(&self, fields: &Map<String, Value>) -> Result<Map<String, Value>, ItemError> {
        check_record(self.fields, fields, "", check_plain)
    }
}

/// How one field's value is checked: as kept, `None` when empty.
type ValueCheck = fn(&FieldDef, &Value, &str) -> Result<Option<Value>, ItemError>;

fn check_record(
    defs: &[FieldDef],
    given: &Map<String, Value>,
    path: &str,
    check: ValueCheck,
) -> Result<Map<String, Value>, ItemError> {
    let mut kept = Map::new();
    for (name, value) in given {
        let def = defs.iter().find(|f| f.name == name).ok_or_else(|| {
            let names: Vec<&str> = defs.iter().map(|f| f.name).collect();
            ItemError::Field(format!("`{path}{}` is not a field here ({})", clip(name), names.join(", ")))
        })?;
        let at = format!("{path}{}", def.name);
        if let Some(value) = check(def, value, &at)? {
            kept.insert(def.name.to_owned(), value);
        }
    }
    if let Some(missing) = defs.iter().find(|f| f.required && !kept.contains_key(f.name)) {
        return Err(ItemError::Field(format!("`{path}{}` ({}) is required", missing.name, missing.label)));
    }
    Ok(kept)
}

/// A value of a plain kind (a line, text, a web address, an email, a number, a choice) as kept,
/// `None` when empty; a field of another kind is refused (`check_value` takes those first).
fn check_plain(def: &FieldDef, value: &Value, at: &str) -> Result<Option<Value>, ItemError> {
    let fail = |why: String| ItemError::Field(format!("`{at}` ({}) {why}", def.label));
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(text) if text.trim().is_empty() => return Ok(None),
        Value::String(text) => Ok(text.as_str()),
        _ => Err(fail("must be text".into())),
    };
    let kept = match &def.kind {
        Kind::Line { max } => text.and_then(|t| checks::text(t, *max, false).map_err(fail)),
        Kind::Text { max } => text.and_then(|t| checks::text(t, *max, true).map_err(fail)),
        Kind::Url => text.and_then(|t| checks::web_url(t, 2048).map_err(fail)),
        Kind::Email => text.and_then(|t| checks::email(t).map_err(fail)),
        Kind::Number { min, max } => {
            let number = match (value, text) {
                (Value::Number(n), _) => n.as_i64(),
                (_, Ok(text)) => text.trim().parse().ok(),
                _ => None,
            };
            return match number {
                Some(n) if (*min..=*max).contains(&n) => Ok(Some(Value::from(n))),
                _ => Err(fail(format!("must be a whole number from {min} to {max}"))),
            };
        }
        Kind::Choice { options } => text.map(str::trim).and_then(|word| {
            if options.contains(&word) {
                Ok(word.to_owned())
            } else {
                Err(fail(format!("must be one of {}", options.join(", "))))
            }
        }),
        _ => Err(fail("is not taken from a page".into())),
    };
    kept.map(|text| Some(Value::String(text)))
}

/// One field's value as kept; `None` when empty (an empty string, list or null).
fn check_value(def: &FieldDef, value: &Value, at: &str) -> Result<Option<Value>, ItemError> {
    let fail = |why: String| ItemError::Field(format!("`{at}` ({}) {why}", def.label));
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(text) if text.trim().is_empty() => return Ok(None),
        Value::String(text) => Some(text.as_str()),
        _ => None,
    };
    let need_text = || text.ok_or_else(|| fail("must be text".into()));
    let kept = match &def.kind {
        Kind::Date => {
            let text = need_text()?.trim();
            checks::date(text).map_err(fail)?;
            Value::String(text.to_owned())
        }
        Kind::Amount => Value::String(checks::decimal(need_text()?.trim()).map_err(fail)?),
        Kind::Currency => Value::String(checks::currency(need_text()?).map_err(fail)?),
        Kind::Language => Value::String(checks::language(need_text()?.trim()).map_err(fail)?),
        Kind::Gtin => Value::String(checks::gtin(need_text()?.trim()).map_err(fail)?),
        Kind::Vin => Value::String(checks::vin(need_text()?).map_err(fail)?),
        Kind::Json { max } => {
            // From a form or the command line a JSON value comes as its text.
            let parsed;
            let value = match text {
                Some(text) => {
                    parsed = serde_json::from_str::<Value>(text).map_err(|e| fail(format!("is not JSON: {e}")))?;
                    &parsed
                }
                None => value,
            };
            checks::json(value, *max).map_err(fail)?
        }
        Kind::Tags => {
            let words: Vec<String> = match (value, text) {
                (_, Some(text)) => text.split(',').map(str::to_owned).collect(),
                (Value::Array(items), _) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| fail("must be a list of words".into())))
                    .collect::<Result<_, _>>()?,
                _ => return Err(fail("must be a list of words".into())),
            };
            let mut kept: Vec<Value> = Vec::new();
            for word in words {
                let word = checks::text(&word, 40, false).map_err(|why| fail(format!("has a tag that {why}")))?;
                if !word.is_empty() && !kept.iter().any(|k| k == word.as_str()) {
                    kept.push(Value::String(word));
                }
            }
            if kept.len() > 20 {
                return Err(fail("has more than 20 tags".into()));
            }
            if kept.is_empty() {
                return Ok(None);
            }
            Value::Array(kept)
        }
        Kind::PublicKey => {
            let parsed;
            let value = match text {
                Some(text) => {
                    parsed = serde_json::from_str::<Value>(text).map_err(|e| fail(format!("is not a JWK: {e}")))?;
                    &parsed
                }
                None => value,
            };
            let jwk: crate::PublicJwk =
                serde_json::from_value(value.clone()).map_err(|e| fail(format!("is not a JWK: {e}")))?;
            jwk.to_key().map_err(|_| fail("is not a P-256 public key".into()))?;
            serde_json::to_value(jwk).map_err(|e| fail(e.to_string()))?
        }
        Kind::List { fields, max } => {
            let Value::Array(records) = value else { return Err(fail("must be a list".into())) };
            if records.len() > *max {
                return Err(fail(format!("has more than {max} entries")));
            }
            let mut kept = Vec::with_capacity(records.len());
            for (i, record) in records.iter().enumerate() {
                let Value::Object(record) = record else { return Err(fail("must be a list of records".into())) };
                kept.push(Value::Object(check_record(fields, record, &format!("{at}[{i}]."), check_value).map_err(
                    |e| match e {
                        ItemError::Field(why) => ItemError::Field(why),
                        other => other,
                    },
                )?));
            }
            if kept.is_empty() {
                return Ok(None);
            }
            Value::Array(kept)
        }
        Kind::Line { .. } | Kind::Text { .. } | Kind::Url | Kind::Email | Kind::Number { .. } | Kind::Choice { .. } => {
            return check_plain(def, value, at);
        }
    };
    Ok(Some(kept))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn definitions_are_in_the_order_of_all_and_named_once() {
        for (i, category) in Category::ALL.into_iter().enumerate() {
            assert_eq!(DEFINITIONS[i].category, category);
            assert_eq!(category.as_str().parse::<Category>().unwrap(), category);
            assert_eq!(serde_json::to_value(category).unwrap(), category.as_str());
        }
        assert!("recipes".parse::<Category>().unwrap_err().to_string().contains("receipts"));
    }

    #[test]
    fn a_receipt_is_checked_down_to_its_items_barcodes() {
        let def = Category::Receipts.def();
        let kept = def
            .check(&fields(json!({"merchant": " Corner Shop ", "date": "2026-11-02", "currency": "eur",
                "total": "12.50", "items": [{"name": "Milk", "gtin": "4006381333931", "quantity": "2"}],
                "receipt": "{\"till\": 4}"})))
            .unwrap();
        assert_eq!(kept["merchant"], "Corner Shop");
        assert_eq!(kept["currency"], "EUR");
        assert_eq!(kept["items"][0]["quantity"], 2);
        assert_eq!(kept["receipt"]["till"], 4);
        let wrong = def.check(&fields(json!({"merchant": "Shop", "date": "2026-11-02", "currency": "EUR",
            "total": "1", "items": [{"name": "Milk", "gtin": "4006381333932"}]})));
        assert!(wrong.unwrap_err().to_string().contains("items[0].gtin"));
        let missing = def.check(&fields(json!({"merchant": "Shop"})));
        assert!(missing.unwrap_err().to_string().contains("`date`"));
        let unknown = def.check(&fields(json!({"merchant": "Shop", "colour": "red"})));
        assert!(unknown.unwrap_err().to_string().contains("colour"));
    }

    #[test]
    fn each_category_takes_its_own_kinds_of_values() {
        let vehicle = Category::Vehicles.def().check(&fields(json!({"vin": "1M8GDM9AXKP042788", "year": 2019})));
        assert_eq!(vehicle.unwrap()["year"], 2019);
        assert!(Category::Vehicles.def().check(&fields(json!({"vin": "1M8GDM9A1KP042788"}))).is_err());
        let contact = Category::Contacts.def().check(&fields(json!({"name": "Grace",
            "lines": [{"kind": "sip", "value": "sip:grace@example.org"}]})));
        assert!(contact.is_ok());
        let contact = Category::Contacts.def().check(&fields(json!({"name": "Grace",
            "lines": [{"kind": "pager", "value": "1"}]})));
        assert!(contact.unwrap_err().to_string().contains("lines[0].kind"));
        let bookmark = Category::Bookmarks.def().check(&fields(json!({"url": "https://shop.example/ring",
            "title": "The ring", "tags": "wish, gold ,wish"})));
        assert_eq!(bookmark.unwrap()["tags"], json!(["wish", "gold"]));
        assert!(Category::Identity.def().check(&fields(json!({"language": "klingon language"}))).is_err());
        assert_eq!(Category::Identity.def().check(&fields(json!({"language": "de-de"}))).unwrap()["language"], "de-DE");
        assert!(Category::Addresses.def().check(&Map::new()).is_err());
        // What a page offers is checked by the same rules, and only fields of the plain kinds.
        let offer = fields(json!({"url": " https://shop.example/ring ", "title": "The ring"}));
        assert_eq!(Category::Bookmarks.def().check_offer(&offer), Category::Bookmarks.def().check(&offer));
        assert!(Category::Bookmarks.def().check_offer(&fields(json!({"title": "No address"}))).is_err());
        let tagged = Category::Bookmarks
            .def()
            .check_offer(&fields(json!({"url": "https://a.example", "title": "A", "tags": "x"})));
        assert!(tagged.unwrap_err().to_string().contains("not taken from a page"));
        assert_eq!(Category::Medical.def().sensitivity, Sensitivity::AskEveryTime);
    }

    proptest::proptest! {
        #[test]
        fn nothing_given_makes_a_check_panic(
            name in "[a-zA-Z]{1,12}", text in "\\PC{0,60}", number in proptest::num::i64::ANY,
        ) {
            for category in Category::ALL {
                let def = category.def();
                for f in def.fields {
                    for value in [json!(text), json!(number), json!([text]), json!({name.clone(): text}), json!([{"name": text}])] {
                        let _ = def.check(&fields(json!({f.name: value})));
                    }
                }
                let _ = def.check(&fields(json!({name.clone(): text})));
            }
        }
    }
}
