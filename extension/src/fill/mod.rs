//! Filling forms on any site: the content script describes each frame's form controls
//! ([`page`]), Rust decides what each takes ([`classify`]) and what goes into it ([`value`],
//! the one place that reads an address for filling), and the popup shows it and fills on the
//! person's click ([`plan`]). JavaScript only describes the page and sets the values it is given.

mod alpha3;
pub mod classify;
pub mod page;
pub mod plan;
pub mod value;

use profile_core::{Address, AddressKind, Spellings, WireError};
use serde_json::Value;

use classify::Purpose;
use page::Frame;
use plan::{Addresses, Saved, Tab};

fn kind(value: Option<&Value>) -> Option<AddressKind> {
    match value?.as_str()? {
        "shipping" => Some(AddressKind::Shipping),
        "billing" => Some(AddressKind::Billing),
        _ => None,
    }
}

/// An address as the host answered it, checked as profile-core checks every address.
fn address(value: Option<&Value>) -> Option<Address> {
    let value = value?;
    Address::from_fields(|name| value.get(name).and_then(Value::as_str).map(str::to_owned)).ok()
}

/// One address of `listAddresses`'s answer (`{id, address, default: [kind], spellings}`).
fn saved(value: &Value) -> Option<Saved> {
    let list = |name: &str| value.get(name).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    let spelled = value.get("spellings");
    let spelled = |name: &str| text(spelled.and_then(|s| s.get(name)));
    Some(Saved {
        id: text(value.get("id"))?,
        address: address(value.get("address"))?,
        defaults: list("default").iter().filter_map(|k| kind(Some(k))).collect(),
        spellings: Spellings {
            region: (value.get("spellings").and_then(|s| s.get("region")).and_then(Value::as_array))
                .map(|l| l.iter().filter_map(|v| text(Some(v))).collect())
                .unwrap_or_default(),
            phone_national: spelled("phoneNational"),
            phone_international: spelled("phoneInternational"),
            calling_code: spelled("callingCode"),
        },
    })
}

/// `previewed: [{frameId, origin, shipping, billing}]`: the frames the popup's preview showed,
/// with how many fields each button would fill in each.
fn previewed(input: &Value) -> Option<Vec<(i64, String, [usize; 2])>> {
    let list = input.get("previewed")?.as_array()?;
    let count = |f: &Value, key: &str| f.get(key).and_then(Value::as_u64).unwrap_or(0) as usize;
    Some(
        list.iter()
            .filter_map(|f| {
                let id = f.get("frameId")?.as_i64()?;
                let origin = f.get("origin")?.as_str()?.to_owned();
                Some((id, origin, [count(f, "shipping"), count(f, "billing")]))
            })
            .collect(),
    )
}

/// What every fill call carries: `{origin, frames: [frame description], addresses:
/// listAddresses's answer, names: {CC: [name…]}, choice?: address id}`; a fill the person did
/// not click for also `{auto: "fillShipping" | "fillBilling", grants}`.
#[derive(Debug)]
pub struct Request {
    pub tab: Tab,
    pub addresses: Addresses,
    pub choice: Option<String>,
    input: Value,
}

impl Request {
    pub fn read(json: &str) -> Result<Self, WireError> {
        let input: Value =
            serde_json::from_str(json).map_err(|e| WireError::invalid(format!("bad fill request: {e}")))?;
        let frames = input.get("frames").and_then(Value::as_array).map(|l| l.iter().map(Frame::read).collect());
        let origin = input.get("origin").and_then(Value::as_str).unwrap_or_default().to_owned();
        let book = input.get("addresses").and_then(|a| a.get("addresses")).and_then(Value::as_array);

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
        // A click fills only frames the preview showed fields of, for that button: a frame the
        // page added (or navigated elsewhere) since is never filled unnamed.
        if let Some(shown) = previewed(&input) {
            frames.retain(|f| shown.iter().any(|(id, origin, _)| *id == f.frame_id && *origin == f.origin));
        }
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
                book: book.map(|l| l.iter().filter_map(saved).collect()).unwrap_or_default(),
                names,
            },
            choice: input.get("choice").and_then(Value::as_str).filter(|c| !c.is_empty()).map(str::to_owned),
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
        let (saved_kind, saved) = self.addresses.for_button(self.button(), self.choice.as_deref())?;
        let kind = kind(self.input.get("kind")).unwrap_or(saved_kind);
        let answered = address(self.input.get("address"));
        let address = answered.as_ref().unwrap_or(&saved.address);
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
        let mut plan =
            self.tab.plan(self.button(), (kind, saved, address), &self.addresses, again, recorded.as_deref());
        // More fields than the preview showed in a frame: the page changed under the person's
        // eyes, and nothing is filled until they have seen the new preview.
        if let (Some(shown), false) = (previewed(&self.input), again) {
            let button = self.button() as usize;
            plan.changed = plan.frames.iter().any(|planned| {
                let count = shown.iter().find(|(id, ..)| *id == planned.frame_id).map_or(0, |(.., n)| n[button]);
                planned.steps.len() > count
            });
            if plan.changed {
                plan.frames.clear();
                plan.ledger.clear();
            }
        }
        Some(plan)
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(extra: Value) -> Request {
        let control = |name: &str| json!({"tag": "input", "type": "text", "name": name, "rect": [0, 0, 100, 20]});
        let frame = |id: i64, origin: &str| {
            json!({"frameId": id, "origin": origin, "controls": [control("name"), control("city")],
                   "document": [800, 600], "viewport": [800, 600]})
        };
        let (mut top, mut pay) = (frame(0, "https://shop.example"), frame(3, "https://pay.example"));
        pay["url"] = json!("https://pay.example/card");
        top["frames"] = json!([{"src": "https://pay.example/card", "rect": [0, 100, 400, 300]}]);
        let mut input = json!({
            "origin": "https://shop.example",
            "frames": [top, pay],
                        "addresses": {"addresses": [{"id": "home", "default": ["shipping"], "address": {"name": "Ada Lovelace",
                "line1": "1 Loop", "city": "London", "postalCode": "N1", "country": "GB"}}]},
            "button": "shipping",
        });
        for (key, value) in extra.as_object().unwrap() {
            input[key] = value.clone();
        }
        Request::read(&input.to_string()).unwrap()
    }

