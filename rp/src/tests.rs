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
