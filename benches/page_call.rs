//! Page call → answer through the real browser, extension and host, with the host paired with a
//! real profile server (holding its push socket): p50/p99 of a remembered `getDeviceId` and a
//! remembered `login` (warm), and from a stopped service worker to the first answer (cold: the
//! worker starts, loads its wasm, and launches the host). The host answers from its local
//! state; a login's raised counter goes to the server's vault in the background, off the
//! answer's path. Prints figures; asserts nothing about time.
//!
//! `make bench` runs it (inside `scripts/with-keyring`, after building profile-host in release).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

const WARM_CALLS: usize = 2000;
const COLD_STARTS: usize = 20;
const LOGINS: usize = 300;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn report(what: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{what:<44} n={:<5} p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        ms.len(),
        percentile(&ms, 0.50),
        percentile(&ms, 0.95),
        percentile(&ms, 0.99),
        ms[ms.len() - 1]
    );
}

const CHALLENGE: &str = "AAECAwQFBgcICQoLDA0ODw";

fn main() {
    let server = ProfileServer::start("bench@example.org", "correct horse battery");
    let mut browser = Browser::launch(true);
    browser.host_with_input(&["pair", &server.profile_url, "--email", "bench@example.org"], "correct horse battery\n");
    let page = browser.open(&serve("<!doctype html><title>bench</title>"));
    let mut seen = HashSet::new();

    // One prompt each, answered with "remember" (sign-up always asks), then no more.
    for (slot, call, remember) in [
        ("first", "window.profile.getDeviceId()".to_owned(), true),
        ("signup", format!("window.profile.signUp({{challenge: '{CHALLENGE}', accountGuid: 'bench'}})"), false),
        ("login", format!("window.profile.login({{challenge: '{CHALLENGE}'}})"), true),
    ] {
        browser.start(&page, slot, &call);
        let (_, consent) = browser.consent(&mut seen);
        let remember = if remember { "document.getElementById('remember').click(); " } else { "" };
        browser.click_after(&consent, 600, &format!("{remember}document.getElementById('allow').click()"));
        assert!(browser.settlement(&page, slot).get("value").is_some(), "{slot}");
    }

    // Warm: calls one after another, timed in the page.
    let timed = |browser: &mut Browser, n: usize, call: &str| -> Vec<f64> {
        let script = format!(
            "(async () => {{ const t = []; for (let i = 0; i < {n}; i++) {{ const s = performance.now(); \
             await {call}; t.push(performance.now() - s); }} return t; }})()"
        );
        let result = browser.call(
            Some(&page),
            "Runtime.evaluate",
            json!({"expression": script, "awaitPromise": true, "returnByValue": true}),
        );
        result["result"]["value"].as_array().expect("timings").iter().map(|v| v.as_f64().unwrap()).collect()
    };
    let timings = |browser: &mut Browser, n: usize| timed(browser, n, "window.profile.getDeviceId()");
    timings(&mut browser, 100); // warm-up
    report("page call, remembered grant, warm", timings(&mut browser, WARM_CALLS));
    let login = format!("window.profile.login({{challenge: '{CHALLENGE}'}})");
    report("login, remembered grant, warm (paired)", timed(&mut browser, LOGINS, &login));

    // Cold: stop the service worker (its native port closes and the host exits), then call.
    let mut cold = Vec::new();
    for _ in 0..COLD_STARTS {
        let worker = service_worker(&mut browser);
        browser.call(None, "Target.closeTarget", json!({"targetId": worker}));
        let deadline = Instant::now() + Duration::from_secs(10);
        while browser.targets().iter().any(|t| t["targetId"] == worker.as_str()) {
            assert!(Instant::now() < deadline, "the worker did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        cold.extend(timings(&mut browser, 1));
    }
    report("stopped worker + host → first answer (cold)", cold);
}
