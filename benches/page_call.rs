//! Page call → answer through the real browser, extension and host, with the host paired with a
//! real profile server (holding its push socket): p50/p99 of a remembered `getDeviceId` and a
//! remembered `login` (warm), and from a stopped service worker to the first answer (cold: the
//! worker starts, loads its wasm, and launches the host). The host answers from its local
//! state; a login's raised counter goes to the server's vault in the background, off the
//! answer's path. Prints figures; asserts nothing about time.
//!
//! The floor, in the same browser and page: a minimal MV3 extension (written into a temp dir
//! here) relaying a `getDeviceId`-sized call from the page through a content script and its
//! service worker to a C echo native host (compiled here with `cc`) and back. The remembered
//! `getDeviceId` is timed in rounds alternating with the relay's, and its ratio to the floor is
//! printed.
//!
//! `make bench` runs it (inside `scripts/with-keyring`, after building profile-host in release).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use profile_testkit::browser::{Browser, serve, service_worker};
use profile_testkit::percentile;
use profile_testkit::server::ProfileServer;
use serde_json::json;

const WARM_CALLS: usize = 2000;
/// The warm calls and the relay's are timed in this many alternating rounds.
const ROUNDS: usize = 4;
const COLD_STARTS: usize = 20;
const LOGINS: usize = 300;

fn report(what: &str, mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{what:<44} n={:<5} p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        ms.len(),
        percentile(&ms, 0.50),
        percentile(&ms, 0.95),
        percentile(&ms, 0.99),
        ms[ms.len() - 1]
    );
    (percentile(&ms, 0.50), percentile(&ms, 0.99))
}

const ECHO_HOST: &str = "org.personalprofile.bench_echo";

/// The floor's native host: echoes each native-messaging frame back as it came.
const ECHO_C: &str = r#"#include <stdint.h>
#include <stdio.h>
static char body[1 << 20];
int main(void) {
  uint32_t len;
  while (fread(&len, sizeof len, 1, stdin) == 1) {
    if (len > sizeof body || fread(body, 1, len, stdin) != len) return 1;
    fwrite(&len, sizeof len, 1, stdout);
    fwrite(body, 1, len, stdout);
    fflush(stdout);
  }
  return 0;
}
"#;

/// The floor's extension: `window.relay()` in the page's world, a bridge in the isolated world
/// (`runtime.sendMessage`), and a service worker with one native port to the echo host.
const RELAY_FILES: [(&str, &str); 4] = [
    (
        "manifest.json",
        r#"{"manifest_version": 3, "name": "Relay floor", "version": "1", "permissions": ["nativeMessaging"],
 "background": {"service_worker": "relay-worker.js"},
 "content_scripts": [
  {"matches": ["<all_urls>"], "js": ["relay-main.js"], "world": "MAIN", "run_at": "document_start"},
  {"matches": ["<all_urls>"], "js": ["relay-bridge.js"], "run_at": "document_start"}]}"#,
    ),
    (
        "relay-main.js",
        r#"(() => { const pending = new Map(); let next = 1;
addEventListener("message", (e) => { const d = e.data; if (e.source !== window || !d || d.__relay !== "answer") return;
  const settle = pending.get(d.id); if (settle) { pending.delete(d.id); settle(d.answer); } });
window.relay = (method) => new Promise((resolve) => { const id = next++; pending.set(id, resolve);
  postMessage({ __relay: "call", id, method, params: null }, "*"); }); })();"#,
    ),
    (
        "relay-bridge.js",
        r#"addEventListener("message", (e) => { const d = e.data; if (e.source !== window || !d || d.__relay !== "call") return;
  chrome.runtime.sendMessage({ method: d.method, params: d.params }).then((answer) => postMessage({ __relay: "answer", id: d.id, answer }, "*")); });"#,
    ),
    (
        "relay-worker.js",
        r#"let port = null; let next = 1; const waiting = new Map();
function native() { if (port) return port; port = chrome.runtime.connectNative("org.personalprofile.bench_echo");
  port.onMessage.addListener((a) => { const r = waiting.get(a.id); if (r) { waiting.delete(a.id); r(a); } });
  port.onDisconnect.addListener(() => { port = null; }); return port; }
chrome.runtime.onMessage.addListener((m, sender, respond) => { const id = next++; waiting.set(id, respond);
  native().postMessage({ id, type: m.method, origin: sender.origin, params: m.params || {} }); return true; });"#,
    ),
];

/// Writes the relay extension and compiles the echo host into `dir`; the extension's folder.
fn relay_floor(dir: &Path) -> std::path::PathBuf {
    let extension = dir.join("relay");
    std::fs::create_dir_all(&extension).unwrap();
    for (name, text) in RELAY_FILES {
        std::fs::write(extension.join(name), text).unwrap();
    }
    std::fs::write(dir.join("echo.c"), ECHO_C).unwrap();
    let built = Command::new("cc").args(["-O2", "-o"]).arg(dir.join("echo")).arg(dir.join("echo.c")).status().unwrap();
    assert!(built.success(), "cc could not build the echo host");
    extension
}

/// Installs the echo host for the relay extension (its id read from its running worker).
fn install_echo(browser: &mut Browser, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let id = loop {
        let worker = browser.targets().into_iter().find_map(|t| {
            let url = t["url"].as_str()?;
            (t["type"] == "service_worker" && url.ends_with("/relay-worker.js"))
                .then(|| url.trim_start_matches("chrome-extension://").split('/').next().unwrap().to_owned())
        });
        if let Some(id) = worker {
            break id;
        }
        assert!(Instant::now() < deadline, "the relay extension's worker is not running");
        std::thread::sleep(Duration::from_millis(50));
    };
    let hosts = browser.profile.join("NativeMessagingHosts");
    std::fs::create_dir_all(&hosts).unwrap();
    let manifest = json!({"name": ECHO_HOST, "description": "echo", "path": dir.join("echo"), "type": "stdio",
        "allowed_origins": [format!("chrome-extension://{id}/")]});
    std::fs::write(hosts.join(format!("{ECHO_HOST}.json")), manifest.to_string()).unwrap();
}

const CHALLENGE: &str = "AAECAwQFBgcICQoLDA0ODw";

fn main() {
    let server = ProfileServer::start("bench@example.org", "correct horse battery");
    let scratch = tempfile::tempdir().unwrap();
    let relay = relay_floor(scratch.path());
    let dir = tempfile::tempdir().unwrap();
    let (profile, home) = (dir.path().join("chromium"), dir.path().join("host-home"));
    let mut browser =
        Browser::launch_with(Path::new(env!("PROFILE_EXTENSION_DIR")), profile, home, true, dir, &[&relay]);
    install_echo(&mut browser, scratch.path());
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
    let relayed = |browser: &mut Browser, n: usize| timed(browser, n, "window.relay('getDeviceId')");
    timings(&mut browser, 100); // warm-up
    let echoed = browser.eval_async(&page, "window.relay('getDeviceId').then((answer) => answer && answer.type)");
    assert_eq!(echoed, json!("getDeviceId"), "the relay floor answers");
    relayed(&mut browser, 100);
    let (mut floor_ms, mut page_ms) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        floor_ms.extend(relayed(&mut browser, WARM_CALLS / ROUNDS));
        page_ms.extend(timings(&mut browser, WARM_CALLS / ROUNDS));
    }
    let floor = report("floor: minimal relay extension + C echo host", floor_ms);
    let call = report("page call, remembered grant, warm", page_ms);
    println!("{:<44} p50 {:>5.2}x  p99 {:>5.2}x", "page call / floor", call.0 / floor.0, call.1 / floor.1);
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
