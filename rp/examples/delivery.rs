//! The demo delivery service: it ships to its customers' shipping address as their profile
//! keeps it, and hears when they change it, on axum with plain HTML and a little JS.
//!
//! `cargo run -p profile-rp --example delivery -- [--listen 127.0.0.1:8482] [--origin http://localhost:8482]`
//!
//! - `/` — "Deliver to my address": the page asks the customer's profile for a grant to read
//!   and follow the address fields a parcel needs (`window.profile.requestGrant`) and posts
//!   the answer to `POST /api/grant`. The server reads the share (sealed to its key, signed by
//!   the profile), asks the profile server to POST the grant's events to its `/webhook`, and
//!   shows the address; the page asks `GET /api/address` every two seconds and shows what
//!   changed;
//! - `POST /webhook` — the profile server's signed events: on `share-updated` the server reads
//!   the share again, on `grant-revoked` it forgets the address. Each event is handled once,
//!   however often it comes. When the profile server will not send webhooks here (a profile
//!   server that delivers only to public addresses), it listens on the grant's event socket;
//! - `/.well-known/personal-profile` — its registration: its name and both its keys.
//!
//! Keys, sessions and addresses live in memory: restarting it forgets them. Served on plain
//! http (development), it reaches profile servers on loopback too.
#![allow(clippy::print_stderr)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{Sessions, blocking, html_escape, no_randomness, refused, with_cookie};
use profile_core::address::format;
use profile_core::{Address, lines_of};
use profile_rp::apps::{
    AppClient, AppError, AppEvent, AppEventKind, AppKeys, Category, GrantAnswer, GrantId, Reach, ShareContents,
    Webhooks,
};
use serde::Deserialize;
use serde_json::json;

mod common;

/// The address fields a parcel needs: all the grant asks for.
const FIELDS: [&str; 9] =
    ["name", "organization", "line1", "line2", "postalCode", "city", "region", "country", "phone"];

/// One visitor: the grant their profile gave, once they connected.
#[derive(Debug, Default, Clone)]
struct Visit {
    grant: Option<GrantId>,
}

/// A customer, by grant: the client of their grant and the address last read from its share.
#[derive(Debug, Clone)]
struct Customer {
    client: Arc<AppClient>,
    /// The address's lines, as a label prints them.
    address: Vec<String>,
    /// The share's version they were read from.
    version: u64,
    revoked: bool,
}

type Customers = Arc<Mutex<HashMap<GrantId, Customer>>>;

#[derive(Debug, Clone)]
struct Delivery {
    keys: Arc<AppKeys>,
    reach: Reach,
    /// Where the profile server POSTs this app's events.
    webhook_url: String,
    visits: Sessions<Visit>,
    customers: Customers,
    webhooks: Arc<Webhooks>,
}

fn customer(customers: &Customers, grant: &GrantId) -> Option<Customer> {
    customers.lock().unwrap_or_else(|p| p.into_inner()).get(grant).cloned()
}

fn update(customers: &Customers, grant: &GrantId, change: impl FnOnce(&mut Customer)) {
    if let Some(customer) = customers.lock().unwrap_or_else(|p| p.into_inner()).get_mut(grant) {
        change(customer);
    }
}

/// The shipping address in a share, as a parcel's label prints it: in its country's order
/// (profile-core's address formats), the country's name last in capitals. The share holds the
/// person's default addresses, each as `{kind: "shipping" | "billing", address}`; the shipping
/// one, else any.
fn shipping_lines(share: &ShareContents) -> Vec<String> {
    let addresses = share.categories.get(&Category::Addresses).map(Vec::as_slice).unwrap_or_default();
    let Some(entry) = addresses.iter().find(|entry| entry["kind"] == "shipping").or(addresses.first()) else {
        return Vec::new();
    };
    let Ok(address) = Address::deserialize(&entry["address"]) else {
        // Not an address as profile-core writes one: its fields in the default order.
        return lines_of(|name| entry["address"][name].as_str());
    };
    // A label carries no phone or email.
    let label = Address { phone: None, email: None, ..address };
    let mut lines = format::lines(&label);
    lines.push(format::country(&label.country).map_or(label.country.clone(), |c| c.name().to_uppercase()));
    lines
}

