//! The real extension in a real headless Chromium, talking to the real `profile-host` on a
//! real Secret Service. Run through `scripts/with-keyring` (the README's test command does).
//!
//! The browser is driven over the Chrome DevTools Protocol with a small synchronous client
//! (JSON over one WebSocket, flattened sessions). Page calls store their settlement in a
//! page global that the test polls, so the test can click in the consent window meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const CHROMIUM: &str = "/usr/lib/chromium/chromium";
const EXTENSION_DIR: &str = env!("PROFILE_EXTENSION_DIR");

fn host_binary() -> PathBuf {
    // target/debug/deps/browser-… → target/debug/profile-host
    let exe = std::env::current_exe().unwrap();
    let host = exe.parent().unwrap().parent().unwrap().join("profile-host");
    assert!(
        host.exists(),
        "{} is missing: build it with `cargo build -p profile-host` (cargo test --workspace does)",
        host.display()
    );
    host
}

/// A site on loopback: serves one page for every path.
fn serve(page: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                use std::io::{BufRead, BufReader, Write};
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let _ = write!(
                    &stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
            });
        }
    });
    format!("http://localhost:{port}/")
}

const SHOP: &str = "<!doctype html><title>Demo shop</title><h1>Demo shop</h1>\
<script>window.seen = {type: typeof window.profile, version: window.profile && window.profile.version};\
window.ready = false; window.addEventListener('profile:ready', () => window.ready = true);</script>";

struct Browser {
    chrome: Child,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    _dir: tempfile::TempDir,
    home: PathBuf,
}

