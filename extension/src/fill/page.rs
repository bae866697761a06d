//! What the content script says of one frame's form controls, parsed once. The script only
//! describes (tag, type, names, labels, options, geometry, whether the person typed); every
//! decision is made from this in Rust.

use serde_json::Value;

/// One frame of the tab, as its content script described it, with the origin the browser gave
/// its message (never one the script claimed).
#[derive(Debug, Clone, Default)]
pub struct Frame {
    pub frame_id: i64,
    /// The browser's serialization of the frame's origin (`MessageSender.origin`).
    pub origin: String,
    /// The frame's URL as the browser gave it (`MessageSender.url`): the frame around it names
    /// its element by it.
    pub url: String,
    /// The document's language (`<html lang>`), for country names.
    pub lang: String,
    pub controls: Vec<Control>,
    /// Each "form": a `<form>`, or the nearest container of loose controls that holds a button.
    pub forms: Vec<Form>,
    /// The frames inside this one, by their element's URL (`src`), with how the element looks.
    pub children: Vec<(String, Look)>,
    /// The document's scrollable size, for "off-screen".
    pub document: (f64, f64),
    /// The frame's own viewport: a 1×1 frame shows nothing.
    pub viewport: (f64, f64),
}

/// A form, or a container of loose controls.
#[derive(Debug, Clone, Default)]
pub struct Form {
    /// Its id, name, class, action and its buttons' text: what says "search", "log in",
    /// "subscribe".
    pub context: String,
}

/// How an element looks on the page: what the script measured.
#[derive(Debug, Clone, Default)]
pub struct Look {
    /// Style facts: `display` (none), `visibility`, `opacity` (0 on it or an ancestor),
    /// `hidden` (the attribute, or `<input type=hidden>`), `inert`.
    pub style: Vec<String>,
    /// The border box in document coordinates: x, y, width, height.
    pub rect: (f64, f64, f64, f64),
    /// Another element is on top of its centre (`elementFromPoint`).
    pub covered: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Input,
    Select,
    Textarea,
}

/// One form control.
#[derive(Debug, Clone)]
pub struct Control {
    pub tag: Tag,
    /// `type`, lower case (`text`, `email`, `tel`, `password`, …).
    pub kind: String,
    pub name: String,
    pub id: String,
    pub autocomplete: String,
    /// Its label's text: `label[for]`, a wrapping `<label>`, `aria-labelledby`.
    pub label: String,
    pub placeholder: String,
    pub aria_label: String,
    /// Text just before it, for controls with no label.
    pub near: String,
    /// The heading or legend of the part of the form it is in ("Shipping address").
    pub group: String,
    /// Which part: controls with the same `form` and `group_key` are one section.
    pub group_key: i64,
    pub form: usize,
    /// A select's options: value and text.
    pub options: Vec<(String, String)>,
    /// The selected option's index.
    pub selected: Option<usize>,
    pub max_length: Option<usize>,
    /// Holds no value (a select: still on an option whose value is empty).
    pub empty: bool,
    /// The person typed into it (trusted input events).
    pub typed: bool,
    /// It holds a value the page put there (nobody typed it, no fill set it): filled over.
    pub prefilled: bool,
    /// It holds what an earlier fill set.
    pub ours: bool,
    pub disabled: bool,
    pub look: Look,
}

fn text(value: &Value, key: &str) -> String {
    let mut text: String = value.get(key).and_then(Value::as_str).unwrap_or_default().chars().take(300).collect();
    text.truncate(text.trim_end().len());
    text
}

