//! Headless Chromium with the packaged extension, driven over the Chrome DevTools Protocol by a
//! small synchronous client (JSON over one WebSocket, flattened sessions); a loopback page
//! server; the demo shop. `Browser::inspect` looks at a page as a person and a machine would:
//! screenshots in light and dark, axe-core's WCAG checks and the body text's size.

use std::collections::HashSet;
use std::fmt;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use serde::Deserialize;
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::{binary, example, host, start_service, target_dir};

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
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace");
        let shots = workspace.join("target/screenshots");
        Self { chrome, socket, next_id: 0, _dir: dir, home, profile, shots }
    }

    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.try_call(session, method, params).unwrap_or_else(|error| panic!("{method}: {error}"))
    }

    /// `call`, with Chromium's refusal (`{code, message}`) as the error.
    pub fn try_call(&mut self, session: Option<&str>, method: &str, params: Value) -> Result<Value, Value> {
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
                return match answer.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(answer["result"].clone()),
                };
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

    /// Reloads one of the extension's own pages. Its `loaded` mark is cleared first, so a wait
    /// for it that follows sees the new document, not the old one before it goes.
    pub fn reload(&mut self, session: &str) {
        self.eval(session, "delete document.body.dataset.loaded; location.reload(); true");
    }

    /// Opens one of the extension's own pages and waits until it has loaded its data (`READY`).
    pub fn open_own_page(&mut self, page: &str) -> String {
        let session = self.open(&format!("chrome-extension://{EXTENSION_ID}/{page}"));
        self.wait_for(&session, READY);
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
        let items = self.shown(&consent);
        self.click_after(&consent, 600, "document.getElementById('allow').click()");
        items
    }

    /// What a consent window shows would leave: each item's title, the address's lines and the
    /// identifiers under "Details".
    pub fn shown(&mut self, consent: &str) -> Value {
        self.eval(
            consent,
            "[...document.querySelectorAll('#items .title, #ids dd')].map(e => e.textContent)
               .concat(document.getElementById('address').innerText.split('\\n').filter(Boolean))",
        )
    }

    /// Writes a PNG of the whole page to `shots/NAME` (`target/screenshots/` unless set). The
    /// viewport is made as tall as the page for the capture: an extension's popup is drawn only
    /// within its window (a capture beyond it repeats the top), and what scrolls is reviewed too.
    pub fn screenshot(&mut self, session: &str, name: &str) {
        let size = self.eval(session, "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]");
        let metrics = json!({"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": false});
        if self.try_call(Some(session), "Emulation.setDeviceMetricsOverride", metrics).is_err() {
            // A popup's window cannot be resized: what it shows, a window's height at a time.
            return self.screenshot_by_window(session, name);
        }
        self.eval_async(session, SETTLED);
        let size = self.eval(session, "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]");
        let clip = json!({"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1});
        let shot = self.call(
            Some(session),
            "Page.captureScreenshot",
            json!({"format": "png", "clip": clip, "captureBeyondViewport": true}),
        );
        self.call(Some(session), "Emulation.clearDeviceMetricsOverride", json!({}));
        std::fs::create_dir_all(&self.shots).unwrap();
        let bytes = Base64::decode_vec(shot["data"].as_str().unwrap()).unwrap();
        std::fs::write(self.shots.join(name), bytes).unwrap();
    }

    /// A page that cannot be made taller (the toolbar popup), as the person scrolls it: `NAME`
    /// what shows on opening, then `NAME` with `-2`, `-3`, … before `.png`, a window further down
    /// each.
    fn screenshot_by_window(&mut self, session: &str, name: &str) {
        let (stem, extension) = name.rsplit_once('.').unwrap_or((name, "png"));
        let size = self.eval(session, "[innerWidth, innerHeight, document.documentElement.scrollHeight]");
        let (width, height, total) =
            (size[0].as_f64().unwrap_or(1.0), size[1].as_f64().unwrap_or(1.0), size[2].as_f64().unwrap_or(1.0));
        let windows = ((total / height).ceil() as usize).clamp(1, 8);
        std::fs::create_dir_all(&self.shots).unwrap();
        for i in 0..windows {
            let top = (i as f64 * height).min(total - height).max(0.0);
            self.eval(session, &format!("scrollTo(0, {top}); true"));
            self.eval_async(session, SETTLED);
            let clip = json!({"x": 0, "y": top, "width": width, "height": height, "scale": 1});
            let shot = self.call(Some(session), "Page.captureScreenshot", json!({"format": "png", "clip": clip}));
            let file = if i == 0 { name.to_owned() } else { format!("{stem}-{}.{extension}", i + 1) };
            std::fs::write(self.shots.join(file), Base64::decode_vec(shot["data"].as_str().unwrap()).unwrap()).unwrap();
        }
        self.eval(session, "scrollTo(0, 0); true");
    }

    /// Screenshots of the whole page in each colour scheme: `shots/{name}-light.png` and
    /// `shots/{name}-dark.png`. For pages that are not the extension's (the shop's).
    pub fn screenshots(&mut self, session: &str, name: &str) {
        self.bring_to_front(session);
        for scheme in SCHEMES {
            self.emulate(session, Some(scheme));
            self.screenshot(session, &format!("{name}-{scheme}.png"));
        }
        self.emulate(session, None);
    }

    /// Looks at the page in `session` as a person and a machine would, once it is `READY`: in
    /// light and then dark mode it writes `shots/{name}-light.png` and `shots/{name}-dark.png`,
    /// runs axe-core's WCAG 2.0 and 2.1 level A and AA rules (`AXE_TAGS`) and reads the body
    /// text's computed size; `shots/{name}.txt` says what it found. The page is left in the
    /// browser's own colour scheme. What it found fails nothing by itself:
    /// `Inspection::assert_clean` (or `assert_all_clean` over a test's inspections) does.
    pub fn inspect(&mut self, session: &str, name: &str) -> Inspection {
        self.wait_for(session, READY);
        self.bring_to_front(session);
        let mut looks = Vec::new();
        for scheme in SCHEMES {
            self.emulate(session, Some(scheme));
            let screenshot = self.shots.join(format!("{name}-{scheme}.png"));
            self.screenshot(session, &format!("{name}-{scheme}.png"));
            let found = self.axe(session);
            looks.push(Look {
                scheme,
                screenshot,
                font_size: found.font_size,
                violations: found.violations,
                needs_review: found.incomplete,
            });
        }
        self.emulate(session, None);
        let inspection = Inspection { name: name.to_owned(), looks };
        std::fs::write(self.shots.join(format!("{name}.txt")), inspection.to_string()).unwrap();
        inspection
    }

    /// Makes the page the one shown: a tab behind another draws no frames, and a screenshot of
    /// it after a change of emulated media waits for one.
    fn bring_to_front(&mut self, session: &str) {
        self.call(Some(session), "Page.bringToFront", json!({}));
    }

    /// Emulates `prefers-color-scheme: SCHEME` (and reduced motion, so nothing is mid-transition)
    /// and waits until the page has laid itself out again; `None` turns the emulation off.
    fn emulate(&mut self, session: &str, scheme: Option<&str>) {
        let features = match scheme {
            Some(scheme) => json!([
                {"name": "prefers-color-scheme", "value": scheme},
                {"name": "prefers-reduced-motion", "value": "reduce"},
            ]),
            None => json!([]),
        };
        self.call(Some(session), "Emulation.setEmulatedMedia", json!({"media": "", "features": features}));
        self.eval_async(session, SETTLED);
    }

    /// axe-core's violations on the page as it is now, and its body text's size. axe is injected
    /// with `Runtime.evaluate` of its source, which the extension pages' CSP (`script-src 'self'`)
    /// does not govern; once per document.
    fn axe(&mut self, session: &str) -> AxeFound {
        if self.eval(session, "typeof window.axe") != json!("object") {
            let injected = self.call(
                Some(session),
                "Runtime.evaluate",
                json!({"expression": format!("{};\ntypeof window.axe", axe_source()), "returnByValue": true}),
            );
            assert_eq!(injected["result"]["value"], json!("object"), "axe-core did not load: {injected}");
        }
        let run = format!(
            "axe.run(document, {{runOnly: {{type: 'tag', values: {tags}}}, resultTypes: ['violations']}}).then(r => {{\
               const rules = list => list.map(rule => ({{id: rule.id, impact: rule.impact, help: rule.help,\
                 nodes: rule.nodes.map(n => ({{target: n.target.flat(Infinity).join(' '), summary: n.failureSummary || ''}}))}}));\
               return {{violations: rules(r.violations), incomplete: rules(r.incomplete),\
                 fontSize: parseFloat(getComputedStyle(document.body).fontSize)}};\
             }})",
            tags = json!(AXE_TAGS)
        );
        serde_json::from_value(self.eval_async(session, &run)).unwrap()
    }

    /// Opens the toolbar popup on the current tab, as a click on the toolbar button does
    /// (`chrome.action.openPopup()` from the service worker); its session. A popup taller than
    /// its window (600 pixels at most) scrolls: `inspect`'s screenshot of it repeats the window
    /// below that height.
    pub fn open_popup(&mut self) -> String {
        let worker = service_worker(self);
        let session = self.attach(&worker);
        self.call(
            Some(&session),
            "Runtime.evaluate",
            json!({"expression": "chrome.action.openPopup()", "awaitPromise": true}),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(popup) =
                self.targets().into_iter().find(|t| t["url"].as_str().is_some_and(|u| u.ends_with("/popup.html")))
            {
                return self.attach(popup["targetId"].as_str().unwrap());
            }
            assert!(Instant::now() < deadline, "the popup did not open");
            std::thread::sleep(Duration::from_millis(50));
        }
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

/// A page is ready to be looked at: the document has loaded and, on the extension's pages, so has
/// their data: the options page and the popup set `document.body.dataset.loaded`; the consent
/// window sets `document.body.dataset.state`, or has replaced its "Loading…" headline.
pub const READY: &str = "document.readyState === 'complete' && !!document.body && (() => {
  const body = document.body;
  if (location.protocol !== 'chrome-extension:') return true;
  if (body.dataset.loaded === 'true' || body.dataset.state) return true;
  const headline = location.pathname.endsWith('/consent.html') && document.getElementById('headline');
  return !!headline && headline.textContent !== '' && headline.textContent !== 'Loading…';
})()";

/// After a change of emulated media: fonts loaded, two frames drawn, transitions over (at most a
/// second each, so an endless animation does not stall the test).
const SETTLED: &str = "(async () => {
  const within = (promise) => Promise.race([promise, new Promise(done => setTimeout(done, 1000))]);
  await within(document.fonts.ready);
  await within(new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done))));
  await within(Promise.all(document.getAnimations().map(a => a.finished.catch(() => {}))));
  return true;
})()";

