//! What the demo shop and the demo apps share: their pages' look, visitors' sessions in memory,
//! and how each starts (`--listen ADDR`, `--origin URL`, one line on stderr when serving).
#![allow(dead_code, clippy::print_stderr)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::{Json, Router};
use profile_rp::Origin;
use serde_json::json;

/// Each visitor's state, by the id in their session cookie.
#[derive(Debug)]
pub struct Sessions<V> {
    cookie: &'static str,
    visits: Arc<Mutex<HashMap<String, V>>>,
}

impl<V> Clone for Sessions<V> {
    fn clone(&self) -> Self {
        Self { cookie: self.cookie, visits: self.visits.clone() }
    }
}

impl<V: Default + Clone> Sessions<V> {
    pub fn new(cookie: &'static str) -> Self {
        Self { cookie, visits: Arc::default() }
    }

    /// The visitor's session id (from the cookie), and a `Set-Cookie` when it is new; `None`
    /// when the OS random number generator fails.
    pub fn session(&self, headers: &HeaderMap) -> Option<(String, Option<String>)> {
        let prefix = format!("{}=", self.cookie);
        let existing = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().strip_prefix(&prefix).map(str::to_owned))
            .find(|id| self.lock().contains_key(id));
        match existing {
            Some(id) => Some((id, None)),
            None => {
                let id = random_id()?;
                self.lock().insert(id.clone(), V::default());
                let cookie = format!("{}={id}; Path=/; HttpOnly; SameSite=Lax", self.cookie);
                Some((id, Some(cookie)))
            }
        }
    }

    pub fn visit(&self, id: &str) -> V {
        self.lock().get(id).cloned().unwrap_or_default()
    }

    pub fn update(&self, id: &str, change: impl FnOnce(&mut V)) {
        change(self.lock().entry(id.to_owned()).or_default());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, V>> {
        self.visits.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn with_cookie(cookie: Option<String>, response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    if let Some(cookie) = cookie.and_then(|c| c.parse().ok()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// 128 random bits as hex; `None` when the OS generator fails.
pub fn random_id() -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `{"error": message}` with `status`, which the pages' `post` shows.
pub fn refused(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({"error": message.to_string()}))).into_response()
}

pub fn no_randomness() -> Response {
    refused(StatusCode::INTERNAL_SERVER_ERROR, "the system random number generator failed")
}

/// Text someone else gave, for HTML.
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A whole page: `brand` links home, `nav` sits at the header's end, `script` runs after
/// [`SCRIPT`].
pub fn page(brand: &str, title: &str, nav: &str, body: &str, script: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
         <title>{title} · {brand}</title><style>{STYLE}</style>\
         <header><a href=/ class=brand>{brand}</a><nav>{nav}</nav></header>\
         <main>{body}</main><p id=message role=status></p><script>{SCRIPT}{script}</script></html>"
    ))
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f7f9}\
header{display:flex;justify-content:space-between;align-items:center;padding:.8rem 1.5rem;background:#fff;border-bottom:1px solid #d0d7de}\
.brand{font-weight:700;color:#1f2328;text-decoration:none;font-size:1.2rem;white-space:nowrap;margin-right:1rem}\
nav{display:flex;flex-wrap:wrap;align-items:center;justify-content:flex-end;gap:.3rem 1rem}\
main{max-width:46rem;margin:2rem auto;padding:0 1.5rem}.card{background:#fff;border:1px solid #d0d7de;border-radius:10px;padding:1.2rem 1.5rem;margin-bottom:1.2rem}\
button{font:inherit;padding:.45rem 1rem;border-radius:6px;border:1px solid #1f6feb;background:#1f6feb;color:#fff;cursor:pointer}\
button.secondary{background:#fff;color:#1f6feb}.inline{display:inline}#logout{padding:.2rem .7rem;margin-left:.5rem}\
fieldset{border:1px solid #d0d7de;border-radius:10px;padding:1rem 1.2rem;margin-bottom:1.2rem;background:#fff}\
legend{font-weight:600}label{display:grid;grid-template-columns:9rem 1fr;gap:.5rem;margin:.35rem 0}\
input,select{font:inherit;padding:.3rem .5rem;border:1px solid #d0d7de;border-radius:6px}\
#message{max-width:46rem;margin:0 auto;padding:0 1.5rem;color:#b42318}.price{font-size:1.3rem;font-weight:600}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #d0d7de}\
td.num,th.num{text-align:right}td input{width:4rem}.done{color:#1a7f37;font-weight:600}.error{color:#b42318}\
.muted{color:#59636e;font-size:.9rem;overflow-wrap:anywhere}address{font-style:normal;line-height:1.6}:root{color-scheme:light dark}\
@media(prefers-color-scheme:dark){body{color:#e6edf3;background:#0d1117}header,.card,fieldset{background:#161b22;border-color:#30363d}\
.brand{color:#e6edf3}input,select{background:#0d1117;color:#e6edf3;border-color:#3d444d}td,th{border-color:#30363d}\
button{background:#2f81f7;border-color:#2f81f7}button.secondary{background:#0d1117;color:#58a6ff}#message,.error{color:#ff7b72}\
.done{color:#3fb950}.muted{color:#9198a1}}";

/// What every page's script starts with: `say`, `explain` (a `window.profile` refusal in
/// words), `post` (JSON to the server, its `error` thrown with the HTTP `status`) and
/// `needProfile`.
const SCRIPT: &str = r#"
const say = (text) => { document.getElementById("message").textContent = text; };
const explain = (e) => ({
  user_denied: "You declined in the Personal Profile window.",
  timeout: "The Personal Profile window was not answered in time.",
  busy: "Another Personal Profile request is waiting for you.",
  not_found: "Your profile has no such address saved.",
  not_signed_up: "You have no account here yet: sign up first.",
  not_paired: "Your profile is not paired with a profile server yet: pair it from the extension's options.",
  locked: "Your profile is locked: unlock it from the extension.",
  host_unavailable: "Personal Profile is not installed on this computer.",
}[e && e.code] || (e && e.message) || String(e));
async function post(path, body) {
  const r = await fetch(path, {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body || {})});
  const answer = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(answer.error || r.statusText), {status: r.status});
  return answer;
}
function needProfile() {
  if (!window.profile) { say("Install the Personal Profile extension to use this."); return false; }
  return true;
}
"#;

/// Parses `--listen ADDR` (default `listen`) and `--origin URL` (default
/// `http://localhost:PORT`), makes the app for that origin, and serves it, saying so in one
/// line: `{name} on {origin} (listening on {addr})`.
pub async fn serve(name: &str, listen: &str, app: impl FnOnce(Origin) -> Result<Router, String>) -> ExitCode {
    let mut args = std::env::args();
    let program = args.next().unwrap_or_default();
    let (mut listen, mut origin) = (listen.to_owned(), None);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--listen", Some(value)) => listen = value,
            ("--origin", Some(value)) => origin = Some(value),
            _ => {
                eprintln!("usage: {program} [--listen ADDR] [--origin URL]");
                return ExitCode::FAILURE;
            }
        }
    }
    let Ok(addr) = listen.parse::<SocketAddr>() else {
        eprintln!("--listen: not an address: {listen}");
        return ExitCode::FAILURE;
    };
    let origin = origin.unwrap_or_else(|| format!("http://localhost:{}", addr.port()));
    let origin: Origin = match origin.parse() {
        Ok(origin) => origin,
        Err(e) => {
            eprintln!("--origin: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let router = match app(origin.clone()) {
        Ok(router) => router,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("{name} on {origin} (listening on {addr})");
    match axum::serve(listener, router).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// A blocking call of `profile-rp` (its clients block) off the async runtime's threads.
pub async fn blocking<T: Send + 'static>(call: impl FnOnce() -> T + Send + 'static) -> Result<T, Response> {
    tokio::task::spawn_blocking(call).await.map_err(|e| refused(StatusCode::INTERNAL_SERVER_ERROR, e))
}
