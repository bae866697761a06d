//! What the browser tests and the page-call benchmark share: a small synchronous Chrome
//! DevTools Protocol client (JSON over one WebSocket, flattened sessions) driving a real headless
//! Chromium with the packaged extension, the real `profile-host`, and a loopback web server.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

pub const CHROMIUM: &str = "/usr/lib/chromium/chromium";
pub const EXTENSION_DIR: &str = env!("PROFILE_EXTENSION_DIR");

pub fn host_binary() -> PathBuf {
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

pub const EXTENSION_ID: &str = "anejejpdgphdflenbcklaacafpcfcman";

/// A site on loopback: serves one page for every path.
pub fn serve(page: impl Into<String>) -> String {
    let page: &'static str = Box::leak(page.into().into_boxed_str());
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

pub const SHOP: &str = "<!doctype html><title>Demo shop</title><h1>Demo shop</h1>\
<script>window.seen = {type: typeof window.profile, version: window.profile && window.profile.version};\
window.ready = false; window.addEventListener('profile:ready', () => window.ready = true);</script>";

pub struct Browser {
    chrome: Child,
    pub socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    _dir: tempfile::TempDir,
    pub home: PathBuf,
}

impl Browser {
    /// Chromium with the packaged extension; the host manifest installed into its profile
    /// unless `with_host` is false.
    pub fn launch(with_host: bool) -> Self {
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
                // A plain-http site that is not loopback, for the insecure-origin test.
                "--host-resolver-rules=MAP insecure.test 127.0.0.1",
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
        // A DevTools command that never answers fails the test instead of hanging it.
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        }
        Self { chrome, socket, next_id: 0, _dir: dir, home }
    }

    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let mut message = json!({"id": self.next_id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.socket.send(Message::text(message.to_string())).unwrap();
        loop {
            let message = self.socket.read().map_err(|e| format!("{method}: no answer from Chromium: {e}")).unwrap();
            let Message::Text(text) = message else { continue };
            let answer: Value = serde_json::from_str(&text).unwrap();
            if answer["id"] == self.next_id {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    pub fn targets(&mut self) -> Vec<Value> {
        self.call(None, "Target.getTargets", json!({}))["targetInfos"].as_array().unwrap().clone()
    }

    pub fn attach(&mut self, target_id: &str) -> String {
        self.call(None, "Target.attachToTarget", json!({"targetId": target_id, "flatten": true}))["sessionId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn open(&mut self, url: &str) -> String {
        let target =
            self.call(None, "Target.createTarget", json!({"url": url}))["targetId"].as_str().unwrap().to_owned();
        let session = self.attach(&target);
        // A new target starts on about:blank, which is already `complete`.
        self.wait_for(&session, &format!("location.href === {} && document.readyState === 'complete'", json!(url)));
        session
    }

    pub fn eval(&mut self, session: &str, expression: &str) -> Value {
        let result =
            self.call(Some(session), "Runtime.evaluate", json!({"expression": expression, "returnByValue": true}));
        result["result"]["value"].clone()
    }

    pub fn wait_for(&mut self, session: &str, condition: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.eval(session, condition) != json!(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {condition}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts a page call; `settlement` reads how it ended.
    pub fn start(&mut self, session: &str, slot: &str, call: &str) {
        self.eval(session, &format!(
            "window['{slot}'] = null; {call}.then(v => window['{slot}'] = {{value: v}}, e => window['{slot}'] = {{code: e.code, message: e.message}}); true"
        ));
    }

    pub fn settlement(&mut self, session: &str, slot: &str) -> Value {
        self.wait_for(session, &format!("window['{slot}'] !== null"));
        self.eval(session, &format!("window['{slot}']"))
    }

    /// The consent window that is not in `seen`, once it has rendered its prompt.
    pub fn consent(&mut self, seen: &mut HashSet<String>) -> (String, String) {
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
                    "document.getElementById('site') && document.getElementById('site').textContent !== ''",
                );
                return (id, session);
            }
            assert!(Instant::now() < deadline, "no consent window appeared");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn no_consent_window_opens(&mut self, seen: &HashSet<String>) -> bool {
        std::thread::sleep(Duration::from_millis(700));
        !self.targets().iter().any(|t| {
            t["url"].as_str().is_some_and(|u| u.contains("/consent.html"))
                && !seen.contains(t["targetId"].as_str().unwrap())
        })
    }

    /// Opens one of the extension's own pages and waits until it has loaded its data.
    pub fn open_own_page(&mut self, page: &str) -> String {
        let session = self.open(&format!("chrome-extension://{EXTENSION_ID}/{page}"));
        self.wait_for(&session, "document.body.dataset.loaded === 'true'");
        session
    }

    /// Waits `ms`, then clicks a control in the consent window (clicks in its first 500 ms
    /// do not count). The click runs after the evaluation has answered: a click that closes
    /// the window could otherwise take the answer with it.
    pub fn click_after(&mut self, session: &str, ms: u64, script: &str) {
        std::thread::sleep(Duration::from_millis(ms));
        self.eval(session, &format!("setTimeout(() => {{ {script} }}, 0); true"));
    }

    /// Allows the next consent window's request; returns the lines it showed.
    pub fn allow(&mut self, seen: &mut HashSet<String>) -> Value {
        let (_, consent) = self.consent(seen);
        let items = self.eval(&consent, "[...document.querySelectorAll('#items li')].map(li => li.textContent)");
        self.click_after(&consent, 600, "document.getElementById('allow').click()");
        items
    }

    /// Writes a PNG of the whole page to `target/screenshots/NAME`.
    pub fn screenshot(&mut self, session: &str, name: &str) {
        let size = self.eval(session, "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]");
        let clip = json!({"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1});
        let shot = self.call(
            Some(session),
            "Page.captureScreenshot",
            json!({"format": "png", "clip": clip, "captureBeyondViewport": true}),
        );
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = Base64::decode_vec(shot["data"].as_str().unwrap()).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    /// Runs the host's CLI on this browser's data dir; returns its stdout.
    pub fn host(&self, args: &[&str]) -> String {
        self.host_with_input(args, "")
    }

    pub fn host_with_input(&self, args: &[&str], input: &str) -> String {
        let out = run(Command::new(host_binary()).args(args).env("PROFILE_HOST_HOME", &self.home), input);
        assert!(out.status.success(), "profile-host {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Runs a command to its end with `input` on its stdin; its output.
pub fn run(command: &mut Command, input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.chrome.kill();
        let _ = self.chrome.wait();
    }
}

/// The target id of the extension's running service worker.
pub fn service_worker(browser: &mut Browser) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(worker) = browser
            .targets()
            .into_iter()
            .find(|t| t["type"] == "service_worker" && t["url"].as_str().is_some_and(|u| u.contains(EXTENSION_ID)))
        {
            return worker["targetId"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "the extension's service worker is not running");
        std::thread::sleep(Duration::from_millis(50));
    }
}