/// The colour schemes `inspect` looks at, in order.
pub const SCHEMES: [&str; 2] = ["light", "dark"];

/// The axe-core rule tags `inspect` runs: WCAG 2.0 and 2.1, levels A and AA.
pub const AXE_TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// The smallest computed `font-size` of `body` that `inspect` accepts, in CSS pixels.
pub const MIN_BODY_FONT_PX: f64 = 14.0;

/// What `Browser::inspect` saw of one page, in each colour scheme.
#[derive(Debug, Clone)]
#[must_use = "an inspection fails nothing until it is asserted clean"]
pub struct Inspection {
    /// The name its files carry in `target/screenshots/`.
    pub name: String,
    pub looks: Vec<Look>,
}

/// One colour scheme of an inspected page.
#[derive(Debug, Clone)]
pub struct Look {
    /// `light` or `dark`.
    pub scheme: &'static str,
    pub screenshot: PathBuf,
    /// `getComputedStyle(document.body).fontSize`, in CSS pixels.
    pub font_size: f64,
    /// axe-core's violations of the `AXE_TAGS` rules.
    pub violations: Vec<Violation>,
    /// What axe could not decide (a contrast over an image or a gradient, say): listed in the
    /// report for a person to check, never a failure.
    pub needs_review: Vec<Violation>,
}

