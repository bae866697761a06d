//! A site's login verifications per second with `profile-rp` (challenge taken, account looked
//! up, signature and bindings checked, counter raised), on one thread and on two. Prints
//! figures; asserts nothing about time. `cargo bench -p profile-rp --bench verify`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use profile_core::{AccountGuid, AssertionType, ClientData, DeviceId, LoginKey, Origin, Secret32};
use profile_rp::wire::{LoginResult, SignUpResult};
use profile_rp::{MemoryStore, RelyingParty};

const LOGINS: usize = 4000;

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// `n` accounts signed up, and `per` prepared login answers for each (with their challenges).
fn prepare(
    rp: &RelyingParty<MemoryStore>,
    accounts: usize,
    per: usize,
) -> Vec<Vec<(profile_rp::Challenge, LoginResult)>> {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let origin: Origin = "https://shop.example".parse().unwrap();
    (0..accounts)
        .map(|a| {
            let key = LoginKey::from_secret(&Secret32::from_bytes([a as u8 + 1; 32])).unwrap();
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
                public_key: key.public_jwk(),
                assertion: key.sign(&data(AssertionType::SignUp, &challenge, 0)),
            };
            runtime.block_on(rp.verify_sign_up(&challenge, &sign_up)).unwrap();
            (1..=per as u64)
                .map(|counter| {
                    let challenge = rp.challenge().unwrap();
                    let assertion = key.sign(&data(AssertionType::Login, &challenge, counter));
                    (challenge, LoginResult { account_guid: guid.clone(), assertion })
                })
                .collect()
        })
        .collect()
}

fn run(threads: usize) {
    let rp = Arc::new(RelyingParty::new("https://shop.example".parse().unwrap(), MemoryStore::default()));
    let work = prepare(&rp, threads, LOGINS / threads);
    let start = Instant::now();
    let mut latencies: Vec<f64> = std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .into_iter()
            .map(|answers| {
                let rp = rp.clone();
                scope.spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                    answers
                        .iter()
                        .map(|(challenge, answer)| {
                            let t = Instant::now();
                            runtime.block_on(rp.verify_login(challenge, answer)).unwrap();
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
    println!(
        "login verification, {threads} thread(s): {:>6.0} /s   p50 {:.3} ms   p99 {:.3} ms   (n={})",
        latencies.len() as f64 / elapsed,
        pct(0.5),
        pct(0.99),
        latencies.len()
    );
}

fn main() {
    run(1);
    run(2);
}
