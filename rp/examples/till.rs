//! The demo till: a store's till that hands receipts to its shoppers' profiles instead of
//! printing them, on axum with plain HTML and a little JS.
//!
//! `cargo run -p profile-rp --example till -- [--listen 127.0.0.1:8481] [--origin http://localhost:8481]`
//!
//! - `/` — "Connect your profile for paperless receipts": the page asks the shopper's profile
//!   for a grant to append receipts (`window.profile.requestGrant`) and posts the answer to
//!   `POST /api/grant`, which keeps it with the visitor's session; then a basket to ring up
//!   (`POST /api/ring-up`), whose receipt is appended to the shopper's profile, sealed so that
//!   only their devices can open it (the profile server keeps it for them, unread);
//! - `/.well-known/personal-profile` — the till's registration: its name and both its keys.
//!
//! Its keys, sessions and grants live in memory: restarting it forgets them (and a grant made
//! for its old keys is of no use to new ones). Served on plain http (development), it reaches
//! profile servers on loopback too.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{Sessions, blocking, html_escape, no_randomness, random_id, refused, with_cookie};
use profile_rp::apps::{AppClient, AppKeys, Category, GrantAnswer, Reach};
use serde_json::{Value, json};

mod common;

/// One shopper at the till: the grant their profile gave it, once they connected.
#[derive(Debug, Default, Clone)]
struct Visit {
    client: Option<Arc<AppClient>>,
}

#[derive(Debug, Clone)]
struct Till {
    keys: Arc<AppKeys>,
    reach: Reach,
    visits: Sessions<Visit>,
}

/// What the store sells, with each product's barcode (GTIN-13, check digit and all).
struct Product {
    name: &'static str,
    gtin: &'static str,
    cents: u64,
}

const MERCHANT: &str = "Corner Shop";
const PRODUCTS: [Product; 3] = [
    Product { name: "Oat drink, 1 l", gtin: "5901234123457", cents: 189 },
    Product { name: "Sourdough loaf", gtin: "4006381333931", cents: 340 },
    Product { name: "Field notebook", gtin: "8712345678906", cents: 1200 },
];

fn euros(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

async fn home(State(till): State<Till>, headers: HeaderMap) -> Response {
    let Some((id, cookie)) = till.visits.session(&headers) else { return no_randomness() };
    let connected = match till.visits.visit(&id).client {
        Some(client) => format!(
            "<p id=connected class=done>✓ Connected: your receipts go to your profile.</p>\
             <p class=muted id=profile-url>{}</p>",
            html_escape(&client.record().profile_url)
        ),
        None => "<p>Skip the paper: your receipt goes to your own profile, where only you can read it. The till \
                 may only add receipts; it sees nothing else of your profile.</p>\
                 <button id=connect onclick=connect()>Connect your profile for paperless receipts</button>"
            .into(),
    };
    let rows: String = PRODUCTS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "<tr><td>{}</td><td>{}</td><td class=num>€{}</td><td class=num>\
                 <input id=qty-{i} type=number min=0 max=99 value=1 aria-label=\"Quantity of {0}\"></td></tr>",
                p.name,
                p.gtin,
                euros(p.cents)
            )
        })
        .collect();
    let body = format!(
        "<div class=card><h1>Paperless receipts</h1>{connected}</div>\
         <div class=card><h2>The basket</h2><table><tr><th>Item</th><th>Barcode</th><th class=num>Price</th>\
         <th class=num>Quantity</th></tr>{rows}</table><p><button id=ring-up onclick=ringUp()>Ring up</button></p>\
         <p id=receipt role=status></p></div>"
    );
    with_cookie(cookie, common::page("Corner Shop Till", "Till", "", &body, SCRIPT))
}

/// The page side: ask for the grant and hand its answer to the till's server; ring up.
const SCRIPT: &str = r#"
async function connect() {
  if (!needProfile()) return;
  try {
    const answer = await window.profile.requestGrant({
      scopes: [{category: "receipts", actions: ["append"]}],
      purpose: "Send the receipt of what you buy at Corner Shop to your profile instead of printing it.",
    });
    await post("/api/grant", answer);
    location.reload();
  } catch (e) { say(explain(e)); }
}
async function ringUp() {
  const receipt = document.getElementById("receipt");
  try {
    const quantities = [0, 1, 2].map((i) => Number(document.getElementById("qty-" + i).value) || 0);
    const {total} = await post("/api/ring-up", {quantities});
    receipt.className = "done";
    receipt.textContent = "Receipt sent to your profile (€" + total + ").";
  } catch (e) {
    // Said beside the button; a till the person disconnected offers to connect again.
    receipt.className = "error";
    receipt.textContent = explain(e);
    const connected = document.getElementById("connected");
    if (e.status === 403 && connected) {
      connected.className = "";
      connected.textContent = "Not connected: receipts no longer go to your profile.";
      document.getElementById("profile-url").replaceWith(Object.assign(document.createElement("button"),
        {id: "connect", textContent: "Connect your profile again", onclick: connect}));
    }
  }
}
"#;

