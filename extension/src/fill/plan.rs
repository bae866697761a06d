//! A tab's forms as the popup shows them, and what a fill does: which controls of which frame
//! get which value. Only controls that can be seen, in frames that can be seen and that have a
//! web origin, that the person did not type into, and whose section the button is for are ever
//! filled.

use profile_core::{ADDRESS_FIELDS, Address, AddressKind, Origin, Spellings};
use serde::Serialize;

use super::classify::{self, Purpose, Target};
use super::page::{Frame, unseen};
use super::value::{Fill, Shape, Source};
use crate::policy::site_label;

/// One control that takes a part of an address.
#[derive(Debug, Clone)]
struct Spot {
    frame: usize,
    control: usize,
    target: Target,
    purpose: Option<Purpose>,
    /// Why it is left alone: the person typed there, it cannot be seen, it is disabled.
    left: Option<&'static str>,
    /// Its section, an index into `Tab::sections`.
    section: usize,
}

/// A part of a form: its frame, form, heading and `section-*` token.
#[derive(Debug, Clone, PartialEq)]
struct Section {
    key: (usize, usize, i64, String),
    purpose: Option<Purpose>,
    /// It asks for a middle name apart.
    middle_name: bool,
}

/// The tab: its frames, each described by its content script, and what each control takes.
#[derive(Debug, Clone)]
pub struct Tab {
    /// The top-level page's origin.
    pub origin: String,
    pub frames: Vec<Frame>,
    /// Why a frame is not filled at all (no web origin, its element hidden), by frame index.
    blocked: Vec<Option<&'static str>>,
    spots: Vec<Spot>,
    sections: Vec<Section>,
    /// Controls refused (search, login, payment, …) per frame.
    refused: Vec<usize>,
}

/// One address of the person's book, as the host listed it.
#[derive(Debug, Clone)]
pub struct Saved {
    pub id: String,
    pub address: Address,
    /// The kinds it is the default of.
    pub defaults: Vec<AddressKind>,
    pub spellings: Spellings,
}

/// The saved addresses and the names the browser gives their countries.
#[derive(Debug, Clone, Default)]
pub struct Addresses {
    pub book: Vec<Saved>,
    /// Country code → its names in the pages' languages and English.
    pub names: Vec<(String, Vec<String>)>,
}

impl Addresses {
    /// The address a button fills with, and the kind the fill is recorded as (the button's):
    /// the one the person chose (by id; `None` when it is no longer saved, never another in its
    /// place), else the default of the button's kind, else the other kind's default, else the
    /// first saved.
    pub fn for_button(&self, button: Purpose, choice: Option<&str>) -> Option<(AddressKind, &Saved)> {
        let own = match button {
            Purpose::Shipping => AddressKind::Shipping,
            Purpose::Billing => AddressKind::Billing,
        };
        let default_of = |kind| self.book.iter().find(|s| s.defaults.contains(&kind));
        if let Some(id) = choice {
            return self.book.iter().find(|s| s.id == id).map(|saved| (own, saved));
        }
        let other = if own == AddressKind::Shipping { AddressKind::Billing } else { AddressKind::Shipping };
        let saved = default_of(own).or_else(|| default_of(other)).or_else(|| self.book.first())?;
        Some((own, saved))
    }

    fn source<'a>(&'a self, address: &'a Address, spellings: &'a Spellings) -> Source<'a> {
        let names = self.names.iter().find(|(code, _)| *code == address.country).map(|(_, n)| n.as_slice());
        Source { address, spellings, country_names: names.unwrap_or_default() }
    }
}

/// What the popup shows: each frame's forms, field by field, with what each button would put
/// there.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub frames: Vec<FramePreview>,
    /// How many controls each button would fill.
    pub shipping: usize,
    pub billing: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FramePreview {
    pub frame_id: i64,
    pub origin: String,
    /// The site as the popup names it: host and port.
    pub site: String,
    /// The frame belongs to another site than the tab's page: the popup names it.
    pub other_site: bool,
    /// Why nothing in this frame is filled, when nothing is.
    pub blocked: Option<&'static str>,
    pub sections: Vec<SectionPreview>,
    /// Address fields that cannot be seen, and are never filled.
    pub hidden: usize,
    /// How many fields each button fills here.
    pub shipping: usize,
    pub billing: usize,
    /// Controls that are not for an address (search, login, payment, coupon, …).
    pub refused: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SectionPreview {
    /// Its heading or legend on the page, when it has one.
    pub title: String,
    pub purpose: Option<Purpose>,
    pub rows: Vec<Row>,
}

/// One field: its label on the page, and what each button would put there.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub label: String,
    /// The part of the address it takes ("Postal code").
    pub takes: &'static str,
    pub shipping: Option<String>,
    pub billing: Option<String>,
    /// Why it is left as it is (the person typed there).
    pub kept: Option<&'static str>,
    /// It holds a value the page put there, which the fill replaces.
    pub replaces: bool,
}

