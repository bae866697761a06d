//! The fill corpus (`tests/forms/`): checkout and registration forms written after real
//! platforms' markup, each field carrying the value it must get (`data-expect`). `Corpus` serves
//! them on loopback (with React and Vue from `tools/corpus-libs/` under `/lib/`), and `fill`
//! fills one through the toolbar popup, as a person does, then reads every field back through the
//! page's own harness (`tests/forms/corpus.js`). The browser test asserts on it; the `autofill`
//! benchmark counts it.
//!
//! A form says how to fill it on its `<html>`: `data-shipping` and `data-billing` name the
//! [`ADDRESSES`] saved before it is opened, `data-steps` what to do, separated by `|`:
//! `fill shipping`, `fill billing`, `click SELECTOR`, `type SELECTOR TEXT` (trusted typing).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

use crate::browser::{Browser, Inspection, npm_tool};

/// The addresses the corpus fills with, by the name a form gives in `data-shipping` /
/// `data-billing`.
pub const ADDRESSES: &[(&str, &str)] = &[
    (
        "gb",
        r#"{"name": "Ada Lovelace", "organization": "Analytical Engines Ltd", "line1": "12 St James's Square",
            "line2": "Flat 3", "city": "London", "postalCode": "SW1Y 4JH", "country": "GB",
            "phone": "+44 20 7946 0958", "email": "ada@example.org"}"#,
    ),
    (
        "us",
        r#"{"name": "Grace Hopper", "line1": "1 Main Street", "line2": "Apt 4", "city": "Columbus",
            "region": "OH", "postalCode": "43004", "country": "US", "phone": "+1 614 555 0100",
            "email": "grace@example.com"}"#,
    ),
    (
        "de",
        r#"{"name": "Lise Meitner", "line1": "Hauptstraße 5", "city": "Berlin", "postalCode": "10115",
            "country": "DE", "phone": "+49 30 1234567", "email": "lise@example.de"}"#,
    ),
    (
        "fr",
        r#"{"name": "Marie Curie", "line1": "10 rue de Rivoli", "line2": "Bâtiment B", "city": "Paris",
            "postalCode": "75004", "country": "FR", "phone": "+33 1 23 45 67 89", "email": "marie@example.fr"}"#,
    ),
    (
        "jp",
        r#"{"name": "山田 太郎", "line1": "千代田1-2-3", "line2": "千代田ビル5階", "city": "千代田区",
            "region": "東京都", "postalCode": "100-0001", "country": "JP", "phone": "+81 3 1234 5678",
            "email": "taro@example.jp"}"#,
    ),
];

/// The corpus's folder in the workspace.
pub fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").join("tests/forms")
}

/// The corpus's forms, by file name, in order.
pub fn forms() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".html"))
        .collect();
    names.sort();
    names
}

/// The corpus on a loopback port: `http://localhost:PORT/NAME.html`; the same files are at
/// `http://127.0.0.1:PORT/`, another origin, for frames of another site.
#[derive(Debug)]
pub struct Corpus {
    pub port: u16,
}

impl Corpus {
    pub fn start() -> Self {
        let libs = npm_tool("corpus-libs").unwrap_or_else(|why| panic!("React and Vue for the corpus: {why}"));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let libs = libs.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(&stream);
                    let mut request = String::new();
                    let _ = reader.read_line(&mut request);
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                        line.clear();
                    }
                    let path = request.split_whitespace().nth(1).unwrap_or("/").split('?').next().unwrap_or("/");
                    let file = match path.strip_prefix("/lib/") {
                        Some(rest) => libs.join("node_modules").join(rest),
                        None => folder().join(path.trim_start_matches('/')),
                    };
                    let safe = !path.contains("..");
                    let (status, body) = match std::fs::read(&file) {
                        Ok(body) if safe => ("200 OK", body),
                        _ => ("404 Not Found", b"not found".to_vec()),
                    };
                    let kind = match file.extension().and_then(|e| e.to_str()) {
                        Some("js") => "text/javascript",
                        Some("css") => "text/css",
                        _ => "text/html; charset=utf-8",
                    };
                    let _ = write!(
                        &stream,
                        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = (&stream).write_all(&body);
                });
            }
        });
        Self { port }
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://localhost:{}/{name}", self.port)
    }
}

/// One field after the fill, as the page's harness reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Field {
    /// Where it is: host, path and the field's id or name.
    pub path: String,
    pub expect: String,
    pub value: String,
    /// It cannot be seen on the page (`data-hidden`): it must stay empty.
    pub hidden: bool,
    /// The page's own scripts took the value (its events, its model).
    pub accepted: bool,
    pub why: String,
}

impl Field {
    /// Filled with what it should be (an empty expectation is met by staying empty).
    pub fn right(&self) -> bool {
        self.value == self.expect
    }
    /// Filled with something it should not hold.
    pub fn wrong(&self) -> bool {
        !self.right() && !self.value.is_empty()
    }
    /// Left empty though it should have been filled.
    pub fn missed(&self) -> bool {
        self.value.is_empty() && !self.expect.is_empty()
    }
}

/// A filled form: every field, what each fill said and how long the popup took.
#[derive(Debug, Clone)]
pub struct Filled {
    pub name: String,
    pub fields: Vec<Field>,
    /// `#fill-result`'s sentence and `data-filled`, per fill.
    pub results: Vec<(String, u64)>,
    /// From opening the popup to its preview being shown, per fill.
    pub preview_ms: Vec<f64>,
    /// From the click to `#fill-result`, per fill.
    pub fill_ms: Vec<f64>,
    /// What the popup's preview said before the first fill.
    pub preview: String,
}

