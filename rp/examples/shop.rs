//! The demo shop: a site that uses Personal Profile, on axum with plain HTML and a little JS.
//!
//! `cargo run -p profile-rp --example shop -- [--listen 127.0.0.1:8480] [--origin http://localhost:8480]`
//!
//! - `/` — a product page with "Sign up with my profile" and "Log in with my profile";
//! - `/checkout` — shipping and billing forms, each with "Fill from my profile" (`window.profile`),
//!   and a plain form with `autocomplete` attributes that the person fills from the toolbar popup;
//! - `/sign-up` and `/logged-in` — where sign-up and login land; `/logout`;
//! - `POST /api/challenge`, `/api/sign-up`, `/api/login` — the server side, where every answer is
//!   verified with `profile-rp` against the challenge kept in the visitor's session;
//! - `/.well-known/personal-profile` — the shop's registration: its name and public key;
//! - `GET /api/account-status` — asks the signed-in person's profile server, in a request
//!   signed with the shop's key, whether their account is still live.
//!
//! Sessions and accounts live in memory: restarting the shop forgets them.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{Sessions, no_randomness, random_id, refused, with_cookie};
use profile_rp::wire::{LoginResult, SignUpResult};
use profile_rp::{AccountGuid, AccountStore, Challenge, MemoryStore, RelyingParty, SiteKey};
use serde_json::json;

mod common;

/// One visitor.
#[derive(Debug, Default, Clone)]
struct Visit {
    /// The challenge handed to this visitor's page, and the account guid offered for sign-up.
    pending: Option<(Challenge, AccountGuid)>,
    /// Who is logged in.
    account: Option<AccountGuid>,
}

#[derive(Debug, Clone)]
struct Shop {
    rp: Arc<RelyingParty<MemoryStore>>,
    visits: Sessions<Visit>,
    /// Published in the shop's registration; signs its questions to profile servers.
    key: Arc<SiteKey>,
}

fn page(title: &str, account: Option<&AccountGuid>, body: &str) -> Html<String> {
    let who = match account {
        Some(guid) => {
            // The account id is the shop's own; its start is enough to tell accounts apart.
            let short: String = guid.as_str().chars().take(13).collect();
            format!(
                "<span id=who title=\"{guid}\">Signed in as <b>{short}…</b></span> <form method=post action=/logout \
                 class=inline><button id=logout>Log out</button></form>"
            )
        }
        None => "<span id=who>Not signed in</span>".into(),
    };
    common::page("Demo Shop", title, &format!("<a href=/checkout>Checkout</a> {who}"), body, SCRIPT)
}

/// The page side (after the shared `say`, `explain`, `post` and `needProfile`): ask the server
/// for a challenge, ask `window.profile`, post the answer back.
const SCRIPT: &str = r#"
async function signUp() {
  if (!needProfile()) return;
  try {
    const {challenge, accountGuid} = await post("/api/challenge", {purpose: "signUp"});
    const answer = await window.profile.signUp({challenge, accountGuid, appId: "demo-shop"});
    location.href = (await post("/api/sign-up", answer)).next;
  } catch (e) { say(explain(e)); }
}
async function logIn() {
  if (!needProfile()) return;
  try {
    const {challenge} = await post("/api/challenge", {purpose: "login"});
    const answer = await window.profile.login({challenge});
    location.href = (await post("/api/login", answer)).next;
  } catch (e) { say(explain(e)); }
}
async function fill(kind) {
  if (!needProfile()) return;
  try {
    const address = await window.profile.getAddress(kind);
    for (const [field, value] of Object.entries(address)) {
      const input = document.getElementById(kind + "-" + field);
      if (input) input.value = value;
    }
    say("");
  } catch (e) { say(explain(e)); }
}
"#;

async fn home(State(shop): State<Shop>, headers: HeaderMap) -> Response {
    let Some((id, cookie)) = shop.visits.session(&headers) else { return no_randomness() };
    let visit = shop.visits.visit(&id);
    let body = "<div class=card><h1>Field notebook</h1><p>A pocket notebook with 96 dotted pages, sewn binding.</p>\
        <p class=price>€12.00</p><p><a href=/checkout><button class=secondary>Buy now</button></a></p></div>\
        <div class=card><h2>Your account</h2><p>No password to invent: your browser's Personal Profile signs you in, \
        and only after you confirm.</p><button id=sign-up onclick=signUp()>Sign up with my profile</button> \
        <button id=log-in class=secondary onclick=logIn()>Log in with my profile</button></div>";
    with_cookie(cookie, page("Field notebook", visit.account.as_ref(), body))
}