/// What one button does: per frame, the values to set, and per origin what the ledger records.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub frames: Vec<FramePlan>,
    /// What the host records before anything is filled: per origin, the address's fields.
    pub ledger: Vec<LedgerEntry>,
    pub kind: AddressKind,
    /// The saved address filled with, for the host's record.
    pub id: String,
    /// The page has more to fill than the preview showed: nothing is planned.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub changed: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FramePlan {
    pub frame_id: i64,
    pub steps: Vec<Step>,
    /// A country is set: the page may change the form (a region list that loads after the
    /// country), so the frame is described again once it settles and the rest filled then.
    pub settle: bool,
    /// Region selects with no option for the address yet: their options are awaited.
    #[serde(rename = "awaitOptions")]
    pub await_options: Vec<usize>,
}

/// One value: `text` into a control, or `option` (an index) of a select.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub i: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerEntry {
    pub origin: String,
    pub fields: Vec<&'static str>,
}

/// The address fields a target's value may be made of (`value::Source::fill`); the host records
/// those the address holds.
fn address_fields(target: Target) -> &'static [&'static str] {
    match target {
        Target::FullName => &["name"],
        Target::GivenName | Target::AdditionalName => &["name", "givenName"],
        Target::FamilyName => &["name", "familyName"],
        Target::Organization => &["organization"],
        Target::StreetAddress => &["line1", "houseNumber", "apartment", "line2"],
        Target::Line1 | Target::HouseNumber => &["line1", "houseNumber"],
        Target::Street => &["line1"],
        Target::Line2 => &["apartment", "line2"],
        Target::Line3 => &[],
        Target::DependentLocality => &["dependentLocality"],
        Target::City => &["city"],
        Target::Region => &["region", "regionCode"],
        Target::PostalCode => &["postalCode"],
        Target::Country => &["country"],
        Target::Phone | Target::PhoneCountryCode | Target::PhoneNational => &["phone"],
        Target::Email => &["email"],
    }
}

fn web_origin(text: &str) -> bool {
    Origin::parse(text).is_ok_and(|origin| origin.is_web())
}

