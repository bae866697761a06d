//! Two real `profile-host`s paired with one profile on a real `profile-server` (SQLite, loopback
//! HTTP and WebSocket), each with its own data dir in the real Secret Service: what one saves
//! reaches the other through the vault and the push socket, and writes at once lose nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use profile_testkit::host::{EXTENSION_ORIGIN, HostHome, HostProcess};
use profile_testkit::server::ProfileServer;
use serde_json::{Value, json};

const EMAIL: &str = "ada@example.org";
const PASSPHRASE: &str = "correct horse battery";

/// A host as the browser runs it (native messaging on stdin and stdout), logging to the test's
/// stderr.
fn messaging(home: &HostHome) -> HostProcess {
    HostProcess::start_with(home.path(), |command| {
        command.env("PROFILE_HOST_LOG", "info").stderr(std::process::Stdio::inherit());
    })
}

/// Asks until `check` holds for the host's addresses (which only a sync changes).
fn wait_for_addresses(host: &mut HostProcess, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    // Generous: after a server restart the host reconnects with a growing pause.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let addresses = host.ok(EXTENSION_ORIGIN, "listAddresses", json!({}));
        if check(&addresses) {
            return addresses;
        }
        assert!(Instant::now() < deadline, "{what} never arrived: {addresses}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn address(line1: &str, city: &str) -> Value {
    json!({"name": "Ada Lovelace", "line1": line1, "city": city, "postalCode": "75001", "country": "FR"})
}

#[test]
fn two_hosts_on_one_profile_share_addresses_and_lose_nothing() {
    let mut server = ProfileServer::start(EMAIL, PASSPHRASE);
    let (laptop, desktop) = (HostHome::new(), HostHome::new());
    for home in [&laptop, &desktop] {
        let paired = home.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
        assert!(paired.contains(&server.profile_url), "{paired}");
        assert!(home.cli(&["status"], "").contains("in sync"));
    }
    let out = HostHome::new().try_cli(&["pair", &server.profile_url, "--email", EMAIL], "wrong horse battery\n");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("wrong"), "{out:?}");

    // The desktop runs as a browser runs it, holding the push socket.
    let mut desktop_host = messaging(&desktop);
    assert_eq!(desktop_host.ok(EXTENSION_ORIGIN, "hello", json!({}))["paired"], true);
    assert_eq!(desktop_host.ok(EXTENSION_ORIGIN, "listAddresses", json!({})), json!({"addresses": []}));

    // Saved on the laptop (CLI), it reaches the running desktop host without being asked.
    let shipping = address("12 Example Street", "Paris");
    laptop.cli(&["address", "set", "shipping", "--json", "-"], &shipping.to_string());
    let seen = wait_for_addresses(&mut desktop_host, "the laptop's shipping address", |a| a.get("shipping").is_some());
    assert_eq!(seen["shipping"]["line1"], "12 Example Street");

    // Both at once: the laptop saves a billing address while the desktop edits shipping.
    std::thread::scope(|scope| {
        scope.spawn(|| {
            laptop.cli(&["address", "set", "billing", "--json", "-"], &address("1 Bill Road", "Lyon").to_string())
        });
        desktop_host.ok(
            EXTENSION_ORIGIN,
            "saveAddress",
            json!({"kind": "shipping", "address": address("99 New Street", "Paris")}),
        );
    });
    let both = wait_for_addresses(&mut desktop_host, "both writes", |a| {
        a["billing"]["line1"] == "1 Bill Road" && a["shipping"]["line1"] == "99 New Street"
    });
    laptop.cli(&["sync"], "");
    let on_laptop: Value = serde_json::from_str(&laptop.cli(&["address", "show", "shipping"], "")).unwrap();
    assert_eq!(on_laptop, both["shipping"], "the desktop's edit reached the laptop");
    let billing: Value = serde_json::from_str(&laptop.cli(&["address", "show", "billing"], "")).unwrap();
    assert_eq!(billing, both["billing"]);

    // The server keeps only ciphertext.
    let stored = server.stored_bytes();
    for plain in ["Example Street", "New Street", "Bill Road", "Lovelace"] {
        assert!(!stored.windows(plain.len()).any(|w| w == plain.as_bytes()), "{plain} is stored in the clear");
    }

    // A site account made on the desktop, and its login counter, reach the laptop.
    let challenge = "AAAAAAAAAAAAAAAAAAAAAA";
    let shop = "https://shop.example";
    desktop_host.ok(shop, "signUp", json!({"challenge": challenge, "accountGuid": "acct-7", "appId": "shop"}));
    desktop_host.ok(shop, "login", json!({"challenge": challenge}));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        laptop.cli(&["sync"], "");
        let status = laptop.cli(&["status"], "");
        if status.contains("https://shop.example  as acct-7  (counter 1)") {
            break;
        }
        assert!(Instant::now() < deadline, "the desktop's account never reached the laptop: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The server's registry holds the account, with the time of the login.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let accounts = server.db.accounts(EMAIL);
        let account = accounts.first().expect("an account in the registry");
        assert_eq!((account.origin.as_str(), account.account_guid.as_str()), (shop, "acct-7"), "{accounts:?}");
        if account.last_login_at.is_some_and(|at| at >= account.created_at) {
            break;
        }
        assert!(Instant::now() < deadline, "the login never reached the registry: {account:?}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The server goes away and comes back: the running host reconnects by itself.
    server.restart();
    laptop.cli(&["address", "set", "shipping", "--json", "-"], &address("7 Restart Lane", "Paris").to_string());
    wait_for_addresses(&mut desktop_host, "a change made after the restart", |a| {
        a["shipping"]["line1"] == "7 Restart Lane"
    });

    // A third device pairs with a one-time ticket; its vault opens with the passphrase.
    let kiosk = HostHome::new();
    let ticket = server.admin(&["issue-ticket", "--email", EMAIL], "");
    let paired = kiosk.cli(&["pair", &server.profile_url, "--ticket", ticket.trim()], "");
    assert!(paired.contains("opens at the first `unlock`"), "{paired}");
    let mut kiosk_host = messaging(&kiosk);
    assert_eq!(
        kiosk_host.ok(EXTENSION_ORIGIN, "listAddresses", json!({})),
        json!({"addresses": []}),
        "nothing readable before the passphrase"
    );
    let opened = kiosk_host.ok(EXTENSION_ORIGIN, "unlock", json!({"passphrase": PASSPHRASE}));
    assert_eq!(opened["vaultOpen"], true, "{opened}");
    assert_eq!(kiosk_host.ok(EXTENSION_ORIGIN, "listAddresses", json!({}))["shipping"]["line1"], "7 Restart Lane");
    let reused = HostHome::new().try_cli(&["pair", &server.profile_url, "--ticket", ticket.trim()], "");
    assert!(
        !reused.status.success() && String::from_utf8_lossy(&reused.stderr).contains("wrong"),
        "a ticket works once"
    );

    // The devices are listed; one signed out from another is told through its push socket.
    let devices = laptop.cli(&["devices"], "");
    assert_eq!(devices.lines().count(), 3, "{devices}");
    assert_eq!(devices.matches("(this device)").count(), 1, "{devices}");
    let kiosk_status = kiosk.cli(&["status"], "");
    let kiosk_id = kiosk_status.split("(pairing ").nth(1).unwrap().split(')').next().unwrap().to_owned();
    assert!(laptop.cli(&["devices", "--revoke", &kiosk_id], "").contains("signed"));
    let deadline = Instant::now() + Duration::from_secs(15);
    while kiosk_host.ok(EXTENSION_ORIGIN, "hello", json!({}))["paired"] != false {
        assert!(Instant::now() < deadline, "the kiosk never learnt it was signed out");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        kiosk_host.ok(EXTENSION_ORIGIN, "listAddresses", json!({}))["shipping"]["line1"],
        "7 Restart Lane",
        "the cache stays"
    );

    // Unpairing signs the device out; its cache stays.
    assert!(laptop.cli(&["unpair"], "").starts_with("unpaired"));
    assert!(laptop.cli(&["status"], "").contains("not paired"));
    assert!(laptop.cli(&["address", "show", "billing"], "").contains("Bill Road"));

    // A device paired with a ticket opens its vault from the command line too.
    let tv = HostHome::new();
    let ticket = server.admin(&["issue-ticket", "--email", EMAIL], "");
    tv.cli(&["pair", &server.profile_url, "--ticket", ticket.trim()], "");
    let idle = tv.cli(&["sync"], "");
    assert!(idle.contains("the synced vault is not open on this device"), "{idle}");
    let opened = tv.cli(&["unlock"], &format!("{PASSPHRASE}\n"));
    assert!(opened.contains("the synced vault is open"), "{opened}");
    assert!(tv.cli(&["address", "show", "billing"], "").contains("Bill Road"));
    let synced = tv.cli(&["sync"], "");
    assert!(synced.contains("your profile is in sync with http") && !synced.contains("counter"), "{synced}");
}

/// The vault's change sequence a host's `status` reports.
/// The labels of the addresses a host lists.
fn labels(book: &Value) -> Vec<String> {
    let mut labels: Vec<String> =
        book["addresses"].as_array().unwrap().iter().map(|a| a["label"].as_str().unwrap().to_owned()).collect();
    labels.sort();
    labels
}

/// The id of the address labelled `label` in a host's `address list`.
fn id_of(home: &HostHome, label: &str) -> String {
    let list = home.cli(&["address", "list"], "");
    let line = list.lines().find(|l| l.contains(&format!("  {label}")));
    assert!(line.is_some(), "{label} in {list}");
    line.and_then(|l| l.split_whitespace().next()).unwrap_or_default().to_owned()
}

#[test]
fn two_hosts_keep_one_address_book_and_a_removed_address_does_not_come_back() {
    let server = ProfileServer::start(EMAIL, PASSPHRASE);
    let (laptop, desktop, tablet) = (HostHome::new(), HostHome::new(), HostHome::new());
    for home in [&laptop, &desktop, &tablet] {
        home.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    }
    let mut desktop_host = messaging(&desktop);

    // Added on the laptop, they reach the desktop, labels, defaults and all.
    laptop.cli(&["address", "add", "--label", "Home", "--json", "-"], &address("1 Home Road", "Paris").to_string());
    laptop.cli(&["address", "add", "--label", "Mum's", "--json", "-"], &address("2 Mum Road", "Paris").to_string());
    laptop.cli(&["address", "add", "--label", "Work", "--json", "-"], &address("3 Work Road", "Paris").to_string());
    let book = wait_for_addresses(&mut desktop_host, "the laptop's address book", |b| {
        b["addresses"].as_array().is_some_and(|a| a.len() == 3)
    });
    assert_eq!(labels(&book), ["Home", "Mum's", "Work"]);
    assert_eq!(book["shipping"]["line1"], "1 Home Road", "the first address is the default");
    // The tablet takes a copy, then leaves the profile for a while (its copy stays).
    tablet.cli(&["sync"], "");
    tablet.cli(&["unpair"], "");
    assert!(tablet.cli(&["address", "list"], "").contains("Mum's"));

    // The desktop removes Mum's; meanwhile the laptop, which has not heard of it, edits Work.
    let mums = id_of(&laptop, "Mum's");
    desktop_host.ok(EXTENSION_ORIGIN, "removeAddress", json!({"id": mums}));
    wait_for_addresses(&mut desktop_host, "the removal", |b| labels(b) == ["Home", "Work"]);
    desktop.cli(&["sync"], "");
    let work = id_of(&laptop, "Work");
    laptop.cli(&["address", "set", &work, "--line1", "4 New Work Road"], "");
    laptop.cli(&["address", "default", &work, "billing"], "");
    // Both devices end with the removal and the edit.
    let list = laptop.cli(&["address", "list"], "");
    assert!(!list.contains("Mum's") && list.contains("4 New Work Road"), "{list}");
    assert!(!laptop.try_cli(&["address", "show", &mums], "").status.success());
    let book =
        wait_for_addresses(&mut desktop_host, "the laptop's edit", |b| b["billing"]["line1"] == "4 New Work Road");
    assert_eq!(labels(&book), ["Home", "Work"]);
    // The tablet comes back with its old copy: the removal wins over it, nothing comes back.
    tablet.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    let list = tablet.cli(&["address", "list"], "");
    assert!(!list.contains("Mum's") && list.contains("4 New Work Road"), "{list}");
    desktop.cli(&["sync"], "");
    let book = desktop_host.ok(EXTENSION_ORIGIN, "listAddresses", json!({}));
    assert_eq!(labels(&book), ["Home", "Work"], "not brought back by the tablet either");
}

#[test]
fn a_vault_written_by_a_newer_version_is_refused_in_words_and_nothing_is_lost() {
    let server = ProfileServer::start(EMAIL, PASSPHRASE);
    let laptop = HostHome::new();
    laptop.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    laptop.cli(&["address", "add", "--label", "Home", "--json", "-"], &address("1 Home Road", "Paris").to_string());
    let chromium = tempfile::tempdir().unwrap();
    let browser_dir = chromium.path().to_str().unwrap();
    laptop.cli(&["install", "--browser", "chromium", "--user-data-dir", browser_dir], "");

    // A device running a newer Personal Profile writes an item of its own format.
    let newer = json!({"v": 4, "k": "i:future:x", "d": {"somethingNew": 1}});
    server.write_item(EMAIL, PASSPHRASE, "i:future:x", newer.to_string().as_bytes());
    let refused = laptop.try_cli(&["sync"], "");
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(!refused.status.success() && said.contains("written by a newer version of Personal Profile"), "{said}");
    assert!(said.contains("Update profile-host"), "{said}");
    let status = laptop.cli(&["status"], "");
    assert!(status.contains("sync stopped") && status.contains("newer version"), "{status}");
    let doctor = laptop.try_cli(&["doctor", "--browser", "chromium", "--user-data-dir", browser_dir], "");
    assert!(
        !doctor.status.success() && String::from_utf8_lossy(&doctor.stdout).contains("newer version"),
        "{doctor:?}"
    );
    let mut host = messaging(&laptop);
    assert_eq!(host.ok(EXTENSION_ORIGIN, "status", json!({}))["syncHalted"]["newerFormat"], 4);
    // What this device holds stays, and what it saves now stays here too.
    assert_eq!(host.ok(EXTENSION_ORIGIN, "listAddresses", json!({}))["shipping"]["line1"], "1 Home Road");
    host.ok(EXTENSION_ORIGIN, "saveAddress", json!({"label": "Work", "address": address("2 Work Road", "Paris")}));
    drop(host);
    assert!(!laptop.try_cli(&["sync"], "").status.success());
    let kept: Value = serde_json::from_str(&laptop.cli(&["address", "show"], "")).unwrap();
    assert_eq!(labels(&json!({"addresses": kept})), ["Home", "Work"]);
    // Pairing again with the newer vault is refused in words, too, and writes nothing.
    let again = HostHome::new();
    let out = again.try_cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("newer version"), "{out:?}");
}

fn vault_counter(home: &HostHome) -> u64 {
    let status = home.cli(&["status"], "");
    let line = status.lines().find(|l| l.starts_with("vault")).expect("a vault line in the status");
    line.split("change ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .unwrap()
        .parse()
        .unwrap()
}

fn shown(home: &HostHome, kind: &str) -> Value {
    serde_json::from_str(&home.cli(&["address", "show", kind], "")).unwrap()
}

#[test]
fn a_server_that_rolls_the_vault_back_is_refused_and_nothing_is_lost() {
    let mut server = ProfileServer::start(EMAIL, PASSPHRASE);
    let (laptop, desktop) = (HostHome::new(), HostHome::new());
    for home in [&laptop, &desktop] {
        home.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    }
    let chromium = tempfile::tempdir().unwrap();
    let browser_dir = chromium.path().to_str().unwrap();
    laptop.cli(&["install", "--browser", "chromium", "--user-data-dir", browser_dir], "");
    let doctor =
        |home: &HostHome| home.try_cli(&["doctor", "--browser", "chromium", "--user-data-dir", browser_dir], "");
    assert!(doctor(&laptop).status.success(), "{:?}", doctor(&laptop));

    laptop.cli(&["address", "set", "shipping", "--json", "-"], &address("1 Old Road", "Paris").to_string());
    let old = server.snapshot();
    laptop.cli(&["address", "set", "shipping", "--json", "-"], &address("2 New Road", "Paris").to_string());
    laptop.cli(&["address", "set", "billing", "--json", "-"], &address("3 Bill Road", "Lyon").to_string());
    desktop.cli(&["sync"], "");
    assert_eq!(shown(&desktop, "shipping")["line1"], "2 New Road");
    let seen = vault_counter(&desktop);
    assert_eq!(vault_counter(&laptop), seen);

    // The server's database goes back to an older vault: a lower counter.
    server.rewind(&old);
    let refused = laptop.try_cli(&["sync"], "");
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(!refused.status.success() && said.contains("older"), "{refused:?}");
    assert_eq!(shown(&laptop, "shipping")["line1"], "2 New Road", "the local data is kept");
    assert_eq!(shown(&laptop, "billing")["line1"], "3 Bill Road", "nothing added since is deleted");
    assert!(laptop.cli(&["status"], "").contains("sync stopped"), "{}", laptop.cli(&["status"], ""));
    let checked = doctor(&laptop);
    assert!(!checked.status.success(), "doctor must fault: {checked:?}");
    assert!(String::from_utf8_lossy(&checked.stdout).contains("older vault"), "{checked:?}");
    let mut host = messaging(&laptop);
    let status = host.ok(EXTENSION_ORIGIN, "status", json!({}));
    assert_eq!(status["syncHalted"]["seenCounter"], seen, "{status}");
    // A change made now stays here: nothing goes to that server.
    host.ok(EXTENSION_ORIGIN, "saveAddress", json!({"kind": "shipping", "address": address("4 Later Road", "Paris")}));
    std::thread::sleep(Duration::from_secs(2));
    drop(host);
    assert!(laptop.try_cli(&["sync"], "").status.code() != Some(0));
    assert_eq!(shown(&laptop, "shipping")["line1"], "4 Later Road");

    // Another device writes the vault up to the counter the desktop saw: the same counter with
    // other contents is refused too.
    let kiosk = HostHome::new();
    kiosk.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    let mut n = 0;
    while vault_counter(&kiosk) < seen {
        n += 1;
        kiosk.cli(
            &["address", "set", "billing", "--json", "-"],
            &address(&format!("{n} Kiosk Road"), "Nice").to_string(),
        );
    }
    assert_eq!(vault_counter(&kiosk), seen);
    let refused = desktop.try_cli(&["sync"], "");
    assert!(!refused.status.success(), "{refused:?}");
    assert_eq!(shown(&desktop, "shipping")["line1"], "2 New Road");
    assert_eq!(shown(&desktop, "billing")["line1"], "3 Bill Road");
    assert!(desktop.cli(&["status"], "").contains("sync stopped"));

    // While sync is stopped the host does not talk to that server (which could otherwise undo
    // the stop by signing the device out), and pairing again does not accept the older vault
    // unless the person says so: then what this device holds goes into the server's vault.
    let devices = laptop.try_cli(&["devices"], "");
    assert!(!devices.status.success() && String::from_utf8_lossy(&devices.stderr).contains("sync stopped"));
    laptop.cli(&["unpair"], "");
    let again = laptop.try_cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    let said = String::from_utf8_lossy(&again.stderr).into_owned();
    assert!(!again.status.success() && said.contains("older vault"), "{again:?}");
    assert!(laptop.cli(&["status"], "").contains("not paired"));
    laptop.cli(&["pair", &server.profile_url, "--email", EMAIL, "--accept-older-vault"], &format!("{PASSPHRASE}\n"));
    assert!(laptop.cli(&["status"], "").contains("in sync"));
    assert_eq!(shown(&laptop, "shipping")["line1"], "4 Later Road", "what this device held was kept");
}

#[test]
fn account_news_made_while_the_server_is_away_reach_its_registry_in_order() {
    let mut server = ProfileServer::start(EMAIL, PASSPHRASE);
    let desktop = HostHome::new();
    desktop.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    let mut host = messaging(&desktop);
    assert_eq!(host.ok(EXTENSION_ORIGIN, "hello", json!({}))["paired"], true);

    // Signed up and logged in while the server cannot be reached: the page is answered at once,
    // and the registry hears of both, in order, when the server is back.
    server.pause();
    let (shop, challenge) = ("https://shop.example", "AAAAAAAAAAAAAAAAAAAAAA");
    host.ok(shop, "signUp", json!({"challenge": challenge, "accountGuid": "acct-9", "appId": "shop"}));
    host.ok(shop, "login", json!({"challenge": challenge}));
    std::thread::sleep(Duration::from_secs(1));
    server.resume();
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let accounts = server.db.accounts(EMAIL);
        if accounts.first().is_some_and(|a| a.account_guid.as_str() == "acct-9" && a.last_login_at.is_some()) {
            break;
        }
        assert!(Instant::now() < deadline, "the registry never heard of the account and its login: {accounts:?}");
        std::thread::sleep(Duration::from_millis(250));
    }

    // The person removes the account: another device's copy and the registry lose it too.
    let laptop = HostHome::new();
    laptop.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    assert!(laptop.cli(&["account", "list"], "").contains("acct-9"));
    host.ok(EXTENSION_ORIGIN, "removeAccount", json!({"origin": shop, "accountGuid": "acct-9"}));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        laptop.cli(&["sync"], "");
        let accounts = server.db.accounts(EMAIL);
        if accounts.is_empty() && !laptop.cli(&["account", "list"], "").contains("acct-9") {
            break;
        }
        assert!(Instant::now() < deadline, "the removal never reached the registry and the laptop: {accounts:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
    let (code, _) = host.err(shop, "login", json!({"challenge": challenge}));
    assert_eq!(code, "not_signed_up");
}

#[test]
fn a_passphrase_change_signs_the_other_devices_out_and_can_give_the_vault_a_new_key() {
    const NEW: &str = "new horse battery staple";
    const NEWEST: &str = "newest horse battery staple";
    let server = ProfileServer::start(EMAIL, PASSPHRASE);
    let (laptop, desktop, tablet) = (HostHome::new(), HostHome::new(), HostHome::new());
    for home in [&laptop, &desktop, &tablet] {
        home.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    }
    laptop.cli(&["address", "set", "shipping", "--json", "-"], &address("5 Key Street", "Paris").to_string());
    let mut desktop_host = messaging(&desktop);
    wait_for_addresses(&mut desktop_host, "the laptop's address", |a| a["shipping"]["line1"] == "5 Key Street");

    // Kept on purpose: the other devices stay signed in.
    let wrong = laptop.try_cli(&["passphrase", "set", "--keep-devices"], &format!("not the passphrase\n{NEW}\n"));
    assert!(!wrong.status.success() && String::from_utf8_lossy(&wrong.stderr).contains("wrong"), "{wrong:?}");
    let said = laptop.cli(&["passphrase", "set", "--keep-devices"], &format!("{PASSPHRASE}\n{NEW}\n"));
    assert!(said.contains("passphrase is changed"), "{said}");
    assert!(tablet.cli(&["sync"], "").contains("in sync"));
    assert_eq!(desktop_host.ok(EXTENSION_ORIGIN, "hello", json!({}))["paired"], true);

    // By default the others are signed out (the running one hears it at once), and a new data
    // key seals the vault: the laptop carries on with it.
    let said = laptop.cli(&["passphrase", "set", "--rotate-key"], &format!("{NEW}\n{NEWEST}\n\n"));
    assert!(said.contains("under a new key") && said.contains("signed out"), "{said}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while desktop_host.ok(EXTENSION_ORIGIN, "hello", json!({}))["paired"] != false {
        assert!(Instant::now() < deadline, "the desktop never learnt it was signed out");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!tablet.try_cli(&["sync"], "").status.success(), "the tablet is signed out");
    laptop.cli(&["address", "set", "billing", "--json", "-"], &address("6 Key Street", "Lyon").to_string());
    assert!(laptop.cli(&["status"], "").contains("in sync"));

    // Only the newest passphrase opens the profile now, with everything in it.
    let old = HostHome::new().try_cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{NEW}\n"));
    assert!(!old.status.success(), "{old:?}");
    let phone = HostHome::new();
    phone.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{NEWEST}\n"));
    assert_eq!(shown(&phone, "shipping")["line1"], "5 Key Street");
    assert_eq!(shown(&phone, "billing")["line1"], "6 Key Street");
    // The local lock follows: the laptop unlocks with the newest passphrase.
    laptop.cli(&["lock"], "");
    assert!(!laptop.try_cli(&["unlock"], &format!("{NEW}\n")).status.success());
    assert!(laptop.cli(&["unlock"], &format!("{NEWEST}\n")).contains("unlocked"));
}

fn receipt(merchant: &str, day: u32) -> Value {
    json!({"merchant": merchant, "date": format!("2026-11-{day:02}"), "currency": "EUR", "total": "9.99"})
}

/// The receipts a host holds, by merchant, sorted.
fn merchants(host: &mut HostProcess) -> Vec<String> {
    let listed = host.ok(EXTENSION_ORIGIN, "listItems", json!({"category": "receipts", "limit": 500}));
    let mut names: Vec<String> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["fields"]["merchant"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

fn wait_for_merchants(host: &mut HostProcess, what: &str, want: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let have = merchants(host);
        if have == want {
            return;
        }
        assert!(Instant::now() < deadline, "{what} never arrived: have {have:?}, want {want:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_devices_editing_items_at_once_lose_nothing_and_a_removed_item_stays_removed() {
    let server = ProfileServer::start(EMAIL, PASSPHRASE);
    let (laptop, desktop, tablet) = (HostHome::new(), HostHome::new(), HostHome::new());
    for home in [&laptop, &desktop, &tablet] {
        home.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    }
    let file = laptop.path().join("receipts.json");
    let first: Vec<Value> = (1..=20).map(|n| receipt(&format!("Shop {n:02}"), n)).collect();
    std::fs::write(&file, Value::Array(first).to_string()).unwrap();
    laptop.cli(&["data", "import", "receipts", file.to_str().unwrap()], "");
    tablet.cli(&["sync"], "");

    // Both at once, many times: the laptop's CLI adds receipts while the desktop (running as
    // the browser runs it, with the push socket) adds others.
    let mut desktop_host = messaging(&desktop);
    let mut want: Vec<String> = (1..=20).map(|n| format!("Shop {n:02}")).collect();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for n in 0..6 {
                laptop
                    .cli(&["data", "set", "receipts", "--json", "-"], &receipt(&format!("Laptop {n}"), 21).to_string());
            }
        });
        for n in 0..6 {
            let item = json!({"fields": receipt(&format!("Desktop {n}"), 22)});
            desktop_host.ok(EXTENSION_ORIGIN, "saveItem", json!({"category": "receipts", "item": item}));
        }
    });
    want.extend((0..6).map(|n| format!("Laptop {n}")));
    want.extend((0..6).map(|n| format!("Desktop {n}")));
    want.sort();
    laptop.cli(&["sync"], "");
    wait_for_merchants(&mut desktop_host, "both devices' receipts", &want);
    let mut laptop_host = messaging(&laptop);
    assert_eq!(merchants(&mut laptop_host), want, "the laptop has the desktop's too");
    drop(laptop_host);

    // The laptop removes one receipt; the tablet, offline with its old copy, edits it.
    let listed = desktop_host.ok(EXTENSION_ORIGIN, "listItems", json!({"category": "receipts", "query": "Shop 03"}));
    let id = listed["items"][0]["id"].as_str().unwrap().to_owned();
    laptop.cli(&["data", "remove", "receipts", &id], "");
    want.retain(|m| m != "Shop 03");
    wait_for_merchants(&mut desktop_host, "the removal", &want);
    let edited = tablet.try_cli(&["data", "set", "receipts", &id, "total=1.00"], "");
    assert!(edited.status.success(), "{edited:?}");
    tablet.cli(&["sync"], "");
    // The removal wins everywhere: nothing comes back from the tablet.
    assert!(!tablet.cli(&["data", "list", "receipts"], "").contains("Shop 03"));
    desktop.cli(&["sync"], "");
    assert_eq!(merchants(&mut desktop_host), want, "not brought back by the tablet");
    // A device paired later never sees it either.
    let phone = HostHome::new();
    phone.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    let list = phone.cli(&["data", "list", "receipts"], "");
    assert!(!list.contains("Shop 03") && list.contains("Desktop 5") && list.contains("Laptop 5"), "{list}");
}

#[test]
fn a_vault_kept_as_one_blob_moves_to_items_at_the_first_sync() {
    let server = ProfileServer::start(EMAIL, PASSPHRASE);
    // What a device before vault items wrote: the address book as one blob.
    let laptop = HostHome::new();
    let before = json!({"version": 2, "addressBook": {"addresses": [{"id": "home", "label": "Home",
        "address": address("1 Blob Road", "Paris"), "savedAt": 5}], "defaults": {"shipping": {"id": "home", "at": 5}}},
        "accounts": []});
    server.write_vault(EMAIL, PASSPHRASE, before.to_string().as_bytes());
    laptop.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    assert_eq!(shown(&laptop, "shipping")["line1"], "1 Blob Road");
    // The blob now only says the profile moved: a host from before refuses it as a newer format.
    let blob = server.read_vault(EMAIL, PASSPHRASE);
    assert_eq!(blob, json!({"version": 3, "movedToItems": true}));
    // Another device reads the profile from the items.
    let desktop = HostHome::new();
    desktop.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    assert_eq!(shown(&desktop, "shipping")["line1"], "1 Blob Road");
    desktop.cli(&["data", "set", "identity", "name=Ada Lovelace"], "");
    laptop.cli(&["sync"], "");
    assert!(laptop.cli(&["data", "list", "identity"], "").contains("name: Ada Lovelace"));
}

#[test]
fn the_public_part_publishes_only_what_the_person_chose_signed_by_the_profile() {
    let server = ProfileServer::start(EMAIL, PASSPHRASE);
    let (laptop, desktop) = (HostHome::new(), HostHome::new());
    for home in [&laptop, &desktop] {
        home.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    }
    laptop.cli(
        &["data", "set", "identity", "name=Ada Lovelace", "displayName=Ada", "language=en-GB", "birthDate=1990-12-10"],
        "",
    );
    laptop.cli(&["data", "set", "vehicles", "vin=1M8GDM9AXKP042788", "make=Volvo", "model=EX30", "plate=AB12 CDE"], "");
    let document = || -> Value {
        let profile_path = server.profile_url.split_once("//").unwrap().1.split_once('/').unwrap().1;
        server.server.request("GET", &format!("/{profile_path}"), b"").json()
    };
    // Nothing is public by default.
    assert!(document().get("public").is_none(), "{}", document());

    let mut host = messaging(&laptop);
    host.ok(EXTENSION_ORIGIN, "setPublic", json!({"fields": ["language", "vehicles"]}));
    let deadline = Instant::now() + Duration::from_secs(15);
    while host.ok(EXTENSION_ORIGIN, "getPublic", json!({}))["pending"] == true {
        assert!(Instant::now() < deadline, "never published");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(host);
    let published = document();
    let part: profile_core::public::PublicPart = serde_json::from_value(published["public"].clone()).unwrap();
    let payload = profile_core::public::verify_public(&part, &server.profile_url).expect("signed by the profile");
    assert_eq!(
        Value::Object(payload.fields.0.clone()),
        json!({"language": "en-GB", "vehicles": [{"make": "Volvo", "model": "EX30"}]}),
        "only what was chosen, and of a vehicle only what may be public"
    );
    let text = published.to_string();
    assert!(!text.contains("Lovelace") && !text.contains("1990") && !text.contains("1M8GDM9AXKP042788"), "{text}");

    // The other device signs with the same key when it publishes a change.
    desktop.cli(&["sync"], "");
    desktop.cli(&["data", "set", "identity", "language=fr"], "");
    let again: profile_core::public::PublicPart = serde_json::from_value(document()["public"].clone()).unwrap();
    assert_eq!(again.key, part.key, "one profile, one key");
    let payload = profile_core::public::verify_public(&again, &server.profile_url).unwrap();
    assert_eq!(payload.fields.language(), Some("fr"));

    // Choosing nothing takes it down.
    let mut host = messaging(&desktop);
    host.ok(EXTENSION_ORIGIN, "setPublic", json!({"fields": []}));
    drop(host);
    desktop.cli(&["sync"], "");
    assert!(document().get("public").is_none(), "{}", document());
}

/// Waits until `check` holds, asking `what` every 100 ms for at most 30 s.
fn eventually<T>(what: &str, mut probe: impl FnMut() -> T, check: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = probe();
        if check(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An app the person grants: the till's and the delivery service's whole path through the
/// real host, server and profile-rp. Its share opens only with its key; it appends inside its
/// grant and nothing else; a change the person makes reaches it as a signed webhook, also after
/// it was down for a while (once per event id); revoked, it gets `grant-revoked` and nothing
/// after, and the database never held a share or an append in plaintext.
#[test]
fn an_app_the_person_grants_reads_its_sealed_share_appends_and_is_cut_off_when_revoked() {
    use profile_rp::apps::{AppClient, AppKeys, Category, Reach, Webhooks};
    use std::sync::Arc;

    let server = ProfileServer::start(EMAIL, PASSPHRASE);
    let home = HostHome::new();
    home.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    let mut host = messaging(&home);
    host.ok(EXTENSION_ORIGIN, "saveAddress", json!({"label": "Home", "address": address("12 Secret Lane", "Paris")}));

    // The app's signing key from a known secret, so the test can also sign as the app by hand.
    let signing_secret = profile_core::Secret32::from_bytes([21; 32]);
    let keys = Arc::new(AppKeys::from_secrets(&signing_secret, &profile_core::Secret32::from_bytes([22; 32])).unwrap());
    let registration = keys.registration("corner-till", "Corner Store").unwrap();
    let site = profile_testkit::app::AppSite::start(serde_json::to_value(&registration).unwrap());
    let request = json!({"scopes": [
        {"category": "addresses", "actions": ["read", "subscribe"], "fields": ["name", "line1", "city", "postalCode"]},
                {"category": "receipts", "actions": ["append"]},
        {"category": "vehicles", "actions": ["read"]}
    ], "purpose": "Paperless receipts and deliveries"});

    // The consent window's preview names the app from its registration and each scope.
    let preview = host.ok(
        EXTENSION_ORIGIN,
        "preview",
        json!({"origin": site.origin, "call": {"type": "requestGrant", "params": request}}),
    );
    assert_eq!(preview["app"]["name"], "Corner Store", "{preview}");
    assert_eq!(preview["value"]["scopes"][0]["held"], 1, "{preview}");

    let answer = host.ok(&site.origin, "requestGrant", request.clone());
    assert_eq!(answer["profileUrl"], server.profile_url.as_str(), "{answer}");
    let answer: profile_core::apps::GrantAnswer = serde_json::from_value(answer).unwrap();
    let app = AppClient::connect(keys.clone(), answer.clone(), Reach::Loopback).unwrap();

    // The share opens with the app's key, holds only the fields granted, and nothing of another
    // category; another app's key cannot open it.
    let share = app.share().unwrap();
    let addresses = &share.categories[&Category::Addresses];
    assert_eq!(addresses[0]["address"]["line1"], "12 Secret Lane", "{addresses:?}");
    assert!(addresses[0]["address"].get("country").is_none(), "only the fields granted: {addresses:?}");
    assert!(!share.categories.contains_key(&Category::Receipts), "append only: nothing to read");
    let stranger = Arc::new(AppKeys::generate().unwrap());
    let forged = AppClient::connect(stranger, answer.clone(), Reach::Loopback).unwrap();
    assert!(forged.share().is_err(), "another app's key is refused (its signature) before anything is read");

    // Appends: inside the grant they join the profile, named after the app; outside it, or too
    // big, they are refused.
    let receipt = json!({"merchant": "Corner Store", "date": "2026-11-30", "currency": "EUR", "total": "4.20",
                "items": [{"name": "Oat milk", "gtin": "4006381333931", "quantity": 1, "unitPrice": "4.20", "total": "4.20"}]});
    app.append(Category::Receipts, receipt.as_object().unwrap().clone()).unwrap();
    let listed = eventually(
        "the appended receipt",
        || host.ok(EXTENSION_ORIGIN, "listItems", json!({"category": "receipts"})),
        |list| list["total"] == 1,
    );
    assert_eq!(listed["items"][0]["source"], site.origin.as_str(), "{listed}");
    let outside =
        app.append(Category::Medical, json!({"date": "2026-11-30", "kind": "checkup"}).as_object().unwrap().clone());
    assert!(format!("{:?}", outside.unwrap_err()).contains("OutsideGrant"), "medical is outside the grant");
    let mut huge = receipt.as_object().unwrap().clone();
    huge.insert(
        "receipt".into(),
        json!({"lines": (0..40).map(|i| json!({"line": i, "text": "x".repeat(1_200)})).collect::<Vec<_>>()}),
    );
    let refused = app.append(Category::Receipts, huge).unwrap_err().to_string();
    assert!(refused.contains("bytes") || refused.contains("at most"), "an oversized item is refused: {refused}");

    // The device checks what arrives whatever the app's library did, each sent as the app sends
    // (its stamp signed with its key) so the server takes it: an item signed inside by another
    // key (what anyone holding a share, the profile's encryption key, could seal), one its
    // category's definition refuses, and one over the size limit the server refuses itself.
    // None joins the profile; the host says the first two in the activity.
    // A forger's generator that gives every seal the same ephemeral key.
    struct Same;
    impl getrandom::rand_core::TryRng for Same {
        type Error = std::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(7)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(7)
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Self::Error> {
            dest.fill(7);
            Ok(())
        }
    }
    impl getrandom::rand_core::TryCryptoRng for Same {}
    let seal_raw = |fields: Value, signer: &profile_core::public::ProfileKey, same: bool| -> Vec<u8> {
        use profile_core::apps::sealed::{AppendContents, EncryptionKey, seal_append};
        let to_profile = EncryptionKey::from_jwk(&share.encryption_key).unwrap();
        let contents = AppendContents {
            grant_id: answer.grant_id.clone(),
            category: Category::Receipts,
            fields: fields.as_object().unwrap().clone(),
            made_at: 1,
        };
        let mut rng = getrandom::rand_core::UnwrapErr(getrandom::SysRng);
        let sealed = if same {
            seal_append(&to_profile, &contents, |bytes| signer.sign(bytes), &mut Same)
        } else {
            seal_append(&to_profile, &contents, |bytes| signer.sign(bytes), &mut rng)
        };
        let sealed = match sealed {
            Ok(sealed) => sealed,
            // Too big to seal as the library would: bytes past the limit, as a forger sends them.
            Err(_) => profile_core::apps::Sealed {
                enc: profile_core::server_api::Bytes(vec![4; 65]),
                ciphertext: profile_core::server_api::Bytes(vec![0; profile_core::apps::MAX_APPEND_BYTES + 64]),
            },
        };
        serde_json::to_vec(&profile_core::server_api::AppendRequest { category: Category::Receipts, sealed }).unwrap()
    };
    // Sent as the app sends it: a fresh stamp, signed with the app's key.
    let post_raw = |body: &[u8]| -> u16 {
        let path = profile_core::server_api::path::APP_APPENDS;
        let stamp = keys.stamp(&answer.grant_id, "POST", path, body).unwrap();
        let headers = format!(
            "{}: {}\r\n{}: {}\r\n",
            profile_core::apps::STAMP_HEADER,
            stamp.stamp,
            profile_core::server_api::SIGNATURE_HEADER,
            stamp.signature
        );
        server.server.raw("POST", path, "application/json", body, &headers).0
    };
    let send_raw =
        |fields: Value, signer: &profile_core::public::ProfileKey| post_raw(&seal_raw(fields, signer, false));
    let as_app = profile_core::public::ProfileKey::from_secret(&signing_secret).unwrap();
    let forger = profile_core::public::ProfileKey::from_secret(&profile_core::Secret32::from_bytes([23; 32])).unwrap();
    let mut forged = receipt.clone();
    forged["merchant"] = json!("Forged Store");
    assert_eq!(send_raw(forged, &forger), 201, "the server cannot tell: it never opens an append");
    let mut malformed = receipt.clone();
    malformed["total"] = json!("four euros");
    assert_eq!(send_raw(malformed, &as_app), 201);
    let mut oversized = receipt.clone();
    oversized["note"] = json!("x".repeat(profile_core::apps::MAX_APPEND_BYTES));
    assert_eq!(send_raw(oversized, &as_app), 413, "the server refuses what no item can be");
    // The push thread takes them in (the server says an append arrived).
    let refusals = eventually(
        "the host refusing both",
        || host.ok(EXTENSION_ORIGIN, "listDisclosures", json!({"limit": 20})),
        |ledger| {
            ledger
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["method"] == "appAppend" && d["outcome"] != "disclosed")
                .count()
                >= 2
        },
    );
    let receipts = host.ok(EXTENSION_ORIGIN, "listItems", json!({"category": "receipts"}));
    assert_eq!(receipts["total"], 1, "neither joined the profile: {receipts} {refusals}");

    // An append adds; it never replaces. Two with the same ephemeral key (the app chooses it)
    // are two items; one the person edited, served again, leaves the edit as it is.
    let repeat = |total: &str| {
        let mut fields = receipt.clone();
        fields["merchant"] = json!("Repeat Store");
        fields["total"] = json!(total);
        fields["items"][0]["total"] = json!(total);
        fields["items"][0]["unitPrice"] = json!(total);
        fields
    };
    let (first, second) = (seal_raw(repeat("1.00"), &as_app, true), seal_raw(repeat("2.00"), &as_app, true));
    assert_eq!((post_raw(&first), post_raw(&second)), (201, 201));
    let listed = eventually(
        "both receipts of one ephemeral key",
        || host.ok(EXTENSION_ORIGIN, "listItems", json!({"category": "receipts", "query": "Repeat Store"})),
        |list| list["total"] == 2,
    );
    let one = listed["items"].as_array().unwrap().iter().find(|i| i["fields"]["total"] == "1.00").unwrap().clone();
    let mut edited = one["fields"].clone();
    edited["merchant"] = json!("Repeat Store (milk returned)");
    host.ok(EXTENSION_ORIGIN, "saveItem", json!({"category": "receipts", "item": {"id": one["id"], "fields": edited}}));
    assert_eq!(post_raw(&first), 201, "the same sealed append again, freshly stamped");
    // Taken in by this sync, or by the push thread before the server forgot it.
    home.cli(&["sync"], "");
    let after = host.ok(EXTENSION_ORIGIN, "listItems", json!({"category": "receipts", "query": "Repeat Store"}));
    assert_eq!(after["total"], 2, "{after}");
    let kept = after["items"].as_array().unwrap().iter().find(|i| i["id"] == one["id"]).unwrap();
    assert_eq!(kept["fields"]["merchant"], "Repeat Store (milk returned)", "the person's edit was overwritten: {kept}");

    // A change to what it may read but did not subscribe to (vehicles) reaches its share
    // quietly: no webhook.
    app.set_webhook(&site.webhook_url()).unwrap();
    host.ok(
        EXTENSION_ORIGIN,
        "saveItem",
        json!({"category": "vehicles", "item": {"fields": {"vin": "1M8GDM9AXKP042788", "make": "Volvo", "model": "EX30"}}}),
    );
    eventually(
        "the vehicle in the share",
        || app.share().unwrap(),
        |share| share.categories.get(&Category::Vehicles).is_some_and(|v| !v.is_empty()),
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(site.deliveries().is_empty(), "told of a change it did not subscribe to");

    // A change reaches the app as a signed webhook: while it is down, then once it is back.
    site.down.store(true, std::sync::atomic::Ordering::SeqCst);
    host.ok(EXTENSION_ORIGIN, "saveAddress", json!({"kind": "shipping", "address": address("3 New Road", "Lyon")}));
    eventually("a refused delivery", || site.refused(), |n| *n > 0);
    site.down.store(false, std::sync::atomic::Ordering::SeqCst);
    let webhooks = Webhooks::new(Reach::Loopback);
    let delivered = eventually("the webhook after the app came back", || site.deliveries(), |d| !d.is_empty());
    let event = webhooks
        .verify(
            &delivered[0].headers["personal-profile-key-id"],
            &delivered[0].headers["personal-profile-signature"],
            &delivered[0].body,
            |_| Some(app.api_base()),
        )
        .expect("signed by the profile server");
    assert!(matches!(event.kind, profile_core::apps::AppEventKind::ShareUpdated { .. }), "{event:?}");
    assert_eq!(app.share().unwrap().categories[&Category::Addresses][0]["address"]["line1"], "3 New Road");

    // Revoked: the app is told, and refused from then on.
    host.ok(EXTENSION_ORIGIN, "revokeApp", json!({"grantId": answer.grant_id}));
    assert!(app.share().unwrap_err().revoked(), "a revoked app reads nothing");
    assert!(app.append(Category::Receipts, receipt.as_object().unwrap().clone()).unwrap_err().revoked());
    let all = eventually(
        "grant-revoked",
        || site.deliveries(),
        |d| d.iter().any(|d| String::from_utf8_lossy(&d.body).contains("grant-revoked")),
    );
    // Nothing after `grant-revoked`, even when the person changes what it could read.
    drop(all);
    host.ok(EXTENSION_ORIGIN, "saveAddress", json!({"kind": "shipping", "address": address("9 Later Street", "Nice")}));
    home.cli(&["sync"], "");
    std::thread::sleep(Duration::from_secs(2));
    let all = site.deliveries();
    assert!(all.last().is_some_and(|d| String::from_utf8_lossy(&d.body).contains("grant-revoked")), "nothing after");
    // Each event handled once, by its id, however often it came.
    let mut handled = Vec::new();
    for delivery in &all {
        let id = &delivery.headers["personal-profile-event-id"];
        if let Ok(Some(body)) = webhooks.once(id, || Ok::<_, ()>(String::from_utf8_lossy(&delivery.body).into_owned()))
        {
            handled.push(body);
        }
    }
    assert_eq!(handled.iter().filter(|e| e.contains("grant-revoked")).count(), 1, "{handled:?}");
    assert!(handled.iter().any(|e| e.contains("share-updated")), "{handled:?}");
    let apps = host.ok(EXTENSION_ORIGIN, "listApps", json!({}));
    assert!(apps["apps"][0]["revokedAt"].is_number(), "{apps}");
    let added = apps["apps"][0]["appendedItems"].as_array().unwrap();
    assert!(added.iter().any(|i| i["summary"].as_str().is_some_and(|s| s.contains("Corner Store"))), "{apps}");

    // Nothing the app could read or added is in the database in plaintext.
    let stored = server.stored_bytes();
    let text = String::from_utf8_lossy(&stored);
    for secret in ["Secret Lane", "New Road", "Oat milk", "4006381333931"] {
        assert!(!text.contains(secret), "{secret} is in the database in plaintext");
    }
}

/// An app's share with two devices on the profile: each change is sealed once, whichever
/// devices sync after it, and the app hears only of what it subscribed to. The device that
/// seals leaves a note with the share (keyed digests the server cannot read) from which the
/// other sees it is current.
#[test]
fn two_devices_seal_an_apps_share_once_per_change_and_tell_it_only_what_it_subscribed_to() {
    use profile_rp::apps::{AppClient, AppKeys, Category, Reach};
    use std::sync::Arc;

    let server = ProfileServer::start(EMAIL, PASSPHRASE);
    let (laptop, desktop) = (HostHome::new(), HostHome::new());
    for home in [&laptop, &desktop] {
        home.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    }
    let mut host = messaging(&laptop);
    host.ok(EXTENSION_ORIGIN, "saveAddress", json!({"label": "Home", "address": address("12 Secret Lane", "Paris")}));
    let keys = Arc::new(AppKeys::generate().unwrap());
    let registration = keys.registration("parcel-express", "Parcel Express").unwrap();
    let site = profile_testkit::app::AppSite::start(serde_json::to_value(&registration).unwrap());
    let request = json!({"scopes": [
        {"category": "addresses", "actions": ["read", "subscribe"]},
        {"category": "vehicles", "actions": ["read"]}
    ], "purpose": "Deliveries"});
    // No app may pass itself off as a linked profile, whose grant confirms links.
    let posing = AppKeys::generate().unwrap().registration(profile_core::apps::links::LINK_APP_ID, "Not Bob").unwrap();
    let posing = profile_testkit::app::AppSite::start(serde_json::to_value(&posing).unwrap());
    let (_, refused) = host.err(&posing.origin, "requestGrant", request.clone());
    assert!(refused.contains("only a linked profile is"), "{refused}");
    let answer: profile_core::apps::GrantAnswer =
        serde_json::from_value(host.ok(&site.origin, "requestGrant", request)).unwrap();
    drop(host);
    let app = AppClient::connect(keys, answer, Reach::Loopback).unwrap();
    app.set_webhook(&site.webhook_url()).unwrap();
    let version = || app.share().unwrap().version;
    let told = || {
        let deliveries = site.deliveries();
        let ids: std::collections::BTreeSet<_> =
            deliveries.iter().map(|d| d.headers["personal-profile-event-id"].clone()).collect();
        ids.len()
    };
    assert_eq!(version(), 1);

    // The other device hears of the grant: nothing changed, so nothing is sealed or told.
    desktop.cli(&["sync"], "");
    laptop.cli(&["sync"], "");
    assert_eq!(version(), 1, "a device sealed an unchanged share again");

    // A vehicle (read, not subscribed): sealed once, quietly.
    laptop.cli(&["data", "set", "vehicles", "vin=1M8GDM9AXKP042788", "make=Volvo", "model=EX30"], "");
    eventually(
        "the vehicle in the share",
        || app.share().unwrap(),
        |share| share.categories.get(&Category::Vehicles).is_some_and(|v| !v.is_empty()),
    );
    for home in [&desktop, &laptop, &desktop] {
        home.cli(&["sync"], "");
    }
    assert_eq!(version(), 2, "sealed more than once for one change");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(told(), 0, "told of a change it did not subscribe to");

    // A new address, made on the other device (subscribed): sealed once, told once.
    desktop.cli(
        &[
            "address",
            "set",
            "shipping",
            "--name",
            "Ada Lovelace",
            "--line1",
            "3 New Road",
            "--city",
            "Lyon",
            "--postal-code",
            "69001",
            "--country",
            "FR",
        ],
        "",
    );
    eventually("the app told of the new address", told, |n| *n >= 1);
    for home in [&laptop, &desktop, &laptop] {
        home.cli(&["sync"], "");
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!((version(), told()), (3, 1), "one change: one seal, one event");
}

/// Two people link their profiles with a one-time ticket (each on their own profile server):
/// each then follows the other's card, told by the other's device through their own server
/// (no sync by hand); the ticket works once; either can cut the link.
#[test]
fn two_linked_profiles_follow_each_others_cards() {
    let ada_server = ProfileServer::start(EMAIL, PASSPHRASE);
    let bob_server = ProfileServer::start("bob@example.org", PASSPHRASE);
    let (ada, bob) = (HostHome::new(), HostHome::new());
    ada.cli(&["pair", &ada_server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    bob.cli(&["pair", &bob_server.profile_url, "--email", "bob@example.org"], &format!("{PASSPHRASE}\n"));
    ada.cli(&["data", "set", "identity", "name=Ada Lovelace", "email=ada@example.org"], "");
    bob.cli(&["data", "set", "identity", "name=Bob Babbage", "phone=+44 20 7946 0000"], "");

    let mut ada_host = messaging(&ada);
    let issued = ada_host.ok(EXTENSION_ORIGIN, "issueLinkTicket", json!({}));
    let ticket = issued["ticket"].as_str().unwrap().to_owned();
    assert!(issued["qrSvg"].as_str().is_some_and(|svg| svg.starts_with("<?xml") || svg.contains("<svg")), "{issued}");
    let mut bob_host = messaging(&bob);
    let linked = bob_host.ok(EXTENSION_ORIGIN, "redeemLinkTicket", json!({"ticket": ticket}));
    assert_eq!(linked["linked"], "Ada Lovelace", "{linked}");
    // The ticket is spent: a third person holding it gets nothing, and nothing of theirs stays.
    let carol = HostHome::new();
    let carol_url = bob_server.db.create_user("carol@example.org", PASSPHRASE);
    let carol_url = format!("{}/u/{carol_url}", bob_server.server.base_url());
    carol.cli(&["pair", &carol_url, "--email", "carol@example.org"], &format!("{PASSPHRASE}\n"));
    let mut carol_host = messaging(&carol);
    let again = carol_host.call(9, EXTENSION_ORIGIN, "redeemLinkTicket", json!({"ticket": ticket}));
    assert_eq!(again["ok"], false, "{again}");
    assert!(again["error"]["message"].as_str().unwrap().contains("refused the ticket"), "{again}");
    assert_eq!(carol_host.ok(EXTENSION_ORIGIN, "listApps", json!({}))["apps"], json!([]), "no grant left behind");
    let again = bob_host.call(10, EXTENSION_ORIGIN, "redeemLinkTicket", json!({"ticket": ticket}));
    assert!(again["error"]["message"].as_str().unwrap().contains("linked with Ada Lovelace already"), "{again}");

    let contact_of = |host: &mut HostProcess, url: &str| -> Value {
        let list = host.ok(EXTENSION_ORIGIN, "listItems", json!({"category": "contacts"}));
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["fields"]["profileUrl"] == url)
            .cloned()
            .unwrap_or(Value::Null)
    };
    // Nobody syncs by hand from here: each side's server tells its devices (their push sockets)
    // when the other redeemed, confirmed, changed a card or cut the link. Ada's device completes
    // the redemption and reads Bob's card; Bob's reads hers once Ada's confirmed.
    let ada_url = ada_server.profile_url.clone();
    let bob_url = bob_server.profile_url.clone();
    let bob_sees = eventually(
        "Ada's card at Bob's",
        || contact_of(&mut bob_host, &ada_url),
        |c| c["fields"]["lines"].to_string().contains("ada@example.org"),
    );
    assert_eq!(bob_sees["fields"]["name"], "Ada Lovelace", "{bob_sees}");
    eventually(
        "Bob's card at Ada's",
        || contact_of(&mut ada_host, &bob_url),
        |c| c["fields"]["lines"].to_string().contains("+44 20 7946 0000"),
    );

    // Ada changes her card: Bob's contact follows.
    ada.cli(&["data", "set", "identity", "email=ada@lovelace.example"], "");
    eventually(
        "Ada's new email at Bob's",
        || contact_of(&mut bob_host, &ada_url),
        |c| c["fields"]["lines"].to_string().contains("ada@lovelace.example"),
    );

    // Bob cuts the link: Ada's side cuts it too.
    let apps = bob_host.ok(EXTENSION_ORIGIN, "listApps", json!({}));
    let link =
        apps["apps"].as_array().unwrap().iter().find(|a| a["linkedProfile"] == ada_url.as_str()).unwrap().clone();
    bob_host.ok(EXTENSION_ORIGIN, "revokeApp", json!({"grantId": link["grantId"]}));
    eventually(
        "the link cut at Ada's",
        || ada_host.ok(EXTENSION_ORIGIN, "listApps", json!({})),
        |apps| {
            apps["apps"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["linkedProfile"] == bob_url.as_str() && a["revokedAt"].is_number())
        },
    );
}

/// A connection ticket as anyone holding one may write it: pointing at `profile_url`.
fn ticket_to(profile_url: &str) -> String {
    use profile_core::Secret32;
    use profile_core::apps::links::{LinkTicket, TICKET_TTL, Token};
    use profile_core::public::ProfileKey;
    let key = |byte| ProfileKey::from_secret(&Secret32::from_bytes([byte; 32])).unwrap().public_jwk();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    LinkTicket {
        profile_url: profile_url.to_owned(),
        name: "Mallory".to_owned().try_into().unwrap(),
        signing_key: key(7),
        encryption_key: key(8),
        token: Token::from_bytes([1; 16]),
        mac_key: Token::from_bytes([2; 16]),
        expires_at: now + TICKET_TTL,
    }
    .to_text()
}

/// A ticket holder chooses where the redeeming device sends the redemption (the profile URL in
/// the ticket, the `apiBase` in the document there): only https to public addresses is taken
/// (plain http only to localhost and 127.0.0.1 by name, as contacts are followed), and anything
/// else is refused in words before a request goes there; an `apiBase` with a query or a
/// fragment is refused too. Nothing reaches the place named, and no grant is left behind.
#[test]
fn a_ticket_that_points_into_this_machine_or_network_is_refused_before_anything_is_sent() {
    const BOB: &str = "bob@example.org";
    let server = ProfileServer::start(BOB, PASSPHRASE);
    let bob = HostHome::new();
    bob.cli(&["pair", &server.profile_url, "--email", BOB], &format!("{PASSPHRASE}\n"));
    let mut host = messaging(&bob);
    let mut refused = |profile_url: &str| -> String {
        let answer = host.call(7, EXTENSION_ORIGIN, "redeemLinkTicket", json!({"ticket": ticket_to(profile_url)}));
        assert_eq!(answer["ok"], false, "{profile_url}: {answer}");
        answer["error"]["message"].as_str().unwrap().to_owned()
    };
    let recorder = profile_testkit::peer::Recorder::start();
    let port = recorder.port;

    // The ticket's profile URL.
    let profile_urls = [
        ("http://10.0.0.1/u/x".to_owned(), "is not an https URL"),
        ("http://192.168.0.1:8080/u/x".to_owned(), "is not an https URL"),
        ("https://169.254.169.254/latest/meta-data/".to_owned(), "not a public address"),
        ("https://[::ffff:10.0.0.1]/u/x".to_owned(), "not a public address"),
        (format!("https://127.0.0.1:{port}/u/x"), "not a public address"),
        (format!("https://localhost:{port}/u/x"), "no public address"),
    ];
    for (url, why) in &profile_urls {
        let said = refused(url);
        assert!(said.contains("Mallory's profile URL") && said.contains(why), "{url}: {said}");
    }

    // The `apiBase` of the document at a profile URL on this machine, as the tests serve it.
    let peer = profile_testkit::peer::PeerProfile::start("http://10.1.2.3");
    let api_bases = [
        ("http://10.1.2.3".to_owned(), "is not an https URL"),
        ("http://192.168.0.1/x?".to_owned(), "is not an https URL"),
        ("https://192.168.0.1/x?".to_owned(), "not a public address"),
        ("https://169.254.169.254".to_owned(), "not a public address"),
        (format!("https://127.0.0.1:{port}"), "not a public address"),
        (format!("http://127.0.0.1:{port}/x?"), "a query or a fragment"),
        (format!("http://127.0.0.1:{port}/x?y=1#"), "a query or a fragment"),
        (format!("http://localhost:{port}#top"), "a query or a fragment"),
        (format!("http://someone:secret@127.0.0.1:{port}"), "a user name or password"),
        (format!("https://localhost:{port}"), "no public address"),
    ];
    for (api_base, why) in &api_bases {
        peer.set_api_base(api_base);
        let said = refused(&peer.profile_url);
        assert!(said.contains("Mallory's profile server") && said.contains(why), "{api_base}: {said}");
    }
    assert_eq!(peer.reads(), api_bases.len(), "each document was read");
    assert_eq!(recorder.connections(), 0, "nothing reached a place the ticket or a document named");
    assert_eq!(host.ok(EXTENSION_ORIGIN, "listApps", json!({}))["apps"], json!([]), "no grant left behind");
    let contacts = host.ok(EXTENSION_ORIGIN, "listItems", json!({"category": "contacts"}));
    assert_eq!(contacts["items"], json!([]), "{contacts}");
}

/// The issuing device reads the redeemer's profile document and calls the server it names
/// (the confirmation, the card at each sync) by the same rule: a redemption whose profile URL
/// or `apiBase` points into this machine or network is refused, nothing is sent there, and
/// no grant or contact is left of it.
#[test]
fn a_redemption_that_points_into_this_machine_or_network_is_refused_by_the_issuer() {
    use profile_core::apps::links::{LinkRedeem, LinkTicket};
    use profile_core::server_api::path;
    let server = ProfileServer::start(EMAIL, PASSPHRASE);
    let ada = HostHome::new();
    ada.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    let recorder = profile_testkit::peer::Recorder::start();
    let peer = profile_testkit::peer::PeerProfile::start(&format!("http://127.0.0.1:{}/x?", recorder.port));

    // Mallory holds two of Ada's tickets and redeems them as a device would, MAC and all.
    let mut host = messaging(&ada);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let key = |byte| {
        profile_core::public::ProfileKey::from_secret(&profile_core::Secret32::from_bytes([byte; 32]))
            .unwrap()
            .public_jwk()
    };
    for (n, profile_url) in [peer.profile_url.as_str(), "http://10.0.0.1/u/mallory"].into_iter().enumerate() {
        let issued = host.ok(EXTENSION_ORIGIN, "issueLinkTicket", json!({}));
        let ticket = LinkTicket::from_text(issued["ticket"].as_str().unwrap(), now).unwrap();
        let redeem = LinkRedeem::new(
            &ticket,
            profile_url.to_owned(),
            "Mallory".to_owned().try_into().unwrap(),
            key(7),
            key(8),
            profile_core::apps::GrantId::from_bytes([u8::try_from(n).unwrap(); 16]),
        );
        let reply = server.server.post(path::LINKS_REDEEM, &redeem);
        assert_eq!(reply.status, 202, "{reply}");
    }
    drop(host);
    ada.cli(&["sync"], "");
    ada.cli(&["sync"], "");

    assert!(peer.reads() >= 1, "the redeemer's document was read");
    assert_eq!(recorder.connections(), 0, "nothing reached the apiBase the document named");
    let mut host = messaging(&ada);
    let apps = host.ok(EXTENSION_ORIGIN, "listApps", json!({}));
    assert_eq!(apps["apps"], json!([]), "no card given to the redeemer: {apps}");
    let contacts = host.ok(EXTENSION_ORIGIN, "listItems", json!({"category": "contacts"}));
    assert_eq!(contacts["items"], json!([]), "{contacts}");
}

#[test]
fn a_contact_follows_the_profile_it_links_to_and_refuses_a_part_signed_by_another_key() {
    const BOB: &str = "bob@example.org";
    let server = ProfileServer::start(EMAIL, PASSPHRASE);
    let bob_url = server.add_person(BOB, PASSPHRASE);
    let (ada, bob) = (HostHome::new(), HostHome::new());
    ada.cli(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    bob.cli(&["pair", &bob_url, "--email", BOB], &format!("{PASSPHRASE}\n"));
    // Bob publishes his display name.
    bob.cli(&["data", "set", "identity", "name=Robert Brown", "displayName=Bob"], "");
    let mut host = messaging(&bob);
    host.ok(EXTENSION_ORIGIN, "setPublic", json!({"fields": ["displayName"]}));
    let deadline = Instant::now() + Duration::from_secs(15);
    while host.ok(EXTENSION_ORIGIN, "getPublic", json!({}))["pending"] == true {
        assert!(Instant::now() < deadline, "never published");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(host);

    // Ada keeps a card for him under her own name for him, following his profile URL.
    let saved = ada.cli(&["data", "set", "contacts", "name=Bobby", &format!("profileUrl={bob_url}")], "");
    let id = saved.trim().rsplit(' ').next().unwrap().to_owned();
    let shown =
        |home: &HostHome| -> Value { serde_json::from_str(&home.cli(&["data", "show", "contacts", &id], "")).unwrap() };
    ada.cli(&["sync"], "");
    let card = shown(&ada);
    assert_eq!(card["following"]["fields"]["displayName"], "Bob", "{card}");
    assert_eq!(card["following"]["profileUrl"], bob_url.as_str());
    assert_eq!(card["fields"]["name"], "Bobby", "the card stays as she typed it");
    assert!(card["following"].get("problem").is_none(), "{card}");
    let mut host = messaging(&ada);
    let listed = host.ok(EXTENSION_ORIGIN, "listItems", json!({"category": "contacts"}));
    assert_eq!(listed["following"][&id]["fields"]["displayName"], "Bob", "the options page gets it: {listed}");
    drop(host);

    // He changes it; she follows at her next sync.
    bob.cli(&["data", "set", "identity", "displayName=Rob"], "");
    ada.cli(&["sync"], "");
    assert_eq!(shown(&ada)["following"]["fields"]["displayName"], "Rob");

    // His server serves a part signed by another key: refused, and the card keeps what it had.
    let other = profile_core::public::ProfileKey::from_secret(&profile_core::Secret32::from_bytes([9; 32])).unwrap();
    server.publish_signed_by(&bob_url, BOB, PASSPHRASE, &other, json!({"displayName": "Mallory"}));
    let said = ada.cli(&["sync"], "");
    assert!(said.contains("0 read, 1 not"), "{said}");
    let card = shown(&ada);
    assert_eq!(card["following"]["fields"]["displayName"], "Rob", "{card}");
    assert!(card["following"]["problem"].as_str().unwrap().contains("another key"), "{card}");
    assert!(ada.cli(&["data", "list", "contacts"], "").contains("signed by another key"));
}