impl Filled {
    pub fn count(&self, which: fn(&Field) -> bool) -> usize {
        self.fields.iter().filter(|f| which(f)).count()
    }
}

/// Fills the form `name` through the toolbar popup as its `data-steps` say, with the addresses
/// its `data-shipping` and `data-billing` name saved first; reads every field back. With
/// `inspect`, the popup's preview is inspected (light and dark, axe, font size) as that name
/// before the first fill.
pub fn fill(browser: &mut Browser, corpus: &Corpus, name: &str, inspect: Option<&str>) -> (Filled, Option<Inspection>) {
    let page = browser.open(&corpus.url(name));
    browser.wait_for(&page, "typeof window.corpusReport === 'function'");
    let meta = browser.eval(
        &page,
        "({shipping: document.documentElement.dataset.shipping || '', billing: document.documentElement.dataset.billing || '', steps: document.documentElement.dataset.steps || ''})",
    );
    for kind in ["shipping", "billing"] {
        let key = meta[kind].as_str().unwrap_or_default();
        if let Some((_, json)) = ADDRESSES.iter().find(|(k, _)| *k == key) {
            browser.host_with_input(&["address", "set", kind, "--json", "-"], json);
        }
    }
    let mut filled = Filled {
        name: name.to_owned(),
        fields: Vec::new(),
        results: Vec::new(),
        preview_ms: Vec::new(),
        fill_ms: Vec::new(),
        preview: String::new(),
    };
    let mut inspection = None;
    for step in meta["steps"].as_str().unwrap_or_default().split('|').map(str::trim).filter(|s| !s.is_empty()) {
        let (verb, rest) = step.split_once(' ').unwrap_or((step, ""));
        match verb {
            "fill" => {
                let opened = Instant::now();
                let popup = browser.open_popup();
                browser.wait_for(&popup, "document.body.dataset.loaded === 'true'");
                filled.preview_ms.push(opened.elapsed().as_secs_f64() * 1000.0);
                if filled.preview.is_empty() {
                    let text = browser.eval(&popup, "document.getElementById('fill-card').innerText");
                    filled.preview = text.as_str().unwrap_or_default().to_owned();
                }
                if let (Some(name), None) = (inspect, &inspection) {
                    inspection = Some(browser.inspect(&popup, name));
                }
                filled.fill_ms.push(click_fill(browser, &popup, rest));
                let result = browser.eval(
                    &popup,
                    "[document.getElementById('fill-result').textContent, Number(document.getElementById('fill-result').dataset.filled)]",
                );
                filled
                    .results
                    .push((result[0].as_str().unwrap_or_default().to_owned(), result[1].as_u64().unwrap_or(0)));
                close(browser, &popup);
            }
            "click" => {
                browser.eval(&page, &format!("document.querySelector({}).click(); true", json!(rest)));
                std::thread::sleep(Duration::from_millis(200));
            }
            "type" => {
                let (selector, text) = rest.split_once(' ').unwrap_or((rest, ""));
                browser.eval(&page, &format!("document.querySelector({}).focus(); true", json!(selector)));
                browser.call(Some(&page), "Input.insertText", json!({"text": text}));
                browser.eval(&page, "document.activeElement.blur(); true");
            }
            other => panic!("{name}: unknown step {other:?}"),
        }
    }
    let report = browser.eval_async(&page, "window.corpusReport()");
    filled.fields = serde_json::from_value(report).unwrap_or_else(|e| panic!("{name}: the harness's report: {e}"));
    close(browser, &page);
    (filled, inspection)
}

/// Clicks `#fill-{button}` in the popup once the 500 ms guard has passed (a click the popup
/// refused as too soon, on a page whose preview took long to draw, is made again); waits for
/// `#fill-result`. The milliseconds from the counted click to the result.
pub fn click_fill(browser: &mut Browser, popup: &str, button: &str) -> f64 {
    loop {
        std::thread::sleep(Duration::from_millis(600));
        let clicked = Instant::now();
        browser.eval(popup, &format!("document.getElementById('fill-{button}').click(); true"));
        browser.wait_for(
            popup,
            "document.getElementById('fill-result').dataset.filled !== undefined || !document.getElementById('fill-too-soon').hidden",
        );
        if browser.eval(popup, "document.getElementById('fill-result').dataset.filled !== undefined") == json!(true) {
            return clicked.elapsed().as_secs_f64() * 1000.0;
        }
    }
}

/// Closes a page or popup and waits until the browser no longer lists it.
pub fn close(browser: &mut Browser, session: &str) {
    let target = browser.call(Some(session), "Target.getTargetInfo", json!({}))["targetInfo"]["targetId"].clone();
    browser.call(None, "Target.closeTarget", json!({"targetId": target}));
    let deadline = Instant::now() + Duration::from_secs(10);
    while browser.targets().iter().any(|t| t["targetId"] == target) {
        assert!(Instant::now() < deadline, "a closed target stayed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every problem of a filled form, one line each: a field not right, a value the page did not
/// take, a fill that said nothing was filled.
pub fn problems(filled: &Filled) -> Vec<String> {
    let mut problems = Vec::new();
    for field in &filled.fields {
        if !field.right() {
            problems.push(format!("{}: {}: {:?}, expected {:?}", filled.name, field.path, field.value, field.expect));
        } else if !field.accepted {
            problems.push(format!(
                "{}: {}: the page did not take {:?}: {}",
                filled.name, field.path, field.value, field.why
            ));
        }
    }
    problems
}