const ADDRESS_FIELDS: [(&str, &str); 9] = [
    ("name", "Full name"),
    ("organization", "Organization"),
    ("line1", "Address"),
    ("line2", "Address line 2"),
    ("city", "City"),
    ("region", "Region"),
    ("postalCode", "Postal code"),
    ("country", "Country"),
    ("phone", "Phone"),
];

async fn checkout(State(shop): State<Shop>, headers: HeaderMap) -> Response {
    let Some((id, cookie)) = shop.visits.session(&headers) else { return no_randomness() };
    let visit = shop.visits.visit(&id);
    let form = |kind: &str, title: &str| {
        let fields: String = ADDRESS_FIELDS
            .iter()
            .map(|(field, label)| format!("<label>{label}<input id={kind}-{field} name={kind}-{field}></label>"))
            .collect();
        format!(
            "<fieldset id={kind}><legend>{title}</legend><p><button type=button id=fill-{kind} class=secondary \
             onclick=\"fill('{kind}')\">Fill from my profile</button></p>{fields}</fieldset>"
        )
    };
    let body = format!(
        "<h1>Checkout</h1><form onsubmit=\"event.preventDefault(); say('Thank you: this is a demo, nothing was ordered.')\">\
         {}{}<button>Place order</button></form>{PLAIN_CHECKOUT}",
        form("shipping", "Shipping address"),
        form("billing", "Billing address")
    );
    with_cookie(cookie, page("Checkout", visit.account.as_ref(), &body))
}

/// A checkout form as a site writes it that never heard of Personal Profile: only the HTML
/// standard's `autocomplete` attributes say what each field is for. The person fills it from the
/// toolbar popup (or the context menu, or the keyboard shortcut).
const PLAIN_CHECKOUT: &str = "<form id=plain class=card onsubmit=\"event.preventDefault(); say('Thank you: this is a demo, nothing was ordered.')\">\
    <h2>Or fill it from your browser's toolbar</h2>\
    <p>This form was never adapted to Personal Profile: its <code>autocomplete</code> attributes say what each field is \
    for. Open Personal Profile from the toolbar, or right-click a field and choose <b>Fill with Personal Profile</b>.</p>\
    <label>Full name<input id=plain-name name=name autocomplete='shipping name'></label>\
    <label>Email<input id=plain-email name=email type=email autocomplete=email></label>\
    <label>Street address<input id=plain-line1 name=address1 autocomplete='shipping address-line1'></label>\
    <label>Address line 2<input id=plain-line2 name=address2 autocomplete='shipping address-line2'></label>\
    <label>City<input id=plain-city name=city autocomplete='shipping address-level2'></label>\
    <label>Postal code<input id=plain-postal-code name=postcode autocomplete='shipping postal-code'></label>\
    <label>Country<select id=plain-country name=country autocomplete='shipping country'><option value=''>Choose…</option>\
    <option value=DE>Germany</option><option value=FR>France</option><option value=GB>United Kingdom</option>\
    <option value=US>United States</option></select></label>\
    <label>Phone<input id=plain-phone name=phone type=tel autocomplete='shipping tel'></label>\
    <button>Place order</button></form>";

async fn landing(State(shop): State<Shop>, headers: HeaderMap, title: &str, text: &str) -> Response {
    let Some((id, cookie)) = shop.visits.session(&headers) else { return no_randomness() };
    let visit = shop.visits.visit(&id);
    let body =
        format!("<div class=card><h1 id=landing>{title}</h1><p>{text}</p><p><a href=/>Back to the shop</a></p></div>");
    with_cookie(cookie, page(title, visit.account.as_ref(), &body))
}

#[derive(Debug, serde::Deserialize)]
struct ChallengeRequest {
    purpose: String,
}