/// One axe-core rule a page breaks, with every element that breaks it.
#[derive(Debug, Clone, Deserialize)]
pub struct Violation {
    /// The rule (`color-contrast`, `label`, …): <https://dequeuniversity.com/rules/axe/4.14/ID>.
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: Option<String>,
    pub help: String,
    pub nodes: Vec<Node>,
}

/// An element that breaks a rule: its CSS selector and axe's account of why (for contrast,
/// the colours, the ratio and the ratio expected).
#[derive(Debug, Clone, Deserialize)]
pub struct Node {
    pub target: String,
    pub summary: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AxeFound {
    violations: Vec<Violation>,
    incomplete: Vec<Violation>,
    font_size: f64,
}

impl Inspection {
    /// Each problem on one line per scheme and rule, the elements under it; empty when clean.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for look in &self.looks {
            let at = format!("{} ({}, {})", self.name, look.scheme, look.screenshot.display());
            if look.font_size < MIN_BODY_FONT_PX {
                problems.push(format!("{at}: body text is {}px, under {MIN_BODY_FONT_PX}px", look.font_size));
            }
            for violation in &look.violations {
                problems.push(format!("{at}: {violation}"));
            }
        }
        problems
    }

    pub fn is_clean(&self) -> bool {
        self.problems().is_empty()
    }

    /// Panics with every problem, unless there is none.
    pub fn assert_clean(&self) {
        assert_all_clean(std::slice::from_ref(self));
    }
}

