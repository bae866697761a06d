//! Filling forms, through the real browser, extension and host: every form of the corpus
//! (`tests/forms/`) filled through the toolbar popup as a person does it, with per form and in
//! total the fields filled right, filled wrong, missed, and hidden fields filled (which must be
//! none); then a page of 2,000 controls: how long describing its frames (the content scripts),
//! classifying them (the extension's WASM) and setting the values take, read from the service
//! worker's User Timing measures (`fill:describe`, and of it `fill:describe-frame`, the content
//! script's own part; `fill:classify`, `fill:plan`, `fill:set`). Prints figures; asserts
//! nothing about time.
//!
//! `make bench` runs it (inside `scripts/with-keyring`, after building profile-host in release):
//! `scripts/with-keyring cargo bench -p personal-profile --bench autofill`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::Path;
use std::time::Duration;

use profile_testkit::browser::{Browser, serve, service_worker};
use profile_testkit::forms::{self, ADDRESSES, Corpus, Field};
use profile_testkit::percentile;
use serde_json::{Value, json};

/// Runs of the 2,000-control page.
const RUNS: usize = 10;

fn report(what: &str, mut ms: Vec<f64>) {
    if ms.is_empty() {
        println!("{what:<46} no samples");
        return;
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "{what:<46} n={:<3} p50 {:>7.1} ms  p95 {:>7.1} ms  max {:>7.1} ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.95),
        ms[ms.len() - 1]
    );
}

/// A page of 2,000 controls: 200 address sections of ten fields, as a long order form of many
/// recipients would have them.
fn big_page() -> String {
    let mut page = String::from("<!doctype html><html lang=en><meta charset=utf-8><title>2,000 controls</title><form>");
    for i in 0..200 {
        page.push_str(&format!(
            "<fieldset><legend>Recipient {i}</legend>\
             <label>First name <input name=first_{i}></label><label>Last name <input name=last_{i}></label>\
             <label>Company <input name=company_{i}></label><label>Street address <input name=street_{i}></label>\
             <label>Apartment <input name=apt_{i}></label><label>City <input name=city_{i}></label>\
             <label>Postcode <input name=postcode_{i}></label><label>Country <select name=country_{i}>\
             <option value=''>Choose</option><option value=FR>France</option><option value=GB>United Kingdom</option></select></label>\
             <label>Phone <input type=tel name=phone_{i}></label><label>Email <input type=email name=email_{i}></label>\
             </fieldset>"
        ));
    }
    page.push_str("<button>Send</button></form>");
    page
}

/// The service worker's User Timing measures of `name` since the last call, in ms.
fn measures(browser: &mut Browser, worker: &str, name: &str) -> Vec<f64> {
    let found = browser.eval(
        worker,
        &format!(
            "(() => {{ const m = performance.getEntriesByName({name:?}, 'measure').map(e => e.duration); \
             performance.clearMeasures({name:?}); return m; }})()"
        ),
    );
    found.as_array().map(|list| list.iter().filter_map(Value::as_f64).collect()).unwrap_or_default()
}

fn main() {
    let mut browser = Browser::launch(Path::new(env!("PROFILE_EXTENSION_DIR")), true);
    let corpus = Corpus::start();
    println!("The fill corpus through the popup ({} forms):", forms::forms().len());
    println!(
        "{:<32} {:>6} {:>6} {:>6} {:>7} {:>7} {:>11} {:>9}",
        "form", "fields", "right", "wrong", "missed", "hidden", "preview ms", "fill ms"
    );
    let (mut fields, mut right, mut wrong, mut missed, mut hidden) = (0, 0, 0, 0, 0);
    let hidden_filled = |f: &Field| f.hidden && !f.value.is_empty();
    let mut not_right = Vec::new();
    // The corpus's own fills are timed too: setting a checkout's values, as shoppers meet them.
    let worker = service_worker(&mut browser);
    let worker = browser.attach(&worker);
    measures(&mut browser, &worker, "fill:set");
    for name in forms::forms() {
        let (filled, _) = forms::fill(&mut browser, &corpus, &name, None);
        let counts = (
            filled.fields.len(),
            filled.count(Field::right),
            filled.count(Field::wrong),
            filled.count(Field::missed),
            filled.count(hidden_filled),
        );
        let mean = |ms: &[f64]| ms.iter().sum::<f64>() / ms.len().max(1) as f64;
        println!(
            "{:<32} {:>6} {:>6} {:>6} {:>7} {:>7} {:>11.0} {:>9.0}",
            name.trim_end_matches(".html"),
            counts.0,
            counts.1,
            counts.2,
            counts.3,
            counts.4,
            mean(&filled.preview_ms),
            mean(&filled.fill_ms)
        );
        not_right.extend(forms::problems(&filled));
        fields += counts.0;
        right += counts.1;
        wrong += counts.2;
        missed += counts.3;
        hidden += counts.4;
    }
    println!(
        "{:<32} {fields:>6} {right:>6} {wrong:>6} {missed:>7} {hidden:>7}   ({:.1}% right)",
        "total",
        100.0 * right as f64 / fields.max(1) as f64
    );
    for problem in &not_right {
        println!("  {problem}");
    }
    report("set the values with their events, per frame filled", measures(&mut browser, &worker, "fill:set"));

    // A page of 2,000 controls: describe, classify and fill, timed in the service worker.
    browser.host_with_input(&["address", "set", "shipping", "--json", "-"], ADDRESSES[0].1);
    let worker = service_worker(&mut browser);
    let worker = browser.attach(&worker);
    let url = serve(big_page());
    for name in ["fill:describe", "fill:describe-frame", "fill:classify", "fill:plan", "fill:set"] {
        measures(&mut browser, &worker, name);
    }
    let mut set = Vec::new();
    let mut filled = Vec::new();
    for _ in 0..RUNS {
        let page = browser.open(&url);
        let popup = browser.open_popup();
        browser.wait_for(
            &popup,
            "document.body.dataset.loaded === 'true' && !document.getElementById('fill-shipping').disabled",
        );
        forms::click_fill(&mut browser, &popup, "shipping");
        filled.push(browser.eval(&popup, "Number(document.getElementById('fill-result').dataset.filled)"));
        set.extend(measures(&mut browser, &worker, "fill:set"));
        for session in [popup, page] {
            let target =
                browser.call(Some(&session), "Target.getTargetInfo", json!({}))["targetInfo"]["targetId"].clone();
            browser.call(None, "Target.closeTarget", json!({"targetId": target}));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    println!("A page of 2,000 controls ({RUNS} runs, each a preview and a fill; fields filled: {filled:?}):");
    report("describe the page (content script + messages)", measures(&mut browser, &worker, "fill:describe"));
    report("  of which the content script", measures(&mut browser, &worker, "fill:describe-frame"));
    report("classify and preview (WASM)", measures(&mut browser, &worker, "fill:classify"));
    report("classify and plan the fill (WASM)", measures(&mut browser, &worker, "fill:plan"));
    report("set the values with their events (page)", set);
}