impl Tab {
    /// Classifies every frame's controls and decides which frames and controls may be filled.
    pub fn new(origin: String, frames: Vec<Frame>) -> Self {
        // A frame is blocked when it has no web origin, when the browser gave it no viewport, or
        // when its element in the frame around it cannot be seen (or that frame is blocked).
        let mut blocked: Vec<Option<&'static str>> = frames
            .iter()
            .map(|f| {
                if !web_origin(&f.origin) {
                    Some("not a web page")
                } else if f.viewport.0 < 2.0 || f.viewport.1 < 2.0 {
                    Some("hidden")
                } else {
                    None
                }
            })
            .collect();
        // A frame's element is found in the frame around it by the frame's URL; where two
        // elements show one URL, one that cannot be seen blocks both. A frame whose element is
        // not found (it navigated away from its `src`, or the frame around it described nothing)
        // cannot be shown to be seen, and is not filled.
        let mut found = vec![false; frames.len()];
        for _ in 0..frames.len().min(16) {
            for (p, parent) in frames.iter().enumerate() {
                for (src, look) in &parent.children {
                    for (c, child) in frames.iter().enumerate() {
                        let named = c != p && child.frame_id != 0 && !child.url.is_empty() && child.url == *src;
                        if named && blocked[c].is_none() {
                            found[c] = true;
                            blocked[c] = blocked[p].or_else(|| unseen(look, parent.document));
                        }
                    }
                }
            }
        }
        for (c, child) in frames.iter().enumerate() {
            if child.frame_id != 0 && !found[c] && blocked[c].is_none() {
                blocked[c] = Some("hidden");
            }
        }
        let mut spots = Vec::new();
        let mut sections: Vec<Section> = Vec::new();
        let mut refused = vec![0; frames.len()];
        for (f, frame) in frames.iter().enumerate() {
            for (i, classified) in classify::frame(frame).into_iter().enumerate() {
                let Some(classified) = classified else { continue };
                let c = &frame.controls[i];
                match classified.target {
                    Ok(target) => {
                        let key = (f, c.form, c.group_key, classified.section);
                        let section = match sections.iter().rposition(|s| s.key == key) {
                            Some(i) => i,
                            None => {
                                sections.push(Section { key, purpose: None, middle_name: false });
                                sections.len() - 1
                            }
                        };
                        // A section's purpose is the first one its fields name.
                        let named = &mut sections[section];
                        named.purpose = named.purpose.or(classified.purpose);
                        named.middle_name |= target == Target::AdditionalName;
                        spots.push(Spot {
                            frame: f,
                            control: i,
                            target,
                            purpose: classified.purpose,
                            left: if c.typed && !c.empty {
                                Some("you typed here")
                            } else if c.disabled {
                                Some("disabled")
                            } else {
                                unseen(&c.look, frame.document)
                            },
                            section,
                        })
                    }
                    Err(_) => refused[f] += 1,
                }
            }
        }
        for spot in &mut spots {
            spot.purpose = spot.purpose.or(sections[spot.section].purpose);
        }
        Self { origin, frames, blocked, spots, sections, refused }
    }

    fn fillable(&self, spot: &Spot) -> bool {
        spot.left.is_none() && self.blocked[spot.frame].is_none()
    }