/// What an event means for its customer (blocking): read the share again, or forget them.
fn hear(customers: &Customers, event: &AppEvent) -> Result<(), AppError> {
    let Some(customer) = customer(customers, &event.grant_id) else { return Ok(()) };
    match event.kind {
        AppEventKind::ShareUpdated { .. } => {
            let share = customer.client.share()?;
            update(customers, &event.grant_id, |c| {
                c.address = shipping_lines(&share);
                c.version = share.version;
            });
        }
        AppEventKind::GrantRevoked {} => update(customers, &event.grant_id, |c| {
            c.revoked = true;
            c.address.clear();
        }),
    }
    Ok(())
}

async fn home(State(app): State<Delivery>, headers: HeaderMap) -> Response {
    let Some((id, cookie)) = app.visits.session(&headers) else { return no_randomness() };
    let current = app.visits.visit(&id).grant.and_then(|grant| customer(&app.customers, &grant));
    let body = match current {
        Some(customer) if !customer.revoked => format!(
            "<div class=card><h1>Your deliveries</h1><p>We ship to:</p><address id=address data-version={}>{}</address>\
             <p>Change it in your profile: this page follows.</p></div>",
            customer.version,
            customer.address.iter().map(|line| html_escape(line)).collect::<Vec<_>>().join("<br>")
        ),
        revoked => format!(
            "<div class=card><h1>Deliveries to your door</h1>{}<p>Connect your profile and we ship to the shipping \
             address it keeps, and follow it when you move. We see the fields a parcel needs, nothing else.</p>\
             <button id=connect onclick=connect()>Deliver to my address</button></div>",
            if revoked.is_some() { "<p id=revoked>You disconnected us from your profile.</p>" } else { "" }
        ),
    };
    let script = SCRIPT.replace("FIELDS", &json!(FIELDS).to_string());
    with_cookie(cookie, common::page("Parcel Express", "Deliveries", "", &body, &script))
}

/// The page side (`FIELDS` becomes [`FIELDS`]): ask for the grant and hand its answer to the
/// server; then follow the address.
const SCRIPT: &str = r#"
async function connect() {
  if (!needProfile()) return;
  try {
    const answer = await window.profile.requestGrant({
      scopes: [{category: "addresses", actions: ["read", "subscribe"], fields: FIELDS}],
      purpose: "Deliver your parcels to your shipping address, and follow it when you move.",
    });
    await post("/api/grant", answer);
    location.reload();
  } catch (e) { say(explain(e)); }
}
const shown = document.getElementById("address");
if (shown) setInterval(async () => {
  const now = await fetch("/api/address").then((r) => r.json()).catch(() => null);
  if (!now) return;
  if (!now.connected) { location.reload(); return; }
  if (String(now.version) === shown.dataset.version) return;
  shown.dataset.version = now.version;
  shown.replaceChildren(...now.lines.flatMap((line, i) => i ? [document.createElement("br"), line] : [line]));
  say("");
}, 2000);
"#;

/// `POST /api/grant`: what `requestGrant` answered this visitor's page. The server reads the
/// share and has the grant's events sent to its webhook, or listens for them.
async fn grant(State(app): State<Delivery>, headers: HeaderMap, Json(answer): Json<GrantAnswer>) -> Response {
    let Some((id, cookie)) = app.visits.session(&headers) else { return no_randomness() };
    let (keys, reach, webhook_url) = (app.keys.clone(), app.reach, app.webhook_url.clone());
    let connected = blocking(move || {
        let client = AppClient::connect(keys, answer, reach)?;
        let share = client.share()?;
        let webhook = client.set_webhook(&webhook_url);
        Ok::<_, AppError>((client, share, webhook))
    })
    .await;
    let (client, share, webhook) = match connected {
        Ok(Ok(connected)) => connected,
        Ok(Err(e)) => return refused(StatusCode::BAD_GATEWAY, e),
        Err(response) => return response,
    };
    let grant = client.grant_id();
    let customer =
        Customer { client: Arc::new(client), address: shipping_lines(&share), version: share.version, revoked: false };
    app.customers.lock().unwrap_or_else(|p| p.into_inner()).insert(grant.clone(), customer);
    if let Err(e) = webhook {
        eprintln!("no webhook for grant {grant} ({e}); listening on its event socket");
        listen(app.customers.clone(), app.webhooks.clone(), grant.clone());
    }
    app.visits.update(&id, |visit| visit.grant = Some(grant));
    with_cookie(cookie, Json(json!({"connected": true})))
}

