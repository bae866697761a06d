#![allow(clippy::unwrap_used)]

use profile_core::{ClientData, LoginKey, Secret32};

use super::*;

/// What a person's host does: one login key and device id per site.
struct Device {
    key: LoginKey,
    device_id: DeviceId,
}

impl Device {
    fn new(origin: &Origin) -> Self {
        Self {
            key: LoginKey::from_secret(&Secret32::from_bytes([7; 32])).unwrap(),
            device_id: DeviceId::derive(&Secret32::from_bytes([9; 32]), origin),
        }
    }

    fn data(&self, kind: AssertionType, origin: &str, challenge: &Challenge, counter: u64) -> ClientData {
        ClientData {
            kind,
            origin: origin.parse().unwrap(),
            challenge: challenge.clone(),
            account_guid: guid(),
            device_id: self.device_id.clone(),
            counter,
            issued_at: now(),
        }
    }

    fn sign_up(&self, origin: &str, challenge: &Challenge) -> wire::SignUpResult {
        wire::SignUpResult {
            account_guid: guid(),
            profile_url: Some("https://profiles.example/u/ada".into()),
            device_id: self.device_id.clone(),
            public_key: self.key.public_jwk(),
            assertion: self.key.sign(&self.data(AssertionType::SignUp, origin, challenge, 0)),
        }
    }

    fn login(&self, origin: &str, challenge: &Challenge, counter: u64) -> wire::LoginResult {
        wire::LoginResult {
            account_guid: guid(),
            assertion: self.key.sign(&self.data(AssertionType::Login, origin, challenge, counter)),
        }
    }
}

fn guid() -> AccountGuid {
    AccountGuid::try_from("acct-1".to_owned()).unwrap()
}

const SHOP: &str = "https://shop.example";

fn shop() -> RelyingParty<MemoryStore> {
    RelyingParty::new(SHOP.parse().unwrap(), MemoryStore::default())
}

#[tokio::test]
async fn sign_up_then_logins_with_a_rising_counter() {
    let rp = shop();
    let device = Device::new(rp.origin());
    let challenge = rp.challenge().unwrap();
    let account = rp.verify_sign_up(&challenge, &device.sign_up(SHOP, &challenge)).await.unwrap();
    assert_eq!((account.account_guid, account.counter), (guid(), 0));
    assert_eq!(account.profile_url.as_deref(), Some("https://profiles.example/u/ada"));

    for counter in [1, 2, 5] {
        let challenge = rp.challenge().unwrap();
        let account = rp.verify_login(&challenge, &device.login(SHOP, &challenge, counter)).await.unwrap();
        assert_eq!(account.counter, counter);
    }
    assert_eq!(rp.store().find(&guid()).await.unwrap().unwrap().counter, 5);
}

#[tokio::test]
async fn replays_other_origins_old_counters_and_foreign_challenges_are_refused() {
    let rp = shop();
    let device = Device::new(rp.origin());
    let challenge = rp.challenge().unwrap();
    rp.verify_sign_up(&challenge, &device.sign_up(SHOP, &challenge)).await.unwrap();

    // The same sign-up again: its challenge is spent.
    let replay = device.sign_up(SHOP, &challenge);
    assert!(matches!(rp.verify_sign_up(&challenge, &replay).await, Err(RpError::Challenge)));

    let challenge = rp.challenge().unwrap();
    let login = device.login(SHOP, &challenge, 3);
    rp.verify_login(&challenge, &login).await.unwrap();
    assert!(matches!(rp.verify_login(&challenge, &login).await, Err(RpError::Challenge)), "a replayed login");

    // Made for another origin (a phishing page that relayed the challenge).
    let challenge = rp.challenge().unwrap();
    let phished = device.login("https://shop.example.evil.test", &challenge, 4);
    assert!(matches!(rp.verify_login(&challenge, &phished).await, Err(RpError::Assertion(AssertionError::Origin))));

    // An old counter.
    let challenge = rp.challenge().unwrap();
    let old = device.login(SHOP, &challenge, 3);
    assert!(matches!(
        rp.verify_login(&challenge, &old).await,
        Err(RpError::Assertion(AssertionError::Counter { got: 3, last: 3 }))
    ));

    // Signed for one challenge, presented with another, or with one this site never issued.
    let (issued, other) = (rp.challenge().unwrap(), rp.challenge().unwrap());
    let answer = device.login(SHOP, &issued, 9);
    assert!(matches!(rp.verify_login(&other, &answer).await, Err(RpError::Assertion(AssertionError::Challenge))));
    let made_up = Challenge::from_random(&[1; 32]).unwrap();
    assert!(matches!(rp.verify_login(&made_up, &device.login(SHOP, &made_up, 9)).await, Err(RpError::Challenge)));

    // A sign-up answer presented as a login, and a forged signature.
    let challenge = rp.challenge().unwrap();
    let sign_up = device.sign_up(SHOP, &challenge);
    let as_login = wire::LoginResult { account_guid: guid(), assertion: sign_up.assertion };
    assert!(matches!(rp.verify_login(&challenge, &as_login).await, Err(RpError::Assertion(AssertionError::Type))));
    let challenge = rp.challenge().unwrap();
    let mut forged = device.login(SHOP, &challenge, 10);
    forged.assertion.signature = device.login(SHOP, &challenge, 11).assertion.signature;
    assert!(matches!(rp.verify_login(&challenge, &forged).await, Err(RpError::Assertion(AssertionError::Signature))));
}

