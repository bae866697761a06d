//! The real `profile-host` binary over the real framing, on a real Secret Service.
//!
//! Run through `scripts/with-keyring` (the README's test command does), which starts a private
//! D-Bus session with an unlocked GNOME Keyring. One test binary on purpose: each file under
//! `tests/` is a separate link.
// Test harness helpers (outside `#[test]` functions) fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use profile_core::{
    AccountGuid, Assertion, AssertionError, AssertionType, Challenge, ClientData, Expected, Origin, PublicJwk, verify,
};
use profile_testkit::binary;
use profile_testkit::host::{EXTENSION_ORIGIN as EXTENSION, HostProcess, cli, cli_at_terminal, cli_ok, frame};
use serde_json::{Value, json};

const SHOP: &str = "https://shop.example";

fn address(name: &str) -> Value {
    json!({"name": name, "line1": "221B Baker Street", "city": "London", "postalCode": "NW1 6XE",
           "country": "GB", "phone": "+44 20 7224 3688"})
}

fn challenge(byte: u8) -> String {
    Base64UrlUnpadded::encode_string(&[byte; 16])
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn home() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn every_method_answers_with_its_result_or_its_error() {
    let dir = home();
    let mut host = HostProcess::start(dir.path());

    let hello = host.ok(EXTENSION, "hello", json!({}));
    assert_eq!(
        hello,
        json!({"apiVersion": "1", "hostVersion": env!("CARGO_PKG_VERSION"), "paired": false, "locked": false, "profileUrl": null})
    );
    assert_eq!(host.err(SHOP, "getProfileUrl", json!({})).0, "not_paired");
    let device_id = host.ok(SHOP, "getDeviceId", json!({}));
    assert_eq!(device_id.as_str().unwrap().len(), 43);

    assert_eq!(
        host.err(SHOP, "getAddress", json!({"kind": "shipping"})),
        ("not_found".into(), "no shipping address saved".into())
    );
    let saved = host.ok(EXTENSION, "saveAddress", json!({"kind": "shipping", "address": address("Sherlock Holmes")}));
    assert_eq!((saved["kind"].clone(), saved["default"].clone()), (json!("shipping"), json!(["shipping"])));
    assert_eq!(host.ok(SHOP, "getAddress", json!({"kind": "shipping"}))["name"], "Sherlock Holmes");
    assert_eq!(host.err(SHOP, "getAddress", json!({"kind": "billing"})).0, "not_found");
    let (code, message) = host.err(EXTENSION, "saveAddress", json!({"kind": "billing", "address": {"name": "x"}}));
    assert_eq!(code, "invalid_request");
    assert!(message.contains("`country` is required"), "{message}");

    let signed = host.ok(
        SHOP,
        "signUp",
        json!({"challenge": challenge(1), "accountGuid": "acct-1", "appId": "shop", "permissions": ["login"]}),
    );
    assert_eq!(signed["accountGuid"], "acct-1");
    assert_eq!(signed["deviceId"], device_id);
    assert_eq!(signed["profileUrl"], Value::Null);
    assert_eq!(signed["publicKey"]["crv"], "P-256");
    assert!(
        host.err(SHOP, "signUp", json!({"challenge": challenge(1), "accountGuid": "acct-1"}))
            .1
            .contains("already signed up")
    );
    assert_eq!(host.err(SHOP, "signUp", json!({"challenge": "c2hvcnQ", "accountGuid": "acct-2"})).0, "invalid_request");
    assert_eq!(host.ok(SHOP, "login", json!({"challenge": challenge(2)}))["accountGuid"], "acct-1");
    assert_eq!(host.err("https://other.example", "login", json!({"challenge": challenge(2)})).0, "not_signed_up");
    assert_eq!(host.err(SHOP, "login", json!({"challenge": challenge(2), "accountGuid": "nobody"})).0, "not_signed_up");

    let accounts = host.ok(EXTENSION, "listAccounts", json!({}));
    assert_eq!(accounts.as_array().unwrap().len(), 1);
    assert_eq!(accounts[0]["counter"], 1);
    assert_eq!(accounts[0]["publicKey"], signed["publicKey"]);
    assert!(accounts[0].get("key").is_none(), "no key material leaves: {accounts}");
    let book = host.ok(EXTENSION, "listAddresses", json!({}));
    assert_eq!((book["shipping"]["name"].clone(), book.get("billing")), (json!("Sherlock Holmes"), None));

    // The consent window's preview: exactly what the call would disclose, not disclosed.
    let preview = |host: &mut HostProcess, origin: &str, call: Value| {
        host.ok(
            EXTENSION,
            "preview",
            json!({"origin": origin, "topOrigin": "https://www.news.example.co.uk", "call": call}),
        )
    };
    let seen = preview(&mut host, "https://pay.shop.example", json!({"type": "getDeviceId", "params": {}}));
    assert_eq!(seen["registrableDomain"], "shop.example");
    assert_eq!(seen["topRegistrableDomain"], "example.co.uk");
    assert_eq!(preview(&mut host, SHOP, json!({"type": "getDeviceId", "params": {}}))["value"], device_id);
    let seen = preview(&mut host, SHOP, json!({"type": "getAddress", "params": {"kind": "shipping"}}));
    assert_eq!(seen["value"]["name"], "Sherlock Holmes");
    assert_eq!(
        preview(&mut host, SHOP, json!({"type": "getAddress", "params": {"kind": "billing"}}))["value"],
        Value::Null
    );
    let seen = preview(&mut host, SHOP, json!({"type": "login", "params": {"challenge": challenge(3)}}));
    assert_eq!(seen["value"], json!({"accountGuid": "acct-1"}));
    assert_eq!(
        preview(&mut host, "http://localhost:8080", json!({"type": "getProfileUrl", "params": {}}))["registrableDomain"],
        Value::Null
    );
    assert_eq!(
        host.err(EXTENSION, "preview", json!({"origin": SHOP, "call": {"type": "listAccounts", "params": {}}})).0,
        "invalid_request"
    );

    // Grants: one per (site, page around it, kind); revoking a site forgets it in either role.
    assert_eq!(host.ok(EXTENSION, "listGrants", json!({})), json!([]));
    host.ok(EXTENSION, "grant", json!({"origin": SHOP, "kind": "shippingAddress"}));
    host.ok(EXTENSION, "grant", json!({"origin": SHOP, "kind": "shippingAddress"}));
    host.ok(EXTENSION, "grant", json!({"origin": "https://pay.example", "topOrigin": SHOP, "kind": "login"}));
    host.ok(EXTENSION, "grant", json!({"origin": "https://news.example", "kind": "deviceId"}));
    assert_eq!(host.err(EXTENSION, "grant", json!({"origin": SHOP, "kind": "everything"})).0, "invalid_request");
    assert_eq!(host.err(SHOP, "grant", json!({"origin": SHOP, "kind": "login"})).0, "invalid_request");
    assert_eq!(host.ok(EXTENSION, "listGrants", json!({})).as_array().unwrap().len(), 3);
    assert_eq!(host.ok(EXTENSION, "revoke", json!({"origin": SHOP})), json!({"revoked": 2}));
    let grants = host.ok(EXTENSION, "listGrants", json!({}));
    assert_eq!(
        (grants[0]["origin"].clone(), grants[0]["kind"].clone()),
        (json!("https://news.example"), json!("deviceId"))
    );

    let ledger = host.ok(EXTENSION, "listDisclosures", json!({"limit": 3}));
    let methods: Vec<_> = ledger.as_array().unwrap().iter().map(|e| e["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["login", "login", "login"]);
    assert_eq!(ledger[2]["outcome"], "disclosed");
    assert_eq!(ledger[0]["outcome"], "not_signed_up");
    let all = host.ok(EXTENSION, "listDisclosures", json!({}));
    let address_entry =
        all.as_array().unwrap().iter().find(|e| e["method"] == "getAddress" && e["outcome"] == "disclosed").unwrap();
    assert!(address_entry["fields"].as_array().unwrap().contains(&json!("shipping.phone")));

    // A fill from the toolbar popup is a disclosure: recorded (the fields the address holds),
    // then the address is answered for the extension to fill with; never for a page.
    let fill = json!({"origin": "https://any.example", "kind": "shipping", "fields": ["name", "line2", "phone"]});
    assert_eq!(host.ok(EXTENSION, "fill", fill.clone())["name"], "Sherlock Holmes");
    let newest = host.ok(EXTENSION, "listDisclosures", json!({"limit": 1}));
    assert_eq!(
        (newest[0]["origin"].clone(), newest[0]["method"].clone(), newest[0]["fields"].clone()),
        (json!("https://any.example"), json!("fill"), json!(["shipping.name", "shipping.phone"]))
    );
    assert!(host.err(SHOP, "fill", fill).1.contains("only for this extension"));
    assert_eq!(
        host.err(EXTENSION, "fill", json!({"origin": "https://any.example", "kind": "billing", "fields": ["name"]})).0,
        "not_found"
    );
    assert_eq!(
        host.err(EXTENSION, "fill", json!({"origin": EXTENSION, "kind": "shipping", "fields": ["name"]})).0,
        "invalid_request"
    );

    let status = host.ok(EXTENSION, "status", json!({}));
    assert_eq!(
        (status["accounts"].clone(), status["addresses"].clone(), status["passphraseSet"].clone()),
        (json!(1), json!(["shipping"]), json!(false))
    );

    // Pairing refuses plain http off loopback (a passphrase-derived key would travel over it),
    // and a server that does not answer is `server_unreachable`.
    let (code, message) = host.err(EXTENSION, "pair", json!({"profileUrl": "http://p.example/u/1", "ticket": "t"}));
    assert!(code == "invalid_request" && message.contains("not an https URL"), "{message}");
    assert_eq!(
        host.err(EXTENSION, "pair", json!({"profileUrl": "https://127.0.0.1:1/u/1", "ticket": "t"})).0,
        "server_unreachable"
    );
    assert_eq!(host.err(EXTENSION, "unpair", json!({})).0, "not_paired");
    assert_eq!(host.err(EXTENSION, "listDevices", json!({})).0, "not_paired");
    let (code, message) = host.err(EXTENSION, "revokeDevice", json!({"deviceId": "../vault"}));
    assert!(code == "invalid_request" && message.contains("pairingId"), "a pairing id names nothing else: {message}");
    assert!(host.err(SHOP, "revokeDevice", json!({"deviceId": "abc"})).1.contains("only for this extension"));
    assert!(host.err(EXTENSION, "lock", json!({})).1.contains("set a passphrase first"));
    assert!(host.err(EXTENSION, "unlock", json!({"passphrase": "whatever"})).1.contains("no passphrase is set"));

    // Who may call what: page methods for web origins, the rest for this extension only.
    assert!(host.err(EXTENSION, "getDeviceId", json!({})).1.contains("only for web pages"));
    assert!(host.err(SHOP, "listAccounts", json!({})).1.contains("only for this extension"));
    assert!(
        host.err("chrome-extension://pppppppppppppppppppppppppppppppp", "listAccounts", json!({}))
            .1
            .contains("only for this extension")
    );
    assert_eq!(host.err("http://shop.example", "getDeviceId", json!({})).0, "insecure_origin");
    assert_eq!(host.err("null", "getDeviceId", json!({})).0, "invalid_request");
    assert_eq!(host.ok("http://localhost:8080", "getDeviceId", json!({})).as_str().unwrap().len(), 43);

    let (status, _) = host.finish();
    assert!(status.success());
}

#[test]
fn lock_and_unlock_with_a_passphrase() {
    let dir = home();
    let out = cli(dir.path(), &["passphrase", "set"], "short\n");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("at least 8"));
    let out = cli(dir.path(), &["passphrase", "set"], "correct horse battery\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let mut host = HostProcess::start(dir.path());
    assert!(
        host.err(EXTENSION, "unlock", json!({"passphrase": "correct horse battery"})).1.contains("already unlocked")
    );
    assert_eq!(host.ok(EXTENSION, "lock", json!({})), json!({"locked": true}));
    assert_eq!(host.ok(EXTENSION, "lock", json!({})), json!({"locked": true}), "lock is idempotent");
    assert_eq!(host.ok(EXTENSION, "hello", json!({}))["locked"], true);
    assert_eq!(host.err(SHOP, "getDeviceId", json!({})).0, "locked");
    assert_eq!(host.err(EXTENSION, "listAccounts", json!({})).0, "locked");
    assert_eq!(
        host.err(EXTENSION, "unlock", json!({"passphrase": "wrong horse"})),
        ("auth_failed".into(), "wrong passphrase".into())
    );

    // A second process on the same data dir sees the lock too.
    let mut other = HostProcess::start(dir.path());
    assert_eq!(other.err(SHOP, "getDeviceId", json!({})).0, "locked");
    let unlocked = other.ok(EXTENSION, "unlock", json!({"passphrase": "correct horse battery"}));
    assert_eq!(unlocked["locked"], false);
    let expires = unlocked["expiresAt"].as_u64().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!((now + 11 * 3600..=now + 12 * 3600).contains(&expires), "a session of 12 hours: {expires}");
    assert!(host.ok(SHOP, "getDeviceId", json!({})).is_string());

    // Idle, it locks itself.
    let out = cli(dir.path(), &["auto-lock", "1s"], "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("locks after 1s"), "{out:?}");
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    assert_eq!(host.err(SHOP, "getDeviceId", json!({})).0, "locked", "auto-locked after a second idle");
    assert_eq!(other.err(SHOP, "getDeviceId", json!({})).0, "locked");
    assert!(cli(dir.path(), &["auto-lock", "off"], "").status.success());
    assert!(other.ok(EXTENSION, "unlock", json!({"passphrase": "correct horse battery"}))["expiresAt"].is_u64());

    // Changing the passphrase needs the current one, and wrong guesses are slowed like unlocks.
    let out = cli(dir.path(), &["passphrase", "set"], "not it at all\nnew passphrase here\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("current passphrase is wrong"));
    let out = cli(dir.path(), &["passphrase", "set"], "correct horse battery\nnew passphrase here\n");
    assert!(out.status.success());

    // Repeated wrong passphrases are slowed down.
    host.ok(EXTENSION, "lock", json!({}));
    for _ in 0..5 {
        assert_eq!(host.err(EXTENSION, "unlock", json!({"passphrase": "guess guess"})).0, "auth_failed");
    }
    assert_eq!(host.err(EXTENSION, "unlock", json!({"passphrase": "new passphrase here"})).0, "rate_limited");
    // Changing it is no way around the wait: the current passphrase is checked the same way.
    let out = cli(dir.path(), &["passphrase", "set"], "new passphrase here\nyet another passphrase\n");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("try again in"), "{out:?}");
    assert!(host.finish().0.success());
    assert!(other.finish().0.success());
}

fn text_of(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn the_lock_and_unlock_verbs_and_auto_lock_need_a_passphrase() {
    let dir = home();
    // Without a passphrase there is nothing to unlock with: auto-lock and lock say so.
    let out = cli(dir.path(), &["auto-lock", "5m"], "");
    assert!(!out.status.success(), "{}", text_of(&out));
    assert!(text_of(&out).contains("auto-lock needs a passphrase to unlock with"), "{}", text_of(&out));
    assert!(text_of(&out).contains("profile-host passphrase set"), "{}", text_of(&out));
    let status = cli_ok(dir.path(), &["status"], "");
    assert!(status.contains("auto-lock    after 15m idle, once a passphrase is set"), "nothing changed: {status}");
    assert!(cli(dir.path(), &["auto-lock", "off"], "").status.success(), "turning it off is always fine");
    let out = cli(dir.path(), &["lock"], "");
    assert!(!out.status.success() && text_of(&out).contains("set a passphrase first"), "{}", text_of(&out));

    cli_ok(dir.path(), &["passphrase", "set"], "correct horse battery\n");
    assert!(cli_ok(dir.path(), &["auto-lock", "5m"], "").contains("locks after 5m"));
    assert!(cli_ok(dir.path(), &["lock"], "").contains("locked"));
    assert!(cli_ok(dir.path(), &["status"], "").contains("locked       yes"));
    let mut host = HostProcess::start(dir.path());
    assert_eq!(host.err(SHOP, "getDeviceId", json!({})).0, "locked");
    let out = cli(dir.path(), &["unlock"], "wrong horse battery\n");
    assert!(!out.status.success() && text_of(&out).contains("wrong passphrase"), "{}", text_of(&out));
    assert!(cli_ok(dir.path(), &["unlock"], "correct horse battery\n").contains("unlocked"));
    assert!(host.ok(SHOP, "getDeviceId", json!({})).is_string(), "the browser's host sees the unlock");
    assert!(cli_ok(dir.path(), &["unlock"], "").contains("not locked"));
    assert!(host.finish().0.success());
}

#[test]
fn a_new_passphrase_typed_at_a_terminal_is_asked_twice() {
    let dir = home();
    let out = cli_at_terminal(dir.path(), &["passphrase", "set"], "correct horse battery\ncorrect horse batterz\n");
    assert!(!out.status.success() && text_of(&out).contains("did not match"), "{}", text_of(&out));
    assert!(cli_ok(dir.path(), &["status"], "").contains("passphrase   not set"), "nothing changed");

    let out = cli_at_terminal(dir.path(), &["passphrase", "set"], "correct horse battery\ncorrect horse battery\n");
    assert!(out.status.success(), "{}", text_of(&out));
    assert!(text_of(&out).contains("again"), "the confirmation was asked for: {}", text_of(&out));
    assert!(cli_ok(dir.path(), &["status"], "").contains("passphrase   set"));

    // Changing it: the current one, then the new one twice.
    let out = cli_at_terminal(
        dir.path(),
        &["passphrase", "set"],
        "correct horse battery\nnew passphrase here\nnew passphrase hers\n",
    );
    assert!(!out.status.success() && text_of(&out).contains("did not match"), "{}", text_of(&out));
    cli_ok(dir.path(), &["lock"], "");
    assert!(cli_ok(dir.path(), &["unlock"], "correct horse battery\n").contains("unlocked"), "still the old one");
}

#[test]
fn the_options_page_sets_and_changes_the_passphrase() {
    let dir = home();
    let mut host = HostProcess::start(dir.path());
    let set = |host: &mut HostProcess, params: Value| host.call(1, EXTENSION, "setPassphrase", params);
    assert!(
        host.err(SHOP, "setPassphrase", json!({"passphrase": "correct horse battery"}))
            .1
            .contains("only for this extension")
    );
    let (code, message) = host.err(EXTENSION, "setPassphrase", json!({"passphrase": "short"}));
    assert!(code == "invalid_request" && message.contains("at least 8"), "{message}");
    assert_eq!(host.ok(EXTENSION, "status", json!({}))["passphraseSet"], false);

    // The first one needs nothing else.
    assert_eq!(
        host.ok(EXTENSION, "setPassphrase", json!({"passphrase": "correct horse battery"})),
        json!({"othersSignedOut": false})
    );
    assert_eq!(host.ok(EXTENSION, "status", json!({}))["passphraseSet"], true);

    // Changing it needs the current one, right.
    let answer = set(&mut host, json!({"passphrase": "new passphrase here"}));
    assert_eq!(answer["error"]["code"], "auth_failed", "{answer}");
    let answer = set(&mut host, json!({"passphrase": "new passphrase here", "current": "wrong horse battery"}));
    assert_eq!(answer["error"]["code"], "auth_failed", "{answer}");
    host.ok(
        EXTENSION,
        "setPassphrase",
        json!({"passphrase": "new passphrase here", "current": "correct horse battery"}),
    );
    host.ok(EXTENSION, "lock", json!({}));
    assert_eq!(host.err(EXTENSION, "unlock", json!({"passphrase": "correct horse battery"})).0, "auth_failed");
    host.ok(EXTENSION, "unlock", json!({"passphrase": "new passphrase here"}));
    // The command line knows it too: it asks for the current one first.
    let out = cli(dir.path(), &["passphrase", "set"], "correct horse battery\nanother passphrase\n");
    assert!(text_of(&out).contains("current passphrase is wrong"), "{}", text_of(&out));

    // Wrong guesses at `current` are slowed down like wrong unlocks.
    for _ in 0..4 {
        let answer = set(&mut host, json!({"passphrase": "x passphrase x", "current": "guess guess"}));
        assert_eq!(answer["error"]["code"], "auth_failed", "{answer}");
    }
    let answer = set(&mut host, json!({"passphrase": "x passphrase x", "current": "new passphrase here"}));
    assert_eq!(answer["error"]["code"], "rate_limited", "{answer}");
    assert!(host.finish().0.success());
}

#[test]
fn network_failures_are_told_in_words() {
    let dir = home();
    // Nothing listens on the port: refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = cli(dir.path(), &["pair", &format!("https://127.0.0.1:{port}/u/someone"), "--ticket", "t"], "");
    let text = text_of(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(&format!("the profile server at https://127.0.0.1:{port} did not answer (connection refused)")),
        "{text}"
    );
    assert!(!text.contains("os error") && !text.contains("io:"), "{text}");

    // Something answers in plain HTTP at an https address.
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = plain.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for stream in plain.incoming().take(1) {
            let mut stream = stream.unwrap();
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let mut host = HostProcess::start(dir.path());
    let (code, message) =
        host.err(EXTENSION, "pair", json!({"profileUrl": format!("https://127.0.0.1:{port}/u/1"), "ticket": "t"}));
    assert_eq!(code, "server_unreachable");
    assert!(
        message.contains(&format!("the profile server at https://127.0.0.1:{port}")) && message.contains("without TLS"),
        "{message}"
    );
    server.join().unwrap();
    assert!(host.finish().0.success());
}

#[test]
fn ids_accounts_and_counters_survive_a_restart_and_data_dirs_stay_apart() {
    let dir = home();
    let mut host = HostProcess::start(dir.path());
    let shop_id = host.ok(SHOP, "getDeviceId", json!({}));
    let news_id = host.ok("https://news.example", "getDeviceId", json!({}));
    let sub_id = host.ok("https://www.shop.example", "getDeviceId", json!({}));
    assert_ne!(shop_id, news_id);
    assert_ne!(shop_id, sub_id, "a subdomain is another site");
    host.ok(SHOP, "signUp", json!({"challenge": challenge(1), "accountGuid": "acct-1"}));
    host.ok(SHOP, "login", json!({"challenge": challenge(2)}));
    assert!(host.finish().0.success());

    let mut host = HostProcess::start(dir.path());
    assert_eq!(host.ok(SHOP, "getDeviceId", json!({})), shop_id);
    let login = host.ok(SHOP, "login", json!({"challenge": challenge(3)}));
    let data: ClientData = serde_json::from_slice(
        &Base64UrlUnpadded::decode_vec(login["assertion"]["clientData"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(data.counter, 2);
    assert_eq!(data.device_id.as_str(), shop_id.as_str().unwrap());

    let other_dir = home();
    let mut other = HostProcess::start(other_dir.path());
    assert_ne!(other.ok(SHOP, "getDeviceId", json!({})), shop_id, "each data dir has its own secrets");
    assert_eq!(host.ok(SHOP, "getDeviceId", json!({})), shop_id, "and neither clobbers the other's keystore entry");
    assert!(host.finish().0.success() && other.finish().0.success());
}

/// Verifies with `ring`, an implementation independent of the RustCrypto one the host signs with.
fn ring_verifies(jwk: &Value, assertion: &Assertion) -> bool {
    let mut point = vec![4u8];
    point.extend(Base64UrlUnpadded::decode_vec(jwk["x"].as_str().unwrap()).unwrap());
    point.extend(Base64UrlUnpadded::decode_vec(jwk["y"].as_str().unwrap()).unwrap());
    let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point);
    let message = Base64UrlUnpadded::decode_vec(&assertion.client_data).unwrap();
    let signature = Base64UrlUnpadded::decode_vec(&assertion.signature).unwrap();
    key.verify(&message, &signature).is_ok()
}

#[test]
fn sign_up_and_login_verify_with_profile_core_and_with_ring() {
    let dir = home();
    let mut host = HostProcess::start(dir.path());
    let origin = Origin::parse(SHOP).unwrap();
    let guid = AccountGuid::try_from("acct-7".to_owned()).unwrap();
    let signup_challenge = Challenge::try_from(challenge(1)).unwrap();
    let signed = host.ok(SHOP, "signUp", json!({"challenge": signup_challenge, "accountGuid": guid}));
    let jwk: PublicJwk = serde_json::from_value(signed["publicKey"].clone()).unwrap();
    let key = jwk.to_key().unwrap();
    let assertion: Assertion = serde_json::from_value(signed["assertion"].clone()).unwrap();
    let expected = Expected {
        kind: AssertionType::SignUp,
        origin: &origin,
        challenge: &signup_challenge,
        account_guid: &guid,
        last_counter: None,
        now: now(),
        max_age: 300,
    };
    let data = verify(&key, &assertion, &expected).unwrap();
    assert_eq!(data.counter, 0);
    assert!(ring_verifies(&signed["publicKey"], &assertion));

    let mut last = 0;
    for round in 2..5u8 {
        let login_challenge = Challenge::try_from(challenge(round)).unwrap();
        let answer = host.ok(SHOP, "login", json!({"challenge": login_challenge}));
        let assertion: Assertion = serde_json::from_value(answer["assertion"].clone()).unwrap();
        assert!(ring_verifies(&signed["publicKey"], &assertion));
        let expected =
            Expected { kind: AssertionType::Login, challenge: &login_challenge, last_counter: Some(last), ..expected };
        last = verify(&key, &assertion, &expected).unwrap().counter;

        // Every binding matters: another origin, challenge, account, a replayed counter.
        let evil = Origin::parse("https://shop.example.evil").unwrap();
        let other_challenge = Challenge::try_from(challenge(99)).unwrap();
        let other_guid = AccountGuid::try_from("acct-8".to_owned()).unwrap();
        assert_eq!(verify(&key, &assertion, &Expected { origin: &evil, ..expected }), Err(AssertionError::Origin));
        assert_eq!(
            verify(&key, &assertion, &Expected { challenge: &other_challenge, ..expected }),
            Err(AssertionError::Challenge)
        );
        assert_eq!(
            verify(&key, &assertion, &Expected { account_guid: &other_guid, ..expected }),
            Err(AssertionError::Account)
        );
        assert_eq!(
            verify(&key, &assertion, &Expected { last_counter: Some(last), ..expected }),
            Err(AssertionError::Counter { got: last, last })
        );
        assert_eq!(
            verify(&key, &assertion, &Expected { kind: AssertionType::SignUp, ..expected }),
            Err(AssertionError::Type)
        );

        // A forged clientData fails with both implementations.
        let mut forged = assertion.clone();
        let mut bytes = Base64UrlUnpadded::decode_vec(&forged.client_data).unwrap();
        let at = bytes.len() - 3;
        bytes[at] ^= 1;
        forged.client_data = Base64UrlUnpadded::encode_string(&bytes);
        assert!(!ring_verifies(&signed["publicKey"], &forged));
        assert_eq!(verify(&key, &forged, &expected), Err(AssertionError::Signature));
    }
    assert_eq!(last, 3);
    assert!(host.finish().0.success());
}

#[test]
fn malformed_messages_are_answered_and_unreadable_frames_end_the_host_cleanly() {
    let dir = home();
    let mut host = HostProcess::start(dir.path());
    host.ok(EXTENSION, "saveAddress", json!({"kind": "billing", "address": address("Irene Adler")}));

    let cases: [(&[u8], Value, &str); 8] = [
        (b"{not json", Value::Null, "not JSON"),
        (b"[1, 2, 3]", Value::Null, "not a JSON object"),
        (b"\"hello\"", Value::Null, "not a JSON object"),
        (br#"{"type": "hello", "origin": "https://shop.example"}"#, Value::Null, "`id`"),
        (br#"{"id": 9, "type": "teleport", "origin": "https://shop.example"}"#, json!(9), "unknown method `teleport`"),
        (
            br#"{"id": 10, "type": "getAddress", "origin": "https://shop.example", "params": {"kind": 3}}"#,
            json!(10),
            "bad params",
        ),
        (br#"{"id": 11, "type": "getAddress", "origin": 42}"#, json!(11), "`origin` must be a string"),
        (b"\xff\xfe\x00", Value::Null, "not JSON"),
    ];
    for (body, id, want) in cases {
        host.send_raw(&frame(body));
        let answer = host.recv();
        assert_eq!(answer["id"], id, "{answer}");
        assert_eq!(answer["error"]["code"], "invalid_request", "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(want), "{answer}");
    }
    assert!(host.ok(EXTENSION, "hello", json!({})).is_object(), "the host goes on after bad messages");

    // Requests may be answered out of order; every id comes back exactly once, even from a
    // flood written without waiting for answers.
    let mut flood = Vec::new();
    for id in 100..3100u64 {
        let (method, origin) = if id % 2 == 0 { ("getDeviceId", SHOP) } else { ("hello", EXTENSION) };
        let body = serde_json::to_vec(&json!({"id": id, "type": method, "origin": origin})).unwrap();
        flood.extend(frame(&body));
    }
    let mut stdin = host.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&flood).unwrap();
        stdin
    });
    let mut ids: Vec<u64> = (100..3100).map(|_| host.recv()["id"].as_u64().unwrap()).collect();
    host.stdin = Some(writer.join().unwrap());
    ids.sort_unstable();
    assert_eq!(ids, (100..3100).collect::<Vec<_>>());

    // A frame over 1 MiB: the host exits non-zero with one line on stderr, and no panic.
    host.send_raw(&((1u32 << 20) + 1).to_ne_bytes());
    let (status, stderr) = host.finish();
    assert_eq!(status.code(), Some(1), "{stderr}");
    // The keystore's own retries (the keyring daemon restarted by its supervisor) aside.
    let said: Vec<&str> = stderr.lines().filter(|l| !l.contains("the keystore dropped a call")).collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(stderr.contains("unreadable frame") && !stderr.contains("panicked"), "{stderr}");

    // A truncated frame: the same.
    let mut host = HostProcess::start(dir.path());
    host.send_raw(&[50, 0, 0, 0, b'{']);
    let (status, stderr) = host.finish();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Nothing was lost.
    let mut host = HostProcess::start(dir.path());
    assert_eq!(host.ok(SHOP, "getAddress", json!({"kind": "billing"}))["name"], "Irene Adler");
    assert!(host.finish().0.success());
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).expect("fuzz/corpus").map(|e| e.unwrap().path()).collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

#[test]
fn the_message_fuzz_corpus_is_answered_frame_by_frame_by_one_host() {
    let bodies = corpus("message");
    assert!(bodies.len() > 100, "the corpus is in fuzz/corpus/message");
    let dir = home();
    let mut host = HostProcess::start(dir.path());
    let mut stream = Vec::new();
    for body in &bodies {
        stream.extend(frame(body));
    }
    let mut stdin = host.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&stream).unwrap();
        stdin
    });
    for _ in &bodies {
        let answer = host.recv();
        assert!(answer["ok"].is_boolean(), "{answer}");
    }
    host.stdin = Some(writer.join().unwrap());
    let (status, stderr) = host.finish();
    assert!(status.success(), "{stderr}");
}

#[test]
fn the_frame_fuzz_corpus_replays_through_the_real_host_without_a_panic() {
    let streams = corpus("frame");
    assert!(streams.len() > 100, "the corpus is in fuzz/corpus/frame");
    let dir = home();
    for stream in streams {
        let mut host = HostProcess::start(dir.path());
        host.send_raw(&stream);
        let (status, stderr) = host.finish();
        assert!(matches!(status.code(), Some(0 | 1)), "{status} {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn nothing_lands_in_plaintext_and_a_sigkill_mid_save_leaves_old_or_new() {
    let dir = home();
    let mut host = HostProcess::start(dir.path());
    host.ok(EXTENSION, "saveAddress", json!({"kind": "shipping", "address": address("Mycroft Quixotic")}));
    host.ok(
        "https://plaintext-canary.example",
        "signUp",
        json!({"challenge": challenge(1), "accountGuid": "canary-account-guid"}),
    );
    host.ok("https://plaintext-canary.example", "login", json!({"challenge": challenge(2)}));
    let device_id = host.ok("https://plaintext-canary.example", "getDeviceId", json!({}));
    assert!(host.finish().0.success());
    let canaries = [
        "Mycroft",
        "Quixotic",
        "Baker Street",
        "7224 3688",
        "canary-account-guid",
        "plaintext-canary",
        device_id.as_str().unwrap(),
    ];
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        for canary in canaries {
            assert!(
                !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
                "{canary} in plaintext in {}",
                entry.display()
            );
        }
    }

    for round in 0..12u64 {
        let mut host = HostProcess::start(dir.path());
        let before = host.ok(SHOP, "getAddress", json!({"kind": "shipping"}))["name"].as_str().unwrap().to_owned();
        for n in 0..40 {
            host.send(&json!({"id": n, "type": "saveAddress", "origin": EXTENSION,
                "params": {"kind": "shipping", "address": address(&format!("Round {round} Save {n}"))}}));
        }
        std::thread::sleep(Duration::from_millis(3 + round * 4));
        host.child.kill().unwrap(); // SIGKILL
        host.child.wait().unwrap();

        let mut after = HostProcess::start(dir.path());
        let name = after.ok(SHOP, "getAddress", json!({"kind": "shipping"}))["name"].as_str().unwrap().to_owned();
        assert!(name == before || name.starts_with(&format!("Round {round} Save ")), "torn or foreign state: {name}");
        assert!(after.ok(EXTENSION, "listDisclosures", json!({})).is_array(), "the ledger still opens");
        assert!(after.finish().0.success());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

#[test]
fn two_processes_on_one_data_dir_lose_nothing() {
    let dir = home();
    let mut a = HostProcess::start(dir.path());
    let mut b = HostProcess::start(dir.path());
    a.ok(SHOP, "getDeviceId", json!({}));
    for n in 0..20u64 {
        for (host, site) in [(&mut a, "a"), (&mut b, "b")] {
            host.send(&json!({"id": n, "type": "signUp", "origin": format!("https://{site}{n}.example"),
                "params": {"challenge": challenge(1), "accountGuid": format!("g{n}")}}));
        }
    }
    for _ in 0..20 {
        assert_eq!(a.recv()["ok"], true);
        assert_eq!(b.recv()["ok"], true);
    }
    assert_eq!(a.ok(EXTENSION, "listAccounts", json!({})).as_array().unwrap().len(), 40);
    assert!(a.finish().0.success() && b.finish().0.success());
}

#[test]
fn a_closed_stderr_does_not_stop_the_host() {
    let dir = home();
    let mut host = HostProcess::start_with(dir.path(), |c| {
        c.env("PROFILE_HOST_LOG", "debug");
    });
    drop(host.stderr.take()); // what browser test drivers do
    for _ in 0..5 {
        assert!(host.ok(SHOP, "getDeviceId", json!({})).is_string());
        assert_eq!(host.err(SHOP, "getAddress", json!({"kind": "shipping"})).0, "not_found");
    }
    assert!(host.finish().0.success());
}

#[test]
fn a_reader_that_goes_away_does_not_crash_the_cli() {
    // `profile-host log | head -1`: the reader is gone before the command prints.
    let dir = home();
    cli_ok(dir.path(), &["address", "set", "shipping", "--json", "-"], &address("Ada").to_string());
    for verb in [&["status"][..], &["log"], &["address", "show", "shipping"], &["--help"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(binary("profile-host"))
            .args(verb)
            .env("PROFILE_HOST_HOME", dir.path())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{verb:?}: {stderr}");
        assert!(out.status.success(), "{verb:?}: {:?} {stderr}", out.status);
    }
}

#[test]
fn without_a_keystore_the_host_refuses_and_writes_nothing() {
    let dir = home();
    let mut host = HostProcess::start_with(dir.path(), |c| {
        c.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    });
    let (code, message) = host.err(SHOP, "getDeviceId", json!({}));
    assert_eq!(code, "internal");
    assert!(message.contains("OS keystore (Secret Service)"), "{message}");
    let (code, _) = host.err(EXTENSION, "saveAddress", json!({"kind": "shipping", "address": address("Nobody")}));
    assert_eq!(code, "internal");
    assert!(host.finish().0.success());
    assert!(!dir.path().join("state.sealed").exists());
}

/// GNOME Keyring aborts now and then when clients come and go at once; `scripts/with-keyring`
/// starts it again, unlocked, on the same files, as systemd does on a desktop. Here in a session
/// of its own, so the tests beside it keep theirs: a key stored before the crash is read after it.
#[test]
fn a_keyring_daemon_that_crashes_is_started_again_and_the_hosts_key_is_kept() {
    let dir = home();
    let script = r#"
set -euo pipefail
"$HOST" address set shipping --name "Ada Lovelace" --line1 "12 St James's Square" --city London \
  --postal-code "SW1Y 4JH" --country GB
daemon=$(dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
  org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets | awk '/uint32/ { print $2 }')
# What GLib's g_error and failed assertions raise.
kill -TRAP "$daemon"
while kill -0 "$daemon" 2>/dev/null; do sleep 0.05; done
"$HOST" address show shipping
"#;
    let with_keyring = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/with-keyring");
    let out = std::process::Command::new(with_keyring)
        .args(["bash", "-c", script])
        .env("HOST", binary("profile-host"))
        .env("PROFILE_HOST_HOME", dir.path())
        .env_remove("PP_IN_KEYRING_SESSION")
        .env_remove("PP_KEYRING_HOME")
        .env_remove("PP_KEYRING_LOGS")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the host could not read its key after the keyring's crash: {stdout}{stderr}");
    assert!(stdout.contains("Ada Lovelace"), "{stdout}");
    assert!(stderr.contains("the keyring daemon died (exit 133) and was started again"), "{stderr}");
}

#[test]
fn install_then_doctor_reports_healthy_and_catches_broken_manifests() {
    let dir = home();
    let browser_dir = dir.path().join("chromium-profile");
    let data = dir.path().join("data");
    let browser_arg = browser_dir.to_str().unwrap();
    let out = cli(&data, &["install", "--browser", "chromium", "--user-data-dir", browser_arg], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest = browser_dir.join("NativeMessagingHosts/org.personalprofile.host.json");
    let written: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    assert_eq!(written["allowed_origins"], json!([format!("{EXTENSION}/")]));
    let bin = binary("profile-host");
    assert_eq!(Path::new(written["path"].as_str().unwrap()), bin.canonicalize().unwrap());
    let bin = bin.to_str().unwrap();

    let doctor = |want_ok: bool, want: &str| {
        let out = cli(&data, &["doctor", "--browser", "chromium", "--user-data-dir", browser_arg], "");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.success(), want_ok, "{text}");
        assert!(text.contains(want), "{text}");
    };
    doctor(true, "all good");
    let good = std::fs::read(&manifest).unwrap();
    let install = || {
        let out = cli(&data, &["install", "--browser", "chromium", "--user-data-dir", browser_arg], "");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };

    // A hijacked manifest: another program, another extension, or files others may rewrite.
    // Each is a fault, and `install` repairs it.
    std::fs::write(&manifest, String::from_utf8_lossy(&good).replace(bin, "/bin/sh")).unwrap();
    doctor(false, "is not this profile-host");
    install();
    doctor(true, "all good");
    let mut widened: Value = serde_json::from_slice(&good).unwrap();
    widened["allowed_origins"]
        .as_array_mut()
        .unwrap()
        .push(json!("chrome-extension://pppppppppppppppppppppppppppppppp/"));
    std::fs::write(&manifest, widened.to_string()).unwrap();
    doctor(false, "allows more than this extension");
    install();
    doctor(true, "all good");
    {
        use std::os::unix::fs::PermissionsExt;
        let folder = manifest.parent().unwrap();
        std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o666)).unwrap();
        doctor(false, "writable by other users");
        install();
        doctor(true, "all good");
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o777)).unwrap();
        doctor(false, "writable by other users");
        install();
        doctor(true, "all good");
        assert_eq!(std::fs::metadata(folder).unwrap().permissions().mode() & 0o022, 0, "install tightened the folder");
    }

    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend(&good);
    std::fs::write(&manifest, bom).unwrap();
    doctor(false, "byte-order mark");
    std::fs::write(&manifest, &good[..good.len() / 2]).unwrap();
    doctor(false, "not valid JSON");
    std::fs::write(&manifest, String::from_utf8_lossy(&good).replace(bin, "/nonexistent/profile-host")).unwrap();
    doctor(false, "not an executable");
    std::fs::remove_file(&manifest).unwrap();
    doctor(false, "no manifest");

    let out = cli(&data, &["uninstall", "--browser", "chromium", "--user-data-dir", browser_arg], "");
    assert!(out.status.success());
    for help in [
        &["--help"][..],
        &["install", "--help"],
        &["doctor", "--help"],
        &["address", "set", "--help"],
        &["log", "--help"],
    ] {
        assert!(cli(&data, help, "").status.success(), "{help:?}");
    }
}

#[test]
fn the_address_book_over_the_wire() {
    let dir = home();
    let mut host = HostProcess::start(dir.path());
    assert_eq!(host.ok(EXTENSION, "listAddresses", json!({})), json!({"addresses": []}));

    // A labelled address, checked against its country's rules and put in their form.
    let home_address = json!({"givenName": "Ada", "familyName": "Lovelace", "line1": "1600 Amphitheatre Pkwy",
        "city": "Mountain View", "region": "California", "postalCode": "94043", "country": "US", "phone": "650 253 0000"});
    let saved = host.ok(EXTENSION, "saveAddress", json!({"label": "Home", "address": home_address}));
    let home_id = saved["id"].as_str().unwrap().to_owned();
    assert_eq!(saved["default"], json!(["shipping", "billing"]), "the first address is the default of both kinds");
    let shipped = host.ok(SHOP, "getAddress", json!({"kind": "shipping"}));
    assert_eq!(
        (&shipped["name"], &shipped["region"], &shipped["regionCode"], &shipped["phone"], &shipped["line1"]),
        (
            &json!("Ada Lovelace"),
            &json!("CA"),
            &json!("US-CA"),
            &json!("+16502530000"),
            &json!("1600 Amphitheatre Pkwy")
        ),
        "{shipped}"
    );
    // What the country's rules refuse, in words, and nothing saved.
    let mut wrong = home_address.clone();
    wrong["postalCode"] = json!("9404");
    let (code, message) = host.err(EXTENSION, "saveAddress", json!({"label": "Typo", "address": wrong}));
    assert_eq!(code, "invalid_request");
    assert!(message.contains("\"9404\" is not a ZIP code of United States (for example 95014)"), "{message}");

    let work = json!({"name": "Ada Lovelace", "organization": "Analytical Engines", "line1": "Heidestraße",
        "houseNumber": "17", "city": "Köln", "postalCode": "51147", "country": "DE"});
    let work_id =
        host.ok(EXTENSION, "saveAddress", json!({"label": "Work", "address": work}))["id"].as_str().unwrap().to_owned();
    host.ok(EXTENSION, "setDefaultAddress", json!({"id": work_id, "kind": "billing"}));
    let book = host.ok(EXTENSION, "listAddresses", json!({}));
    let listed = book["addresses"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!((listed[0]["label"].clone(), listed[0]["default"].clone()), (json!("Home"), json!(["shipping"])));
    assert_eq!((listed[1]["label"].clone(), listed[1]["default"].clone()), (json!("Work"), json!(["billing"])));
    assert_eq!(listed[1]["lines"], json!(["Ada Lovelace", "Analytical Engines", "Heidestraße 17", "51147 Köln"]));
    assert_eq!(book["billing"]["city"], "Köln", "each kind's default under its name, as before address books");
    let billed = host.ok(SHOP, "getAddress", json!({"kind": "billing"}));
    assert_eq!((&billed["houseNumber"], &billed["line1"]), (&json!("17"), &json!("Heidestraße 17")), "whole lines");
    // How forms write each address's region and phone, for filling them.
    assert_eq!(listed[0]["spellings"]["region"], json!(["CA", "US-CA", "California"]));
    assert_eq!(listed[0]["spellings"]["phoneNational"], "(650) 253-0000");

    // A form filled with the address the person chose (not the kind's default): recorded, then
    // that address answered.
    let filled = host.ok(
        EXTENSION,
        "fill",
        json!({"origin": SHOP, "kind": "shipping", "id": work_id, "fields": ["name", "city"]}),
    );
    assert_eq!(filled["city"], "Köln");
    let ledger = host.ok(EXTENSION, "listDisclosures", json!({"limit": 1}));
    assert_eq!(
        (&ledger[0]["method"], &ledger[0]["fields"]),
        (&json!("fill"), &json!(["shipping.name", "shipping.city"]))
    );
    let gone = json!({"origin": SHOP, "kind": "shipping", "id": "not-saved", "fields": ["name"]});
    assert_eq!(host.err(EXTENSION, "fill", gone).0, "not_found");

    // The consent window's card: the lines in the country's order.
    let preview = host.ok(
        EXTENSION,
        "preview",
        json!({"origin": SHOP, "call": {"type": "getAddress", "params": {"kind": "shipping"}}}),
    );
    assert_eq!(
        preview["lines"],
        json!(["Ada Lovelace", "1600 Amphitheatre Pkwy", "Mountain View, CA 94043", "+16502530000"])
    );

    // Editing keeps the id; removing leaves the kind without a default.
    let mut moved = home_address.clone();
    moved["city"] = json!("Palo Alto");
    moved["postalCode"] = json!("94301");
    host.ok(EXTENSION, "saveAddress", json!({"id": home_id, "label": "Home", "address": moved}));
    assert_eq!(host.ok(SHOP, "getAddress", json!({"kind": "shipping"}))["city"], "Palo Alto");
    assert_eq!(
        host.err(EXTENSION, "saveAddress", json!({"id": "nobody", "label": "X", "address": moved})).0,
        "not_found"
    );
    assert_eq!(host.ok(EXTENSION, "removeAddress", json!({"id": home_id})), json!({"removed": true}));
    assert_eq!(host.err(SHOP, "getAddress", json!({"kind": "shipping"})).1, "no shipping address saved");
    assert_eq!(host.err(EXTENSION, "removeAddress", json!({"id": home_id})).0, "not_found");
    assert_eq!(host.err(EXTENSION, "setDefaultAddress", json!({"id": home_id, "kind": "shipping"})).0, "not_found");
    assert_eq!(host.err(SHOP, "removeAddress", json!({"id": work_id})).0, "invalid_request", "not for pages");
    let status = host.ok(EXTENSION, "status", json!({}));
    assert_eq!((status["addresses"].clone(), status["savedAddresses"].clone()), (json!(["billing"]), json!(1)));

    // A country's form, for the options page: its fields in its order, its names, its regions.
    let japan = host.ok(EXTENSION, "addressFormat", json!({"country": "jp"}));
    let names: Vec<_> = japan["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names[..3], ["postalCode", "region", "line1"]);
    assert!(japan["regions"].as_array().unwrap().iter().any(|r| r["key"] == "東京都" && r["code"] == "JP-13"));
    let us = host.ok(EXTENSION, "addressFormat", json!({"country": "US"}));
    let zip = us["fields"].as_array().unwrap().iter().find(|f| f["name"] == "postalCode").unwrap().clone();
    assert_eq!((zip["label"].clone(), zip["required"].clone()), (json!("ZIP code"), json!(true)));
    assert!(us["countries"].as_array().unwrap().len() > 240);
    assert_eq!(host.err(EXTENSION, "addressFormat", json!({"country": "QQ"})).0, "not_found");
    assert!(host.finish().0.success());
}

#[test]
fn the_cli_keeps_an_address_book() {
    let dir = home();
    let out = cli_ok(
        dir.path(),
        &[
            "address",
            "add",
            "--label",
            "Home",
            "--name",
            "Ada Lovelace",
            "--line1",
            "12 St James's Square",
            "--city",
            "London",
            "--postal-code",
            "sw1y 4jh",
            "--country",
            "GB",
            "--phone",
            "020 7946 0000",
        ],
        "",
    );
    assert!(out.contains("saved \"Home\" as ") && out.contains("the default for shipping and billing"), "{out}");
    let id = out.split(" as ").nth(1).unwrap().split(',').next().unwrap().trim().to_owned();
    let mum = cli_ok(dir.path(), &["address", "add", "--label", "Mum's", "--json", "-"],
        &json!({"name": "Mary King", "line1": "1 Rue de Rivoli", "city": "Paris", "postalCode": "75001", "country": "FR"}).to_string());
    let mum_id = mum.split(" as ").nth(1).unwrap().trim().to_owned();
    let list = cli_ok(dir.path(), &["address", "list"], "");
    assert!(list.contains(&format!("{id}  Home  (default for shipping and billing)")), "{list}");
    assert!(list.contains("    SW1Y 4JH") && list.contains(&format!("{mum_id}  Mum's\n")), "{list}");
    // Shown by kind or by id; fields changed one at a time; the defaults chosen.
    let shown: Value = serde_json::from_str(&cli_ok(dir.path(), &["address", "show", "shipping"], "")).unwrap();
    assert_eq!((shown["postalCode"].clone(), shown["phone"].clone()), (json!("SW1Y 4JH"), json!("+442079460000")));
    cli_ok(dir.path(), &["address", "set", &mum_id, "--city", "Lyon", "--postal-code", "69001", "--label", "Mum"], "");
    let shown: Value = serde_json::from_str(&cli_ok(dir.path(), &["address", "show", &mum_id], "")).unwrap();
    assert_eq!((shown["city"].clone(), shown["name"].clone()), (json!("Lyon"), json!("Mary King")));
    cli_ok(dir.path(), &["address", "default", &mum_id, "billing"], "");
    let shown: Value = serde_json::from_str(&cli_ok(dir.path(), &["address", "show", "billing"], "")).unwrap();
    assert_eq!(shown["city"], "Lyon");
    // What the country's rules refuse is said in words.
    let out = cli(dir.path(), &["address", "set", &id, "--postal-code", "12345"], "");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && said.contains("is not a Postal code of United Kingdom"), "{said}");
    let out = cli(dir.path(), &["address", "default", "nobody", "shipping"], "");
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no saved address has the id `nobody`")
    );
    cli_ok(dir.path(), &["address", "remove", &mum_id], "");
    let out = cli(dir.path(), &["address", "show", "billing"], "");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no billing address saved"));
    let status = cli_ok(dir.path(), &["status"], "");
    assert!(status.contains("addresses    1 address saved; defaults shipping: Home"), "{status}");
    for help in [
        &["address", "--help"][..],
        &["address", "add", "--help"],
        &["address", "set", "--help"],
        &["address", "default", "--help"],
    ] {
        let out = cli_ok(dir.path(), help, "");
        assert!(!out.is_empty(), "{help:?}");
    }
    let help = cli_ok(dir.path(), &["address", "add", "--help"], "");
    for flag in
        ["--given-name", "--house-number", "--apartment", "--dependent-locality", "--region-code", "--postal-code"]
    {
        assert!(help.contains(flag), "{flag} in {help}");
    }
}

#[test]
fn the_cli_sets_and_shows_addresses_and_the_log() {
    let dir = home();
    let out = cli(
        dir.path(),
        &[
            "address",
            "set",
            "billing",
            "--name",
            "Ada",
            "--line1",
            "1 Loop",
            "--city",
            "Paris",
            "--postal-code",
            "75001",
            "--country",
            "fr",
        ],
        "",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(dir.path(), &["address", "show", "billing"], "");
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["country"], "FR");
    let out = cli(
        dir.path(),
        &["address", "set", "shipping", "--json", "-"],
        r#"{"name":"Bo","line1":"x","city":"y","postalCode":"1","country":"Germany"}"#,
    );
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("alpha-2"));

    let mut host = HostProcess::start(dir.path());
    host.ok(SHOP, "getAddress", json!({"kind": "billing"}));
    assert!(host.finish().0.success());
    let log = String::from_utf8(cli(dir.path(), &["log"], "").stdout).unwrap();
    assert!(
        log.contains(
            "https://shop.example  getAddress  disclosed [billing.city, billing.country, billing.line1, billing.name"
        ),
        "{log}"
    );
    let status = String::from_utf8(cli(dir.path(), &["status"], "").stdout).unwrap();
    assert!(
        status.contains("addresses    1 address saved; defaults billing: Billing") && status.contains("Secret Service"),
        "{status}"
    );
    // Counts in words: one of a thing is singular.
    let browser = dir.path().join("no-browser");
    let out = cli(dir.path(), &["doctor", "--browser", "chromium", "--user-data-dir", browser.to_str().unwrap()], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(1 address, 0 accounts)") && text.trim_end().ends_with("1 fault"), "{text}");

    // Tickets and ids are base64url, so some start with `-`: they are values, not flags.
    let out = cli(dir.path(), &["pair", "http://127.0.0.1:9/u/someone", "--ticket", "-qYvrvZOCNTuNQ"], "");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && !said.contains("unexpected argument") && said.contains("did not answer"),
        "{said}"
    );
    let out = cli(dir.path(), &["devices", "--revoke", "-d3v1c3"], "");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!said.contains("unexpected argument") && said.contains("not paired"), "{said}");

    // A site account, listed and removed from the command line; its login is gone with it.
    let mut host = HostProcess::start(dir.path());
    host.ok(SHOP, "signUp", json!({"challenge": challenge(1), "accountGuid": "acct-1"}));
    let listed = String::from_utf8(cli(dir.path(), &["account", "list"], "").stdout).unwrap();
    assert!(listed.contains("https://shop.example  acct-1  created"), "{listed}");
    let out = cli(dir.path(), &["account", "remove", "https://shop.example"], "");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("removed the account acct-1"),
        "{out:?}"
    );
    assert_eq!(host.ok(EXTENSION, "listAccounts", json!({})), json!([]));
    assert_eq!(host.err(SHOP, "login", json!({"challenge": challenge(2)})).0, "not_signed_up");
    let out = cli(dir.path(), &["account", "remove", "https://shop.example"], "");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no account"), "{out:?}");
    assert_eq!(host.err(EXTENSION, "removeAccount", json!({"origin": SHOP, "accountGuid": "acct-1"})).0, "not_found");
    assert!(host.finish().0.success());
}

#[test]
fn auto_lock_holds_across_processes_and_only_a_persons_actions_keep_it_open() {
    let dir = home();
    assert!(cli(dir.path(), &["passphrase", "set"], "correct horse battery\n").status.success());
    assert!(cli(dir.path(), &["auto-lock", "2s"], "").status.success());
    let out = cli(dir.path(), &["address", "set", "shipping", "--json", "-"], &address("Ada Lovelace").to_string());
    assert!(out.status.success(), "{out:?}");

    // Idle longer than the auto-lock: a host process started now answers `locked`, and turning
    // auto-lock off then does not reopen a session that already ran out.
    std::thread::sleep(Duration::from_millis(3_000));
    assert!(cli(dir.path(), &["auto-lock", "off"], "").status.success());
    let mut host = HostProcess::start(dir.path());
    assert_eq!(host.err(SHOP, "getDeviceId", json!({})).0, "locked", "a new process honours the idle clock");
    assert!(cli(dir.path(), &["auto-lock", "2s"], "").status.success());

    // The extension's own background calls are not a person's activity.
    host.ok(EXTENSION, "unlock", json!({"passphrase": "correct horse battery"}));
    assert!(host.ok(SHOP, "getDeviceId", json!({})).is_string());
    let preview = json!({"origin": SHOP, "call": {"type": "getDeviceId", "params": {}}});
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(500));
        let answer = host.call(1, EXTENSION, "listGrants", json!({}));
        if answer["ok"] == true {
            host.call(1, EXTENSION, "preview", preview.clone());
        }
    }
    assert_eq!(host.err(SHOP, "getDeviceId", json!({})).0, "locked", "background calls kept the profile open");

    // A CLI verb that shows a secret asks for the passphrase while the profile is locked.
    let out = cli(dir.path(), &["address", "show", "shipping"], "");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && said.contains("locked"), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Baker"), "the address leaked while locked");
    let out = cli(dir.path(), &["address", "show", "shipping"], "wrong horse battery\n");
    assert!(!out.status.success() && !String::from_utf8_lossy(&out.stdout).contains("Baker"), "{out:?}");
    let out = cli(dir.path(), &["address", "show", "shipping"], "correct horse battery\n");
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Baker"), "{out:?}");
    let out = cli(dir.path(), &["log"], "");
    assert!(!out.status.success(), "the log shows what left to whom: {out:?}");
    let out = cli(dir.path(), &["devices"], "");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("locked"), "{out:?}");
    assert!(host.finish().0.success());
}

