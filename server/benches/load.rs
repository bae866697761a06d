//! Load on a real `profile-server` over loopback HTTP, on SQLite and (when
//! `PROFILE_TEST_POSTGRES` is set, as `scripts/with-postgres` does) on PostgreSQL. Prints
//! throughput and latency percentiles; asserts nothing about time.
//!
//! - **vault writes**: each client thread owns one user and writes its vault (a 2 KiB sealed
//!   blob) as fast as the server acknowledges, each write a durable commit with its counter
//!   check;
//! - **vault items**: a batch puts one sealed item (about 300 bytes), a durable commit with its
//!   version check, as a device adds an item: first with the profile (nearly) empty, then with
//!   10,000 more items in it; then a second device reads that one change (`since` the seq before
//!   it). Prints the bytes each sends and receives too;
//! - **account lookup + assertion verification**: `GET /api/v1/accounts?origin=…` (the server
//!   verifies the ES256 access token and reads the registry), then the login assertion is
//!   verified against the public key it returned with `profile_core::verify`, as a site's
//!   login does. The load generator shares the machine's two cores with the server.
//!
//! `cargo bench -p profile-server --bench load` (`make bench` runs it inside
//! `scripts/with-postgres`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use profile_core::server_api::{
    AccountList, AccountRegistration, Bytes, CredentialKind, ItemBatch, ItemChanges, ItemPut, ItemsQuery, ItemsWritten,
    LoginRequest, PreloginRequest, PreloginResponse, Tokens, Vault, VaultWrite, path,
};
use profile_core::vault;
use profile_core::{LoginKey, Passphrase, Secret32};
use profile_testkit::server::{Database, POSTGRES_ENV, Server};
use serde::Serialize;
use serde::de::DeserializeOwned;

const CLIENTS: usize = 8;
const RUN: Duration = Duration::from_secs(5);
const PASSPHRASE: &str = "correct horse battery";

/// A server on `db` with `CLIENTS` users; their profile ids.
fn start(db: &Database) -> (Server, Vec<String>) {
    let users = (0..CLIENTS).map(|i| db.create_user(&format!("u{i}@bench.test"), PASSPHRASE)).collect();
    (Server::start_with(db, &[], &[]), users)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// One call with a typed body (none for a GET); the status and the body's text.
fn call(agent: &ureq::Agent, method: &str, url: &str, token: &str, body: Option<&impl Serialize>) -> (u16, String) {
    let bearer = format!("Bearer {token}");
    let mut response = match (method, body) {
        ("GET", _) => agent.get(url).header("Authorization", &bearer).call(),
        ("PUT", Some(body)) => agent.put(url).header("Authorization", &bearer).send_json(body),
        (_, body) => agent.post(url).header("Authorization", &bearer).send_json(body),
    }
    .unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap_or_default())
}

/// The body of a 2xx answer, as the contract types it.
fn ok<T: DeserializeOwned>((status, body): (u16, String)) -> T {
    assert!((200..300).contains(&status), "{status} {body}");
    serde_json::from_str(&body).unwrap()
}

/// A GET, which has no body.
const NO_BODY: Option<&()> = None;

/// One logged-in client per user: its access token and data key.
struct Client {
    user: String,
    token: String,
    data_key: Secret32,
}

fn login(base: &str, user: &str, i: usize) -> Client {
    let agent = agent();
    let email = format!("u{i}@bench.test");
    let asked = PreloginRequest { profile_id: user.to_owned(), email: email.clone() };
    let prelogin: PreloginResponse = ok(call(&agent, "POST", &format!("{base}{}", path::PRELOGIN), "", Some(&asked)));
    let keys = vault::derive(&Passphrase::new(PASSPHRASE.into()), &prelogin.kdf).unwrap();
    let body = LoginRequest::with_auth_key(user, &email, &keys.auth_key, "bench");
    let tokens: Tokens = ok(call(&agent, "POST", &format!("{base}{}", path::LOGIN), "", Some(&body)));
    let token = tokens.access_token.expose().to_owned();
    let vault: Vault = ok(call(&agent, "GET", &format!("{base}{}", path::VAULT), &token, NO_BODY));
    let wrapped = &vault.wrapped(CredentialKind::Passphrase).unwrap().0;
    Client { user: user.to_owned(), token, data_key: vault::unwrap(&keys.kek, wrapped).unwrap() }
}