#[tokio::test]
async fn unknown_and_taken_accounts_and_expired_challenges_are_refused() {
    let rp = RelyingParty::with_challenge_ttl(SHOP.parse().unwrap(), MemoryStore::default(), Duration::from_millis(50));
    let device = Device::new(rp.origin());
    let challenge = rp.challenge().unwrap();
    assert!(matches!(
        rp.verify_login(&challenge, &device.login(SHOP, &challenge, 1)).await,
        Err(RpError::UnknownAccount(_))
    ));

    let challenge = rp.challenge().unwrap();
    rp.verify_sign_up(&challenge, &device.sign_up(SHOP, &challenge)).await.unwrap();
    let challenge = rp.challenge().unwrap();
    assert!(matches!(
        rp.verify_sign_up(&challenge, &device.sign_up(SHOP, &challenge)).await,
        Err(RpError::AccountTaken(_))
    ));

    let challenge = rp.challenge().unwrap();
    std::thread::sleep(Duration::from_millis(80));
    assert!(matches!(rp.verify_login(&challenge, &device.login(SHOP, &challenge, 1)).await, Err(RpError::Challenge)));

    // A sign-up whose device id is not the one signed.
    let other_rp = shop();
    let challenge = other_rp.challenge().unwrap();
    let mut answer = device.sign_up(SHOP, &challenge);
    answer.device_id = DeviceId::derive(&Secret32::from_bytes([1; 32]), other_rp.origin());
    assert!(matches!(other_rp.verify_sign_up(&challenge, &answer).await, Err(RpError::Device)));
}

#[test]
fn challenges_are_random_and_long_enough() {
    let rp = shop();
    let (a, b) = (rp.challenge().unwrap(), rp.challenge().unwrap());
    assert_ne!(a, b);
    assert_eq!(a.as_str().len(), 43, "32 bytes, base64url");
}

#[test]
fn a_site_key_signs_account_checks_its_registration_publishes() {
    let key = SiteKey::generate().unwrap();
    let registration = key.registration("demo-shop", "Demo Shop");
    assert_eq!((registration["appId"].as_str(), registration["name"].as_str()), (Some("demo-shop"), Some("Demo Shop")));
    let public: PublicJwk = serde_json::from_value(registration["publicKey"].clone()).unwrap();
    let request = key.account_check(&SHOP.parse().unwrap(), &guid());
    let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!((body["origin"].as_str(), body["accountGuid"].as_str()), (Some(SHOP), Some("acct-1")));
    assert!(body["issuedAt"].as_u64().unwrap() > 1_700_000_000);
    let signature = profile_core::ecdsa::Signature::from_base64url(&request.signature).unwrap();
    assert!(public.to_key().unwrap().verify(request.body.as_bytes(), &signature).is_ok());
    assert_eq!(format!("{key:?}"), "SiteKey(..)");
}

mod public_part {
    use std::sync::{Arc, Mutex};

    use base64ct::{Base64UrlUnpadded, Encoding};
    use profile_core::Secret32;
    use profile_core::public::{ProfileKey, PublicError, PublicFields, PublicPart, sign_public};
    use profile_core::server_api::ProfileDocument;

    use crate::RpError;
    use crate::public::{PublicFetcher, PublicProfile, public_from_document};

    fn key(byte: u8) -> ProfileKey {
        ProfileKey::from_secret(&Secret32::from_bytes([byte; 32])).unwrap()
    }

    fn fields(name: &str) -> PublicFields {
        serde_json::from_value(serde_json::json!({"displayName": name, "vehicles": [{"make": "Zoe"}]})).unwrap()
    }

    fn document(profile_url: &str, public: Option<PublicPart>) -> Vec<u8> {
        let document = ProfileDocument {
            profile_id: "ada".into(),
            profile_url: profile_url.into(),
            api_base: profile_url.rsplit_once("/u/").unwrap().0.into(),
            keys: vec![],
            public,
        };
        serde_json::to_vec(&document).unwrap()
    }