/// Hears a grant's events on its WebSocket, on a thread of its own, until it is revoked.
fn listen(customers: Customers, webhooks: Arc<Webhooks>, grant: GrantId) {
    std::thread::spawn(move || {
        while let Some(customer) = customer(&customers, &grant).filter(|c| !c.revoked) {
            match customer.client.events() {
                Ok(events) => {
                    for event in events {
                        match event {
                            Ok(event) => {
                                if let Err(e) = webhooks.once(&event.id, || hear(&customers, &event)) {
                                    eprintln!("event {}: {e}", event.id);
                                }
                            }
                            Err(e) => {
                                eprintln!("event socket of grant {grant}: {e}");
                                break;
                            }
                        }
                    }
                }
                Err(e) if e.revoked() => update(&customers, &grant, |c| c.revoked = true),
                Err(e) => eprintln!("event socket of grant {grant}: {e}"),
            }
            std::thread::sleep(Duration::from_secs(5));
        }
    });
}

/// `POST /webhook`: an event, signed by the profile server that holds its grant.
async fn webhook(State(app): State<Delivery>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (key_id, signature) = (header(profile_rp::apps::KEY_ID_HEADER), header(profile_rp::SIGNATURE_HEADER));
    let heard = blocking(move || {
        let customers = &app.customers;
        let api_base_of = |grant: &GrantId| customer(customers, grant).map(|c| c.client.api_base());
        let event = app.webhooks.verify(&key_id, &signature, &body, api_base_of)?;
        // Delivered at least once: an event handled before is answered and passed over; one
        // whose handling failed is answered with an error, and comes again.
        app.webhooks.once(&event.id, || hear(customers, &event))?;
        Ok::<_, AppError>(())
    })
    .await;
    match heard {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e @ (AppError::WebhookHeader(_) | AppError::WebhookSignature(_) | AppError::UnknownKey { .. }))) => {
            refused(StatusCode::UNAUTHORIZED, e)
        }
        Ok(Err(e @ (AppError::WebhookBody(_) | AppError::UnknownGrant(_)))) => refused(StatusCode::BAD_REQUEST, e),
        // Reading the share failed: the profile server sends the event again later.
        Ok(Err(e)) => refused(StatusCode::SERVICE_UNAVAILABLE, e),
        Err(response) => response,
    }
}

/// `GET /api/address`: the visitor's address as last read, for the page to follow.
async fn address(State(app): State<Delivery>, headers: HeaderMap) -> Response {
    let Some((id, cookie)) = app.visits.session(&headers) else { return no_randomness() };
    let current = app.visits.visit(&id).grant.and_then(|grant| customer(&app.customers, &grant));
    let answer = match current {
        Some(c) if !c.revoked => json!({"connected": true, "version": c.version, "lines": c.address}),
        _ => json!({"connected": false}),
    };
    with_cookie(cookie, Json(answer))
}

fn app(origin: profile_rp::Origin, keys: AppKeys) -> Result<Router, String> {
    let registration = keys.registration("parcel-express", "Parcel Express").map_err(|e| e.to_string())?;
    // A service on plain http is a development one, beside a profile server on loopback.
    let reach = if origin.to_string().starts_with("http://") { Reach::Loopback } else { Reach::Public };
    let delivery = Delivery {
        keys: Arc::new(keys),
        reach,
        webhook_url: format!("{origin}/webhook"),
        visits: Sessions::new("delivery_session"),
        customers: Arc::default(),
        webhooks: Arc::new(Webhooks::new(reach)),
    };
    Ok(Router::new()
        .route("/", get(home))
        .route("/.well-known/personal-profile", get(move || async move { Json(registration) }))
        .route("/api/grant", post(grant))
        .route("/api/address", get(address))
        .route("/webhook", post(webhook))
        .with_state(delivery))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    common::serve("demo delivery", "127.0.0.1:8482", |origin| {
        app(origin, AppKeys::generate().map_err(|e| e.to_string())?)
    })
    .await
}