/// `POST /api/grant`: what `requestGrant` answered this visitor's page. The till checks the
/// grant works (its share opens, signed by that profile) before keeping it.
async fn grant(State(till): State<Till>, headers: HeaderMap, Json(answer): Json<GrantAnswer>) -> Response {
    let Some((id, cookie)) = till.visits.session(&headers) else { return no_randomness() };
    let (keys, reach) = (till.keys.clone(), till.reach);
    let connected = blocking(move || {
        let client = AppClient::connect(keys, answer, reach)?;
        client.share()?;
        Ok::<_, profile_rp::apps::AppError>(client)
    })
    .await;
    match connected {
        Ok(Ok(client)) => {
            till.visits.update(&id, |visit| visit.client = Some(Arc::new(client)));
            with_cookie(cookie, Json(json!({"connected": true})))
        }
        Ok(Err(e)) => refused(StatusCode::BAD_GATEWAY, e),
        Err(response) => response,
    }
}

#[derive(Debug, serde::Deserialize)]
struct RingUp {
    quantities: Vec<u64>,
}

/// `POST /api/ring-up`: the basket's receipt, appended to the visitor's profile.
async fn ring_up(State(till): State<Till>, headers: HeaderMap, Json(basket): Json<RingUp>) -> Response {
    let Some((id, _)) = till.visits.session(&headers) else { return no_randomness() };
    let Some(client) = till.visits.visit(&id).client else {
        return refused(StatusCode::BAD_REQUEST, "Connect your profile first: this till prints no paper.");
    };
    if basket.quantities.len() != PRODUCTS.len() || basket.quantities.iter().any(|q| *q > 99) {
        return refused(StatusCode::BAD_REQUEST, "a quantity from 0 to 99 for each product");
    }
    let Some(receipt) = receipt(&basket.quantities) else {
        return refused(StatusCode::BAD_REQUEST, "The basket is empty.");
    };
    let total = receipt["total"].clone();
    let fields = receipt.as_object().cloned().unwrap_or_default();
    let appended = blocking(move || client.append(Category::Receipts, fields)).await;
    match appended {
        Ok(Ok(_)) => Json(json!({"sent": true, "total": total})).into_response(),
        Ok(Err(e)) if e.revoked() => {
            till.visits.update(&id, |visit| visit.client = None);
            refused(StatusCode::FORBIDDEN, "You disconnected this till from your profile: connect again.")
        }
        Ok(Err(e)) => refused(StatusCode::BAD_GATEWAY, e),
        Err(response) => response,
    }
}

/// The receipt of `quantities` of each product, as profile-core's receipts category defines
/// it; `None` for an empty basket.
fn receipt(quantities: &[u64]) -> Option<Value> {
    let lines: Vec<(&Product, u64)> = PRODUCTS.iter().zip(quantities.iter().copied()).filter(|(_, q)| *q > 0).collect();
    if lines.is_empty() {
        return None;
    }
    let items: Vec<Value> = lines
        .iter()
        .map(|(p, q)| {
            json!({"name": p.name, "gtin": p.gtin, "quantity": q, "unitPrice": euros(p.cents), "total": euros(p.cents * q)})
        })
        .collect();
    let total: u64 = lines.iter().map(|(p, q)| p.cents * q).sum();
    let mut receipt = json!({
        "merchant": MERCHANT,
        "date": today(),
        "currency": "EUR",
        "total": euros(total),
        "items": items,
    });
    if let Some(id) = random_id() {
        receipt["order"] = json!(format!("T-{}", &id[..8]));
    }
    Some(receipt)
}

/// Today's date (UTC) as `YYYY-MM-DD` (Howard Hinnant's `civil_from_days`).
fn today() -> String {
    let days = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400);
    let z = days.cast_signed() + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn app(origin: profile_rp::Origin, keys: AppKeys) -> Result<Router, String> {
    let registration = keys.registration("corner-shop-till", "Corner Shop Till").map_err(|e| e.to_string())?;
    // A till served on plain http is a development one, beside a profile server on loopback.
    let reach = if origin.to_string().starts_with("http://") { Reach::Loopback } else { Reach::Public };
    let till = Till { keys: Arc::new(keys), reach, visits: Sessions::new("till_session") };
    Ok(Router::new()
        .route("/", get(home))
        // The app's registration: its name beside the origin in the consent window, the key its
        // requests are signed with, and the key its share would be sealed to.
        .route("/.well-known/personal-profile", get(move || async move { Json(registration) }))
        .route("/api/grant", post(grant))
        .route("/api/ring-up", post(ring_up))
        .with_state(till))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    common::serve("demo till", "127.0.0.1:8481", |origin| app(origin, AppKeys::generate().map_err(|e| e.to_string())?))
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_receipt_fits_the_receipts_category() {
        let basket = receipt(&[1, 2, 0]).unwrap();
        let checked = Category::Receipts.def().check(basket.as_object().unwrap()).unwrap();
        assert_eq!(checked["total"], "8.69");
        assert_eq!(checked["items"].as_array().unwrap().len(), 2);
        assert!(receipt(&[0, 0, 0]).is_none());
        let date = today();
        assert_eq!((date.len(), &date[..2], &date[4..5]), (10, "20", "-"));
    }
}