/// CPU seconds the process has used (user + system), from `/proc` (Linux).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and
    // 13th, in clock ticks of 1/100 s.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Runs `step` on every client in its own thread for [`RUN`]; prints ops/s, percentiles and the
/// server's own CPU time per operation (what 2 cores would serve with the load generator
/// elsewhere).
fn measure(label: &str, server: u32, clients: &[Client], step: impl Fn(&ureq::Agent, &Client, u64) + Sync) {
    let cpu_before = cpu_seconds(server);
    let latencies: Vec<Vec<Duration>> = std::thread::scope(|scope| {
        let step = &step;
        let threads: Vec<_> = clients
            .iter()
            .map(|client| {
                scope.spawn(move || {
                    let agent = agent();
                    let mut seen = Vec::new();
                    let end = Instant::now() + RUN;
                    let mut n = 0;
                    while Instant::now() < end {
                        let start = Instant::now();
                        step(&agent, client, n);
                        seen.push(start.elapsed());
                        n += 1;
                    }
                    seen
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let server_cpu = cpu_seconds(server) - cpu_before;
    let mut all: Vec<Duration> = latencies.into_iter().flatten().collect();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1e3;
    let per_op = server_cpu / all.len() as f64;
    println!(
        "{label:<52} {:>6.0} /s  p50 {:>6.2} ms  p99 {:>6.2} ms  server CPU {:>4.0} µs/op (≈ {:.0}/s on 2 cores)  (n={}, {} clients, {} s)",
        all.len() as f64 / RUN.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        per_op * 1e6,
        2.0 / per_op,
        all.len(),
        clients.len(),
        RUN.as_secs()
    );
}

fn bench(backend: &str, db: &Database) {
    let (server, users) = start(db);
    let base = server.base_url();
    let clients: Vec<Client> = users.iter().enumerate().map(|(i, user)| login(&base, user, i)).collect();
    let key = LoginKey::from_secret(&Secret32::from_bytes([3; 32])).unwrap().public_jwk();
    for client in &clients {
        let account = AccountRegistration {
            origin: profile_core::Origin::parse("https://shop.example").unwrap(),
            account_guid: profile_core::AccountGuid::try_from("acct-1".to_owned()).unwrap(),
            app_id: Some(profile_core::AppId::try_from("shop".to_owned()).unwrap()),
            public_key: key.clone(),
            permissions: profile_core::Permissions::default(),
        };
        let url = format!("{base}{}", path::ACCOUNTS);
        assert_eq!(call(&agent(), "PUT", &url, &client.token, Some(&account)).0, 200);
    }
    let contents = vec![b'x'; 2048];
    let pid = server.pid();
    // Two runs: two clients (a moderate load) and all of them (saturation). Each client writes
    // its own user's vault; the counters carry on from one run to the next.
    let counters: Vec<std::sync::atomic::AtomicU64> = clients.iter().map(|_| 1.into()).collect();
    for (label, some) in [("2 clients", &clients[..2]), ("saturated", &clients[..])] {
        measure(&format!("{backend}: vault write (durable), {label}"), pid, some, |agent, client, _| {
            let index = clients.iter().position(|c| c.user == client.user).unwrap_or(0);
            let base_counter = counters[index].load(std::sync::atomic::Ordering::SeqCst);
            let nonce: [u8; 12] = std::array::from_fn(|i| (base_counter >> (8 * (i % 8))) as u8);
            let blob = vault::seal_vault(&client.data_key, &client.user, base_counter + 1, nonce, &contents);
            let body = VaultWrite { counter: base_counter as i64, blob: Bytes(blob) };
            let (status, answer) = call(agent, "PUT", &format!("{base}{}", path::VAULT), &client.token, Some(&body));
            assert_eq!(status, 200, "{answer}");
            counters[index].store(base_counter + 1, std::sync::atomic::Ordering::SeqCst);
        });
    }
    items(backend, &base, pid, &clients[..2]);
    let origin = profile_core::Origin::parse("https://shop.example").unwrap();
    let challenge = profile_core::Challenge::from_random(&[7; 16]).unwrap();
    let guid = profile_core::AccountGuid::try_from("acct-1".to_owned()).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let assertion = LoginKey::from_secret(&Secret32::from_bytes([3; 32])).unwrap().sign(&profile_core::ClientData {
        kind: profile_core::AssertionType::Login,
        origin: origin.clone(),
        challenge: challenge.clone(),
        account_guid: guid.clone(),
        device_id: profile_core::DeviceId::derive(&Secret32::from_bytes([4; 32]), &origin),
        counter: 1,
        issued_at: now,
    });
    measure(&format!("{backend}: account lookup + assertion verify"), pid, &clients, |agent, client, _| {
        let url = format!("{base}{}?origin=https://shop.example", path::ACCOUNTS);
        let answer: AccountList = ok(call(agent, "GET", &url, &client.token, NO_BODY));
        let jwk = &answer.accounts[0].public_key;
        let expected = profile_core::Expected {
            kind: profile_core::AssertionType::Login,
            origin: &origin,
            challenge: &challenge,
            account_guid: &guid,
            last_counter: Some(0),
            now,
            max_age: 300,
        };
        profile_core::verify(&jwk.to_key().unwrap(), &assertion, &expected).unwrap();
    });
}

/// A put of `contents` as item `id`, new (version 0).
fn new_item(client: &Client, id: &str, nonce: u64, contents: &[u8]) -> ItemPut {
    let nonce: [u8; 12] = std::array::from_fn(|i| (nonce >> (8 * (i % 8))) as u8);
    let blob = vault::seal_item(&client.data_key, &client.user, id, 1, nonce, contents);
    ItemPut { id: id.parse().unwrap(), version: 0, blob: Bytes(blob) }
}

/// Profiles of 10,000 items: one more, and a second device reading that one change.
fn items(backend: &str, base: &str, pid: u32, clients: &[Client]) {
    const STORED: usize = 10_000;
    let contents = vec![b'x'; 300];
    let url = format!("{base}{}", path::VAULT_ITEMS);
    let nonces = std::sync::atomic::AtomicU64::new(1 << 40);
    let nonce = || nonces.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let put_one = |label: &str| {
        measure(&format!("{backend}: vault items, one put, {label}"), pid, clients, |agent, client, _| {
            let id = format!("added-{}", nonce());
            let batch = ItemBatch { puts: vec![new_item(client, &id, nonce(), &contents)], deletes: vec![] };
            let written: ItemsWritten = ok(call(agent, "POST", &url, &client.token, Some(&batch)));
            assert_eq!(written.versions.len(), 1);
        });
    };
    put_one("none stored before");
    for client in clients {
        for batch in 0..STORED / 1_000 {
            let puts =
                (0..1_000).map(|n| new_item(client, &format!("stored-{batch}-{n}"), nonce(), &contents)).collect();
            let (status, answer) =
                call(&agent(), "POST", &url, &client.token, Some(&ItemBatch { puts, deletes: vec![] }));
            assert_eq!(status, 200, "{answer}");
        }
    }
    put_one(&format!("{STORED} more stored"));
    let one =
        serde_json::to_vec(&ItemBatch { puts: vec![new_item(&clients[0], "size", 0, &contents)], deletes: vec![] })
            .unwrap()
            .len();
    let query = |client: &Client| {
        let head: ItemChanges = ok(call(&agent(), "GET", &format!("{url}?since=0&limit=1"), &client.token, NO_BODY));
        format!("{url}{}", ItemsQuery { since: head.seq - 1, ..ItemsQuery::default() }.to_query())
    };
    let reads: Vec<String> = clients.iter().map(query).collect();
    let label = format!("{backend}: vault items, read the last change");
    measure(&label, pid, clients, |agent, client, _| {
        let index = clients.iter().position(|c| c.user == client.user).unwrap_or(0);
        let changes: ItemChanges = ok(call(agent, "GET", &reads[index], &client.token, NO_BODY));
        assert_eq!(changes.items.len(), 1);
    });
    let (_, read) = call(&agent(), "GET", &reads[0], &clients[0].token, NO_BODY);
    println!(
        "{backend}: one-item batch body {one} bytes ({} of plaintext); its read by another device {} bytes",
        contents.len(),
        read.len()
    );
}

fn main() {
    bench("sqlite", &Database::sqlite());
    if std::env::var_os(POSTGRES_ENV).is_some() {
        bench("postgres", &Database::postgres());
    } else {
        println!("postgres: not measured (run inside scripts/with-postgres, which sets {POSTGRES_ENV})")
    }
}