    #[test]
    fn a_listed_address_is_read_as_the_host_writes_it() {
        // The host writes `listAddresses` with profile-core's types; this module reads it by
        // hand (one reader keeps the module small): a renamed member would read as empty.
        let listed = profile_core::wire::ListedAddress {
            id: "home".to_owned().try_into().unwrap(),
            label: "Home".to_owned().try_into().unwrap(),
            address: address(Some(&json!({"name": "Ada", "line1": "1 Main St", "country": "US"}))).unwrap(),
            default_for: vec![AddressKind::Billing],
            lines: vec![],
            saved_at: 1,
            spellings: Spellings {
                region: vec!["OH".into(), "Ohio".into()],
                phone_national: Some("(614) 555-0100".into()),
                phone_international: Some("+1 614-555-0100".into()),
                calling_code: Some("1".into()),
            },
        };
        let read = saved(&serde_json::to_value(&listed).unwrap()).unwrap();
        assert_eq!((read.id.as_str(), read.defaults.as_slice()), ("home", &[AddressKind::Billing][..]));
        assert_eq!((read.address, read.spellings), (listed.address, listed.spellings));
    }

    #[test]
    fn a_click_fills_only_what_the_preview_showed() {
        // The preview showed the page's two fields and no frame from pay.example: the frame the
        // page added since is not filled.
        let shown = json!([{"frameId": 0, "origin": "https://shop.example", "shipping": 2, "billing": 0}]);
        let plan = request(json!({"previewed": shown})).plan().unwrap();
        assert!(!plan.changed);
        assert_eq!(plan.frames.iter().map(|f| f.frame_id).collect::<Vec<_>>(), [0]);
        assert!(plan.ledger.iter().all(|entry| entry.origin == "https://shop.example"));
        // A field more than the preview showed: nothing is filled, nothing recorded.
        let fewer = json!([{"frameId": 0, "origin": "https://shop.example", "shipping": 1, "billing": 0}]);
        let plan = request(json!({"previewed": fewer})).plan().unwrap();
        assert!(plan.changed && plan.frames.is_empty() && plan.ledger.is_empty());
        // A frame that changed origin since is another frame.
        let moved = json!([{"frameId": 3, "origin": "https://evil.example", "shipping": 2, "billing": 0},
            {"frameId": 0, "origin": "https://shop.example", "shipping": 2, "billing": 0}]);
        let plan = request(json!({"previewed": moved})).plan().unwrap();
        assert_eq!(plan.frames.iter().map(|f| f.frame_id).collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn a_frame_whose_element_cannot_be_found_is_not_filled() {
        let mut moved = request(json!({}));
        // The frame navigated away from its element's `src` (or the frame around it said nothing).
        let frames: Vec<Value> = moved.input["frames"].as_array().unwrap().clone();
        let mut pay = frames[1].clone();
        pay["url"] = json!("https://pay.example/elsewhere");
        moved = Request::read(
            &json!({"origin": "https://shop.example", "frames": [frames[0].clone(), pay],
            "addresses": moved.input["addresses"].clone(), "button": "shipping"})
            .to_string(),
        )
        .unwrap();
        let filled: Vec<i64> = moved.plan().unwrap().frames.iter().map(|f| f.frame_id).collect();
        assert_eq!(filled, [0]);
    }

    #[test]
    fn a_remembered_site_is_filled_only_in_the_frames_its_grants_name() {
        let clicked = request(json!({}));
        let frames = |plan: plan::Plan| plan.frames.iter().map(|f| f.frame_id).collect::<Vec<_>>();
        assert_eq!(frames(clicked.plan().unwrap()), [0, 3], "a click fills every frame the popup named");
        let page_only = request(json!({"auto": "fillShipping",
            "grants": [{"origin": "https://shop.example", "kind": "fillShipping"}]}));
        assert_eq!(frames(page_only.plan().unwrap()), [0]);
        let both = request(json!({"auto": "fillShipping", "grants": [
            {"origin": "https://shop.example", "kind": "fillShipping"},
            {"origin": "https://pay.example", "topOrigin": "https://shop.example", "kind": "fillShipping"}]}));
        assert_eq!(frames(both.plan().unwrap()), [0, 3]);
        let other_kind = request(json!({"auto": "fillShipping",
            "grants": [{"origin": "https://shop.example", "kind": "fillBilling"}]}));
        assert!(other_kind.plan().unwrap().frames.is_empty());
        // What the host recorded is all that is filled, per origin.
        let recorded = request(json!({"ledger": [{"origin": "https://shop.example", "fields": ["city"]}]}));
        let plan = recorded.plan().unwrap();
        assert_eq!(frames(plan.clone()), [0]);
        assert_eq!(plan.frames[0].steps.len(), 1);
    }
}