impl Browser {
    /// Chromium with the packaged extension; the host manifest installed into its profile
    /// unless `with_host` is false.
    fn launch(with_host: bool) -> Self {
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "needs a Secret Service: run through scripts/with-keyring"
        );
        assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing: apt-get install chromium (scripts/test does)");
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("chromium");
        let home = dir.path().join("host-home");
        if with_host {
            let out = Command::new(host_binary())
                .args(["install", "--browser", "chromium", "--user-data-dir"])
                .arg(&profile)
                .env("PROFILE_HOST_HOME", &home)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        let chrome = Command::new(CHROMIUM)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--load-extension={EXTENSION_DIR}"))
            .arg("about:blank")
            .env("PROFILE_HOST_HOME", &home)
            .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("chromium.log")).unwrap())
            .spawn()
            .unwrap();
        let active = profile.join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(20);
        let endpoint = loop {
            if let Ok(text) = std::fs::read_to_string(&active)
                && let Some((port, path)) = text.split_once('\n')
                && !path.trim().is_empty()
            {
                break format!("ws://127.0.0.1:{port}{}", path.trim());
            }
            assert!(Instant::now() < deadline, "Chromium did not start");
            std::thread::sleep(Duration::from_millis(50));
        };
        let (socket, _) = tungstenite::connect(endpoint).unwrap();
        Self { chrome, socket, next_id: 0, _dir: dir, home }
    }

    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let mut message = json!({"id": self.next_id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.socket.send(Message::text(message.to_string())).unwrap();
        loop {
            let Message::Text(text) = self.socket.read().unwrap() else { continue };
            let answer: Value = serde_json::from_str(&text).unwrap();
            if answer["id"] == self.next_id {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    fn targets(&mut self) -> Vec<Value> {
        self.call(None, "Target.getTargets", json!({}))["targetInfos"].as_array().unwrap().clone()
    }

    fn attach(&mut self, target_id: &str) -> String {
        self.call(None, "Target.attachToTarget", json!({"targetId": target_id, "flatten": true}))["sessionId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn open(&mut self, url: &str) -> String {
        let target =
            self.call(None, "Target.createTarget", json!({"url": url}))["targetId"].as_str().unwrap().to_owned();
        let session = self.attach(&target);
        // A new target starts on about:blank, which is already `complete`.
        self.wait_for(&session, &format!("location.href === {} && document.readyState === 'complete'", json!(url)));
        session
    }

    fn eval(&mut self, session: &str, expression: &str) -> Value {
        let result =
            self.call(Some(session), "Runtime.evaluate", json!({"expression": expression, "returnByValue": true}));
        result["result"]["value"].clone()
    }

    fn wait_for(&mut self, session: &str, condition: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.eval(session, condition) != json!(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {condition}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts a page call; `settlement` reads how it ended.
    fn start(&mut self, session: &str, slot: &str, call: &str) {
        self.eval(session, &format!(
            "window['{slot}'] = null; {call}.then(v => window['{slot}'] = {{value: v}}, e => window['{slot}'] = {{code: e.code, message: e.message}}); true"
        ));
    }

    fn settlement(&mut self, session: &str, slot: &str) -> Value {
        self.wait_for(session, &format!("window['{slot}'] !== null"));
        self.eval(session, &format!("window['{slot}']"))
    }

    /// The consent window that is not in `seen`, once it has rendered its prompt.
    fn consent(&mut self, seen: &mut HashSet<String>) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.targets().into_iter().find(|t| {
                t["url"].as_str().is_some_and(|u| u.contains("/consent.html"))
                    && !seen.contains(t["targetId"].as_str().unwrap())
            });
            if let Some(target) = found {
                let id = target["targetId"].as_str().unwrap().to_owned();
                seen.insert(id.clone());
                let session = self.attach(&id);
                self.wait_for(
                    &session,
                    "document.getElementById('origin') && document.getElementById('origin').textContent !== ''",
                );
                return (id, session);
            }
            assert!(Instant::now() < deadline, "no consent window appeared");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn no_consent_window_opens(&mut self, seen: &HashSet<String>) -> bool {
        std::thread::sleep(Duration::from_millis(700));
        !self.targets().iter().any(|t| {
            t["url"].as_str().is_some_and(|u| u.contains("/consent.html"))
                && !seen.contains(t["targetId"].as_str().unwrap())
        })
    }

    fn screenshot(&mut self, session: &str, name: &str) {
        let shot = self.call(Some(session), "Page.captureScreenshot", json!({"format": "png"}));
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = Base64::decode_vec(shot["data"].as_str().unwrap()).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    fn host(&self, args: &[&str]) -> String {
        let out = Command::new(host_binary()).args(args).env("PROFILE_HOST_HOME", &self.home).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.chrome.kill();
        let _ = self.chrome.wait();
    }
}

#[test]
fn a_page_asks_the_person_decides_and_remembered_sites_are_answered_without_asking() {
    let mut browser = Browser::launch(true);
    browser.host(&[
        "address",
        "set",
        "shipping",
        "--name",
        "Ada Lovelace",
        "--line1",
        "12 St James's Square",
        "--city",
        "London",
        "--postal-code",
        "SW1Y 4JH",
        "--country",
        "GB",
    ]);
    let url = serve(SHOP);
    let page = browser.open(&url);
    assert_eq!(
        browser.eval(&page, "window.seen"),
        json!({"type": "object", "version": "1"}),
        "window.profile exists for the first inline script"
    );
    assert_eq!(browser.eval(&page, "window.ready || typeof window.profile.getAddress === 'function'"), json!(true));
    let mut seen = HashSet::new();

    // Deny.
    browser.start(&page, "r1", "window.profile.getAddress('shipping')");
    let (_, consent) = browser.consent(&mut seen);
    browser.screenshot(&consent, "consent-shipping.png");
    assert_eq!(
        browser.eval(&consent, "document.getElementById('headline').textContent"),
        json!("localhost wants your shipping address")
    );
    std::thread::sleep(Duration::from_millis(600));
    browser.eval(&consent, "document.getElementById('deny').click()");
    assert_eq!(browser.settlement(&page, "r1")["code"], "user_denied");

    // Closing the window is a deny; a second call meanwhile is busy.
    browser.start(&page, "r2", "window.profile.getAddress('shipping')");
    let (target, _) = browser.consent(&mut seen);
    browser.start(&page, "r3", "window.profile.getDeviceId()");
    assert_eq!(browser.settlement(&page, "r3")["code"], "busy");
    browser.call(None, "Target.closeTarget", json!({"targetId": target}));
    assert_eq!(browser.settlement(&page, "r2")["code"], "user_denied");

    // Clicks in the first 500 ms do not count; allow with remember.
    browser.start(&page, "r4", "window.profile.getAddress('shipping')");
    let (_, consent) = browser.consent(&mut seen);
    browser.eval(&consent, "document.getElementById('allow').click()");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(browser.eval(&page, "window.r4"), Value::Null, "an early click is ignored");
    std::thread::sleep(Duration::from_millis(500));
    browser.eval(&consent, "document.getElementById('remember').click(); document.getElementById('allow').click()");
    assert_eq!(browser.settlement(&page, "r4")["value"]["name"], "Ada Lovelace");

    // Remembered: answered with no window.
    browser.start(&page, "r5", "window.profile.getAddress('shipping')");
    assert!(browser.no_consent_window_opens(&seen));
    assert_eq!(browser.settlement(&page, "r5")["value"]["city"], "London");
    // Another kind of request still asks.
    browser.start(&page, "r6", "window.profile.getAddress('billing')");
    let (_, consent) = browser.consent(&mut seen);
    std::thread::sleep(Duration::from_millis(600));
    browser.eval(&consent, "document.getElementById('allow').click()");
    assert_eq!(browser.settlement(&page, "r6")["code"], "not_found");

    // Bad calls never reach a prompt.
    browser.start(&page, "r7", "window.profile.getAddress('home')");
    assert_eq!(browser.settlement(&page, "r7")["code"], "invalid_request");

    let log = browser.host(&["log"]);
    assert_eq!(log.matches("getAddress  disclosed").count(), 2, "{log}");
    assert!(log.contains(&format!("{}  getAddress  not_found", url.trim_end_matches('/'))), "{log}");
}

#[test]
fn without_the_host_installed_a_call_fails_with_host_unavailable() {
    let mut browser = Browser::launch(false);
    // Called as soon as the page loads in a browser that just started: the service worker may
    // not be running yet, and the call must still arrive.
    let page = browser.open(&serve(SHOP));
    let mut seen = HashSet::new();
    browser.start(&page, "r", "window.profile.getDeviceId()");
    let (_, consent) = browser.consent(&mut seen);
    std::thread::sleep(Duration::from_millis(600));
    browser.eval(&consent, "document.getElementById('allow').click()");
    assert_eq!(browser.settlement(&page, "r")["code"], "host_unavailable");
}