/// Panics with every problem of every inspection, unless there is none: a test inspects each
/// state as it reaches it, and asserts at its end, so one run shows all of them.
pub fn assert_all_clean(inspections: &[Inspection]) {
    let problems: Vec<String> = inspections.iter().flat_map(Inspection::problems).collect();
    assert!(
        problems.is_empty(),
        "{} problem(s) seen on the pages (screenshots and reports in target/screenshots/):\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

impl fmt::Display for Inspection {
    /// The report `inspect` writes to `shots/{name}.txt`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for look in &self.looks {
            writeln!(f, "{} {}: body text {}px", self.name, look.scheme, look.font_size)?;
            if look.violations.is_empty() {
                writeln!(f, "  no axe violations ({})", AXE_TAGS.join(", "))?;
            }
            for violation in &look.violations {
                writeln!(f, "  violation {violation}")?;
            }
            for review in &look.needs_review {
                writeln!(f, "  needs review {review}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.id, self.impact.as_deref().unwrap_or("no impact given"), self.help)?;
        for node in &self.nodes {
            write!(f, "\n    {}", node.target)?;
            for line in node.summary.lines().filter(|line| !line.trim().is_empty()) {
                write!(f, "\n      {}", line.trim())?;
            }
        }
        Ok(())
    }
}

/// axe-core's browser script (`axe.min.js`), as pinned in `tools/axe-core/package-lock.json`;
/// installed with `npm ci` into `TARGET/tools/axe-core/` when it is not there yet (beside the
/// build's binaryen), and read once per test binary.
fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let dir = npm_tool("axe-core").unwrap_or_else(|why| panic!("axe-core is missing: {why}"));
        let script = dir.join("node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&script).unwrap_or_else(|e| panic!("{}: {e}", script.display()))
    })
}

/// Installs the npm packages `tools/NAME/package-lock.json` pins (versions and sha512s) into
/// `TARGET/tools/NAME/`, unless they are installed already from the same lock; that folder. The
/// install goes to a folder of its own and is renamed into place, so a run that stops halfway
/// or runs beside another leaves no half-installed tool behind.
pub fn npm_tool(name: &str) -> Result<PathBuf, String> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").join("tools").join(name);
    let lock = std::fs::read(source.join("package-lock.json")).map_err(|e| format!("tools/{name}: {e}"))?;
    // target/debug/ → target/, wherever CARGO_TARGET_DIR points.
    let tools = target_dir().parent().expect("the target dir").join("tools");
    let dir = tools.join(name);
    let installed = |dir: &Path| dir.join("node_modules").is_dir();
    if std::fs::read(dir.join("package-lock.json")).is_ok_and(|installed| installed == lock) && installed(&dir) {
        return Ok(dir);
    }
    let staging = tools.join(format!("{name}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let install = || -> Result<(), String> {
        std::fs::create_dir_all(&staging).map_err(|e| e.to_string())?;
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(source.join(file), staging.join(file)).map_err(|e| format!("{file}: {e}"))?;
        }
        let out = Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&staging)
            .output()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "npm is not installed: scripts/provision installs it (Debian's npm)".into()
                }
                _ => format!("npm does not run ({e}): scripts/provision installs it (Debian's npm)"),
            })?;
        if !out.status.success() {
            return Err(format!(
                "`npm ci` in {} failed (it needs the npm registry): {}",
                staging.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let _ = std::fs::remove_dir_all(&dir);
        // Another run may have put its install in place meanwhile: then use that one.
        if std::fs::rename(&staging, &dir).is_err() && !installed(&dir) {
            return Err(format!("cannot move the installed {name} to {}", dir.display()));
        }
        Ok(())
    };
    let result = install();
    let _ = std::fs::remove_dir_all(&staging);
    result?;
    Ok(dir)
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

/// The demo shop (`profile-rp`'s example) on a free loopback port, as `http://localhost:PORT`;
/// or, with [`DemoShop::example`], the demo till or delivery service.
#[derive(Debug)]
pub struct DemoShop {
    child: Child,
    pub origin: String,
    pub port: u16,
}

impl DemoShop {
    pub fn start() -> Self {
        Self::example("shop")
    }

    /// Another of `profile-rp`'s demo examples, the same way: `till` or `delivery`.
    pub fn example(name: &str) -> Self {
        let binary = example("profile-rp", name);
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let serving = format!("demo {name} on");
        let child = start_service(Command::new(binary).args(["--listen", &format!("127.0.0.1:{port}")]), |line| {
            line.contains(&serving)
        })
        .unwrap_or_else(|said| panic!("the demo {name} did not start: {said}"));
        Self { child, origin: format!("http://localhost:{port}"), port }
    }
}

impl Drop for DemoShop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