#[test]
fn a_flood_from_one_site_never_erases_another_sites_disclosures() {
    let dir = home();
    assert!(
        cli(dir.path(), &["address", "set", "shipping", "--json", "-"], &address("Ada").to_string()).status.success()
    );
    let mut host = HostProcess::start(dir.path());
    host.ok("https://bank.example", "getAddress", json!({"kind": "shipping"}));
    const FLOOD: u64 = 30_000;
    let writer = {
        let mut stdin = host.stdin.take().unwrap();
        std::thread::spawn(move || {
            for id in 0..FLOOD {
                let body = json!({"id": id, "type": "getDeviceId", "origin": SHOP}).to_string();
                stdin.write_all(&frame(body.as_bytes())).unwrap();
            }
            stdin
        })
    };
    for _ in 0..FLOOD {
        assert_eq!(host.recv()["ok"], true);
    }
    host.stdin = Some(writer.join().unwrap());
    let log = String::from_utf8(cli(dir.path(), &["log", "--limit", "100000"], "").stdout).unwrap();
    assert!(log.contains("https://bank.example  getAddress"), "the flood erased the bank's disclosure");

    // Page through the whole ledger, newest first.
    let mut entries = Vec::new();
    loop {
        let page = host.ok(EXTENSION, "listDisclosures", json!({"limit": 500, "offset": entries.len()}));
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        entries.extend(page);
    }
    let bank: Vec<_> = entries.iter().filter(|e| e["origin"] == "https://bank.example").collect();
    assert_eq!(bank.len(), 1, "the bank's disclosure survived the flood");
    assert_eq!(bank[0]["fields"].as_array().unwrap().len(), 6);
    let flood: u64 = entries.iter().filter(|e| e["origin"] == SHOP).map(|e| e["count"].as_u64().unwrap_or(1)).sum();
    assert_eq!(flood, FLOOD, "repeats are counted, not dropped");
    assert!(entries.len() < 5_000, "repeats were coalesced: {} entries", entries.len());
    assert!(host.finish().0.success());
}

