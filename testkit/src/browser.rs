//! Headless Chromium with the packaged extension, driven over the Chrome DevTools Protocol by a
//! small synchronous client (JSON over one WebSocket, flattened sessions); a loopback page
//! server; the demo shop.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::{binary, example, host, start_service};

pub const CHROMIUM: &str = "/usr/lib/chromium/chromium";
pub use crate::EXTENSION_ID;

/// A site on loopback: serves one page for every path.
pub fn serve(page: impl Into<String>) -> String {
    let page: &'static str = Box::leak(page.into().into_boxed_str());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                use std::io::Write;
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

/// A headless Chromium with the packaged extension, and a DevTools session to it; killed on drop.
#[derive(Debug)]
pub struct Browser {
    chrome: Child,
    pub socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    _dir: tempfile::TempDir,
    pub home: PathBuf,
    /// The browser's profile (user data dir).
    pub profile: PathBuf,
    /// Where `screenshot` writes.
    pub shots: PathBuf,
}

impl Browser {
    /// Chromium with the packaged extension in `extension` (the caller's
    /// `env!("PROFILE_EXTENSION_DIR")`, which the root package's build script sets); the host
    /// manifest installed into its profile unless `with_host` is false.
    pub fn launch(extension: &Path, with_host: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (profile, home) = (dir.path().join("chromium"), dir.path().join("host-home"));
        Self::launch_in(extension, profile, home, with_host, dir)
    }

    /// Chromium on the profile `profile` with the host data dir `home` (the demo's, which
    /// outlive the run); installs the host manifest into the profile when `install_host`.
    pub fn launch_in(
        extension: &Path,
        profile: PathBuf,
        home: PathBuf,
        install_host: bool,
        dir: tempfile::TempDir,
    ) -> Self {
        Self::launch_with(extension, profile, home, install_host, dir, &[])
    }

    /// As `launch_in`, with more unpacked extensions loaded beside ours (the benchmark's relay).
    pub fn launch_with(
        extension: &Path,
        profile: PathBuf,
        home: PathBuf,
        install_host: bool,
        dir: tempfile::TempDir,
        extensions: &[&Path],
    ) -> Self {
        crate::require_keyring();
        assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing: apt-get install chromium (scripts/test does)");
        // A DevToolsActivePort left by an earlier run of a kept profile is not this browser's.
        let _ = std::fs::remove_file(profile.join("DevToolsActivePort"));
        if install_host {
            let out = Command::new(binary("profile-host"))
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
            .arg(format!(
                "--load-extension={}",
                std::iter::once(extension)
                    .chain(extensions.iter().copied())
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ))
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
        // The workspace's target/screenshots/, wherever CARGO_TARGET_DIR points.
        let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
        Self { chrome, socket, next_id: 0, _dir: dir, home, profile, shots }
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

    /// Evaluates an expression that yields a promise; its value.
    pub fn eval_async(&mut self, session: &str, expression: &str) -> Value {
        let result = self.call(
            Some(session),
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(result.get("exceptionDetails").is_none(), "{expression}: {result}");
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

    /// Allows the next consent window's request; returns what it showed would leave: each
    /// item's title, the address's lines and the identifiers under "Details".
    pub fn allow(&mut self, seen: &mut HashSet<String>) -> Value {
        let (_, consent) = self.consent(seen);
        let items = self.eval(
            &consent,
            "[...document.querySelectorAll('#items .title, #ids dd')].map(e => e.textContent)
               .concat(document.getElementById('address').innerText.split('\\n').filter(Boolean))",
        );
        self.click_after(&consent, 600, "document.getElementById('allow').click()");
        items
    }

    /// Writes a PNG of the whole page to `shots/NAME` (`target/screenshots/` unless set).
    pub fn screenshot(&mut self, session: &str, name: &str) {
        let size = self.eval(session, "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]");
        let clip = json!({"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1});
        let shot = self.call(
            Some(session),
            "Page.captureScreenshot",
            json!({"format": "png", "clip": clip, "captureBeyondViewport": true}),
        );
        std::fs::create_dir_all(&self.shots).unwrap();
        let bytes = Base64::decode_vec(shot["data"].as_str().unwrap()).unwrap();
        std::fs::write(self.shots.join(name), bytes).unwrap();
    }

    /// Runs the host's CLI on this browser's data dir; returns its stdout.
    pub fn host(&self, args: &[&str]) -> String {
        self.host_with_input(args, "")
    }

    pub fn host_with_input(&self, args: &[&str], input: &str) -> String {
        host::cli_ok(&self.home, args, input)
    }
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

/// The demo shop (`profile-rp`'s example) on a free loopback port, as `http://localhost:PORT`.
#[derive(Debug)]
pub struct DemoShop {
    child: Child,
    pub origin: String,
    pub port: u16,
}

impl DemoShop {
    pub fn start() -> Self {
        let shop = example("profile-rp", "shop");
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = start_service(Command::new(shop).args(["--listen", &format!("127.0.0.1:{port}")]), |line| {
            line.contains("demo shop on")
        })
        .unwrap_or_else(|said| panic!("the shop did not start: {said}"));
        Self { child, origin: format!("http://localhost:{port}"), port }
    }
}

impl Drop for DemoShop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
