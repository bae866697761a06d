#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use profile_core::apps::sealed::{open_append, profile_decryption_key, seal_share};
use profile_core::apps::{AppEventKind, KEY_ID_HEADER};
use profile_core::ecdsa::Signature;
use profile_core::public::ProfileKey;
use profile_core::server_api::{Jwks, ServerJwk};
use serde_json::json;

use super::*;

fn app_keys(byte: u8) -> AppKeys {
    AppKeys::from_secrets(&Secret32::from_bytes([byte; 32]), &Secret32::from_bytes([byte + 1; 32])).unwrap()
}

#[test]
fn a_stamp_is_signed_with_the_apps_published_key() {
    let keys = app_keys(3);
    let grant = GrantId::from_bytes([5; 16]);
    let headers = keys.stamp(&grant, "post", "/api/v1/app/appends", b"{\"a\":1}").unwrap();

    let (bytes, stamp) = AppStamp::from_header(&headers.stamp).unwrap();
    assert_eq!(stamp.grant_id, grant);
    assert_eq!(stamp.method, "POST");
    assert_eq!(stamp.matches("POST", "/api/v1/app/appends", b"{\"a\":1}", now()), Ok(()));
    let published = keys.registration("till", "Till").unwrap().public_key.to_key().unwrap();
    let signature = Signature::from_base64url(&headers.signature).unwrap();
    assert!(published.verify(&bytes, &signature).is_ok(), "checks with profile-core's one ECDSA check");
    assert!(keys.site_key().public_jwk().to_key().unwrap().verify(b"other bytes", &signature).is_err());

    let again = keys.stamp(&grant, "POST", "/api/v1/app/appends", b"{\"a\":1}").unwrap();
    assert_ne!(AppStamp::from_header(&again.stamp).unwrap().1.nonce, stamp.nonce, "a fresh nonce each time");
}

#[test]
fn the_registration_publishes_both_keys() {
    let keys = app_keys(3);
    let registration = serde_json::to_value(keys.registration("corner-till", "Corner Shop").unwrap()).unwrap();
    let members: Vec<&str> = registration.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(members, ["appId", "encryptionKey", "name", "publicKey"]);
    assert_eq!(registration["appId"], "corner-till");
    assert_eq!(registration["name"], "Corner Shop");
    assert_eq!(registration["publicKey"], json!(keys.site_key().public_jwk()));
    assert_eq!(registration["encryptionKey"], json!(keys.encryption_key()));
    assert_eq!(registration["encryptionKey"]["crv"], "P-256");
    // Read back as the profile-core contract the host reads it with.
    let read: AppRegistration = serde_json::from_value(registration).unwrap();
    assert_eq!(read.encryption_key, Some(keys.encryption_key()));

    assert_eq!(app_keys(3).encryption_key(), keys.encryption_key(), "the same secrets make the same keys");
    assert_ne!(app_keys(4).encryption_key(), keys.encryption_key());
    assert!(matches!(keys.registration("", "Corner Shop"), Err(AppError::Registration(_))));
    assert!(matches!(keys.registration("till", "two\nlines"), Err(AppError::Registration(_))));
    assert!(matches!(
        AppKeys::from_secrets(&Secret32::from_bytes([0; 32]), &Secret32::from_bytes([1; 32])),
        Err(AppError::Key)
    ));
    assert_eq!(format!("{keys:?}"), "AppKeys(..)");
}

/// A profile server's signing key, as its JWKS publishes it.
struct ServerKey {
    key: p256::ecdsa::SigningKey,
    kid: &'static str,
}

impl ServerKey {
    fn new(byte: u8, kid: &'static str) -> Self {
        Self { key: p256::ecdsa::SigningKey::from_slice(&[byte; 32]).unwrap(), kid }
    }

    fn jwk(&self) -> ServerJwk {
        ServerJwk {
            key: PublicJwk::from_key(self.key.verifying_key()),
            kid: self.kid.into(),
            alg: "ES256".into(),
            use_: "sig".into(),
        }
    }

    fn sign(&self, body: &[u8]) -> String {
        use base64ct::Encoding;
        use p256::ecdsa::signature::Signer;
        let signature: p256::ecdsa::Signature = self.key.sign(body);
        base64ct::Base64UrlUnpadded::encode_string(&signature.to_bytes())
    }
}

const SERVER: &str = "https://profiles.example";

