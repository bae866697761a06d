//! A site's login verifications per second with `profile-rp` (challenge taken, account looked
//! up, key decoded, signature and bindings checked, counter raised), next to raw `ring` ECDSA
//! P-256 verifications of the same signed bytes, on one thread and on two, with the ratio.
//! Prints figures; asserts nothing about time. `cargo bench -p profile-rp --bench verify`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use base64ct::{Base64UrlUnpadded, Encoding};
use profile_core::{AccountGuid, AssertionType, ClientData, DeviceId, LoginKey, Origin, Secret32};
use profile_rp::wire::{LoginResult, SignUpResult};
use profile_rp::{MemoryStore, RelyingParty};
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

/// Logins measured per configuration, shared among its threads.
const LOGINS: usize = 20_000;

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// One prepared login: the answer with its challenge, and what raw `ring` verifies of it.
struct Login {
    challenge: profile_rp::Challenge,
    answer: LoginResult,
    point: Vec<u8>,
    message: Vec<u8>,
    signature: Vec<u8>,
}

/// `accounts` accounts signed up, and `per` prepared logins for each.
fn prepare(rp: &RelyingParty<MemoryStore>, accounts: usize, per: usize) -> Vec<Vec<Login>> {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let origin: Origin = "https://shop.example".parse().unwrap();
    (0..accounts)
        .map(|a| {
            let key = LoginKey::from_secret(&Secret32::from_bytes([a as u8 + 1; 32])).unwrap();
            let jwk = key.public_jwk();
            let point = jwk.to_key().unwrap().as_sec1().to_vec();
            let guid = AccountGuid::try_from(format!("acct-{a}")).unwrap();
            let device_id = DeviceId::derive(&Secret32::from_bytes([9; 32]), &origin);
            let data = |kind, challenge: &profile_rp::Challenge, counter| ClientData {
                kind,
                origin: origin.clone(),
                challenge: challenge.clone(),
                account_guid: guid.clone(),
                device_id: device_id.clone(),
                counter,
                issued_at: now(),
            };
            let challenge = rp.challenge().unwrap();
            let sign_up = SignUpResult {
                account_guid: guid.clone(),
                profile_url: None,
                device_id: device_id.clone(),
                public_key: jwk,
                assertion: key.sign(&data(AssertionType::SignUp, &challenge, 0)),
            };
            runtime.block_on(rp.verify_sign_up(&challenge, &sign_up)).unwrap();
            (1..=per as u64)
                .map(|counter| {
                    let challenge = rp.challenge().unwrap();
                    let assertion = key.sign(&data(AssertionType::Login, &challenge, counter));
                    Login {
                        challenge,
                        point: point.clone(),
                        message: Base64UrlUnpadded::decode_vec(&assertion.client_data).unwrap(),
                        signature: Base64UrlUnpadded::decode_vec(&assertion.signature).unwrap(),
                        answer: LoginResult { account_guid: guid.clone(), assertion },
                    }
                })
                .collect()
        })
        .collect()
}

/// Operations per second over all threads, p50 and p99 in ms.
struct Figures {
    per_second: f64,
    p50: f64,
    p99: f64,
    n: usize,
}

/// Runs `op` on every item, one thread per list of items, all at once.
fn measure<T: Sync>(work: &[Vec<T>], op: impl Fn(&tokio::runtime::Runtime, &T) + Sync) -> Figures {
    let start = Instant::now();
    let mut latencies: Vec<f64> = std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .iter()
            .map(|items| {
                let op = &op;
                scope.spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                    items
                        .iter()
                        .map(|item| {
                            let t = Instant::now();
                            op(&runtime, item);
                            t.elapsed().as_secs_f64() * 1e3
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    Figures { per_second: latencies.len() as f64 / elapsed, p50: pct(0.5), p99: pct(0.99), n: latencies.len() }
}

fn line(what: &str, threads: usize, f: &Figures) {
    println!(
        "{what:<34} {threads} thread(s): {:>7.0} /s   p50 {:.3} ms   p99 {:.3} ms   (n={})",
        f.per_second, f.p50, f.p99, f.n
    );
}

fn run(threads: usize) {
    let rp = Arc::new(RelyingParty::new("https://shop.example".parse().unwrap(), MemoryStore::default()));
    let work = prepare(&rp, threads, LOGINS / threads);
    let raw = measure(&work, |_, login| {
        let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &login.point);
        key.verify(&login.message, &login.signature).unwrap();
    });
    let logins = measure(&work, |runtime, login| {
        runtime.block_on(rp.verify_login(&login.challenge, &login.answer)).unwrap();
    });
    line("raw ring ECDSA P-256 verification,", threads, &raw);
    line("profile-rp login verification,", threads, &logins);
    // The p50 ratio is the steadier one on a machine shared with other work.
    println!(
        "  profile-rp / raw ring, {threads} thread(s): {:.2} of the throughput, {:.2} of the speed at p50",
        logins.per_second / raw.per_second,
        raw.p50 / logins.p50
    );
}

fn main() {
    println!("cargo bench -p profile-rp --bench verify (signature backend: {})", profile_core::ecdsa::BACKEND);
    run(1);
    run(2);
}