#[test]
fn every_category_over_the_wire_and_the_cli() {
    let dir = home();
    // The command line: identity's one record, a receipt, an import of bookmarks.
    cli_ok(dir.path(), &["data", "set", "identity", "name=Ada Lovelace", "birthDate=1990-12-10", "language=en-gb"], "");
    let receipt = json!({"merchant": "Corner Shop", "date": "2026-11-02", "currency": "EUR", "total": "4.20",
        "items": [{"name": "Milk", "gtin": "4006381333931", "quantity": 2}]});
    let out = cli_ok(dir.path(), &["data", "set", "receipts", "--json", "-"], &receipt.to_string());
    let receipt_id = out.trim().rsplit(' ').next().unwrap().to_owned();
    let file = dir.path().join("bookmarks.json");
    std::fs::write(
        &file,
        json!([{"url": "https://shop.example/ring", "title": "The ring", "tags": ["wish"]},
        {"url": "https://example.org/", "title": "Example"}])
        .to_string(),
    )
    .unwrap();
    assert!(
        cli_ok(dir.path(), &["data", "import", "bookmarks", file.to_str().unwrap()], "")
            .contains("imported 2 bookmarks")
    );
    // A file with one bad item imports nothing, and says which and why.
    std::fs::write(
        &file,
        json!([{"url": "https://a.example/", "title": "A"}, {"url": "javascript:alert(1)", "title": "B"}]).to_string(),
    )
    .unwrap();
    let out = cli(dir.path(), &["data", "import", "bookmarks", file.to_str().unwrap()], "");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && said.contains("item 2") && said.contains("url"), "{said}");
    let list = cli_ok(dir.path(), &["data", "list"], "");
    assert!(
        list.contains("identity        1") && list.contains("receipts        1") && list.contains("bookmarks       2"),
        "{list}"
    );
    assert!(cli_ok(dir.path(), &["data", "list", "receipts"], "").contains("Corner Shop  2026-11-02  4.20  EUR"));
    // A wrong check digit, an unknown field, an unknown category: refused in words.
    let out = cli(dir.path(), &["data", "set", "receipts", &receipt_id, "total=4,20"], "");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("is not an amount"));
    let out = cli(dir.path(), &["data", "set", "vehicles", "vin=1M8GDM9A1KP042788"], "");
    assert!(String::from_utf8_lossy(&out.stderr).contains("check digit"));
    let out = cli(dir.path(), &["data", "list", "recipes"], "");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a category"));

    // Over the wire: the options page lists, edits and removes; pages ask.
    let mut host = HostProcess::start(dir.path());
    let listed = host.ok(EXTENSION, "listItems", json!({"category": "bookmarks"}));
    assert_eq!((listed["total"].clone(), listed["definition"]["title"].clone()), (json!(2), json!("Bookmarks")));
    let found = host.ok(EXTENSION, "listItems", json!({"category": "receipts", "query": "milk"}));
    assert_eq!(found["items"][0]["id"], receipt_id.as_str());
    let medical = host.ok(
        EXTENSION,
        "saveItem",
        json!({"category": "medical", "item": {"fields":
        {"date": "2026-10-01", "kind": "Flu vaccination", "provider": "Dr Who"}}}),
    );
    let medical_id = medical["id"].as_str().unwrap().to_owned();
    let (code, message) =
        host.err(EXTENSION, "saveItem", json!({"category": "medical", "item": {"fields": {"kind": "x"}}}));
    assert!(code == "invalid_request" && message.contains("`date`"), "{message}");
    // A request answers the claims the profile holds; an age as yes or no, never the date.

    let (code, _) = host.err(SHOP, "request", json!({"claims": ["name", "ageOver:18", "ageOver:18"], "purpose": "x"}));
    assert_eq!(code, "invalid_request", "a claim named twice");
    let answer = host.ok(
        SHOP,
        "request",
        json!({"claims": ["name", "ageOver:18"], "optional": ["email", "medical"],
        "purpose": "Wine delivery"}),
    );
    assert_eq!(answer["claims"]["name"], "Ada Lovelace");
    assert_eq!(answer["claims"]["ageOver:18"], true);
    assert_eq!(answer["claims"]["medical"][0]["kind"], "Flu vaccination");
    assert!(answer["claims"].get("email").is_none(), "nothing saved, nothing sent");
    assert!(!answer.to_string().contains("1990"), "the birth date never leaves: {answer}");
    let (code, _) = host.err(SHOP, "request", json!({"claims": ["passport"], "purpose": "x"}));
    assert_eq!(code, "invalid_request");
    assert_eq!(host.ok(SHOP, "getLanguage", json!({})), "en-GB");
    assert_eq!(
        host.ok(SHOP, "addBookmark", json!({"url": "https://shop.example/ring-2", "title": "Another ring"})),
        json!({"added": true})
    );
    let (code, _) = host.err(SHOP, "addBookmark", json!({"url": "javascript:alert(1)", "title": "x"}));
    assert_eq!(code, "invalid_request");
    let bookmarks = host.ok(EXTENSION, "listItems", json!({"category": "bookmarks"}));
    assert_eq!(bookmarks["total"], 3);
    let offered =
        bookmarks["items"].as_array().unwrap().iter().find(|b| b["fields"]["title"] == "Another ring").unwrap();
    assert_eq!(offered["source"], SHOP, "a site's bookmark names the site");
    host.ok(EXTENSION, "removeItem", json!({"category": "medical", "id": medical_id}));
    let (code, _) = host.err(
        EXTENSION,
        "saveItem",
        json!({"category": "medical", "item": {"id": medical_id,
        "fields": {"date": "2026-10-01", "kind": "back?"}}}),
    );
    assert_eq!(code, "not_found", "a removed item is not saved again");
    // The public part: nothing by default; only publishable fields.
    assert_eq!(host.ok(EXTENSION, "getPublic", json!({}))["fields"], json!([]));
    let (code, _) = host.err(EXTENSION, "setPublic", json!({"fields": ["birthDate"]}));
    assert_eq!(code, "invalid_request");
    let public = host.ok(EXTENSION, "setPublic", json!({"fields": ["language"]}));
    assert_eq!((public["fields"].clone(), public["published"].clone()), (json!(["language"]), Value::Null));
    assert_eq!(public["pending"], true, "not paired: nothing published yet");
    // The ledger names the claims that left, and records the bookmark; getLanguage is public.
    let log = host.ok(EXTENSION, "listDisclosures", json!({}));
    let methods: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["method"].as_str().unwrap()).collect();
    assert!(!methods.contains(&"getLanguage"), "{methods:?}");
    let request =
        log.as_array().unwrap().iter().find(|e| e["method"] == "request" && e["outcome"] == "disclosed").unwrap();
    assert_eq!(request["fields"], json!(["ageOver:18", "medical", "name"]));
    drop(host);
    assert!(cli_ok(dir.path(), &["data", "show", "medical"], "").trim() == "[]");
}