#[test]
fn a_webhook_verifies_with_its_servers_key_only() {
    let server = ServerKey::new(7, "k1");
    let webhooks = Webhooks::new(Reach::Public);
    webhooks.remember(SERVER, Jwks { keys: vec![server.jwk()] });
    let grant = GrantId::from_bytes([1; 16]);
    let body = serde_json::to_vec(&json!({
        "id": "ev-1", "grantId": grant, "occurredAt": 1_700_000_000, "type": "share-updated", "version": 4
    }))
    .unwrap();
    let ours = |id: &GrantId| (id == &grant).then(|| SERVER.to_owned());

    let event = webhooks.verify("k1", &server.sign(&body), &body, ours).unwrap();
    assert_eq!((event.id.as_str(), event.kind), ("ev-1", AppEventKind::ShareUpdated { version: 4 }));

    let forger = ServerKey::new(8, "k1");
    assert!(matches!(webhooks.verify("k1", &forger.sign(&body), &body, ours), Err(AppError::WebhookSignature(_))));
    let mut altered = body.clone();
    altered.extend_from_slice(b" ");
    assert!(matches!(webhooks.verify("k1", &server.sign(&body), &altered, ours), Err(AppError::WebhookSignature(_))));
    // A key the server published a moment ago does not hold: not fetched again at once.
    assert!(matches!(webhooks.verify("k2", &server.sign(&body), &body, ours), Err(AppError::UnknownKey { .. })));
    assert!(matches!(webhooks.verify("k1", &server.sign(&body), &body, |_| None), Err(AppError::UnknownGrant(_))));
    assert!(matches!(
        webhooks.verify("", &server.sign(&body), &body, ours),
        Err(AppError::WebhookHeader(KEY_ID_HEADER))
    ));
    assert!(matches!(webhooks.verify("k1", "", &body, ours), Err(AppError::WebhookHeader(_))));
    assert!(matches!(webhooks.verify("k1", "not a signature", &body, ours), Err(AppError::WebhookSignature(_))));
    assert!(matches!(webhooks.verify("k1", &server.sign(b"{}"), b"{}", ours), Err(AppError::WebhookBody(_))));
}

#[test]
fn events_are_handled_once_each_up_to_the_bound_and_a_failed_one_again() {
    let webhooks = Webhooks::with_capacity(Reach::Public, 2);
    let handle = |id: &str| webhooks.once(id, || Ok::<_, ()>(id.to_owned()));
    assert_eq!(handle("a"), Ok(Some("a".into())));
    assert_eq!(handle("a"), Ok(None), "a second delivery");
    assert_eq!(webhooks.once("b", || Err::<(), _>("the share could not be read")), Err("the share could not be read"));
    assert_eq!(handle("b"), Ok(Some("b".into())), "a failed one is handled when it comes again");
    assert_eq!(handle("c"), Ok(Some("c".into())), "a is forgotten now");
    assert_eq!((handle("b"), handle("c")), (Ok(None), Ok(None)));
    assert_eq!(handle("a"), Ok(Some("a".into())));
    let one = Webhooks::with_capacity(Reach::Public, 0);
    assert_eq!(one.once("x", || Ok::<_, ()>(())), Ok(Some(())));
    assert_eq!(one.once("x", || Ok::<_, ()>(())), Ok(None), "a capacity of at least one");
}

const PROFILE: &str = "https://profiles.example/u/ada";

/// A grant of a profile whose server is at `api_base`, as an app keeps it before its first read.
fn record(api_base: &str) -> GrantRecord {
    GrantRecord {
        grant_id: GrantId::from_bytes([2; 16]),
        profile_url: PROFILE.into(),
        profile_key: app_keys(9).site_key().public_jwk(),
        api_base: api_base.into(),
        share_version: None,
        encryption_key: None,
    }
}

#[test]
fn a_grant_record_keeps_its_shape_and_refuses_plain_http_unless_allowed() {
    let record = record("http://127.0.0.1:8450");
    let value = serde_json::to_value(&record).unwrap();
    assert_eq!(value["grantId"], "AgICAgICAgICAgICAgICAg");
    assert!(value.get("shareVersion").is_none());
    let keys = Arc::new(app_keys(3));
    assert!(matches!(AppClient::resume(keys.clone(), record.clone(), Reach::Public), Err(AppError::Document(_))));
    let client = AppClient::resume(keys, record.clone(), Reach::Loopback).unwrap();
    assert_eq!(client.record(), record);
}

/// A receipt of one item with the barcode `gtin`.
fn receipt(gtin: &str) -> Map<String, Value> {
    json!({"merchant": "Corner", "date": "2026-11-30", "currency": "EUR", "total": "1.00",
           "items": [{"name": "Milk", "gtin": gtin, "quantity": 1, "unitPrice": "1.00"}]})
    .as_object()
    .cloned()
    .unwrap()
}