fn number(value: &Value, key: &str) -> f64 {
    value.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

fn pair(value: &Value, key: &str) -> (f64, f64) {
    let at = |i: usize| value.get(key).and_then(|v| v.get(i)).and_then(Value::as_f64).unwrap_or(0.0);
    (at(0), at(1))
}

fn look(value: &Value) -> Look {
    let at = |i: usize| value.get("rect").and_then(|v| v.get(i)).and_then(Value::as_f64).unwrap_or(0.0);
    Look {
        style: value
            .get("style")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default(),
        rect: (at(0), at(1), at(2), at(3)),
        covered: value.get("covered").and_then(Value::as_bool).unwrap_or(false),
    }
}

/// Most controls read from one frame; the rest are ignored (a page cannot make the scan
/// unbounded).
pub const MAX_CONTROLS: usize = 5000;
/// Most options read from one select.
pub const MAX_OPTIONS: usize = 400;

impl Frame {
    /// Reads a frame's description (`{controls, forms, frames, document, viewport, lang}`) with
    /// the browser-given `frameId` and `origin` beside it. Whatever is missing or malformed
    /// reads as empty.
    pub fn read(value: &Value) -> Self {
        let list = |key: &str| value.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let flag = |v: &Value, key: &str| v.get(key).and_then(Value::as_bool).unwrap_or(false);
        let controls = list("controls")
            .iter()
            .take(MAX_CONTROLS)
            .map(|c| Control {
                tag: match c.get("tag").and_then(Value::as_str) {
                    Some("select") => Tag::Select,
                    Some("textarea") => Tag::Textarea,
                    _ => Tag::Input,
                },
                kind: text(c, "type").to_ascii_lowercase(),
                name: text(c, "name"),
                id: text(c, "id"),
                autocomplete: text(c, "autocomplete").to_ascii_lowercase(),
                label: text(c, "label"),
                placeholder: text(c, "placeholder"),
                aria_label: text(c, "ariaLabel"),
                near: text(c, "near"),
                group: text(c, "group"),
                group_key: number(c, "groupKey") as i64,
                form: number(c, "form") as usize,
                options: c
                    .get("options")
                    .and_then(Value::as_array)
                    .map(|options| {
                        options.iter().take(MAX_OPTIONS).map(|o| (text(o, "value"), text(o, "text"))).collect()
                    })
                    .unwrap_or_default(),
                selected: c.get("selected").and_then(Value::as_u64).map(|i| i as usize),
                max_length: c.get("maxLength").and_then(Value::as_u64).map(|n| n as usize).filter(|n| *n > 0),
                empty: flag(c, "empty"),
                typed: flag(c, "typed"),
                prefilled: flag(c, "prefilled"),
                ours: flag(c, "ours"),
                disabled: flag(c, "disabled"),
                look: look(c),
            })
            .collect();
        Self {
            frame_id: value.get("frameId").and_then(Value::as_i64).unwrap_or(-1),
            origin: text(value, "origin"),
            url: value.get("url").and_then(Value::as_str).unwrap_or_default().to_owned(),
            lang: text(value, "lang"),
            controls,
            forms: list("forms").iter().map(|f| Form { context: text(f, "context") }).collect(),
            children: list("frames").iter().map(|f| (text(f, "src"), look(f))).collect(),
            document: pair(value, "document"),
            viewport: pair(value, "viewport"),
        }
    }
}

/// Why a control (or a frame's element) cannot be seen, if it cannot: hidden by style, of no
/// size, off the page, or under another element.
pub fn unseen(look: &Look, document: (f64, f64)) -> Option<&'static str> {
    for (fact, why) in [
        ("hidden", "hidden"),
        ("display", "hidden"),
        ("visibility", "invisible"),
        ("opacity", "invisible"),
        ("inert", "hidden"),
    ] {
        if look.style.iter().any(|s| s == fact) {
            return Some(why);
        }
    }
    let (x, y, w, h) = look.rect;
    // No one types into a box a few pixels across.
    if w < 4.0 || h < 4.0 {
        return Some("zero-sized");
    }
    if x + w <= 0.0 || y + h <= 0.0 || (document.0 > 0.0 && x >= document.0) || (document.1 > 0.0 && y >= document.1) {
        return Some("off-screen");
    }
    look.covered.then_some("covered")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_control_described_without_its_empty_keys_reads_the_same() {
        // content-fill.js leaves out a control's empty texts, false facts and empty lists.
        let full = json!({"controls": [{"tag": "select", "type": "", "name": "country", "id": "",
            "autocomplete": "", "label": "Country", "placeholder": "", "ariaLabel": "", "near": "",
            "group": "", "groupKey": 0, "form": 0, "maxLength": 0, "empty": true, "prefilled": false,
            "typed": false, "ours": false, "disabled": false, "style": [], "rect": [10, 20, 200, 30],
            "covered": false, "options": [{"value": "", "text": "Choose"}], "selected": 0}]});
        let lean = json!({"controls": [{"tag": "select", "name": "country", "label": "Country",
            "groupKey": 0, "form": 0, "maxLength": 0, "empty": true, "rect": [10, 20, 200, 30],
            "options": [{"value": "", "text": "Choose"}], "selected": 0}]});
        assert_eq!(format!("{:?}", Frame::read(&full)), format!("{:?}", Frame::read(&lean)));
    }
}