    /// A profile server on loopback serving whatever document is set, at any path.
    async fn serve(served: Arc<Mutex<Vec<u8>>>) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new().fallback(move || {
            let body = served.lock().unwrap().clone();
            async move { ([("content-type", "application/json")], body) }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        port
    }

    #[tokio::test]
    async fn a_public_part_is_fetched_and_checked_against_its_url() {
        let served = Arc::new(Mutex::new(Vec::new()));
        let port = serve(served.clone()).await;
        let url = format!("http://127.0.0.1:{port}/u/ada");
        let part = sign_public(&key(1), &url, 1_000, &fields("Ada")).unwrap();
        *served.lock().unwrap() = document(&url, Some(part.clone()));
        let fetch = |fetcher: PublicFetcher, url: String, last: Option<PublicProfile>| {
            tokio::task::spawn_blocking(move || fetcher.fetch_public(&url, last.as_ref()))
        };

        let public = fetch(PublicFetcher::allowing_loopback(), url.clone(), None).await.unwrap().unwrap().unwrap();
        assert_eq!(
            public,
            PublicProfile {
                profile_url: url.clone(),
                key: key(1).public_jwk(),
                issued_at: 1_000,
                fields: fields("Ada")
            }
        );
        assert_eq!(public.fields.display_name(), Some("Ada"));

        // By default only https, and never this machine.
        let refused = fetch(PublicFetcher::new(), url.clone(), None).await.unwrap();
        assert!(matches!(refused, Err(RpError::Fetch(ref e)) if e.contains("https")), "{refused:?}");
        let inward = format!("https://127.0.0.1:{port}/u/ada");
        let refused = fetch(PublicFetcher::new(), inward, None).await.unwrap();
        assert!(matches!(refused, Err(RpError::Fetch(ref e)) if e.contains("host not found")), "{refused:?}");

        // A tampered part, served for real: refused.
        let mut bytes = Base64UrlUnpadded::decode_vec(&part.payload).unwrap();
        let at = bytes.windows(3).position(|w| w == b"Ada").unwrap();
        bytes[at..at + 3].copy_from_slice(b"Eve");
        let tampered = PublicPart { payload: Base64UrlUnpadded::encode_string(&bytes), ..part.clone() };
        *served.lock().unwrap() = document(&url, Some(tampered));
        let refused = fetch(PublicFetcher::allowing_loopback(), url.clone(), None).await.unwrap();
        assert!(matches!(refused, Err(RpError::Public(PublicError::Signature))), "{refused:?}");
        *served.lock().unwrap() = document(&url, None);
        assert_eq!(fetch(PublicFetcher::allowing_loopback(), url.clone(), None).await.unwrap().unwrap(), None);
    }

    #[test]
    fn a_document_is_checked_against_its_url_its_key_and_what_was_seen() {
        let url = "https://profiles.example/u/ada";
        let part = sign_public(&key(1), url, 1_000, &fields("Ada")).unwrap();
        let seen = public_from_document(url, &document(url, Some(part.clone())), None).unwrap().unwrap();

        // The document of another profile, or a part published for another profile.
        let elsewhere = "https://profiles.example/u/eve";
        assert!(matches!(
            public_from_document(url, &document(elsewhere, Some(part.clone())), None),
            Err(RpError::Fetch(_))
        ));
        let for_eve = sign_public(&key(1), elsewhere, 1_000, &fields("Ada")).unwrap();
        assert!(matches!(
            public_from_document(url, &document(url, Some(for_eve)), None),
            Err(RpError::Public(PublicError::ProfileUrl(_)))
        ));
        // Signed by another key: refused against what was seen before, accepted by a site
        // meeting the profile for the first time.
        let swapped = sign_public(&key(2), url, 2_000, &fields("Mallory")).unwrap();
        let swapped = document(url, Some(swapped));
        assert!(matches!(public_from_document(url, &swapped, Some(&seen)), Err(RpError::PublicKeyChanged)));
        assert!(public_from_document(url, &swapped, None).unwrap().is_some());
        // Older than what was seen: refused; the same or newer: taken.
        let older = document(url, Some(sign_public(&key(1), url, 999, &fields("Ada")).unwrap()));
        assert!(matches!(
            public_from_document(url, &older, Some(&seen)),
            Err(RpError::PublicOlder { issued_at: 999, seen: 1_000 })
        ));
        assert_eq!(public_from_document(url, &document(url, Some(part)), Some(&seen)).unwrap(), Some(seen.clone()));
        let newer = document(url, Some(sign_public(&key(1), url, 1_001, &fields("Ada L.")).unwrap()));
        assert_eq!(
            public_from_document(url, &newer, Some(&seen)).unwrap().unwrap().fields.display_name(),
            Some("Ada L.")
        );
        assert!(matches!(public_from_document(url, b"<html>", None), Err(RpError::Fetch(_))));
    }
}
