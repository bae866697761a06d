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
//!   login does. The load generator shares the machine's two cores with the server;
//! - **app appends**: apps append a sealed receipt (about 300 bytes) through signed requests,
//!   each checked (signature, stamp, nonce spent in the database, grant) and stored durably;
//! - **share change to 1,000 webhooks**: 1,000 apps, each with a grant subscribed to the
//!   profile and a webhook on one of four loopback receivers; the person's device PUTs a newer
//!   share for each, and the figure is the time from the first PUT to the last webhook
//!   received (and each app's time from its PUT to its webhook).
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

/// A server on `db` with `CLIENTS` users; their profile ids. Webhooks on loopback are allowed
/// (`sites_on_loopback`), as the webhook receivers are on this machine.
fn start(db: &Database) -> (Server, Vec<String>) {
    let users = (0..CLIENTS).map(|i| db.create_user(&format!("u{i}@bench.test"), PASSPHRASE)).collect();
    (Server::start_with(db, &[], &[("PROFILE_SERVER__SITES_ON_LOOPBACK", "true")]), users)
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
    apps::appends(backend, &base, pid, &clients);
    apps::webhooks(backend, &base, &clients[..2]);
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

/// Apps' signed requests and webhooks.
mod apps {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use base64ct::Encoding;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;
    use profile_core::apps::sealed::{self, DecryptionKey, ShareContents};
    use profile_core::apps::{Action, AppStamp, GrantId, SIGNATURE_HEADER, STAMP_HEADER, Scope, SealedShare};
    use profile_core::category::Category;
    use profile_core::public::ProfileKey;
    use profile_core::server_api::{AppendRequest, GrantRegistration, WebhookSet, path};

    use super::*;

    fn random<const N: usize>() -> [u8; N] {
        let mut bytes = [0u8; N];
        getrandom::fill(&mut bytes).unwrap();
        bytes
    }

    fn rng() -> getrandom::rand_core::UnwrapErr<getrandom::SysRng> {
        getrandom::rand_core::UnwrapErr(getrandom::SysRng)
    }

    fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    }

    /// An app with a grant of one profile.
    struct App {
        key: SigningKey,
        grant: GrantId,
    }

    struct Profile {
        key: ProfileKey,
        decryption: DecryptionKey,
        app_decryption: DecryptionKey,
    }

    impl Profile {
        fn new() -> Self {
            let secret = Secret32::from_bytes(random());
            Self {
                key: ProfileKey::from_secret(&secret).unwrap(),
                decryption: sealed::profile_decryption_key(&secret),
                app_decryption: DecryptionKey::from_secret(&Secret32::from_bytes(random())),
            }
        }

        fn share(&self, grant: &GrantId, version: u64) -> SealedShare {
            let contents = ShareContents {
                grant_id: grant.clone(),
                version,
                profile_url: "https://profiles.test/u/x".into(),
                issued_at: now(),
                encryption_key: self.decryption.public().to_jwk(),
                categories: [(
                    Category::Addresses,
                    vec![serde_json::json!({"line1": "1 Main St", "city": "Springfield"})],
                )]
                .into(),
            };
            sealed::seal_share(&self.key, self.app_decryption.public(), &contents, &mut rng()).unwrap()
        }
    }

    impl App {
        /// A signed request: its status.
        fn call(&self, agent: &ureq::Agent, base: &str, method: &str, path: &str, body: &[u8]) -> u16 {
            let stamp = AppStamp::new(self.grant.clone(), method, path, body, now(), random());
            let (bytes, header) = stamp.to_header();
            let signature: p256::ecdsa::Signature = self.key.sign(&bytes);
            let signature = base64ct::Base64UrlUnpadded::encode_string(&signature.to_bytes());
            let url = format!("{base}{path}");
            let response = match method {
                "PUT" => agent
                    .put(&url)
                    .header(STAMP_HEADER, &header)
                    .header(SIGNATURE_HEADER, &signature)
                    .header("Content-Type", "application/json")
                    .send(body),
                _ => agent
                    .post(&url)
                    .header(STAMP_HEADER, &header)
                    .header(SIGNATURE_HEADER, &signature)
                    .header("Content-Type", "application/json")
                    .send(body),
            };
            response.unwrap().status().as_u16()
        }
    }

    /// Registers `n` grants of `client`'s profile with `scopes`.
    fn grants(base: &str, client: &Client, profile: &Profile, n: usize, scopes: &[Scope]) -> Vec<App> {
        (0..n)
            .map(|_| {
                let app =
                    App { key: SigningKey::from_slice(&random::<32>()).unwrap(), grant: GrantId::from_bytes(random()) };
                let registration = GrantRegistration {
                    grant_id: app.grant.clone(),
                    origin: profile_core::Origin::parse("https://till.example").unwrap(),
                    app_id: profile_core::AppId::try_from("till".to_owned()).unwrap(),
                    name: "Till".to_owned().try_into().unwrap(),
                    scopes: scopes.to_vec(),
                    app_key: profile_core::PublicJwk::from_key(app.key.verifying_key()),
                    share: profile.share(&app.grant, 1),
                    share_note: None,
                };
                let (status, answer) =
                    call(&agent(), "POST", &format!("{base}{}", path::GRANTS), &client.token, Some(&registration));
                assert_eq!(status, 201, "{answer}");
                app
            })
            .collect()
    }

    fn scope(category: Category, actions: &[Action]) -> Scope {
        serde_json::from_value(serde_json::json!({"category": category, "actions": actions})).unwrap()
    }

    /// Appends per second: each client's apps append sealed receipts, one signed request each.
    pub fn appends(backend: &str, base: &str, pid: u32, clients: &[Client]) {
        const GRANTS: usize = 8;
        let profile = Profile::new();
        let scopes = [scope(Category::Receipts, &[Action::Append])];
        let apps: Vec<Vec<App>> =
            clients.iter().map(|client| grants(base, client, &profile, GRANTS, &scopes)).collect();
        let bodies: Vec<Vec<Vec<u8>>> = apps
            .iter()
            .map(|apps| {
                apps.iter()
                    .map(|app| {
                        let contents = sealed::AppendContents {
                            grant_id: app.grant.clone(),
                            category: Category::Receipts,
                            fields: serde_json::from_value(
                                serde_json::json!({"merchant": "Corner", "total": "4.20", "note": "x".repeat(200)}),
                            )
                            .unwrap(),
                            made_at: now(),
                        };
                        let sign = |bytes: &[u8]| {
                            let signature: p256::ecdsa::Signature = app.key.sign(bytes);
                            signature.to_bytes().into()
                        };
                        let sealed =
                            sealed::seal_append(profile.decryption.public(), &contents, sign, &mut rng()).unwrap();
                        serde_json::to_vec(&AppendRequest { category: Category::Receipts, sealed }).unwrap()
                    })
                    .collect()
            })
            .collect();
        let label = format!("{backend}: app append (signed, durable)");
        measure(&label, pid, clients, |agent, client, n| {
            let index = clients.iter().position(|c| c.user == client.user).unwrap_or(0);
            let which = (n as usize) % GRANTS;
            let status = apps[index][which].call(agent, base, "POST", path::APP_APPENDS, &bodies[index][which]);
            assert_eq!(status, 201);
        });
    }

    /// When each grant's webhook arrived, by grant id.
    type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

    /// A webhook receiver on loopback: its URL.
    fn receiver(arrivals: Arrivals) -> String {
        let (bound, port) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                bound.send(listener.local_addr().unwrap().port()).unwrap();
                let app = axum::Router::new().route(
                    "/hook",
                    axum::routing::post(move |body: String| {
                        let event: profile_core::apps::AppEvent = serde_json::from_str(&body).unwrap();
                        arrivals.lock().unwrap().entry(event.grant_id.to_string()).or_insert_with(Instant::now);
                        async { axum::http::StatusCode::NO_CONTENT }
                    }),
                );
                axum::serve(listener, app).await.unwrap();
            });
        });
        format!("http://127.0.0.1:{}/hook", port.recv().unwrap())
    }

    /// A share PUT for each of 1,000 subscribed apps, to every webhook received.
    pub fn webhooks(backend: &str, base: &str, clients: &[Client]) {
        const APPS: usize = 1_000;
        let profile = Profile::new();
        let scopes = [scope(Category::Addresses, &[Action::Read, Action::Subscribe])];
        let per_client = APPS / clients.len();
        let arrivals: Arrivals = Arc::default();
        let urls: Vec<String> = (0..4).map(|_| receiver(arrivals.clone())).collect();
        let apps: Vec<Vec<App>> =
            clients.iter().map(|client| grants(base, client, &profile, per_client, &scopes)).collect();
        for (i, app) in apps.iter().flatten().enumerate() {
            let hook = serde_json::to_vec(&WebhookSet { url: urls[i % urls.len()].clone() }).unwrap();
            assert_eq!(app.call(&agent(), base, "PUT", path::APP_WEBHOOK, &hook), 204);
        }
        let shares: Vec<Vec<SealedShare>> =
            apps.iter().map(|apps| apps.iter().map(|app| profile.share(&app.grant, 2)).collect()).collect();
        let started = Instant::now();
        let put_at: Vec<Vec<(String, Instant)>> = std::thread::scope(|scope| {
            let threads: Vec<_> = clients
                .iter()
                .zip(&apps)
                .zip(&shares)
                .map(|((client, apps), shares)| {
                    scope.spawn(move || {
                        let agent = agent();
                        apps.iter()
                            .zip(shares)
                            .map(|(app, share)| {
                                let at = Instant::now();
                                let url = format!("{base}{}", path::grant_share(app.grant.as_str()));
                                let (status, answer) = call(&agent, "PUT", &url, &client.token, Some(share));
                                assert_eq!(status, 204, "{answer}");
                                (app.grant.to_string(), at)
                            })
                            .collect()
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let puts_done = started.elapsed();
        let deadline = Instant::now() + Duration::from_secs(60);
        while arrivals.lock().unwrap().len() < apps.iter().flatten().count() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let arrivals = arrivals.lock().unwrap().clone();
        let last = arrivals.values().max().map(|at| at.duration_since(started)).unwrap_or_default();
        let mut each: Vec<Duration> = put_at
            .iter()
            .flatten()
            .filter_map(|(grant, at)| arrivals.get(grant).map(|arrived| arrived.duration_since(*at)))
            .collect();
        each.sort();
        let pct = |p: f64| {
            each.get(((each.len() as f64 * p) as usize).min(each.len().saturating_sub(1))).copied().unwrap_or_default()
        };
        println!(
            "{backend}: {} share PUTs → {} of {} webhooks received in {:.2} s (PUTs done in {:.2} s; each app's PUT to its webhook p50 {:.0} ms, p99 {:.0} ms)",
            put_at.iter().flatten().count(),
            arrivals.len(),
            apps.iter().flatten().count(),
            last.as_secs_f64(),
            puts_done.as_secs_f64(),
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
        );
    }
}

fn main() {
    bench("sqlite", &Database::sqlite());
    if std::env::var_os(POSTGRES_ENV).is_some() {
        bench("postgres", &Database::postgres());
    } else {
        println!("postgres: not measured (run inside scripts/with-postgres, which sets {POSTGRES_ENV})")
    }
}
