//! Filling forms on any site: the content script describes each frame's form controls
//! ([`page`]), Rust decides what each takes ([`classify`]) and what goes into it ([`value`],
//! the one place that reads an address for filling), and the popup shows it and fills on the
//! person's click ([`plan`]). JavaScript only describes the page and sets the values it is given.

mod alpha3;
pub mod classify;
pub mod page;
pub mod plan;
pub mod value;

use profile_core::{Address, AddressKind, WireError};
use serde_json::Value;

use classify::Purpose;
use page::Frame;
use plan::{Addresses, Tab};

fn kind(value: Option<&Value>) -> Option<AddressKind> {
    match value?.as_str()? {
        "shipping" => Some(AddressKind::Shipping),
        "billing" => Some(AddressKind::Billing),
        _ => None,
    }
}

fn address(value: Option<&Value>) -> Option<Address> {
    value.filter(|v| !v.is_null()).and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// What every fill call carries: `{origin, frames: [frame description], addresses: {shipping?,
/// billing?}, names: {CC: [name…]}, choice?: "shipping" | "billing"}`; a fill the person did not
/// click for also `{auto: "fillShipping" | "fillBilling", grants}`.
#[derive(Debug)]
pub struct Request {
    pub tab: Tab,
    pub addresses: Addresses,
    pub choice: Option<AddressKind>,
    input: Value,
}

impl Request {
    pub fn read(json: &str) -> Result<Self, WireError> {
        let input: Value =
            serde_json::from_str(json).map_err(|e| WireError::invalid(format!("bad fill request: {e}")))?;
        let frames = input.get("frames").and_then(Value::as_array).map(|l| l.iter().map(Frame::read).collect());
        let origin = input.get("origin").and_then(Value::as_str).unwrap_or_default().to_owned();
        let saved = input.get("addresses");
        let names = input
            .get("names")
            .and_then(Value::as_object)
            .map(|names| {
                names
                    .iter()
                    .map(|(code, list)| {
                        let list =
                            list.as_array().map(|l| l.iter().filter_map(Value::as_str).map(str::to_owned).collect());
                        (code.clone(), list.unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut frames: Vec<Frame> = frames.unwrap_or_default();
        // A fill the person did not click for (a site remembered for fills) reaches only the
        // page and the frames a remembered grant names.
        if let Some(auto) = input.get("auto").and_then(Value::as_str) {
            let grants = input.get("grants").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            let granted = |frame: &str, top: Option<&str>| {
                grants.iter().any(|g| {
                    g.get("kind").and_then(Value::as_str) == Some(auto)
                        && g.get("origin").and_then(Value::as_str) == Some(frame)
                        && g.get("topOrigin").and_then(Value::as_str) == top
                })
            };
            frames.retain(
                |f| {
                    if f.origin == origin { granted(&origin, None) } else { granted(&f.origin, Some(&origin)) }
                },
            );
        }
        Ok(Self {
            tab: Tab::new(origin, frames),
            addresses: Addresses {
                shipping: address(saved.and_then(|s| s.get("shipping"))),
                billing: address(saved.and_then(|s| s.get("billing"))),
                names,
            },
            choice: kind(input.get("choice")),
            input,
        })
    }

    /// The button a plan or report is for: `button: "shipping" | "billing"`.
    pub fn button(&self) -> Purpose {
        match self.input.get("button").and_then(Value::as_str) {
            Some("billing") => Purpose::Billing,
            _ => Purpose::Shipping,
        }
    }

    /// `{button, kind?, address?, ledger?, again?}`: what the button fills. `address` is the one
    /// the host answered `fill` with (else the saved one the preview showed); `ledger`, when
    /// given, is what the host recorded, and each origin gets only those fields.
    pub fn plan(&self) -> Option<plan::Plan> {
        let (saved_kind, saved) = self.addresses.for_button(self.button(), self.choice)?;
        let kind = kind(self.input.get("kind")).unwrap_or(saved_kind);
        let answered = address(self.input.get("address"));
        let address = answered.as_ref().unwrap_or(saved);
        let again = self.input.get("again").and_then(Value::as_bool).unwrap_or(false);
        let recorded: Option<Vec<plan::LedgerEntry>> = self.input.get("ledger").and_then(Value::as_array).map(|list| {
            list.iter()
                .map(|entry| plan::LedgerEntry {
                    origin: entry.get("origin").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    fields: profile_core::ADDRESS_FIELDS
                        .iter()
                        .map(|f| f.name)
                        .filter(|name| {
                            entry.get("fields").and_then(Value::as_array).is_some_and(|l| l.iter().any(|v| v == *name))
                        })
                        .collect(),
                })
                .collect()
        });
        Some(self.tab.plan(self.button(), (kind, address), &self.addresses, again, recorded.as_deref()))
    }

    /// `{kind, filled: [[frameId, count]]}`: how many fields and where, in a sentence.
    pub fn report(&self) -> (usize, String) {
        let filled: Vec<(i64, usize)> = (self.input.get("filled").and_then(Value::as_array))
            .map(|list| {
                list.iter().filter_map(|pair| Some((pair.get(0)?.as_i64()?, pair.get(1)?.as_u64()? as usize))).collect()
            })
            .unwrap_or_default();
        self.tab.report(kind(self.input.get("kind")).unwrap_or(AddressKind::Shipping), &filled)
    }
}