async fn challenge(State(shop): State<Shop>, headers: HeaderMap, Json(request): Json<ChallengeRequest>) -> Response {
    let Some((id, cookie)) = shop.visits.session(&headers) else { return no_randomness() };
    let challenge = match shop.rp.challenge() {
        Ok(challenge) => challenge,
        Err(e) => return refused(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let Some(Ok(guid)) = random_id().map(|id| AccountGuid::try_from(format!("shop-{id}"))) else {
        return no_randomness();
    };
    shop.visits.update(&id, |visit| visit.pending = Some((challenge.clone(), guid.clone())));
    let answer = match request.purpose.as_str() {
        "signUp" => json!({"challenge": challenge, "accountGuid": guid}),
        _ => json!({"challenge": challenge}),
    };
    with_cookie(cookie, Json(answer))
}

async fn sign_up(State(shop): State<Shop>, headers: HeaderMap, Json(answer): Json<SignUpResult>) -> Response {
    let Some((id, _)) = shop.visits.session(&headers) else { return no_randomness() };
    let Some((challenge, guid)) = shop.visits.visit(&id).pending else {
        return refused(StatusCode::BAD_REQUEST, "ask for a challenge first");
    };
    shop.visits.update(&id, |visit| visit.pending = None);
    if answer.account_guid != guid {
        return refused(StatusCode::BAD_REQUEST, "that is not the account this page offered");
    }
    match shop.rp.verify_sign_up(&challenge, &answer).await {
        Ok(account) => {
            shop.visits.update(&id, |visit| visit.account = Some(account.account_guid));
            Json(json!({"next": "/sign-up"})).into_response()
        }
        Err(e) => refused(StatusCode::UNAUTHORIZED, e),
    }
}

async fn login(State(shop): State<Shop>, headers: HeaderMap, Json(answer): Json<LoginResult>) -> Response {
    let Some((id, _)) = shop.visits.session(&headers) else { return no_randomness() };
    let Some((challenge, _)) = shop.visits.visit(&id).pending else {
        return refused(StatusCode::BAD_REQUEST, "ask for a challenge first");
    };
    shop.visits.update(&id, |visit| visit.pending = None);
    match shop.rp.verify_login(&challenge, &answer).await {
        Ok(account) => {
            shop.visits.update(&id, |visit| visit.account = Some(account.account_guid));
            Json(json!({"next": "/logged-in"})).into_response()
        }
        Err(e) => refused(StatusCode::UNAUTHORIZED, e),
    }
}

async fn logout(State(shop): State<Shop>, headers: HeaderMap) -> Response {
    let Some((id, _)) = shop.visits.session(&headers) else { return no_randomness() };
    shop.visits.update(&id, |visit| visit.account = None);
    Redirect::to("/").into_response()
}

/// Asks the signed-in person's profile server whether their account here is still live.
async fn account_status(State(shop): State<Shop>, headers: HeaderMap) -> Response {
    let Some((id, _)) = shop.visits.session(&headers) else { return no_randomness() };
    let Some(guid) = shop.visits.visit(&id).account else { return refused(StatusCode::UNAUTHORIZED, "not signed in") };
    let profile_url = match shop.rp.store().find(&guid).await {
        Ok(Some(account)) => account.profile_url,
        _ => None,
    };
    let Some(profile_url) = profile_url else {
        return Json(json!({"valid": null, "why": "this account has no profile server"})).into_response();
    };
    let request = shop.key.account_check(shop.rp.origin(), &guid);
    let asked = tokio::task::spawn_blocking(move || -> Result<serde_json::Value, String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(5)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent.get(&profile_url).call().map_err(|e| e.to_string())?;
        if response.status() == 404 {
            // The profile is gone (or locked down): the account is not live.
            return Ok(json!({"valid": false}));
        }
        let document: serde_json::Value = response.body_mut().read_json().map_err(|e| e.to_string())?;
        let api = document["apiBase"].as_str().ok_or("the profile document names no API")?;
        agent
            .post(format!("{api}/api/v1/sites/account-check"))
            .header(profile_rp::SIGNATURE_HEADER, &request.signature)
            .header("content-type", "application/json")
            .send(request.body.as_str())
            .map_err(|e| e.to_string())?
            .body_mut()
            .read_json()
            .map_err(|e| e.to_string())
    })
    .await;
    match asked {
        Ok(Ok(answer)) => Json(answer).into_response(),
        Ok(Err(e)) => refused(StatusCode::BAD_GATEWAY, e),
        Err(e) => refused(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

fn app(origin: profile_rp::Origin, key: SiteKey) -> Router {
    let shop = Shop {
        rp: Arc::new(RelyingParty::new(origin, MemoryStore::default())),
        visits: Sessions::new("shop_session"),
        key: Arc::new(key),
    };
    let registration = shop.key.registration("demo-shop", "Demo Shop");
    Router::new()
        .route("/", get(home))
        .route("/checkout", get(checkout))
        .route(
            "/sign-up",
            get(|state, headers| {
                landing(
                    state,
                    headers,
                    "Welcome!",
                    "Your account is ready. No password was made: next time, log in with your profile.",
                )
            }),
        )
        .route(
            "/logged-in",
            get(|state, headers| landing(state, headers, "Welcome back", "You are logged in with your profile.")),
        )
        .route("/logout", post(logout))
        // The site's registration: what the consent window shows beside the origin.
        .route("/.well-known/personal-profile", get(move || async move { Json(registration) }))
        .route("/api/account-status", get(account_status))
        .route("/api/challenge", post(challenge))
        .route("/api/sign-up", post(sign_up))
        .route("/api/login", post(login))
        .with_state(shop)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    common::serve("demo shop", "127.0.0.1:8480", |origin| {
        Ok(app(origin, SiteKey::generate().map_err(|e| e.to_string())?))
    })
    .await
}
