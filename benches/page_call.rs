//! Page call → answer through the real browser, extension and host: p50/p99 with a remembered
//! grant (warm), and from a stopped service worker to the first answer (cold: the worker
//! starts, loads its wasm, and launches the host). Prints figures; asserts nothing about time.
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

fn main() {
    let mut browser = Browser::launch(true);
    let page = browser.open(&serve("<!doctype html><title>bench</title>"));

    // One prompt, answered with "remember", then no more.
    browser.start(&page, "first", "window.profile.getDeviceId()");
    let (_, consent) = browser.consent(&mut HashSet::new());
    browser.click_after(
        &consent,
        600,
        "document.getElementById('remember').click(); document.getElementById('allow').click()",
    );
    assert!(browser.settlement(&page, "first")["value"].is_string());

    // Warm: calls one after another, timed in the page.
    let timings = |browser: &mut Browser, n: usize| -> Vec<f64> {
        let script = format!(
            "(async () => {{ const t = []; for (let i = 0; i < {n}; i++) {{ const s = performance.now(); \
             await window.profile.getDeviceId(); t.push(performance.now() - s); }} return t; }})()"
        );
        let result = browser.call(
            Some(&page),
            "Runtime.evaluate",
            json!({"expression": script, "awaitPromise": true, "returnByValue": true}),
        );
        result["result"]["value"].as_array().expect("timings").iter().map(|v| v.as_f64().unwrap()).collect()
    };
    timings(&mut browser, 100); // warm-up
    report("page call, remembered grant, warm", timings(&mut browser, WARM_CALLS));

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
