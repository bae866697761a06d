//! A change on a device reaching the apps the person granted: a real host paired with a real
//! profile server (SQLite, loopback) grants `BENCH_APPS` apps (1,000 by default) the shipping
//! address with `subscribe`, each with a webhook on a loopback receiver; then the person saves
//! a new shipping address, and the clock runs until every app's `share-updated` webhook has
//! arrived (the host seals each share again after its sync, the server queues and delivers).
//! Prints figures; asserts nothing about time.
//!
//! `scripts/with-keyring cargo bench --locked -p personal-profile --bench apps` (after
//! building profile-host and profile-server).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use profile_rp::apps::{AppClient, AppKeys, Reach};
use profile_testkit::app::AppSite;
use profile_testkit::host::{EXTENSION_ORIGIN, HostHome, HostProcess};
use profile_testkit::server::ProfileServer;
use serde_json::json;

const EMAIL: &str = "ada@example.org";
const PASSPHRASE: &str = "correct horse battery";

fn apps() -> usize {
    std::env::var("BENCH_APPS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000)
}

fn address(line1: &str) -> serde_json::Value {
    json!({"name": "Ada Lovelace", "line1": line1, "city": "Paris", "postalCode": "75001", "country": "FR"})
}

fn share_updates(site: &AppSite) -> usize {
    site.deliveries().iter().filter(|d| String::from_utf8_lossy(&d.body).contains("share-updated")).count()
}

fn main() {
    let n = apps();
    let server = ProfileServer::start(EMAIL, PASSPHRASE);
    let home = HostHome::new();
    home.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    let mut host = HostProcess::start(home.path());
    host.ok(EXTENSION_ORIGIN, "saveAddress", json!({"kind": "shipping", "address": address("1 First Street")}));

    let keys = Arc::new(AppKeys::generate().unwrap());
    let site = AppSite::start(serde_json::to_value(keys.registration("delivery", "Delivery").unwrap()).unwrap());
    let request = json!({"scopes": [{"category": "addresses", "actions": ["read", "subscribe"],
        "fields": ["name", "line1", "city", "postalCode"]}], "purpose": "Deliveries"});
    let granting = Instant::now();
    for _ in 0..n {
        let answer = serde_json::from_value(host.ok(&site.origin, "requestGrant", request.clone())).unwrap();
        let app = AppClient::connect(keys.clone(), answer, Reach::Loopback).unwrap();
        app.set_webhook(&site.webhook_url()).unwrap();
    }
    println!("{n} grants made, each with its webhook: {:.1} s", granting.elapsed().as_secs_f64());
    // Whatever the first syncs sealed again has been told; count from here.
    home.cli(&["sync"], "");
    std::thread::sleep(Duration::from_secs(3));
    let before = share_updates(&site);

    let changed = Instant::now();
    host.ok(EXTENSION_ORIGIN, "saveAddress", json!({"kind": "shipping", "address": address("2 Second Street")}));
    let deadline = changed + Duration::from_secs(120);
    let mut first = None;
    loop {
        let arrived = share_updates(&site) - before;
        if arrived > 0 && first.is_none() {
            first = Some(changed.elapsed());
        }
        if arrived >= n {
            break;
        }
        assert!(Instant::now() < deadline, "only {arrived} of {n} webhooks arrived in 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    let all = changed.elapsed();
    println!(
        "a change on a device -> share-updated webhooks of {n} subscribed apps: first {:.0} ms, all {:.2} s (target < 5 s)",
        first.unwrap_or_default().as_secs_f64() * 1e3,
        all.as_secs_f64()
    );
    println!(
        "command: scripts/with-keyring cargo bench --locked -p personal-profile --bench apps (BENCH_APPS={n}, host and \
         server in debug or release as built)"
    );
}