#[test]
fn an_item_is_checked_against_its_category_before_anything_is_sent() {
    // No server answers here: each refusal comes before any request.
    let record = record("https://profiles.invalid");
    let client = AppClient::resume(Arc::new(app_keys(3)), record, Reach::Public).unwrap();
    assert!(matches!(client.append(Category::Receipts, receipt("4006381333932")), Err(AppError::Item(_))));
    let mut missing = receipt("4006381333931");
    missing.remove("merchant");
    assert!(matches!(client.append(Category::Receipts, missing), Err(AppError::Item(_))));
    let mut huge = receipt("4006381333931");
    huge.insert("receipt".into(), json!({"lines": vec!["x".repeat(1000); 20]}));
    assert!(matches!(client.append(Category::Receipts, huge), Err(AppError::Item(_))));
    let mut big = receipt("4006381333931");
    let items: Vec<Value> =
        (0..200).map(|i| json!({"name": format!("{i} {}", "y".repeat(190)), "unitPrice": "1.00"})).collect();
    big.insert("items".into(), json!(items));
    big.insert("receipt".into(), json!({"lines": vec!["x".repeat(1000); 15]}));
    assert!(matches!(client.append(Category::Receipts, big), Err(AppError::ItemTooLarge(_))));
    // A well-formed receipt gets as far as the network, which is not there.
    assert!(matches!(client.append(Category::Receipts, receipt("4006381333931")), Err(AppError::Unreachable(_))));
}

#[test]
fn a_share_is_taken_only_as_its_profile_signed_it_and_never_older() {
    let profile_secret = Secret32::from_bytes([11; 32]);
    let profile = ProfileKey::from_secret(&profile_secret).unwrap();
    let profile_enc = profile_decryption_key(&profile_secret);
    let keys = Arc::new(app_keys(3));
    let mut kept = record("https://profiles.invalid");
    kept.profile_key = profile.public_jwk();
    let client = AppClient::resume(keys.clone(), kept.clone(), Reach::Public).unwrap();
    let contents = |version, profile_url: &str| ShareContents {
        grant_id: kept.grant_id.clone(),
        version,
        profile_url: profile_url.into(),
        issued_at: 1,
        encryption_key: profile_enc.public().to_jwk(),
        categories: BTreeMap::new(),
    };
    let to_app = EncryptionKey::from_jwk(&keys.encryption_key()).unwrap();
    let sealed =
        |contents: &ShareContents, by: &ProfileKey| seal_share(by, &to_app, contents, &mut hpke_rng()).unwrap();

    // Before any share, an append has no key to be sealed to: it would read the share first.
    assert!(matches!(client.append_body(Category::Receipts, receipt("4006381333931")), Err(AppError::Unreachable(_))));
    let forger = ProfileKey::from_secret(&Secret32::from_bytes([12; 32])).unwrap();
    assert!(matches!(client.accept_share(&sealed(&contents(2, PROFILE), &forger)), Err(AppError::Share(_))));
    assert_eq!(client.accept_share(&sealed(&contents(2, PROFILE), &profile)).unwrap().version, 2);
    assert_eq!(client.record().share_version, Some(2));
    assert_eq!(client.record().encryption_key, Some(profile_enc.public().to_jwk()));
    assert!(matches!(
        client.accept_share(&sealed(&contents(1, PROFILE), &profile)),
        Err(AppError::ShareOlder { version: 1, seen: 2 })
    ));
    assert!(client.accept_share(&sealed(&contents(2, PROFILE), &profile)).is_ok(), "the same version again");
    assert!(matches!(
        client.accept_share(&sealed(&contents(3, "https://profiles.example/u/bob"), &profile)),
        Err(AppError::ShareProfile { .. })
    ));
    let to_another_app = EncryptionKey::from_jwk(&app_keys(5).encryption_key()).unwrap();
    let elsewhere = seal_share(&profile, &to_another_app, &contents(4, PROFILE), &mut hpke_rng()).unwrap();
    assert!(matches!(client.accept_share(&elsewhere), Err(AppError::Share(_))));
    assert_eq!(client.record().share_version, Some(2), "nothing refused was kept");

    // An append is signed with the app's key and sealed to that profile's key, for this grant
    // and category.
    let app_key = app_keys(3).site_key().public_jwk();
    let body = client.append_body(Category::Receipts, receipt("4006381333931")).unwrap();
    let request: AppendRequest = serde_json::from_slice(&body).unwrap();
    assert_eq!(request.category, Category::Receipts);
    let opened = open_append(&profile_enc, &app_key, &kept.grant_id, Category::Receipts, &request.sealed).unwrap();
    assert_eq!(
        (opened.fields["merchant"].as_str(), opened.fields["items"][0]["gtin"].as_str()),
        (Some("Corner"), Some("4006381333931"))
    );
    assert!(open_append(&profile_enc, &app_key, &kept.grant_id, Category::Medical, &request.sealed).is_err());
    let another_app = app_keys(5).site_key().public_jwk();
    assert!(open_append(&profile_enc, &another_app, &kept.grant_id, Category::Receipts, &request.sealed).is_err());
}
