//! What the browser tests and the page-call benchmark share: a small synchronous Chrome
//! DevTools Protocol client (JSON over one WebSocket, flattened sessions) driving a real headless
//! Chromium with the packaged extension, the real `profile-host`, and a loopback web server.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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
    /// Chromium with the packaged extension; the host manifest installed into its profile
    /// unless `with_host` is false.
    pub fn launch(with_host: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (profile, home) = (dir.path().join("chromium"), dir.path().join("host-home"));
        Self::launch_in(profile, home, with_host, dir)
    }

    /// Chromium on the profile `profile` with the host data dir `home` (the demo's, which
    /// outlive the run); installs the host manifest into the profile when `install_host`.
    pub fn launch_in(profile: PathBuf, home: PathBuf, install_host: bool, dir: tempfile::TempDir) -> Self {
        Self::launch_with(profile, home, install_host, dir, &[])
    }

    /// As `launch_in`, with more unpacked extensions loaded beside ours (the benchmark's relay).
    pub fn launch_with(
        profile: PathBuf,
        home: PathBuf,
        install_host: bool,
        dir: tempfile::TempDir,
        extensions: &[&Path],
    ) -> Self {
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "needs a Secret Service: run through scripts/with-keyring"
        );
        assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing: apt-get install chromium (scripts/test does)");
        // A DevToolsActivePort left by an earlier run of a kept profile is not this browser's.
        let _ = std::fs::remove_file(profile.join("DevToolsActivePort"));
        if install_host {
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
            .arg(format!(
                "--load-extension={}",
                std::iter::once(Path::new(EXTENSION_DIR))
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
        let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
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

    /// Allows the next consent window's request; returns the lines it showed.
    pub fn allow(&mut self, seen: &mut HashSet<String>) -> Value {
        let (_, consent) = self.consent(seen);
        let items = self.eval(&consent, "[...document.querySelectorAll('#items li')].map(li => li.textContent)");
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
        expect_success(args, host_cli(&self.home, args, input))
    }
}

/// A host data dir of its own (another device of the person), driven through the CLI.
pub struct HostHome(tempfile::TempDir);

impl HostHome {
    pub fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// `profile-host ARGS` on this home, which must succeed; its stdout.
    pub fn cli(&self, args: &[&str], input: &str) -> String {
        expect_success(args, self.try_cli(args, input))
    }

    pub fn try_cli(&self, args: &[&str], input: &str) -> std::process::Output {
        host_cli(self.path(), args, input)
    }
}

/// `profile-host ARGS` with `PROFILE_HOST_HOME=home` and `input` on its stdin.
fn host_cli(home: &Path, args: &[&str], input: &str) -> std::process::Output {
    run(Command::new(host_binary()).args(args).env("PROFILE_HOST_HOME", home), input)
}

fn expect_success(args: &[&str], out: std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "profile-host {args:?}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
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

pub fn server_binary() -> PathBuf {
    let server = host_binary().with_file_name("profile-server");
    assert!(server.exists(), "{} is missing: `cargo test --workspace` builds it", server.display());
    server
}

/// A real `profile-server` on a fresh SQLite file, with one user.
pub struct ProfileServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    database: String,
    port: u16,
    pub profile_url: String,
}

impl ProfileServer {
    pub fn start(email: &str, passphrase: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database = format!("sqlite://{}/profile.db", dir.path().display());
        // A fixed free port, so the public URL (in profile documents) is right, and a restart
        // comes back where the hosts look for it.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = Self { child: None, dir, database, port, profile_url: String::new() };
        let url = server.admin(&["create-user", "--email", email], &format!("{passphrase}\n"));
        let profile_id = url.trim().rsplit('/').next().unwrap().to_owned();
        server.profile_url = format!("http://127.0.0.1:{port}/u/{profile_id}");
        server.serve();
        server
    }

    pub fn admin(&self, args: &[&str], input: &str) -> String {
        let mut command = Command::new(server_binary());
        command.args(["--database", &self.database, "admin"]).args(args).env("HOME", self.dir.path());
        let out = run(&mut command, input);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Serves on the fixed port, again after a restart. The port can be briefly taken by an
    /// outgoing connection's local end (the hosts' own connections draw from the same range),
    /// so a start that cannot listen is retried for a while.
    fn serve(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.try_serve() {
                Ok(child) => {
                    self.child = Some(child);
                    return;
                }
                Err(said) if said.contains("cannot listen") && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(said) => panic!("the server exited before serving: {said}"),
            }
        }
    }

    fn try_serve(&self) -> Result<Child, String> {
        let (base, listen) = (format!("http://127.0.0.1:{}", self.port), format!("127.0.0.1:{}", self.port));
        let mut child = Command::new(server_binary())
            .args(["--database", &self.database, "--public-url", &base, "serve", "--listen", &listen])
            .env("HOME", self.dir.path())
            // The demo shop runs on localhost.
            .env("PROFILE_SERVER__SITES_ON_LOOPBACK", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut said = String::new();
        loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.wait();
                return Err(said);
            }
            if line.contains("serving") {
                break;
            }
            said.push_str(&line);
        }
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Ok(child)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A raw POST of `body` with a `Personal-Profile-Signature`; the status and the body.
    pub fn post_signed(&self, path: &str, body: &str, signature: &str) -> (u16, String) {
        use std::io::{Read, Write};
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Personal-Profile-Signature: {signature}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, response.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned()))
    }

    /// SIGKILL, then the same server again on the same port and database.
    pub fn restart(&mut self) {
        self.stop();
        self.serve();
    }

    /// Stops the server (SIGKILL) until `resume`.
    pub fn pause(&mut self) {
        self.stop();
    }

    pub fn resume(&mut self) {
        self.serve();
    }

    /// A copy of the database as it is now (the server is stopped for the copy, then
    /// served again).
    pub fn snapshot(&mut self) -> tempfile::TempDir {
        self.stop();
        let copy = tempfile::tempdir().unwrap();
        self.copy_database(self.dir.path(), copy.path());
        self.serve();
        copy
    }

    /// Puts back a `snapshot`: what a malicious operator or a restored backup does.
    pub fn rewind(&mut self, snapshot: &tempfile::TempDir) {
        self.stop();
        self.copy_database(snapshot.path(), self.dir.path());
        self.serve();
    }

    fn copy_database(&self, from: &Path, to: &Path) {
        for name in ["profile.db", "profile.db-wal", "profile.db-shm"] {
            let _ = std::fs::remove_file(to.join(name));
            if from.join(name).exists() {
                std::fs::copy(from.join(name), to.join(name)).unwrap();
            }
        }
    }

    /// Everything the database holds on disk.
    pub fn stored_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for name in ["profile.db", "profile.db-wal"] {
            bytes.extend(std::fs::read(self.dir.path().join(name)).unwrap_or_default());
        }
        bytes
    }
}

impl Drop for ProfileServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The demo shop (`profile-rp`'s example) on a free loopback port, as `http://localhost:PORT`.
pub struct DemoShop {
    child: Child,
    pub origin: String,
    pub port: u16,
}

impl DemoShop {
    pub fn start() -> Self {
        let shop = host_binary().with_file_name("examples").join("shop");
        assert!(shop.exists(), "{} is missing: `cargo test --workspace` builds it", shop.display());
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(shop)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0 && line.contains("demo shop on"),
            "the shop did not start: {line}"
        );
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Self { child, origin: format!("http://localhost:{port}"), port }
    }
}

impl Drop for DemoShop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