    fn shape(&self, spot: &Spot) -> Shape<'_> {
        let c = &self.frames[spot.frame].controls[spot.control];
        Shape {
            tag: c.tag,
            options: &c.options,
            max_length: c.max_length,
            placeholder: &c.placeholder,
            with_middle_name: self.sections[spot.section].middle_name,
        }
    }

    fn value(&self, spot: &Spot, source: &Source<'_>) -> Option<Fill> {
        source.fill(spot.target, &self.shape(spot))
    }

    /// What a control would show after `fill`: its text, or its option's text.
    fn shown(&self, spot: &Spot, fill: &Fill) -> String {
        match fill {
            Fill::Text(text) => text.replace('\n', ", "),
            Fill::Choose(i) => {
                let options = &self.frames[spot.frame].controls[spot.control].options;
                options
                    .get(*i)
                    .map(|(value, text)| if text.is_empty() { value } else { text })
                    .cloned()
                    .unwrap_or_default()
            }
        }
    }

    /// Whether `button` fills this spot's section: its own purpose, or none named.
    fn for_button(spot: &Spot, button: Purpose) -> bool {
        spot.purpose.is_none_or(|p| p == button)
    }

    /// The popup's preview, for the address each button would use.
    pub fn preview(&self, addresses: &Addresses, choice: Option<&str>) -> Preview {
        let sources = [Purpose::Shipping, Purpose::Billing].map(|button| {
            addresses.for_button(button, choice).map(|(_, s)| addresses.source(&s.address, &s.spellings))
        });
        let mut counts = [0, 0];
        let mut per_frame = vec![[0, 0]; self.frames.len()];
        let frames = self
            .frames
            .iter()
            .enumerate()
            .map(|(f, frame)| {
                let mut sections: Vec<(usize, SectionPreview)> = Vec::new();
                let mut hidden = 0;
                for spot in self.spots.iter().filter(|s| s.frame == f) {
                    let unseen = spot.left.is_some_and(|why| why != "you typed here" && why != "disabled");
                    if unseen || self.blocked[f].is_some_and(|why| why != "not a web page") {
                        hidden += 1;
                        continue;
                    }
                    let values = [Purpose::Shipping, Purpose::Billing].map(|button| {
                        let source = sources[button as usize].as_ref()?;
                        (Self::for_button(spot, button) && self.fillable(spot))
                            .then(|| self.value(spot, source))
                            .flatten()
                            .map(|fill| self.shown(spot, &fill))
                    });
                    if spot.left.is_none() && values.iter().all(Option::is_none) {
                        continue;
                    }
                    for (b, value) in values.iter().enumerate() {
                        counts[b] += usize::from(value.is_some());
                        per_frame[f][b] += usize::from(value.is_some());
                    }
                    let c = &frame.controls[spot.control];
                    let label = [&c.label, &c.aria_label, &c.placeholder, &c.near]
                        .into_iter()
                        .find(|t| !t.is_empty())
                        .map(|t| t.chars().take(40).collect::<String>())
                        .unwrap_or_else(|| spot.target.label().to_owned());
                    let [shipping, billing] = values;
                    let row = Row {
                        label,
                        takes: spot.target.label(),
                        shipping,
                        billing,
                        kept: spot.left,
                        replaces: c.prefilled,
                    };
                    match sections.iter_mut().find(|(key, _)| *key == spot.section) {
                        Some((_, section)) => section.rows.push(row),
                        None => sections.push((
                            spot.section,
                            SectionPreview { title: c.group.clone(), purpose: spot.purpose, rows: vec![row] },
                        )),
                    }
                }
                FramePreview {
                    frame_id: frame.frame_id,
                    origin: frame.origin.clone(),
                    site: site_label(&frame.origin).to_owned(),
                    other_site: frame.origin != self.origin,
                    blocked: self.blocked[f],
                    sections: sections.into_iter().map(|(_, s)| s).collect(),
                    hidden,
                    refused: self.refused[f],
                    shipping: per_frame[f][0],
                    billing: per_frame[f][1],
                }
            })
            .collect();
        Preview { frames, shipping: counts[0], billing: counts[1] }
    }

    /// What `button` fills, with `address` (of `kind`). With `again`, controls an earlier pass
    /// filled are left as they are (the second pass after a country changed the form).
    /// With `recorded`, each origin's frames get only the address fields the ledger recorded
    /// for it.
    pub fn plan(
        &self,
        button: Purpose,
        (kind, saved, address): (AddressKind, &Saved, &Address),
        addresses: &Addresses,
        again: bool,
        recorded: Option<&[LedgerEntry]>,
    ) -> Plan {
        let source = addresses.source(address, &saved.spellings);
        let mut frames: Vec<FramePlan> = Vec::new();
        let mut ledger: Vec<(String, Vec<&'static str>)> = Vec::new();
        for (f, frame) in self.frames.iter().enumerate() {
            let mut steps = Vec::new();
            let mut settle = false;
            let mut fields = Vec::new();
            let mut await_options = Vec::new();
            let only = recorded.map(|r| r.iter().find(|e| e.origin == frame.origin).map(|e| e.fields.as_slice()));
            let region_list = |spot: &Spot| {
                spot.target == Target::Region && frame.controls[spot.control].tag == super::page::Tag::Select
            };
            // A region list still disabled waits for a country: its options are awaited.
            for spot in self.spots.iter().filter(|s| s.frame == f && Self::for_button(s, button)) {
                if region_list(spot) && spot.left == Some("disabled") && self.blocked[f].is_none() {
                    await_options.push(spot.control);
                }
            }
            for spot in self.spots.iter().filter(|s| s.frame == f && Self::for_button(s, button) && self.fillable(s)) {
                if (again && frame.controls[spot.control].ours)
                    || only.is_some_and(|only| {
                        let recorded = only.unwrap_or_default();
                        !address_fields(spot.target).iter().any(|field| recorded.contains(field))
                    })
                {
                    continue;
                }
                let Some(fill) = self.value(spot, &source) else {
                    if region_list(spot) {
                        await_options.push(spot.control);
                    }
                    continue;
                };
                let step = match fill {
                    Fill::Text(text) => Step { i: spot.control, text: Some(text), option: None },
                    Fill::Choose(option) => Step { i: spot.control, text: None, option: Some(option) },
                };
                // The country first: the page may change the rest of the form when it changes.
                if spot.target == Target::Country {
                    settle = true;
                    steps.insert(0, step);
                } else {
                    steps.push(step);
                }
                for field in address_fields(spot.target) {
                    if !fields.contains(field) {
                        fields.push(field);
                    }
                }
            }
            if steps.is_empty() {
                continue;
            }
            if !settle {
                await_options.clear();
            }
            // A region list that fills once the country has loaded it is recorded with the rest.
            if !await_options.is_empty() {
                for field in address_fields(Target::Region) {
                    if !fields.contains(field) {
                        fields.push(field);
                    }
                }
            }
            frames.push(FramePlan { frame_id: frame.frame_id, steps, settle, await_options });
            match ledger.iter_mut().find(|(origin, _)| *origin == frame.origin) {
                Some((_, known)) => known.extend(fields.into_iter().filter(|f| !known.contains(f)).collect::<Vec<_>>()),
                None => ledger.push((frame.origin.clone(), fields)),
            }
        }
        let ledger = ledger
            .into_iter()
            .map(|(origin, fields)| LedgerEntry {
                origin,
                fields: ADDRESS_FIELDS.iter().map(|f| f.name).filter(|name| fields.contains(name)).collect(),
            })
            .collect();
        Plan { frames, ledger, kind, id: saved.id.clone(), changed: false }
    }

    /// The sentence the popup shows after a fill, from how many controls each frame filled:
    /// "Filled 9 fields on shop.example with your shipping address, and 3 in a frame from
    /// pay.example."
    pub fn report(&self, kind: AddressKind, filled: &[(i64, usize)]) -> (usize, String) {
        let total: usize = filled.iter().map(|(_, n)| n).sum();
        if total == 0 {
            return (0, "Nothing was filled: the page has no field left that your address fits.".to_owned());
        }
        let mut by_site: Vec<(String, bool, usize)> = Vec::new();
        for (frame_id, n) in filled.iter().filter(|(_, n)| *n > 0) {
            let Some(frame) = self.frames.iter().find(|f| f.frame_id == *frame_id) else { continue };
            let site = site_label(&frame.origin).to_owned();
            match by_site.iter_mut().find(|(s, _, _)| *s == site) {
                Some((_, _, count)) => *count += n,
                None => by_site.push((site, frame.origin != self.origin, *n)),
            }
        }
        let fields = |n: usize| if n == 1 { "1 field".to_owned() } else { format!("{n} fields") };
        let mut parts = by_site.iter().map(|(site, other, n)| {
            if *other { format!("{} in a frame from {site}", fields(*n)) } else { format!("{} on {site}", fields(*n)) }
        });
        let first = parts.next().unwrap_or_default();
        let rest: Vec<String> = parts.collect();
        let rest = if rest.is_empty() { String::new() } else { format!(", and {}", rest.join(", ")) };
        (total, format!("Filled {first} with your {} address{rest}.", kind.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn control(tag: &str, name: &str, label: &str) -> Value {
        let group = if name.starts_with("shipping") {
            1
        } else if name.starts_with("billing") {
            2
        } else {
            0
        };
        json!({"tag": tag, "type": if tag == "input" { "text" } else { "" }, "name": name, "label": label,
               "rect": [10, 10, 200, 30], "empty": true, "form": 0, "groupKey": group})
    }

    fn frame(frame_id: i64, origin: &str, controls: Vec<Value>) -> Frame {
        Frame::read(&json!({"frameId": frame_id, "origin": origin, "controls": controls, "forms": [{"context": ""}],
            "document": [1000, 1000], "viewport": [1000, 800]}))
    }

    fn addresses() -> Addresses {
        let ada = json!({"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London",
            "postalCode": "SW1Y 4JH", "country": "GB", "email": "ada@example.org", "phone": "+44 20 7946 0958"});
        let king = json!({"name": "Ada King", "line1": "1 Main St", "city": "Columbus", "region": "OH",
            "postalCode": "43004", "country": "US"});
        let saved = |id: &str, address: Value, kind| Saved {
            id: id.into(),
            address: serde_json::from_value(address).unwrap(),
            defaults: vec![kind],
            spellings: Spellings::default(),
        };
        Addresses {
            book: vec![saved("home", ada, AddressKind::Shipping), saved("work", king, AddressKind::Billing)],
            names: vec![("GB".into(), vec!["United Kingdom".into()]), ("US".into(), vec!["United States".into()])],
        }
    }

    #[test]
    fn a_form_is_previewed_and_filled_in_its_sections_only() {
        let mut controls = vec![
            control("input", "shipping_first_name", "First name"),
            control("input", "shipping_last_name", "Last name"),
            control("input", "shipping_postcode", "Postcode"),
            control("input", "billing_city", "City"),
            control("input", "email", "Email"),
            control("input", "coupon", "Coupon"),
        ];
        controls[4]["type"] = json!("email");
        let mut hidden = control("input", "phone", "Phone");
        hidden["style"] = json!(["opacity"]);
        controls.push(hidden);
        let mut typed = control("input", "shipping_city", "Town");
        typed["typed"] = json!(true);
        typed["empty"] = json!(false);
        controls.push(typed);
        let tab = Tab::new("https://shop.example".into(), vec![frame(0, "https://shop.example", controls)]);
        let addresses = addresses();
        let preview = tab.preview(&addresses, None);
        assert_eq!((preview.shipping, preview.billing), (4, 1), "the billing address has no email: {preview:#?}");
        let frame = &preview.frames[0];
        assert_eq!((frame.hidden, frame.refused, frame.other_site), (1, 1, false));
        let rows: Vec<_> = frame.sections.iter().flat_map(|s| &s.rows).collect();
        assert_eq!(rows[0].shipping.as_deref(), Some("Ada"));
        assert!(rows.iter().any(|r| r.kept == Some("you typed here")));

        let (kind, saved) = addresses.for_button(Purpose::Billing, None).unwrap();
        assert_eq!((kind, saved.id.as_str()), (AddressKind::Billing, "work"), "the billing default");
        let (chosen_kind, chosen) = addresses.for_button(Purpose::Shipping, Some("work")).unwrap();
        assert_eq!(
            (chosen_kind, chosen.id.as_str()),
            (AddressKind::Shipping, "work"),
            "the chosen address, for shipping"
        );
        assert!(
            addresses.for_button(Purpose::Shipping, Some("removed-since")).is_none(),
            "a choice no longer saved fills nothing, not another address in its place"
        );
        let plan = tab.plan(Purpose::Billing, (kind, saved, &saved.address), &addresses, false, None);
        assert_eq!(plan.kind, AddressKind::Billing);
        let steps = &plan.frames[0].steps;
        assert_eq!(steps.iter().map(|s| (s.i, s.text.as_deref())).collect::<Vec<_>>(), [(3, Some("Columbus"))]);
        assert_eq!(plan.ledger, [LedgerEntry { origin: "https://shop.example".into(), fields: vec!["city"] }]);
        let (n, sentence) = tab.report(kind, &[(0, 1)]);
        assert_eq!((n, sentence.as_str()), (1, "Filled 1 field on shop.example with your billing address."));
    }

    #[test]
    fn hidden_frames_and_frames_without_a_web_origin_are_never_filled() {
        let top = Frame::read(&json!({"frameId": 0, "origin": "https://shop.example", "controls": [],
            "frames": [{"src": "https://shop.example/hidden", "rect": [0, 0, 0, 0]},
                       {"src": "https://pay.example/form", "rect": [0, 0, 400, 300]}],
            "document": [1000, 1000], "viewport": [1000, 800]}));
        let frame = |id: i64, origin: &str, url: &str, controls| {
            let mut frame = frame(id, origin, controls);
            frame.url = url.to_owned();
            frame
        };
        let inside = || vec![control("input", "name", "Name")];
        let tab = Tab::new(
            "https://shop.example".into(),
            vec![
                top,
                frame(4, "https://shop.example", "https://shop.example/hidden", inside()),
                frame(5, "https://pay.example", "https://pay.example/form", inside()),
                frame(6, "null", "about:blank", inside()),
            ],
        );
        let preview = tab.preview(&addresses(), None);
        let blocked: Vec<_> = preview.frames.iter().map(|f| f.blocked).collect();
        assert_eq!(blocked, [None, Some("zero-sized"), None, Some("not a web page")]);
        assert!(preview.frames[2].other_site);
        let addresses = addresses();
        let (kind, saved) = addresses.for_button(Purpose::Shipping, None).unwrap();
        let plan = tab.plan(Purpose::Shipping, (kind, saved, &saved.address), &addresses, false, None);
        assert_eq!(plan.frames.iter().map(|f| f.frame_id).collect::<Vec<_>>(), [5]);
        let (_, sentence) = tab.report(kind, &[(5, 1)]);
        assert_eq!(sentence, "Filled 1 field in a frame from pay.example with your shipping address.");
    }
}
