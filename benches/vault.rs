//! A profile of 10,000 receipts on a real profile server (SQLite, loopback HTTP and WebSocket)
//! with two real hosts: what adding one receipt sends to the server, how soon a second device
//! holding the push socket has it, and a new device's first full sync. Every byte the hosts
//! send goes through a counting proxy in front of the server (the server's public URL). Prints
//! figures; asserts nothing about time.
//!
//! `scripts/with-keyring cargo bench --locked -p personal-profile --bench vault` (after
//! building profile-host and profile-server).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use profile_testkit::host::{EXTENSION_ORIGIN, HostHome, HostProcess};
use profile_testkit::percentile;
use profile_testkit::server::{Database, Server};
use serde_json::{Value, json};

const EMAIL: &str = "ada@example.org";
const PASSPHRASE: &str = "correct horse battery";
/// The profile's size (`BENCH_RECEIPTS` changes it, to see what grows with it).
fn receipts() -> usize {
    std::env::var("BENCH_RECEIPTS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000)
}
const ADDS: usize = 30;

/// A receipt as a till sends it: three lines with their barcodes, and the till's own JSON.
fn receipt(n: usize) -> Value {
    json!({"merchant": format!("Corner Shop {}", n % 97), "date": format!("2026-{:02}-{:02}", 1 + n % 12, 1 + n % 28),
        "currency": "EUR", "total": "12.47", "tax": "1.13", "order": format!("A-{n:06}"),
        "items": [
            {"name": "Milk 1 l", "gtin": "4006381333931", "quantity": 2, "unitPrice": "1.19", "total": "2.38"},
            {"name": "Bread", "gtin": "036000291452", "quantity": 1, "unitPrice": "3.20", "total": "3.20"},
            {"name": "Coffee 500 g", "gtin": "96385074", "quantity": 1, "unitPrice": "6.89", "total": "6.89"}],
        "receipt": {"till": 4, "cashier": "Sam", "number": n}})
}

/// Forwards every connection to `to`, counting the bytes clients send.
fn counting_proxy(listener: TcpListener, to: String) -> Arc<AtomicU64> {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(&to) else { continue };
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let (mut client_read, mut server_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut server_read, mut client_write) = (server, client);
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = client_read.read(&mut buf) {
                    if n == 0 || server_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    counter.fetch_add(n as u64, Ordering::Relaxed);
                }
                let _ = server_write.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut server_read, &mut client_write);
                let _ = client_write.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    sent
}

fn report(what: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{what:<52} n={:<3} p50 {:>7.1} ms  p95 {:>7.1} ms  max {:>7.1} ms",
        ms.len(),
        percentile(&ms, 0.50),
        percentile(&ms, 0.95),
        ms[ms.len() - 1]
    );
}

/// The merchant of the most recent receipt a host lists.
fn newest(host: &mut HostProcess) -> String {
    let listed = host.ok(EXTENSION_ORIGIN, "listItems", json!({"category": "receipts", "limit": 1}));
    listed["items"][0]["fields"]["merchant"].as_str().unwrap_or_default().to_owned()
}

fn main() {
    let db = Database::sqlite();
    let profile_id = db.create_user(EMAIL, PASSPHRASE);
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let public = format!("http://{}", proxy.local_addr().unwrap());
    let server = Server::start_with(&db, &["--public-url", &public], &[]);
    let sent = counting_proxy(proxy, server.addr.clone());
    let profile_url = format!("{public}/u/{profile_id}");
    let pair = |home: &HostHome| home.cli(&["pair", &profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));

    let laptop = HostHome::new();
    pair(&laptop);
    let n_receipts = receipts();
    let file = laptop.path().join("receipts.json");
    std::fs::write(&file, Value::Array((0..n_receipts).map(receipt).collect()).to_string()).unwrap();
    let started = Instant::now();
    let before = sent.load(Ordering::Relaxed);
    laptop.cli(&["data", "import", "receipts", file.to_str().unwrap()], "");
    println!(
        "import {n_receipts} receipts and send them (one CLI run)        {:>8.0} ms, {:.1} MiB sent",
        started.elapsed().as_secs_f64() * 1e3,
        (sent.load(Ordering::Relaxed) - before) as f64 / (1 << 20) as f64
    );

    // A new device: pairing (an Argon2id derivation, then the first full sync).
    let desktop = HostHome::new();
    let started = Instant::now();
    pair(&desktop);
    let paired = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let kdf = profile_core::vault::KdfParams::recommended([1; 16]);
    let _ = profile_core::vault::derive(&profile_core::Passphrase::new(PASSPHRASE.into()), &kdf).unwrap();
    let argon = started.elapsed().as_secs_f64() * 1e3;
    println!(
        "a new device's pairing with {n_receipts} receipts (first full sync)  {paired:>8.0} ms, of which Argon2id ~{argon:.0} ms"
    );
    let state = std::fs::metadata(desktop.path().join("profile.sealed")).map(|m| m.len()).unwrap_or(0);
    println!(
        "the new device's sealed state                                 {:>8.1} MiB",
        state as f64 / (1 << 20) as f64
    );

    // One receipt added on the laptop (its CLI: pull, push, heads), nobody else talking.
    let mut bytes = Vec::new();
    for n in 0..10 {
        let before = sent.load(Ordering::Relaxed);
        laptop.cli(&["data", "set", "receipts", "--json", "-"], &receipt(n_receipts + n).to_string());
        bytes.push((sent.load(Ordering::Relaxed) - before) as f64);
    }
    bytes.sort_by(f64::total_cmp);
    println!(
        "one receipt added: bytes the device sent (requests and headers) p50 {:.0} B, max {:.0} B",
        percentile(&bytes, 0.5),
        bytes[bytes.len() - 1]
    );

    // Both running as the browser runs them, the desktop holding the push socket: a receipt
    // saved on the laptop, until the desktop lists it.
    let mut laptop_host = HostProcess::start(laptop.path());
    let mut desktop_host = HostProcess::start(desktop.path());
    desktop_host.ok(EXTENSION_ORIGIN, "hello", json!({}));
    std::thread::sleep(Duration::from_secs(2));
    let mut ms = Vec::new();
    for n in 0..ADDS {
        let merchant = format!("Bench Till {n}");
        let mut item = receipt(n);
        item["merchant"] = json!(merchant);
        // The most recent: the first the desktop lists once it has it.
        item["date"] = json!(format!("2099-01-{:02}", n + 1));
        let started = Instant::now();
        laptop_host.ok(EXTENSION_ORIGIN, "saveItem", json!({"category": "receipts", "item": {"fields": item}}));
        let deadline = started + Duration::from_secs(20);
        while newest(&mut desktop_host) != merchant {
            assert!(Instant::now() < deadline, "the desktop never got {merchant}");
            std::thread::sleep(Duration::from_millis(2));
        }
        ms.push(started.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(200));
    }
    report("saved on one device → listed on the other (push socket)", ms);
    drop(laptop_host);
    drop(desktop_host);
    drop(server);
}
