//! The scripted shopper `scripts/run` plays on a machine without a display: headless Chromium
//! with the real extension, on the demo's own Chromium profile and host, against the running
//! demo shop. It signs up, logs out, logs in, fills shipping and billing at checkout; given the
//! demo till and delivery service, it connects the till, rings up a basket and finds its receipt
//! in the options page, then connects the delivery service and reads the address it shows. It
//! takes a screenshot of every page and window a person would see, and writes a short report.
//!
//! `shopper PROFILE_DIR HOST_HOME SHOP_URL OUT_DIR [TILL_URL DELIVERY_URL]` (the host manifest
//! must be installed in the profile already).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use profile_testkit::browser::Browser;
use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (args, apps) =
        if args.len() == 6 { (args[..4].to_vec(), Some((args[4].clone(), args[5].clone()))) } else { (args, None) };
    let Ok([profile, home, shop, out]) = <[String; 4]>::try_from(args) else {
        eprintln!("usage: shopper PROFILE_DIR HOST_HOME SHOP_URL OUT_DIR [TILL_URL DELIVERY_URL]");
        std::process::exit(2);
    };
    let mut browser = Browser::launch_in(
        Path::new(env!("PROFILE_EXTENSION_DIR")),
        PathBuf::from(profile),
        PathBuf::from(home),
        false,
        tempfile::tempdir().unwrap(),
    );
    browser.shots = PathBuf::from(&out);
    let mut report = Vec::new();
    let mut seen = HashSet::new();
    let shop = shop.trim_end_matches('/').to_owned();

    let page = browser.open(&format!("{shop}/"));
    browser.screenshot(&page, "1-shop.png");
    let click = |browser: &mut Browser, id: &str| {
        browser.eval(&page, &format!("setTimeout(() => document.getElementById('{id}').click(), 0); true"));
    };
    // Answers the consent window when one opens (a remembered site asks nothing).
    let consent = |browser: &mut Browser, seen: &mut HashSet<String>, shot: &str, remember: bool| {
        let (_, window) = browser.consent(seen);
        let headline = browser.eval(&window, "document.getElementById('headline').textContent");
        browser.screenshot(&window, shot);
        let script = if remember {
            "document.getElementById('remember').click(); document.getElementById('allow').click()"
        } else {
            "document.getElementById('allow').click()"
        };
        browser.click_after(&window, 600, script);
        headline.as_str().unwrap_or_default().to_owned()
    };
    let arrive = |browser: &mut Browser, path: &str| {
        browser.wait_for(&page, &format!("location.pathname === '{path}' && document.readyState === 'complete'"));
        browser.eval(&page, "document.getElementById('who').textContent").as_str().unwrap_or_default().to_owned()
    };

    click(&mut browser, "sign-up");
    let asked = consent(&mut browser, &mut seen, "2-consent-sign-up.png", false);
    let who = arrive(&mut browser, "/sign-up");
    browser.screenshot(&page, "3-signed-up.png");
    report.push(format!("sign up: the window asked \"{asked}\"; allowed; the shop says \"{who}\""));

    click(&mut browser, "logout");
    let who = arrive(&mut browser, "/");
    report.push(format!("log out: \"{who}\""));

    click(&mut browser, "log-in");
    // A login remembered on an earlier run opens no window.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let asked = loop {
        if browser.eval(&page, "location.pathname") == json!("/logged-in") {
            break "nothing (remembered from an earlier run)".to_owned();
        }
        let waiting = browser.targets().iter().any(|t| {
            t["url"].as_str().is_some_and(|u| u.contains("/consent.html"))
                && !seen.contains(t["targetId"].as_str().unwrap_or_default())
        });
        if waiting {
            break consent(&mut browser, &mut seen, "4-consent-login.png", true);
        }
        assert!(std::time::Instant::now() < deadline, "neither a consent window nor the logged-in page");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let who = arrive(&mut browser, "/logged-in");
    browser.screenshot(&page, "5-logged-in.png");
    report.push(format!("log in: the window asked \"{asked}\"; allowed and remembered; the shop says \"{who}\""));

    browser.eval(&page, "location.href = '/checkout'; true");
    arrive(&mut browser, "/checkout");
    for kind in ["shipping", "billing"] {
        click(&mut browser, &format!("fill-{kind}"));
        let asked = consent(&mut browser, &mut seen, &format!("6-consent-{kind}.png"), false);
        browser.wait_for(&page, &format!("document.getElementById('{kind}-name').value !== '' || document.getElementById('message').textContent !== ''"));
        let read = |browser: &mut Browser, id: &str| {
            browser
                .eval(
                    &page,
                    &format!(
                        "document.getElementById('{id}').textContent || document.getElementById('{id}').value || ''"
                    ),
                )
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        let (line1, city, message) = (
            read(&mut browser, &format!("{kind}-line1")),
            read(&mut browser, &format!("{kind}-city")),
            read(&mut browser, "message"),
        );
        let outcome = if message.is_empty() {
            format!("the form now has {line1:?}, {city:?}")
        } else {
            format!("the shop says {message:?}")
        };
        report.push(format!("fill {kind}: the window asked \"{asked}\"; {outcome}"));
    }
    browser.screenshot(&page, "7-checkout.png");

    let options = browser.open_own_page("options.html");
    browser.screenshot(&options, "8-options.png");
    report.push(format!(
        "options page: {}",
        json!(browser.eval(&options, "document.getElementById('lock-state').textContent"))
    ));

    if let Some((till, delivery)) = apps {
        let (till, delivery) = (till.trim_end_matches('/'), delivery.trim_end_matches('/'));
        let text = |browser: &mut Browser, page: &str, id: &str| {
            let got = browser.eval(page, &format!("(document.getElementById('{id}') || {{}}).textContent || ''"));
            got.as_str().unwrap_or_default().to_owned()
        };
        // The till: connect, ring up a basket, and find its receipt in the options page.
        let page = browser.open(&format!("{till}/"));
        browser.wait_for(&page, "document.readyState === 'complete' && !!window.profile");
        browser.screenshot(&page, "9-till.png");
        browser.eval(&page, "setTimeout(() => document.getElementById('connect').click(), 0); true");
        let asked = consent(&mut browser, &mut seen, "10-consent-till.png", false);
        browser.wait_for(&page, "document.readyState === 'complete' && document.getElementById('connected') !== null");
        browser.eval(&page, "document.getElementById('ring-up').click(); true");
        browser.wait_for(&page, "document.getElementById('receipt').textContent !== ''");
        let sent = text(&mut browser, &page, "receipt");
        browser.screenshot(&page, "11-till-rung-up.png");
        assert!(sent.starts_with("Receipt sent"), "the till says {sent:?}");
        // The receipt reaches this device with its next sync.
        let landed = "[...document.querySelectorAll('#cat-receipts li.item')].some((li) => li.innerText.includes('from localhost'))";
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            browser.reload(&options);
            browser.wait_for(&options, "document.body.dataset.loaded === 'true'");
            if browser.eval(&options, landed) == json!(true) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the till's receipt never reached the options page");
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        browser.eval(&options, "document.getElementById('cat-receipts').scrollIntoView(); true");
        browser.screenshot(&options, "12-options-receipts.png");
        report.push(format!(
            "till: the window asked \"{asked}\"; allowed; the till says {sent:?}; the receipt is in the options page"
        ));

        // The delivery service: connect, and read the shipping address it shows.
        let page = browser.open(&format!("{delivery}/"));
        browser.wait_for(&page, "document.readyState === 'complete' && !!window.profile");
        browser.eval(&page, "setTimeout(() => document.getElementById('connect').click(), 0); true");
        let asked = consent(&mut browser, &mut seen, "13-consent-delivery.png", false);
        browser.wait_for(&page, "document.readyState === 'complete' && document.getElementById('address') !== null");
        let address = browser.eval(&page, "document.getElementById('address').innerText.split('\\n').join(', ')");
        browser.screenshot(&page, "14-delivery.png");
        report.push(format!("delivery: the window asked \"{asked}\"; allowed; it ships to {address}"));
    }

    let text = report.join("\n") + "\n";
    std::fs::write(PathBuf::from(&out).join("report.txt"), &text).unwrap();
    print!("{text}");
}
