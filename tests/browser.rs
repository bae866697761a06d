//! The real extension in a real headless Chromium, talking to the real `profile-host` on a
//! real Secret Service. Run through `scripts/with-keyring` (the README's test command does).
//!
//! Page calls store their settlement in a page global that the test polls, so the test can
//! click in the consent window meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use profile_core::server_api::{AccountCheck, ApiErrorCode, path};
use profile_core::{AccountGuid, Origin};
use profile_testkit::EXTENSION_ID;
use profile_testkit::browser::{Browser, DemoShop, Inspection, SHOP, assert_all_clean, serve, service_worker};
use profile_testkit::forms::{self, Corpus};
use profile_testkit::host::HostHome;
use profile_testkit::server::ProfileServer;
use serde_json::{Value, json};

/// The packaged extension this package's build script wrote (the test build, with its probe).
const EXTENSION_DIR: &str = env!("PROFILE_EXTENSION_DIR");

/// Chromium with the packaged extension, and the host installed into its profile unless not
/// `with_host`.
fn launch(with_host: bool) -> Browser {
    Browser::launch(Path::new(EXTENSION_DIR), with_host)
}

const ADA: &[&str] = &[
    "address",
    "set",
    "shipping",
    "--name",
    "Ada Lovelace",
    "--line1",
    "12 St James's Square",
    "--city",
    "London",
    "--postal-code",
    "SW1Y 4JH",
    "--country",
    "GB",
];

const CHALLENGE: &str = "AAECAwQFBgcICQoLDA0ODw";

#[test]
fn a_page_asks_the_person_decides_and_remembered_sites_are_answered_without_asking() {
    let mut browser = launch(true);
    browser.host(ADA);
    let url = serve(SHOP);
    let origin = url.trim_end_matches('/').to_owned();
    let page = browser.open(&url);
    assert_eq!(
        browser.eval(&page, "window.seen"),
        json!({"type": "object", "version": "1"}),
        "window.profile exists for the first inline script"
    );
    assert_eq!(browser.eval(&page, "window.ready || typeof window.profile.getAddress === 'function'"), json!(true));
    let mut seen = HashSet::new();
    // Each window and page as it is reached, in light and dark; asserted clean at the end.
    let mut looks = Vec::new();

    // Deny; the window shows the address itself.
    browser.start(&page, "r1", "window.profile.getAddress('shipping')");
    let (_, consent) = browser.consent(&mut seen);
    looks.push(browser.inspect(&consent, "consent-shipping"));
    assert_eq!(
        browser.eval(&consent, "document.getElementById('headline').textContent"),
        json!(format!("{} wants your shipping address", origin.trim_start_matches("http://")))
    );
    assert_eq!(
        browser.eval(&consent, "document.getElementById('address').innerText.split('\\n')"),
        json!(["Ada Lovelace", "12 St James's Square", "London", "SW1Y 4JH", "United Kingdom"]),
        "the address as a postal card, in the country's order, the country named"
    );
    assert_eq!(browser.eval(&consent, "document.getElementById('allow').textContent"), json!("Share address"));
    assert_eq!(browser.eval(&consent, "document.activeElement.id"), json!("deny"), "keyboard focus starts on deny");
    assert_eq!(
        browser.eval(&consent, "document.getElementById('app-row').hidden"),
        json!(true),
        "a site whose .well-known document is not JSON shows only its origin"
    );
    browser.click_after(&consent, 600, "document.getElementById('deny').click()");
    assert_eq!(browser.settlement(&page, "r1")["code"], "user_denied");

    // Closing the window is a deny; a second call meanwhile is busy.
    browser.start(&page, "r2", "window.profile.getAddress('shipping')");
    let (target, _) = browser.consent(&mut seen);
    browser.start(&page, "r3", "window.profile.getDeviceId()");
    assert_eq!(browser.settlement(&page, "r3")["code"], "busy");
    browser.call(None, "Target.closeTarget", json!({"targetId": target}));
    assert_eq!(browser.settlement(&page, "r2")["code"], "user_denied");

    // Escape denies, from the keyboard.
    browser.start(&page, "r2b", "window.profile.getAddress('shipping')");
    let (_, consent) = browser.consent(&mut seen);
    browser.click_after(
        &consent,
        600,
        "document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}))",
    );
    assert_eq!(browser.settlement(&page, "r2b")["code"], "user_denied");

    // Clicks in the first 500 ms do not count; allow with remember.
    browser.start(&page, "r4", "window.profile.getAddress('shipping')");
    let (_, consent) = browser.consent(&mut seen);
    browser.eval(&consent, "document.getElementById('allow').click()");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(browser.eval(&page, "window.r4"), Value::Null, "an early click is ignored");
    assert_eq!(browser.eval(&consent, "document.getElementById('too-soon').hidden"), json!(false), "and says so");
    // Only the consent window decides: another of the extension's pages cannot.
    let prompt_id = browser.eval(&consent, "location.hash.slice(1)").as_str().unwrap().to_owned();
    let decide = format!(
        "chrome.runtime.sendMessage({{consent: {{id: '{prompt_id}', allow: true}}}}).then(a => a === undefined ? 'ignored' : a, () => 'ignored')"
    );
    let forger = browser.open_own_page("options.html");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(browser.eval_async(&forger, &decide), json!("ignored"));
    browser.eval(&forger, "window.close(); true");
    assert_eq!(browser.eval(&page, "window.r4"), Value::Null, "a decision from another page is ignored");
    browser.click_after(
        &consent,
        500,
        "document.getElementById('remember').click(); document.getElementById('allow').click()",
    );
    assert_eq!(browser.settlement(&page, "r4")["value"]["name"], "Ada Lovelace");
    // A decision counts once: the same window's id, opened again, decides nothing.
    let replay = browser.open(&format!("chrome-extension://{EXTENSION_ID}/consent.html#{prompt_id}"));
    browser.wait_for(&replay, "document.body.dataset.state === 'expired' && !document.getElementById('close').hidden");
    looks.push(browser.inspect(&replay, "consent-expired"));
    assert_eq!(browser.eval_async(&replay, &decide), json!({"gone": true}));
    for target in browser.targets() {
        if target["url"].as_str().is_some_and(|url| url.ends_with(&prompt_id)) {
            browser.call(None, "Target.closeTarget", json!({"targetId": target["targetId"]}));
        }
    }

    // Remembered: answered with no window.
    browser.start(&page, "r5", "window.profile.getAddress('shipping')");
    assert!(browser.no_consent_window_opens(&seen));
    assert_eq!(browser.settlement(&page, "r5")["value"]["city"], "London");
    // Another kind of request still asks; the window says nothing is saved.
    browser.start(&page, "r6", "window.profile.getAddress('billing')");
    let (_, consent) = browser.consent(&mut seen);
    looks.push(browser.inspect(&consent, "consent-billing-none-saved"));
    assert!(
        browser
            .eval(&consent, "document.getElementById('note').textContent")
            .as_str()
            .unwrap()
            .contains("no saved billing")
    );
    browser.click_after(&consent, 600, "document.getElementById('allow').click()");
    assert_eq!(browser.settlement(&page, "r6")["code"], "not_found");

    // Every other page method, end to end.
    browser.start(&page, "d1", "window.profile.getDeviceId()");
    let shown = allow_inspected(&mut browser, &mut seen, &mut looks, "consent-device-id");
    let device_id = browser.settlement(&page, "d1")["value"].as_str().unwrap().to_owned();
    assert!(shown.as_array().unwrap().contains(&json!(device_id)), "the window shows the id that leaves: {shown}");
    browser.start(&page, "u1", "window.profile.getProfileUrl()");
    allow_inspected(&mut browser, &mut seen, &mut looks, "consent-profile-url");
    assert_eq!(browser.settlement(&page, "u1")["code"], "not_paired");
    browser.start(&page, "s1", &format!("window.profile.signUp({{challenge: '{CHALLENGE}', accountGuid: 'acct-7'}})"));
    browser.allow(&mut seen);
    let signed = browser.settlement(&page, "s1")["value"].clone();
    assert_eq!((signed["accountGuid"].clone(), signed["deviceId"].clone()), (json!("acct-7"), json!(device_id)));
    assert_eq!(signed["publicKey"]["kty"], "EC");
    browser.start(&page, "l1", &format!("window.profile.login({{challenge: '{CHALLENGE}'}})"));
    let (_, consent) = browser.consent(&mut seen);
    looks.push(browser.inspect(&consent, "consent-login"));
    assert_eq!(
        browser.eval(
            &consent,
            "[document.querySelector('#items .title').textContent, document.querySelector('#ids dd').textContent]"
        ),
        json!(["Proof that you hold this site's sign-in key", "acct-7"]),
        "what leaves in words, the account id behind Details"
    );
    browser.click_after(
        &consent,
        600,
        "document.getElementById('remember').click(); document.getElementById('allow').click()",
    );
    let login = browser.settlement(&page, "l1")["value"].clone();
    assert_eq!(login["accountGuid"], "acct-7");
    assert!(login["assertion"]["signature"].as_str().is_some_and(|s| s.len() == 86));

    // Bad calls never reach a prompt.
    browser.start(&page, "r7", "window.profile.getAddress('home')");
    assert_eq!(browser.settlement(&page, "r7")["code"], "invalid_request");

    // The toolbar popup shows the site's account and what it gets without asking.
    let popup = browser.open_popup();
    browser.wait_for(&popup, "document.body.dataset.loaded === 'true'");
    looks.push(browser.inspect(&popup, "popup"));
    let facts = browser.eval(&popup, "document.getElementById('facts').innerText");
    assert!(facts.as_str().unwrap().contains("You have an account here"), "{facts}");
    assert!(facts.as_str().unwrap().contains("Shipping address, Logging you in"), "{facts}");

    // The options page lists it all; forgetting the site there makes it ask again.
    let options = browser.open_own_page("options.html");
    looks.push(browser.inspect(&options, "options-filled"));
    let text = browser.eval(&options, "document.body.innerText").as_str().unwrap().to_owned();
    for expected in
        ["Ada Lovelace", "Shipping address, Logging you in", "Shared your shipping address with", "No passphrase"]
    {
        assert!(text.contains(expected), "the options page lacks {expected:?}:\n{text}");
    }
    browser.eval(&options, "document.querySelector('#grants button.revoke').click()");
    browser.wait_for(&options, "document.querySelector('#grants button.revoke') === null");
    browser.start(&page, "r8", "window.profile.getAddress('shipping')");
    let (_, consent) = browser.consent(&mut seen);
    browser.click_after(&consent, 600, "document.getElementById('deny').click()");
    assert_eq!(browser.settlement(&page, "r8")["code"], "user_denied");

    // An account removed in the options page (after the person confirms) is gone, and the
    // site's remembered login with it.
    browser.start(&page, "s2", &format!("window.profile.signUp({{challenge: '{CHALLENGE}', accountGuid: 'acct-8'}})"));
    browser.allow(&mut seen);
    assert_eq!(browser.settlement(&page, "s2")["value"]["accountGuid"], "acct-8");
    browser.reload(&options);
    browser.wait_for(&options, "document.body.dataset.loaded === 'true' && document.querySelectorAll('#accounts button.remove-account').length === 2");
    browser.eval(
        &options,
        "window.confirm = () => true; [...document.querySelectorAll('#accounts tbody tr')].find(r => r.innerText.includes('acct-8')).querySelector('button.remove-account').click(); true",
    );
    browser.wait_for(&options, "document.querySelectorAll('#accounts button.remove-account').length === 1");
    assert!(!browser.host(&["account", "list"]).contains("acct-8"));

    // An address added in the options page, in its country's form (chosen from the host's
    // address data: the UK calls the city "Post town"), saves through the host and becomes the
    // default for billing, which had none; the shipping one stays.
    browser.eval(&options, "document.getElementById('add-address').click(); true");
    browser.wait_for(
        &options,
        "Boolean(document.getElementById('new-line1')) && document.getElementById('new-country').options.length > 200",
    );
    browser.eval(
        &options,
        "const c = document.getElementById('new-country'); c.value = 'GB'; c.dispatchEvent(new Event('change')); true",
    );
    browser.wait_for(&options, "document.querySelector('label[for=new-city]').textContent.startsWith('Post town')");
    looks.push(browser.inspect(&options, "options-address-form"));
    browser.eval(
        &options,
        r#"(() => { const f = document.getElementById('form-new');
            Object.entries({label: 'Dorset Street', name: 'Ada King', line1: '1 Dorset St', city: 'London', postalCode: 'w1u 4eg'})
              .forEach(([k, v]) => f.elements[k].value = v);
            f.requestSubmit(); return true; })()"#,
    );
    browser.wait_for(
        &options,
        "[...document.querySelectorAll('article.address')].some(a => a.dataset.default === 'billing' && a.innerText.includes('W1U 4EG'))",
    );
    let billing = browser.host(&["address", "show", "billing"]);
    assert!(billing.contains("Ada King") && billing.contains("W1U 4EG"), "{billing}");
    assert!(browser.host(&["address", "show", "shipping"]).contains("Ada Lovelace"));
    looks.push(browser.inspect(&options, "options-address-book"));
    // "Use for shipping" moves the shipping default to it; removing it, once the person
    // confirms, leaves shipping to none and the other address as it was.
    let new_card = "[...document.querySelectorAll('article.address')].find(a => a.innerText.includes('W1U 4EG'))";
    browser.eval(&options, &format!("{new_card}.querySelector('button.make-default').click(); true"));
    browser.wait_for(&options, &format!("{new_card}.dataset.default === 'shipping billing'"));
    assert!(browser.host(&["address", "show", "shipping"]).contains("Ada King"));
    browser.eval(
        &options,
        &format!("window.confirm = () => true; {new_card}.querySelector('button.danger').click(); true"),
    );
    browser.wait_for(&options, "document.querySelectorAll('article.address').length === 1");
    let list = browser.host(&["address", "list"]);
    assert!(!list.contains("Dorset") && !list.contains("(default for"), "{list}");
    let first = list.split_whitespace().next().unwrap_or_default().to_owned();
    browser.host(&["address", "default", &first, "shipping"]);
    assert!(browser.host(&["address", "show", "shipping"]).contains("Ada Lovelace"));

    let log = browser.host(&["log"]);
    assert_eq!(log.matches("getAddress  disclosed").count(), 2, "{log}");
    assert!(log.contains(&format!("{origin}  getAddress  not_found")), "{log}");
    assert!(log.contains(&format!("{origin}  login  disclosed")), "{log}");

    // A first passphrase set from the options page's first-run card, typed twice: two that
    // differ are refused and nothing is set.
    browser.reload(&options);
    browser
        .wait_for(&options, "document.body.dataset.loaded === 'true' && !document.getElementById('first-run').hidden");
    browser.eval(&options, "document.querySelector('#steps li:first-child button').click(); true");
    browser.wait_for(&options, "!document.getElementById('passphrase-form').hidden");
    looks.push(browser.inspect(&options, "options-set-passphrase"));
    let set_passphrase = |browser: &mut Browser, confirm: &str| {
        let script = format!(
            "document.getElementById('new-passphrase').value = 'correct horse battery';
             document.getElementById('confirm-passphrase').value = {};
             document.getElementById('passphrase-form').requestSubmit(); true",
            json!(confirm)
        );
        browser.eval(&options, &script);
    };
    set_passphrase(&mut browser, "correct horse batterz");
    browser.wait_for(&options, "!document.getElementById('passphrase-error').hidden");
    assert!(browser.host(&["status"]).contains("passphrase   not set"), "two passphrases that differ set nothing");
    set_passphrase(&mut browser, "correct horse battery");
    // Lock and unlock from the options page; a locked profile answers `locked` with no window.
    browser
        .wait_for(&options, "document.body.dataset.loaded === 'true' && !document.getElementById('lock-row').hidden");
    browser.eval(&options, "document.getElementById('lock').click()");
    browser.wait_for(&options, "!document.getElementById('unlock-form').hidden");
    looks.push(browser.inspect(&options, "options-locked"));
    browser.start(&page, "k1", "window.profile.login({challenge: 'AAECAwQFBgcICQoLDA0ODw'})");
    assert_eq!(browser.settlement(&page, "k1")["code"], "locked");
    assert!(browser.no_consent_window_opens(&seen));
    browser.eval(
        &options,
        "document.getElementById('passphrase').value = 'not it'; document.getElementById('unlock-form').requestSubmit()",
    );
    browser.wait_for(&options, "!document.getElementById('status-error').hidden");
    assert_eq!(
        browser.eval(&options, "document.getElementById('status-error').textContent"),
        json!("That passphrase is not right.")
    );
    browser.eval(
        &options,
        "document.getElementById('passphrase').value = 'correct horse battery'; document.getElementById('unlock-form').requestSubmit()",
    );
    browser.wait_for(&options, "document.getElementById('lock-state').textContent === 'Unlocked'");
    browser.start(&page, "k2", "window.profile.login({challenge: 'AAECAwQFBgcICQoLDA0ODw'})");
    browser.allow(&mut seen);
    assert_eq!(browser.settlement(&page, "k2")["value"]["accountGuid"], "acct-7");
    assert_all_clean(&looks);
}

/// Inspects the next consent window as `name`, then allows its request; the lines it showed.
fn allow_inspected(
    browser: &mut Browser,
    seen: &mut HashSet<String>,
    looks: &mut Vec<Inspection>,
    name: &str,
) -> Value {
    let (_, consent) = browser.consent(seen);
    looks.push(browser.inspect(&consent, name));
    let items = browser.shown(&consent);
    browser.click_after(&consent, 600, "document.getElementById('allow').click()");
    items
}

#[test]
fn without_the_host_installed_a_call_fails_with_host_unavailable() {
    let mut browser = launch(false);
    // Called as soon as the page loads in a browser that just started: the service worker may
    // not be running yet, and the call must still arrive.
    let page = browser.open(&serve(SHOP));
    browser.start(&page, "r", "window.profile.getDeviceId()");
    assert_eq!(browser.settlement(&page, "r")["code"], "host_unavailable");
    assert!(browser.no_consent_window_opens(&HashSet::new()), "nothing to ask about without a host");
    let options = browser.open_own_page("options.html");
    let look = browser.inspect(&options, "options-no-host");
    assert_eq!(
        browser.eval(
            &options,
            "[document.getElementById('host-missing').hidden, document.getElementById('host-command').textContent]"
        ),
        json!([false, "profile-host install"]),
        "the host-missing card names the command that installs it"
    );
    assert_eq!(
        browser.eval(&options, "document.getElementById('status-card').hidden"),
        json!(true),
        "no placeholders for what only the host knows"
    );

    // The inspection itself tells a clean page from a faulty one, in each colour scheme, and
    // leaves the page in the browser's own scheme.
    let plain = browser.open(&serve(PLAIN));
    let clean = browser.inspect(&plain, "kit-clean");
    assert!(clean.is_clean(), "{clean}");
    let faulty = browser.open(&serve(FAULTY));
    let found = browser.inspect(&faulty, "kit-faulty");
    let problems = found.problems();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems[0].contains("kit-faulty (light") && problems[0].contains("body text is 12px"), "{problems:#?}");
    assert!(problems[1].contains("kit-faulty (dark") && problems[1].contains("body text is 12px"), "{problems:#?}");
    assert!(
        problems[2].contains("kit-faulty (dark")
            && problems[2].contains("color-contrast (serious)")
            && problems[2].contains("#dim"),
        "only the dark scheme's contrast fails: {problems:#?}"
    );
    assert_eq!(browser.eval(&faulty, "matchMedia('(prefers-color-scheme: dark)').matches"), json!(false));
    assert!(found.looks[1].screenshot.exists());

    look.assert_clean();
}

/// A page axe finds nothing wrong with.
const PLAIN: &str = "<!doctype html><html lang=en><title>Plain</title><style>body { font-size: 16px }</style>\
<main><h1>Plain</h1><p>Black on white.</p></main>";

/// Small print, and grey on grey in dark mode only.
const FAULTY: &str = "<!doctype html><html lang=en><title>Faulty</title><style>body { font-size: 12px }\
@media (prefers-color-scheme: dark) { body { background: #333 } #dim { color: #555 } }</style>\
<main><h1>Faulty</h1><p id=dim>Grey on grey.</p></main>";

#[test]
fn a_device_paired_with_a_ticket_in_the_options_page_opens_the_vault_with_the_passphrase() {
    const EMAIL: &str = "ada@example.org";
    let server = ProfileServer::start(EMAIL, "correct horse battery");
    // Another device of the same person has already put an address into the vault.
    let laptop = HostHome::new();
    laptop.cli(&["pair", &server.profile_url, "--email", EMAIL], "correct horse battery\n");
    let address = json!({"name": "Ada Lovelace", "line1": "9 Vault Lane", "city": "Paris", "postalCode": "75001", "country": "FR"});
    assert!(laptop.cli(&["address", "set", "shipping", "--json", "-"], &address.to_string()).contains("synced"));

    let mut browser = launch(true);
    let options = browser.open_own_page("options.html");
    // A fresh host with nothing saved.
    let mut looks = vec![browser.inspect(&options, "options-empty")];
    browser.eval(
        &options,
        "document.getElementById('show-pair').click(); document.getElementById('pair-switch').click(); true",
    );
    let ticket = server.admin(&["issue-ticket", "--email", EMAIL], "");
    let fill = format!(
        "document.getElementById('pair-url').value = {}; document.getElementById('pair-ticket').value = {}; \
         document.getElementById('pair-submit').click(); true",
        json!(server.profile_url),
        json!(ticket.trim())
    );
    browser.eval(&options, &fill);
    browser.wait_for(
        &options,
        "!document.getElementById('vault-note').hidden && !document.getElementById('unlock-form').hidden",
    );
    browser.wait_for(&options, "document.querySelectorAll('#devices tbody tr').length === 2");
    looks.push(browser.inspect(&options, "options-ticket-paired"));
    assert_eq!(browser.eval(&options, "document.getElementById('unlock').textContent"), json!("Open profile"));
    assert!(
        document_hidden(&mut browser, &options, "addresses-card")
            && document_hidden(&mut browser, &options, "accounts-card"),
        "no empty address book shown before the vault opens"
    );

    let open_with = |browser: &mut Browser, passphrase: &str| {
        let script = format!(
            "document.getElementById('passphrase').value = {}; document.getElementById('unlock').click(); true",
            json!(passphrase)
        );
        browser.eval(&options, &script);
    };
    open_with(&mut browser, "wrong horse battery");
    browser.wait_for(&options, "!document.getElementById('status-error').hidden");
    assert_eq!(
        browser.eval(&options, "document.getElementById('status-error').textContent"),
        json!("That passphrase is not right.")
    );
    open_with(&mut browser, "correct horse battery");
    browser.wait_for(&options, "document.getElementById('lock-state').textContent === 'Unlocked'");
    assert!(
        document_hidden(&mut browser, &options, "vault-note") && document_hidden(&mut browser, &options, "unlock-form")
    );
    browser.wait_for(&options, "document.getElementById('addresses').innerText.includes('9 Vault Lane')");
    looks.push(browser.inspect(&options, "options-vault-open"));
    assert_all_clean(&looks);
}

fn document_hidden(browser: &mut Browser, session: &str, id: &str) -> bool {
    browser.eval(session, &format!("document.getElementById('{id}').hidden")) == json!(true)
}

const FORGER: &str = "<!doctype html><title>Forger</title><h1>Forger</h1><script>\
window.seen = {type: typeof window.profile};\
window.direct = !!(window.chrome && chrome.runtime && chrome.runtime.sendMessage);\
window.forged = null;\
addEventListener('message', e => { if (e.data && e.data.__personalProfile === 'answer' && e.data.id === 999) window.forged = e.data.settlement; });\
window.forge = () => postMessage({__personalProfile: 'call', id: 999, method: 'getAddress', params: 'shipping',\
  origin: 'https://bank.example', sender: {origin: 'https://bank.example', url: 'https://bank.example/'}}, '*');\
</script>";

#[test]
fn a_page_cannot_speak_for_another_origin_and_plain_http_sites_get_nothing() {
    let mut browser = launch(true);
    browser.host(ADA);
    let url = serve(FORGER);
    let origin = url.trim_end_matches('/').to_owned();
    let page = browser.open(&url);
    assert_eq!(browser.eval(&page, "window.direct"), json!(false), "a page cannot message the extension directly");

    // A message naming another origin is answered for the page's own origin, or not at all.
    let mut seen = HashSet::new();
    browser.eval(&page, "window.forge(); true");
    let (_, consent) = browser.consent(&mut seen);
    assert_eq!(browser.eval(&consent, "document.getElementById('site').textContent"), json!(origin));
    assert_eq!(browser.eval(&consent, "document.getElementById('frame-warning').hidden"), json!(true));
    browser.click_after(&consent, 600, "document.getElementById('allow').click()");
    browser.wait_for(&page, "window.forged !== null");
    assert_eq!(browser.eval(&page, "window.forged.status"), json!("resolved"));
    let log = browser.host(&["log"]);
    assert!(!log.contains("bank.example"), "{log}");
    assert!(log.contains(&format!("{origin}  getAddress  disclosed")), "{log}");

    // Plain http on a name that is not loopback: no API, and a forged call goes nowhere.
    let insecure = url.replace("localhost", "insecure.test");
    let page = browser.open(&insecure);
    assert_eq!(browser.eval(&page, "window.seen.type"), json!("undefined"));
    browser.eval(&page, "window.forge(); true");
    assert!(browser.no_consent_window_opens(&seen));
    assert_eq!(browser.eval(&page, "window.forged"), Value::Null);
    assert_eq!(browser.host(&["log"]), log, "nothing more was asked of the host");

    // A page sends a 2 MiB call while another tab's call waits for the person: the big one is
    // refused before it reaches the host, and the other is answered by the same host process.
    let waiting = browser.open(&url);
    browser.start(&waiting, "w1", "window.profile.getAddress('shipping')");
    let (_, consent) = browser.consent(&mut seen);
    let hosts = native_hosts(&browser.home);
    assert_eq!(hosts.len(), 1, "{hosts:?}");
    let flooder = browser.open(&url.replace("localhost", "127.0.0.1"));
    browser.start(
        &flooder,
        "f1",
        &format!(
            "window.profile.signUp({{challenge: '{CHALLENGE}', accountGuid: 'acct-1', appId: 'x'.repeat(2 << 20)}})"
        ),
    );
    let refused = browser.settlement(&flooder, "f1");
    assert_eq!(refused["code"], "invalid_request", "{refused}");
    browser.start(
        &flooder,
        "f2",
        &format!("window.profile.signUp({{challenge: '{CHALLENGE}', accountGuid: 'acct-1', appId: 'x'.repeat(300)}})"),
    );
    assert_eq!(browser.settlement(&flooder, "f2")["code"], "invalid_request", "a field over its bound");
    browser.click_after(&consent, 600, "document.getElementById('allow').click()");
    assert_eq!(browser.settlement(&waiting, "w1")["value"]["name"], "Ada Lovelace");
    assert_eq!(native_hosts(&browser.home), hosts, "one host process throughout");

    // One consent window at a time, whichever site asks.
    browser.start(&waiting, "w2", "window.profile.getAddress('shipping')");
    let (_, consent) = browser.consent(&mut seen);
    browser.start(&flooder, "b1", "window.profile.getDeviceId()");
    assert_eq!(browser.settlement(&flooder, "b1")["code"], "busy", "a second site's window would stack on the first");

    // A window hidden and shown again is new to the person: the 500 ms start over. (Headless
    // Chromium stacks no windows, so minimizing stands for being covered.)
    std::thread::sleep(Duration::from_millis(700));
    let window_id = browser.eval_async(&consent, "chrome.windows.getCurrent().then(w => w.id)");
    let worker = service_worker(&mut browser);
    let worker = browser.attach(&worker);
    browser
        .eval_async(&worker, &format!("chrome.windows.update({window_id}, {{state: 'minimized'}}).then(() => true)"));
    browser.wait_for(&consent, "document.visibilityState === 'hidden'");
    browser.eval_async(
        &worker,
        &format!("chrome.windows.update({window_id}, {{state: 'normal', focused: true}}).then(() => true)"),
    );
    browser.wait_for(&consent, "document.visibilityState === 'visible'");
    browser.eval(&consent, "document.getElementById('allow').click()");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(browser.eval(&waiting, "window.w2"), Value::Null, "a click right after the window came back counted");
    browser.click_after(&consent, 600, "document.getElementById('allow').click()");
    assert_eq!(browser.settlement(&waiting, "w2")["value"]["name"], "Ada Lovelace");
}

/// The pids of the `profile-host` processes this test's Chromium started for the extension.
fn native_hosts(home: &Path) -> Vec<u32> {
    let marker = format!("PROFILE_HOST_HOME={}\0", home.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline);
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            let ours = String::from_utf8_lossy(&environ).contains(&marker);
            (ours
                && cmdline.contains("profile-host")
                && cmdline.contains(&format!("chrome-extension://{EXTENSION_ID}")))
            .then_some(pid)
        })
        .collect()
}

#[test]
fn a_host_killed_or_a_worker_stopped_mid_session_loses_no_decision() {
    let mut browser = launch(true);
    let page = browser.open(&serve(SHOP));
    let mut seen = HashSet::new();
    browser.start(&page, "r1", "window.profile.getDeviceId()");
    let (_, consent) = browser.consent(&mut seen);
    browser.click_after(
        &consent,
        600,
        "document.getElementById('remember').click(); document.getElementById('allow').click()",
    );
    let id = browser.settlement(&page, "r1")["value"].clone();
    assert!(id.is_string());

    let before = native_hosts(&browser.home);
    assert_eq!(before.len(), 1, "one persistent host process, not one per request: {before:?}");
    Command::new("kill").arg("-9").arg(before[0].to_string()).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while native_hosts(&browser.home).contains(&before[0]) {
        assert!(Instant::now() < deadline, "the host did not die");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));

    browser.start(&page, "r2", "window.profile.getDeviceId()");
    assert_eq!(browser.settlement(&page, "r2")["value"], id);
    let after = native_hosts(&browser.home);
    assert!(after.len() == 1 && after[0] != before[0], "a new host answered: {after:?}");

    // The service worker stops while a prompt is open: the page hears so at once, and the
    // next worker closes the orphaned window and answers the next call.
    browser.start(&page, "r3", "window.profile.getAddress('billing')");
    let (orphan, _) = browser.consent(&mut seen);
    let worker = service_worker(&mut browser);
    browser.call(None, "Target.closeTarget", json!({"targetId": worker}));
    let failed = browser.settlement(&page, "r3");
    assert_eq!(failed["code"], "internal");
    assert!(failed["message"].as_str().unwrap().contains("restarted"), "{failed}");
    browser.start(&page, "r4", "window.profile.getDeviceId()");
    assert_eq!(browser.settlement(&page, "r4")["value"], id);
    let deadline = Instant::now() + Duration::from_secs(10);
    while browser.targets().iter().any(|t| t["targetId"] == orphan.as_str()) {
        assert!(Instant::now() < deadline, "the orphaned consent window stayed open");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A Rust panic inside the WASM (forced by the test build's probe) rejects that call with
    // `internal`, and the next call is answered by a fresh instance of the module.
    browser.eval(
        &page,
        "window.probed = null; addEventListener('message', e => { if (e.data && e.data.__personalProfile === 'answer' \
         && e.data.id === 4242) window.probed = e.data.settlement; }); \
         postMessage({__personalProfile: 'call', id: 4242, method: 'panicProbe', params: null}, '*'); true",
    );
    browser.wait_for(&page, "window.probed !== null");
    assert_eq!(
        browser.eval(&page, "window.probed.code"),
        json!("internal"),
        "{}",
        browser.eval(&page, "window.probed")
    );
    browser.start(&page, "r5", "window.profile.getDeviceId()");
    assert_eq!(browser.settlement(&page, "r5")["value"], id, "the call after a panic is answered");
}

#[test]
fn a_frame_of_another_site_is_named_with_the_page_around_it_and_an_unanswered_prompt_times_out() {
    let mut browser = launch(true);
    let frame = serve(
        "<!doctype html><p>payment frame</p><script>window.profile.getDeviceId().then(\
         v => parent.postMessage({frame: 'value'}, '*'), e => parent.postMessage({frame: e.code}, '*'));</script>",
    )
    .replace("localhost", "127.0.0.1");
    let top = serve(format!(
        "<!doctype html><title>Shop with a frame</title><h1>Checkout</h1><iframe src=\"{frame}\"></iframe><script>\
         window.frameResult = null; addEventListener('message', e => {{ if (e.data && e.data.frame) window.frameResult = e.data.frame; }});</script>"
    ));
    let page = browser.open(&top);
    let mut seen = HashSet::new();
    let (target, consent) = browser.consent(&mut seen);
    let look = browser.inspect(&consent, "consent-frame");
    assert_eq!(
        browser.eval(&consent, "document.getElementById('site').textContent"),
        json!(frame.trim_end_matches('/'))
    );
    assert_eq!(
        browser.eval(&consent, "document.getElementById('top-site').textContent"),
        json!(top.trim_end_matches('/'))
    );
    assert_eq!(browser.eval(&consent, "document.getElementById('frame-warning').hidden"), json!(false));

    // Nobody answers: after 60 s the call fails with `timeout` and the window goes away.
    let deadline = Instant::now() + Duration::from_secs(75);
    while browser.eval(&page, "window.frameResult") == Value::Null {
        assert!(Instant::now() < deadline, "the prompt never timed out");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(browser.eval(&page, "window.frameResult"), json!("timeout"));
    // The page is answered first; the window closes right after (a moment later on a busy machine).
    let deadline = Instant::now() + Duration::from_secs(5);
    while browser.targets().iter().any(|t| t["targetId"] == target.as_str()) {
        assert!(Instant::now() < deadline, "the window was closed");
        std::thread::sleep(Duration::from_millis(100));
    }
    look.assert_clean();
}

#[test]
fn the_firefox_build_and_the_store_zips_carry_the_same_extension() {
    let packages = Path::new(EXTENSION_DIR).parent().unwrap();
    let manifest = |browser: &str| -> Value {
        serde_json::from_slice(&std::fs::read(packages.join(browser).join("manifest.json")).unwrap()).unwrap()
    };
    let (chromium, firefox) = (manifest("chromium"), manifest("firefox"));
    assert!(chromium["key"].is_string());
    assert_eq!(chromium["background"]["service_worker"], "background.js");
    assert_eq!(firefox["browser_specific_settings"]["gecko"]["id"], "profile@personalprofile.org");
    assert_eq!(firefox["background"]["scripts"], json!(["background.js"]));
    assert!(firefox.get("key").is_none());
    for member in ["permissions", "content_scripts", "content_security_policy", "action", "options_ui", "commands"] {
        assert_eq!(chromium[member], firefox[member], "{member} differs");
    }
    assert_eq!(chromium["permissions"], json!(["nativeMessaging", "storage", "activeTab", "contextMenus"]));
    assert_eq!(chromium["commands"]["_execute_action"]["suggested_key"]["default"], "Alt+Shift+F");
    let fill = chromium["content_scripts"].as_array().unwrap().iter().find(|s| s["js"] == json!(["content-fill.js"]));
    assert_eq!(
        (fill.unwrap()["all_frames"].clone(), fill.unwrap()["match_about_blank"].clone()),
        (json!(true), json!(true))
    );

    for browser in ["chromium", "firefox"] {
        let file = std::fs::File::open(packages.join(format!("personal-profile-{browser}.zip"))).unwrap();
        let mut zip = zip::ZipArchive::new(file).unwrap();
        let mut names: Vec<String> = zip.file_names().map(|name| name.unwrap().into_owned()).collect();
        names.sort();
        assert!(
            names.contains(&"pkg/profile_extension_bg.wasm".to_owned()) && names.contains(&"options.html".to_owned())
        );
        for name in &names {
            let mut packed = Vec::new();
            std::io::Read::read_to_end(&mut zip.by_name(name).unwrap(), &mut packed).unwrap();
            let unpacked = std::fs::read(packages.join(browser).join(name)).unwrap();
            if name == "manifest.json" {
                let packed: Value = serde_json::from_slice(&packed).unwrap();
                assert!(packed.get("key").is_none(), "the store assigns the id: no `key` in {browser}'s zip");
                assert_eq!(packed["name"], "Personal Profile");
            } else {
                assert_eq!(packed, unpacked, "{browser}: {name}");
            }
        }
    }
}

#[test]
fn a_shopper_signs_up_logs_in_with_one_click_and_fills_the_checkout() {
    const EMAIL: &str = "ada@example.org";
    let server = ProfileServer::start(EMAIL, "correct horse battery");
    let mut browser = launch(true);
    browser.host(ADA);

    // Pairing from the options page, as a person does it: a wrong passphrase is refused and
    // said so, the right one pairs.
    let options = browser.open_own_page("options.html");
    let mut looks = Vec::new();
    browser
        .wait_for(&options, "document.body.dataset.loaded === 'true' && !document.getElementById('pair-row').hidden");
    browser.eval(&options, "document.getElementById('show-pair').click(); true");
    let fill = format!(
        "document.getElementById('pair-url').value = {url}; document.getElementById('pair-email').value = {EMAIL:?}; \
         document.getElementById('pair-passphrase').value = 'wrong horse battery'; true",
        url = json!(server.profile_url),
    );
    browser.eval(&options, &fill);
    looks.push(browser.inspect(&options, "options-pair"));
    browser.eval(&options, "document.getElementById('pair-submit').click(); true");
    browser.wait_for(&options, "!document.getElementById('pair-error').hidden");
    let refused = browser.eval(&options, "document.getElementById('pair-error').textContent");
    assert!(refused.as_str().unwrap().contains("did not accept"), "{refused}");
    assert_eq!(
        browser.eval(&options, "document.getElementById('pair-passphrase').value"),
        json!(""),
        "the passphrase is not kept"
    );
    browser.eval(&options, "document.getElementById('pair-passphrase').value = 'correct horse battery'; document.getElementById('pair-submit').click(); true");
    browser.wait_for(
        &options,
        "!document.getElementById('unpair-row').hidden && document.getElementById('pair-form').hidden",
    );
    assert_eq!(browser.eval(&options, "document.getElementById('paired').textContent"), json!(server.profile_url));
    looks.push(browser.inspect(&options, "options-paired"));
    assert!(browser.host(&["status"]).contains(&server.profile_url), "the host is paired");

    // The devices card lists this device; another one, paired with a ticket, is signed out
    // from here.
    let rows = "[...document.querySelectorAll('#devices tbody tr')].map(r => r.innerText)";
    browser.wait_for(&options, "document.querySelectorAll('#devices tbody tr').length === 1");
    let listed = browser.eval(&options, rows);
    let error = browser.eval(&options, "document.getElementById('devices-error').textContent");
    assert!(listed[0].as_str().unwrap().contains("This device"), "{listed} {error}");
    let tablet = HostHome::new();
    let ticket = server.admin(&["issue-ticket", "--email", EMAIL], "");
    tablet.cli(&["pair", &server.profile_url, "--ticket", ticket.trim()], "");
    browser.reload(&options);
    browser.wait_for(
        &options,
        "document.body.dataset.loaded === 'true' && document.querySelectorAll('#devices button.revoke').length === 1",
    );
    looks.push(browser.inspect(&options, "options-devices"));
    browser.eval(&options, "document.querySelector('#devices button.revoke').click(); true");
    browser.wait_for(&options, "document.querySelectorAll('#devices button.revoke').length === 0");
    let listed = browser.eval(&options, rows);
    assert!(listed[1].as_str().unwrap().contains("Signed out"), "{listed}");
    looks.push(browser.inspect(&options, "options-devices-signed-out"));
    assert!(!tablet.try_cli(&["devices"], "").status.success(), "the signed-out tablet is refused by the server");

    let billing =
        json!({"name": "Ada Lovelace", "line1": "1 Bill Road", "city": "Lyon", "postalCode": "69001", "country": "FR"});
    browser.host_with_input(&["address", "set", "billing", "--json", "-"], &billing.to_string());
    let shop = DemoShop::start();
    let mut seen = HashSet::new();
    let page = browser.open(&format!("{}/", shop.origin));
    browser.screenshots(&page, "shop");
    let click = |browser: &mut Browser, id: &str| {
        browser.eval(&page, &format!("setTimeout(() => document.getElementById('{id}').click(), 0); true"));
    };
    let arrive = |browser: &mut Browser, path: &str| {
        browser.wait_for(&page, &format!("location.pathname === '{path}' && document.readyState === 'complete'"));
    };

    // Sign up: one consent, then the landing page, signed in.
    click(&mut browser, "sign-up");
    let (_, consent) = browser.consent(&mut seen);
    assert_eq!(
        browser.eval(&consent, "document.getElementById('headline').textContent"),
        json!(format!("Create an account at {}?", shop.origin.trim_start_matches("http://")))
    );
    assert_eq!(
        browser.eval(
            &consent,
            "[document.getElementById('app-row').hidden, document.getElementById('app-name').textContent]"
        ),
        json!([false, "Demo Shop"]),
        "the shop's .well-known name is shown beside its origin"
    );
    looks.push(browser.inspect(&consent, "consent-sign-up"));
    browser.click_after(&consent, 600, "document.getElementById('allow').click()");
    arrive(&mut browser, "/sign-up");
    assert_eq!(browser.eval(&page, "document.getElementById('landing').textContent"), json!("Welcome!"));
    assert!(
        browser
            .eval(&page, "document.getElementById('who').textContent")
            .as_str()
            .unwrap()
            .starts_with("Signed in as shop-")
    );
    browser.screenshots(&page, "shop-signed-up");

    // The shop asks the person's profile server, signing with the key in its registration,
    // whether the account is live: yes (once the host has registered it), not while the person
    // is locked down; a request with a forged signature is refused.
    let account_status = |browser: &mut Browser| {
        browser.start(&page, "accountStatus", "fetch('/api/account-status').then(r => r.json())");
        let settled = browser.settlement(&page, "accountStatus");
        settled.get("value").cloned().unwrap_or(settled)
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = account_status(&mut browser);
        if status == json!({"valid": true}) {
            break;
        }
        assert!(Instant::now() < deadline, "the profile server never vouched for the account: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    server.admin(&["lockdown", "--email", EMAIL], "");
    assert_eq!(account_status(&mut browser), json!({"valid": false}));
    server.admin(&["lockdown", "--email", EMAIL, "--lift"], "");
    assert_eq!(account_status(&mut browser), json!({"valid": true}));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let forged = AccountCheck {
        origin: Origin::parse(&shop.origin).unwrap(),
        account_guid: AccountGuid::try_from("shop-1".to_owned()).unwrap(),
        issued_at: now as i64,
    };
    let answer = server.post_signed(path::ACCOUNT_CHECK, &forged, &"A".repeat(86));
    assert_eq!(answer.code(), (401, ApiErrorCode::BadSignature), "{answer}");

    // Log out, then log in; remembering the site makes the next login one click.
    click(&mut browser, "logout");
    arrive(&mut browser, "/");
    assert_eq!(browser.eval(&page, "document.getElementById('who').textContent"), json!("Not signed in"));
    // Keep the answer the extension gives, to replay it below.
    // (window.profile is frozen; the page's own fetch of its answer is what can be watched.)
    browser.eval(&page, "const send = window.fetch; window.fetch = (url, init) => { if (url === '/api/login') sessionStorage.answer = init.body; return send(url, init); }; true");
    click(&mut browser, "log-in");
    let (_, consent) = browser.consent(&mut seen);
    browser.click_after(
        &consent,
        600,
        "document.getElementById('remember').click(); document.getElementById('allow').click()",
    );
    arrive(&mut browser, "/logged-in");
    assert_eq!(browser.eval(&page, "document.getElementById('landing').textContent"), json!("Welcome back"));
    click(&mut browser, "logout");
    arrive(&mut browser, "/");
    click(&mut browser, "log-in");
    arrive(&mut browser, "/logged-in");
    assert!(browser.no_consent_window_opens(&seen), "a remembered login asks nothing");
    browser.screenshots(&page, "shop-logged-in");

    // Forgetting the shop in the options page makes the next login ask again.
    let options = browser.open_own_page("options.html");
    browser.eval(&options, "document.querySelector('#grants button.revoke').click()");
    browser.wait_for(&options, "document.querySelector('#grants button.revoke') === null");
    click(&mut browser, "logout");
    arrive(&mut browser, "/");
    click(&mut browser, "log-in");
    let (_, consent) = browser.consent(&mut seen);
    browser.click_after(&consent, 600, "document.getElementById('allow').click()");
    arrive(&mut browser, "/logged-in");

    // The shop refuses the earlier login answer replayed, even with a fresh challenge.
    let replay = "fetch('/api/challenge', {method: 'POST', headers: {'content-type': 'application/json'}, body: '{\"purpose\":\"login\"}'})\
        .then(() => fetch('/api/login', {method: 'POST', headers: {'content-type': 'application/json'}, body: sessionStorage.answer}))\
        .then(async r => [r.status, (await r.json()).error])";
    browser.start(&page, "replay", replay);
    let replayed = browser.settlement(&page, "replay")["value"].clone();
    assert_eq!(replayed[0], 401, "{replayed}");

    // Checkout: each form filled from the profile after one consent.
    browser.eval(&page, "location.href = '/checkout'; true");
    arrive(&mut browser, "/checkout");
    click(&mut browser, "fill-shipping");
    let shown = browser.allow(&mut seen);
    assert_eq!(shown, json!(["Ada Lovelace", "12 St James's Square", "London", "SW1Y 4JH", "United Kingdom"]));
    browser.wait_for(&page, "document.getElementById('shipping-line1').value === \"12 St James's Square\"");
    click(&mut browser, "fill-billing");
    allow_inspected(&mut browser, &mut seen, &mut looks, "consent-billing");
    browser.wait_for(&page, "document.getElementById('billing-city').value === 'Lyon'");
    assert_eq!(browser.eval(&page, "document.getElementById('billing-postalCode').value"), json!("69001"));
    // The plain form beside them, which the shop never adapted, is filled from the toolbar.
    browser.call(Some(&page), "Page.bringToFront", json!({}));
    let popup = browser.open_popup();
    browser.wait_for(
        &popup,
        "document.body.dataset.loaded === 'true' && !document.getElementById('fill-shipping').disabled",
    );
    looks.push(browser.inspect(&popup, "popup-fill-shop"));
    browser.click_after(&popup, 600, "document.getElementById('fill-shipping').click()");
    browser.wait_for(&popup, "document.getElementById('fill-result').dataset.filled !== undefined");
    assert_eq!(
        browser.eval(&page, "['plain-name', 'plain-line1', 'plain-postal-code', 'plain-country'].map(id => document.getElementById(id).value)"),
        json!(["Ada Lovelace", "12 St James's Square", "SW1Y 4JH", "GB"])
    );
    browser.eval(&popup, "window.close(); true");
    browser.screenshots(&page, "shop-checkout");

    // The same shop reached at another origin: the assertion is made for that origin, and the
    // shop (which knows its own) refuses it.
    let mirror = browser.open(&format!("http://127.0.0.1:{}/", shop.port));
    browser.eval(&mirror, "setTimeout(() => document.getElementById('sign-up').click(), 0); true");
    let (_, consent) = browser.consent(&mut seen);
    browser.click_after(&consent, 600, "document.getElementById('allow').click()");
    browser.wait_for(&mirror, "document.getElementById('message').textContent !== ''");
    let message = browser.eval(&mirror, "document.getElementById('message').textContent");
    assert!(message.as_str().unwrap().contains("another origin"), "{message}");
    assert_eq!(browser.eval(&mirror, "location.pathname"), json!("/"));

    // Paired: the account made at the shop is in the profile's vault and registry.
    let status = browser.host(&["status"]);
    assert!(status.contains(&format!("{}  as shop-", shop.origin)), "{status}");

    // Unpairing from the options page stops the sync and keeps everything on this device.
    let options = browser.open_own_page("options.html");
    browser.eval(&options, "document.getElementById('unpair').click(); true");
    browser.wait_for(&options, "!document.getElementById('pair-row').hidden");
    let paired = browser.eval(&options, "document.getElementById('paired').textContent");
    assert!(paired.as_str().unwrap().starts_with("Not paired"), "{paired}");
    let status = browser.host(&["status"]);
    assert!(status.contains(&format!("{}  as shop-", shop.origin)), "the account stays: {status}");
    assert_all_clean(&looks);
}

#[test]
fn the_popup_fills_every_form_of_the_corpus_and_each_page_takes_the_values() {
    let mut browser = launch(true);
    let corpus = Corpus::start();
    let mut looks = Vec::new();
    let mut problems = Vec::new();
    // The popup's preview, looked at on three forms.
    let inspected = ["shopify.html", "german.html", "phishing.html"];
    for name in forms::forms() {
        let inspect =
            inspected.contains(&name.as_str()).then(|| format!("popup-fill-{}", name.trim_end_matches(".html")));
        let (filled, look) = forms::fill(&mut browser, &corpus, &name, inspect.as_deref());
        looks.extend(look);
        assert!(filled.fields.len() >= 4, "{name}: the harness reported {} fields", filled.fields.len());
        assert!(filled.results.iter().all(|(_, n)| *n > 0), "{name}: {:?}", filled.results);
        if name == "iframe-cross-origin.html" {
            assert!(
                filled.preview.contains("In a frame from 127.0.0.1"),
                "a frame of another origin is named before it is filled:\n{}",
                filled.preview
            );
        }
        if name == "phishing.html" {
            assert!(filled.preview.contains("cannot be seen: they are never filled"), "{}", filled.preview);
        }
        problems.extend(forms::problems(&filled));
    }
    assert!(problems.is_empty(), "{} field(s) not right:\n{}", problems.len(), problems.join("\n"));

    // Every fill is in the ledger, and the activity log says it in words.
    let log = browser.host(&["log"]);
    assert!(log.contains("fill  disclosed"), "{log}");
    let options = browser.open_own_page("options.html");
    let activity = browser.eval(&options, "document.body.innerText");
    assert!(
        activity.as_str().unwrap().contains("Filled your shipping address into a form on localhost:"),
        "{activity}"
    );

    // Any saved address fills a form: the popup offers each by its label, and the host answers
    // and records the one chosen.
    browser.host_with_input(
        &["address", "add", "--label", "Mum's", "--json", "-"],
        r#"{"name": "Emmy Noether", "line1": "Hauptstraße 5", "city": "Berlin", "postalCode": "10115", "country": "DE"}"#,
    );
    let page = browser.open(&corpus.url("table-layout.html"));
    let popup = browser.open_popup();
    browser
        .wait_for(&popup, "document.body.dataset.loaded === 'true' && !document.getElementById('fill-choice').hidden");
    browser.eval(
        &popup,
        "const s = document.getElementById('fill-address'); \
         s.value = [...s.options].find((o) => o.text.startsWith(\"Mum's\")).value; \
         s.dispatchEvent(new Event('change')); true",
    );
    browser.wait_for(&popup, "document.getElementById('fill-preview').innerText.includes('Emmy')");
    looks.push(browser.inspect(&popup, "popup-fill-choice"));
    forms::click_fill(&mut browser, &popup, "shipping");
    assert_eq!(browser.eval(&page, "document.querySelector('[name=f1]').value"), json!("Emmy"));
    forms::close(&mut browser, &popup);
    forms::close(&mut browser, &page);

    // A click in the first 500 ms after the buttons appear does not count.
    let page = browser.open(&corpus.url("table-layout.html"));
    let popup = browser.open_popup();
    browser.wait_for(
        &popup,
        "document.body.dataset.loaded === 'true' && !document.getElementById('fill-shipping').disabled",
    );
    browser.eval(&popup, "document.getElementById('fill-shipping').click(); true");
    browser.wait_for(&popup, "!document.getElementById('fill-too-soon').hidden");
    assert_eq!(browser.eval(&page, "document.querySelector('[name=f1]').value"), json!(""), "nothing was filled");

    // Remembered for fills: opening the popup fills the page at once, and only then.
    std::thread::sleep(Duration::from_millis(600));
    browser.eval(
        &popup,
        "document.getElementById('fill-remember').click(); document.getElementById('fill-shipping').click(); true",
    );
    browser.wait_for(&popup, "document.getElementById('fill-result').dataset.filled === '7'");
    browser.eval(&popup, "window.close(); true");
    let again = browser.open(&corpus.url("table-layout.html"));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(browser.eval(&again, "document.querySelector('[name=f1]').value"), json!(""), "never on page load");
    let popup = browser.open_popup();
    browser.wait_for(&popup, "document.getElementById('fill-result').dataset.filled === '7'");
    assert_eq!(browser.eval(&again, "document.querySelector('[name=f1]').value"), json!("Ada"));
    browser.eval(&popup, "window.close(); true");

    // A locked profile shows the unlock form instead of the buttons.
    browser.host_with_input(&["passphrase", "set"], "correct horse battery\n");
    browser.host(&["lock"]);
    let popup = browser.open_popup();
    browser.wait_for(&popup, "document.body.dataset.loaded === 'true'");
    assert_eq!(
        browser.eval(
            &popup,
            "[document.getElementById('unlock-form').hidden, document.getElementById('fill-card').hidden]"
        ),
        json!([false, true])
    );
    assert_all_clean(&looks);
}

/// Asks the host, from one of the extension's own pages, for one of the extension's own methods.
fn own_call(browser: &mut Browser, page: &str, method: &str, params: Value) -> Value {
    let call = json!({"own": {"type": method, "params": params}});
    let settlement = browser.eval_async(page, &format!("chrome.runtime.sendMessage({call})"));
    assert_eq!(settlement["status"], "resolved", "{method}: {settlement}");
    settlement["value"].clone()
}

#[test]
fn a_site_asks_for_claims_and_gets_only_what_the_person_left_ticked_never_the_date_behind_an_age() {
    let mut browser = launch(true);
    browser.host(&["data", "set", "identity", "name=Ada Lovelace", "email=ada@example.org", "birthDate=2000-01-01"]);
    let url = serve(SHOP);
    let origin = url.trim_end_matches('/').to_owned();
    let site = origin.trim_start_matches("http://").to_owned();
    let page = browser.open(&url);
    let mut seen = HashSet::new();
    let mut looks = Vec::new();

    // An unknown claim is refused before any window opens.
    browser.start(&page, "x1", "window.profile.request({claims: ['name', 'passport'], purpose: 'To know you'})");
    assert_eq!(browser.settlement(&page, "x1")["code"], "invalid_request");
    assert!(browser.no_consent_window_opens(&seen));

    // The language is public: no window, not a disclosure. None is set: the browser's.
    let options = browser.open_own_page("options.html");
    let ui_language = browser.eval(&options, "chrome.i18n.getUILanguage()");
    assert!(ui_language.as_str().is_some_and(|tag| !tag.is_empty()), "{ui_language}");
    browser.start(&page, "g1", "window.profile.getLanguage()");
    assert_eq!(browser.settlement(&page, "g1")["value"], ui_language, "the browser's language when none is set");
    browser.host(&[
        "data",
        "set",
        "identity",
        "name=Ada Lovelace",
        "email=ada@example.org",
        "birthDate=2000-01-01",
        "language=fr-CH",
    ]);
    browser.start(&page, "g2", "window.profile.getLanguage()");
    assert_eq!(browser.settlement(&page, "g2")["value"], "fr-CH");
    assert!(browser.no_consent_window_opens(&seen));
    assert!(!browser.host(&["log"]).contains("getLanguage"), "not a disclosure");

    // Name and an age, email optional: the window quotes the site's purpose, lists each claim
    // with exactly what would leave, and offers a checkbox for the optional one only.
    let request = "window.profile.request({claims: ['name', 'ageOver:18'], optional: ['email'], \
                   purpose: 'To verify your age for wine delivery'})";
    browser.start(&page, "q1", request);
    let (_, consent) = browser.consent(&mut seen);
    looks.push(browser.inspect(&consent, "consent-request"));
    assert_eq!(
        browser.eval(&consent, "document.getElementById('purpose').innerText.split('\\n')"),
        json!([format!("{site} says"), "“To verify your age for wine delivery”"])
    );
    assert_eq!(
        browser.eval(&consent, "[...document.querySelectorAll('#claims li')].map(li => [li.dataset.claim, li.querySelector('.claim-value').innerText])"),
        json!([["name", "Ada Lovelace"], ["ageOver:18", "Yes, 18 or older"], ["email", "ada@example.org"]])
    );
    assert_eq!(
        browser.eval(&consent, "[...document.querySelectorAll('#claims input[type=checkbox]')].map(box => [box.dataset.claim, box.checked])"),
        json!([["email", true]]),
        "only the optional claim can be left out, and it starts ticked"
    );
    assert!(!browser.eval(&consent, "document.body.innerText").as_str().unwrap().contains("2000"), "no date shown");
    assert_eq!(browser.eval(&consent, "document.getElementById('remember-row').hidden"), json!(false));
    // The person unticks email and remembers the site for what is left.
    browser.click_after(
        &consent,
        600,
        "document.querySelector('#claims input[data-claim=\"email\"]').click(); \
         document.getElementById('remember').click(); document.getElementById('allow').click()",
    );
    let answer = browser.settlement(&page, "q1");
    assert_eq!(answer["value"], json!({"claims": {"name": "Ada Lovelace", "ageOver:18": true}}), "{answer}");
    assert!(!answer.to_string().contains("2000"), "the birth date appears nowhere in the answer");
    let log = browser.host(&["log"]);
    assert!(log.contains("request  disclosed") && !log.contains("email"), "{log}");

    // Remembered is exactly what was allowed: the same claims are answered without a window;
    // asking for the email again asks the person again.
    browser.start(&page, "q2", "window.profile.request({claims: ['ageOver:18', 'name'], purpose: 'Again'})");
    assert!(browser.no_consent_window_opens(&seen));
    assert_eq!(
        browser.settlement(&page, "q2")["value"],
        json!({"claims": {"name": "Ada Lovelace", "ageOver:18": true}})
    );
    browser.start(&page, "q3", request);
    let (_, consent) = browser.consent(&mut seen);
    browser.click_after(&consent, 600, "document.getElementById('deny').click()");
    assert_eq!(browser.settlement(&page, "q3")["code"], "user_denied");
    let grants = own_call(&mut browser, &options, "listGrants", json!({}));
    assert_eq!(grants[0]["kind"], json!({"claims": ["name", "ageOver:18"]}), "{grants}");
    assert_eq!(grants[0]["label"], "Your name and whether you are 18 or older");

    // Medical events are asked for every time: no "remember", and a second call asks again. A
    // claim the profile holds nothing for says so.
    browser.host(&["data", "set", "medical", "date=2026-03-02", "kind=Vaccination", "provider=Dr Jenner"]);
    let medical =
        "window.profile.request({claims: ['medical'], optional: ['phone'], purpose: 'To prepare your visit'})";
    browser.start(&page, "m1", medical);
    let (_, consent) = browser.consent(&mut seen);
    looks.push(browser.inspect(&consent, "consent-request-medical"));
    assert_eq!(browser.eval(&consent, "document.getElementById('remember-row').hidden"), json!(true));
    assert_eq!(
        browser.eval(&consent, "[...document.querySelectorAll('#claims .claim-value')].map(v => v.innerText)"),
        json!(["Vaccination · 2026-03-02 · Dr Jenner", "Not in your profile: nothing will be sent"])
    );
    browser.click_after(&consent, 600, "document.getElementById('allow').click()");
    let events = browser.settlement(&page, "m1")["value"]["claims"]["medical"].clone();
    assert_eq!(events[0]["kind"], "Vaccination", "{events}");
    browser.start(&page, "m2", medical);
    let (_, consent) = browser.consent(&mut seen);
    browser.click_after(&consent, 600, "document.getElementById('deny').click()");
    assert_eq!(browser.settlement(&page, "m2")["code"], "user_denied");

    // A bookmark the site offers is added once the person confirms, never remembered.
    let offer = format!(
        "window.profile.addBookmark({{url: '{origin}/rings/solitaire?size=52', title: 'The solitaire ring', note: 'Size 52, in white gold'}})"
    );
    browser.start(&page, "b1", &offer);
    let (_, consent) = browser.consent(&mut seen);
    looks.push(browser.inspect(&consent, "consent-bookmark"));
    assert_eq!(
        browser.eval(&consent, "[document.getElementById('headline').textContent, document.getElementById('allow').textContent, document.getElementById('bookmark-url').innerText, document.querySelector('#bookmark-url strong').textContent]"),
        json!([format!("{site} wants to add a bookmark"), "Add bookmark", format!("{origin}/rings/solitaire?size=52"), "localhost"])
    );
    assert_eq!(browser.eval(&consent, "document.getElementById('remember-row').hidden"), json!(true));
    browser.click_after(&consent, 600, "document.getElementById('allow').click()");
    assert_eq!(browser.settlement(&page, "b1")["value"], json!({"added": true}));
    let bookmarks = own_call(&mut browser, &options, "listItems", json!({"category": "bookmarks"}));
    assert_eq!(bookmarks["items"][0]["fields"]["title"], "The solitaire ring", "{bookmarks}");
    assert_eq!(bookmarks["items"][0]["source"], json!(origin));
    browser.reload(&options);
    browser.wait_for(&options, "document.body.dataset.loaded === 'true'");
    assert!(
        browser
            .eval(&options, "document.getElementById('cat-bookmarks').innerText")
            .as_str()
            .unwrap()
            .contains("The solitaire ring")
    );
    assert_all_clean(&looks);
}

#[test]
fn the_options_page_keeps_every_category_and_publishes_only_what_the_person_ticks() {
    const EMAIL: &str = "ada@example.org";
    let server = ProfileServer::start(EMAIL, "correct horse battery");
    let mut browser = launch(true);
    browser.host_with_input(&["pair", &server.profile_url, "--email", EMAIL], "correct horse battery\n");
    browser.host(ADA);
    browser.host(&[
        "data",
        "set",
        "identity",
        "name=Ada Lovelace",
        "displayName=Ada",
        "email=ada@example.org",
        "language=en-GB",
    ]);
    for receipt in [
        json!({"merchant": "Corner Shop", "date": "2026-10-30", "currency": "EUR", "total": "12.50",
            "items": [{"name": "Milk", "gtin": "4006381333931", "quantity": 2, "unitPrice": "1.25", "total": "2.50"}]}),
        json!({"merchant": "Hardware Store", "date": "2026-11-02", "currency": "EUR", "total": "48.00"}),
    ] {
        browser.host_with_input(&["data", "set", "receipts", "--json", "-"], &receipt.to_string());
    }
    for args in [
        &["data", "set", "medical", "date=2026-03-02", "kind=Vaccination", "provider=Dr Jenner"][..],
        &["data", "set", "medical", "date=2025-11-20", "kind=Blood test", "provider=City Lab", "notes=All normal"],
        &["data", "set", "devices", "hub=Living room", "device=Thermostat", "kind=climate"],
        &["data", "set", "devices", "hub=Living room", "device=Ceiling light", "kind=light"],
        &["data", "set", "bookmarks", "url=https://shop.example/ring", "title=The ring", "tags=wish, gold"],
        &["data", "set", "bookmarks", "url=https://news.example/long-read", "title=A long read"],
        &["data", "set", "vehicles", "vin=1M8GDM9AXKP042788", "make=Volvo", "model=XC40", "year=2021", "plate=AB 123"],
    ] {
        browser.host(args);
    }
    browser.host_with_input(
        &["data", "set", "contacts", "--json", "-"],
        &json!({"name": "Grace Hopper", "organization": "Navy", "lines": [{"kind": "phone", "value": "+1 555 0100", "label": "Mobile"}]}).to_string(),
    );
    browser.host(&["data", "set", "contacts", "name=Charles Babbage"]);
    let options = browser.open_own_page("options.html");
    let mut looks = vec![browser.inspect(&options, "options-categories")];
    let section = |browser: &mut Browser, id: &str| {
        browser.eval(&options, &format!("document.getElementById('{id}').innerText")).as_str().unwrap().to_owned()
    };
    let receipts = section(&mut browser, "cat-receipts");
    assert!(receipts.contains("Hardware Store") && receipts.contains("Corner Shop"), "{receipts}");
    assert!(receipts.find("Hardware Store") < receipts.find("Corner Shop"), "most recent first: {receipts}");
    assert!(section(&mut browser, "cat-medical").contains("Blood test"));
    assert!(section(&mut browser, "cat-vehicles").contains("Volvo"));
    assert!(section(&mut browser, "cat-contacts").contains("Grace Hopper"));
    assert_eq!(browser.eval(&options, "document.getElementById('identity-displayName').value"), json!("Ada"));

    // Search narrows a long list; clearing it brings the rest back.
    browser.eval(&options, "const s = document.querySelector('#cat-receipts input.search'); s.value = 'corner'; s.dispatchEvent(new Event('input')); true");
    browser.wait_for(&options, "document.querySelectorAll('#cat-receipts li.item').length === 1");

    // A receipt added through its form, with an item row, is checked and kept by the host.
    browser.eval(&options, "document.querySelector('#cat-receipts button.add').click(); true");
    browser.wait_for(&options, "!!document.getElementById('form-receipts-new')");
    browser.eval(&options, "document.querySelector('#form-receipts-new button.add-row').click(); true");
    browser.eval(
        &options,
        r#"(() => { const f = document.getElementById('form-receipts-new');
            const set = (name, value) => f.querySelector(`[name=${name}]`).value = value;
            set('merchant', 'Bakery'); set('date', '2026-11-05'); set('currency', 'eur'); set('total', '3.20');
            const row = f.querySelector('.list-row');
            row.querySelector('[name=name]').value = 'Bread'; row.querySelector('[name=gtin]').value = '4006381333932';
            f.requestSubmit(); return true; })()"#,
    );
    browser.wait_for(&options, "!document.querySelector('#form-receipts-new .error').hidden");
    assert!(
        browser
            .eval(&options, "document.querySelector('#form-receipts-new .error').textContent")
            .as_str()
            .unwrap()
            .contains("check digit"),
        "the host's word on a wrong barcode"
    );
    looks.push(browser.inspect(&options, "options-receipt-form"));
    browser.eval(&options, "document.querySelector('#form-receipts-new .list-row [name=gtin]').value = '4006381333931'; document.getElementById('form-receipts-new').requestSubmit(); true");
    browser.wait_for(&options, "!document.getElementById('form-receipts-new')");
    let kept = browser.host(&["data", "list", "receipts"]);
    assert!(kept.contains("Bakery") && kept.contains("EUR"), "{kept}");

    // Identity is one form; a contact removed (once confirmed) is gone.
    browser.eval(&options, "document.getElementById('identity-phone').value = '+44 20 7946 0000'; document.getElementById('form-identity').requestSubmit(); true");
    browser.wait_for(&options, "document.querySelector('#form-identity .status-line').textContent === 'Saved.'");
    assert!(browser.host(&["data", "show", "identity"]).contains("+44 20 7946 0000"));
    browser.eval(
        &options,
        "window.confirm = () => true; const li = [...document.querySelectorAll('#cat-contacts li.item')].find(li => li.innerText.includes('Babbage')); \
         li.querySelector('button.edit').click(); li.querySelector('button.remove').click(); true",
    );
    // The list drawn again from the host once it removed it (the open edit form alone shows no
    // name as text, so waiting for the name to go would not wait for the host).
    browser.wait_for(
        &options,
        "document.querySelector('#cat-contacts .count').textContent === '1 contact' \
         && !document.getElementById('cat-contacts').innerText.includes('Babbage')",
    );
    assert!(!browser.host(&["data", "list", "contacts"]).contains("Babbage"));

    // Nothing is public until the person ticks it; then exactly that is, at the profile URL.
    assert_eq!(own_call(&mut browser, &options, "getPublic", json!({}))["fields"], json!([]));
    let public = section(&mut browser, "public-card");
    assert!(
        public.contains(&server.profile_url) && public.contains("Nothing: your profile URL shows no details"),
        "{public}"
    );
    browser.eval(&options, "document.getElementById('public-displayName').click(); document.getElementById('public-vehicles').click(); document.getElementById('public-form').requestSubmit(); true");
    browser.wait_for(&options, "document.getElementById('public-status').textContent === 'Saved.'");
    let deadline = Instant::now() + Duration::from_secs(20);
    let public = loop {
        let public = own_call(&mut browser, &options, "getPublic", json!({}));
        if public["pending"] == json!(false) {
            break public;
        }
        assert!(Instant::now() < deadline, "never published: {public}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(public["fields"], json!(["displayName", "vehicles"]));
    assert_eq!(public["published"]["displayName"], "Ada");
    assert!(!public.to_string().contains("1M8GDM9AXKP042788") && !public.to_string().contains("AB 123"), "{public}");
    browser.reload(&options);
    browser.wait_for(&options, "document.body.dataset.loaded === 'true'");
    let shown = section(&mut browser, "public-now");
    assert!(shown.contains("Display name\tAda") || shown.contains("Display name\nAda"), "{shown}");
    assert!(shown.contains("Volvo XC40 2021") && !shown.contains("AB 123") && !shown.contains("null"), "{shown}");
    looks.push(browser.inspect(&options, "options-public"));

    // A bookmark a site offers, once the person adds it, reaches their other device.
    let url = serve(SHOP);
    let origin = url.trim_end_matches('/').to_owned();
    let page = browser.open(&url);
    let mut windows = HashSet::new();
    let offer = format!("window.profile.addBookmark({{url: '{origin}/rings/pearl', title: 'The pearl ring'}})");
    browser.start(&page, "b2", &offer);
    let (_, consent) = browser.consent(&mut windows);
    browser.click_after(&consent, 600, "document.getElementById('allow').click()");
    assert_eq!(browser.settlement(&page, "b2")["value"], json!({"added": true}));
    let phone = HostHome::new();
    phone.cli(&["pair", &server.profile_url, "--email", EMAIL], "correct horse battery\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !phone.cli(&["data", "list", "bookmarks"], "").contains("The pearl ring") {
        assert!(Instant::now() < deadline, "the other device never saw the bookmark");
        std::thread::sleep(Duration::from_millis(200));
        phone.cli(&["sync"], "");
    }
    assert_all_clean(&looks);
}

/// A grant's consent window, as the real flow draws it from a preview of the host's shape, and
/// the options page's connected apps, one live and one revoked, each looked at in light and dark
/// mode. The prompt and the apps' words come from the extension's own module (its
/// `PageCallFlow` and `describeApps`, loaded into the options page); the service worker is
/// given a listener that answers the consent window and `listApps` with them. (The full story,
/// a till's grant allowed, its receipt added and the app revoked, needs the profile server's
/// grants.)
#[test]
fn a_grants_consent_window_and_the_connected_apps_read_in_words() {
    let mut browser = launch(true);
    let mut looks = Vec::new();

    let preview = json!({"registrableDomain": "till.example", "app": {"appId": "till", "name": "Corner Store"}, "value": {
    "purpose": "So your receipts from our tills land in your profile",
    "scopes": [
        {"category": "receipts", "title": "Receipts", "noun": "receipt", "actions": ["append"], "fields": null,
            "held": 12, "sensitivity": "ordinary"},
        {"category": "addresses", "title": "Addresses and homes", "noun": "address", "actions": ["read", "subscribe"],
            "fields": [{"name": "line1", "label": "Street address"}, {"name": "city", "label": "City"},
                {"name": "postalCode", "label": "Postal code"}], "held": 2, "sensitivity": "ordinary"},
        {"category": "medical", "title": "Medical events", "noun": "medical event", "actions": ["append"],
            "fields": null, "held": 0, "sensitivity": "askEveryTime"}
    ]}});
    let request = json!({"method": "requestGrant", "params": {"scopes": [
        {"category": "receipts", "actions": ["append"]},
        {"category": "addresses", "actions": ["read", "subscribe"], "fields": ["line1", "city", "postalCode"]},
        {"category": "medical", "actions": ["append"]}
    ], "purpose": "So your receipts from our tills land in your profile"}});
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let apps = json!([
        {"grantId": "AAAAAAAAAAAAAAAAAAAAAA", "origin": "https://till.example", "appId": "till", "name": "Corner Store",
            "scopes": [{"category": "receipts", "actions": ["append"]},
                {"category": "addresses", "actions": ["read", "subscribe"], "fields": ["line1", "city", "postalCode"]}],
            "createdAt": now - 86_400 * 3, "lastReadAt": now - 600, "lastAppendAt": now - 120, "appended": 7, "shareVersion": 3,
            "appendedItems": [
                {"category": "receipts", "id": "r1", "summary": "Corner Store · 2026-11-30 · 12.40 · EUR", "addedAt": now - 120},
                {"category": "receipts", "id": "r2", "summary": "Corner Store · 2026-11-28 · 3.10 · EUR", "addedAt": now - 86_400 * 2}
            ]},
        {"grantId": "BBBBBBBBBBBBBBBBBBBBBB", "origin": "https://delivery.example", "appId": "delivery", "name": "Parcel Post",
            "scopes": [{"category": "addresses", "actions": ["subscribe"]}],
            "createdAt": now - 86_400 * 20, "appended": 0, "shareVersion": 1, "revokedAt": now - 86_400 * 5,
            "appendedItems": []}
    ]);

    // What the real module makes of them.
    let options = browser.open_own_page("options.html");
    let made = browser.eval_async(
        &options,
        &format!(
            "(async () => {{
  const rust = await import('./pkg/profile_extension.js');
  await rust.default({{ module_or_path: './pkg/profile_extension_bg.wasm' }});
  const flow = new rust.PageCallFlow(JSON.stringify({{ origin: 'https://till.example' }}), JSON.stringify({request}));
  flow.next('null');
  flow.next('true');
  const effect = JSON.parse(flow.next(JSON.stringify({{ id: 1, ok: true, result: {preview} }})));
  const apps = {apps};
  const can = JSON.parse(rust.describeApps(JSON.stringify(apps)));
  return {{ prompt: effect.prompt, apps: apps.map((app, i) => ({{ ...app, can: can[i] }})) }};
}})()"
        ),
    );
    assert_eq!(made["prompt"]["action"], "Connect", "{made}");
    let worker = service_worker(&mut browser);
    let worker = browser.attach(&worker);
    browser.eval(
        &worker,
        &format!(
            "chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {{
  const made = {made};
  if (message && message.consent && message.consent.id === 'grant') {{
    sendResponse(message.consent.show ? {{ prompt: made.prompt }} : {{ ok: true }});
  }} else if (message && message.own && message.own.type === 'listApps') {{
    sendResponse({{ status: 'resolved', value: {{ apps: made.apps, stale: true }} }});
  }}
  return false;
}}); true"
        ),
    );

    let consent = browser.open(&format!("chrome-extension://{EXTENSION_ID}/consent.html#grant"));
    browser.wait_for(&consent, "document.body.dataset.state === 'asking'");
    looks.push(browser.inspect(&consent, "consent-grant"));
    let shown = browser.eval(
        &consent,
        "({headline: document.getElementById('headline').textContent,
          allow: document.getElementById('allow').textContent,
          remember: document.getElementById('remember-row').hidden,
          registered: document.getElementById('app-row').textContent,
          can: [...document.querySelectorAll('#grant-can li')].map((li) => [li.dataset.action, li.textContent]),
          sensitive: document.getElementById('grant-sensitive').hidden})",
    );
    assert_eq!(shown["headline"], "Corner Store wants to connect to your profile");
    assert_eq!(shown["allow"], "Connect");
    assert_eq!(shown["remember"], true, "a grant is never remembered: no choice is offered");
    assert_eq!(shown["registered"], "Registered as “Corner Store”unverified");
    assert_eq!(
        shown["can"],
        json!([
            ["append", "Add receipts to your profile"],
            ["read", "Read your addresses2 saved; it sees Street address, City, Postal code"],
            ["subscribe", "Be told when your addresses change"],
            ["append", "Add medical events to your profile"]
        ])
    );
    assert_eq!(shown["sensitive"], false, "medical events are said to be sensitive");

    browser.reload(&options);
    browser.wait_for(
        &options,
        "document.body.dataset.loaded === 'true' && document.querySelectorAll('#apps li.app').length === 1",
    );
    browser.eval(&options, "document.getElementById('apps-show-revoked').click(); true");
    browser.wait_for(&options, "document.querySelectorAll('#apps li.app').length === 2");
    browser.eval(&options, "document.getElementById('apps-card').scrollIntoView(); true");
    looks.push(browser.inspect(&options, "options-apps"));
    let listed = browser.eval(
        &options,
        "({stale: document.getElementById('apps-stale').hidden,
          apps: [...document.querySelectorAll('#apps li.app')].map((app) => [app.className,
            [...app.querySelectorAll('.app-can li')].map((li) => li.textContent), app.querySelector('.app-facts').textContent])})",
    );
    assert_eq!(listed["stale"], false, "said when the profile server was out of reach");
    assert_eq!(listed["apps"][0][0], "app");
    assert_eq!(
        listed["apps"][0][1],
        json!([
            "Add receipts to your profile",
            "Read your addresses · Street address, City, Postal code",
            "Be told when your addresses change"
        ])
    );
    assert!(listed["apps"][0][2].as_str().unwrap().starts_with("Connected "), "{listed}");
    assert_eq!(listed["apps"][1][0], "app gone");
    assert_all_clean(&looks);
}

/// Waits up to `secs` for `condition` in `page`, reloading it each second when `reload` (for
/// pages that show what they loaded, such as the options page).
fn eventually(browser: &mut Browser, page: &str, condition: &str, secs: u64, reload: bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if browser.eval(page, condition) == json!(true) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {condition}");
        std::thread::sleep(Duration::from_secs(1));
        if reload {
            browser.reload(page);
            browser.wait_for(page, "document.body.dataset.loaded === 'true'");
        }
    }
}

/// The whole story of an app in a real browser: the demo till and delivery service (the
/// profile-rp examples), the real extension and host, paired with a real profile server. The
/// till is connected from its page, adds a receipt that the options page then shows, and is
/// revoked there, after which its next receipt is refused; the delivery service follows the
/// shipping address the person changes. Then two people link their profiles with a ticket
/// from the options page, and the link is cut from there.
#[test]
fn a_till_and_a_delivery_service_connected_from_their_pages_add_follow_and_are_revoked() {
    use profile_testkit::host::{EXTENSION_ORIGIN, HostProcess};
    const EMAIL: &str = "ada@example.org";
    const PASSPHRASE: &str = "correct horse battery";
    let server = ProfileServer::start(EMAIL, PASSPHRASE);
    let mut browser = launch(true);
    browser.host(ADA);
    browser.host(&["data", "set", "identity", "name=Ada Lovelace"]);
    browser.host_with_input(&["pair", &server.profile_url, "--email", EMAIL], &format!("{PASSPHRASE}\n"));
    let (till, delivery) = (DemoShop::example("till"), DemoShop::example("delivery"));
    let mut seen = HashSet::new();
    let mut looks = Vec::new();
    let text = |browser: &mut Browser, page: &str, id: &str| -> String {
        let got = browser.eval(page, &format!("(document.getElementById('{id}') || {{}}).textContent || ''"));
        got.as_str().unwrap_or_default().to_owned()
    };

    // The till's page: Connect asks for a grant to add receipts, in words.
    let page = browser.open(&format!("{}/", till.origin));
    browser.wait_for(&page, "document.readyState === 'complete' && !!window.profile");
    browser.screenshots(&page, "till-before");
    // What `requestGrant` answered the page, kept across the reload that follows.
    browser.eval(
        &page,
        "window.post = ((post) => async (path, body) => {
           if (path === '/api/grant') sessionStorage.setItem('answer', JSON.stringify(body));
           return post(path, body);
         })(post); true",
    );
    browser.eval(&page, "setTimeout(() => document.getElementById('connect').click(), 0); true");
    let (_, consent) = browser.consent(&mut seen);
    let shown = browser.eval(
        &consent,
        "({headline: document.getElementById('headline').textContent,
          name: document.getElementById('app-name').textContent,
          purpose: document.getElementById('purpose-text').textContent,
          allow: document.getElementById('allow').textContent,
          can: [...document.querySelectorAll('#grant-can li')].map((li) => li.textContent)})",
    );
    assert_eq!(shown["headline"], "Corner Shop Till wants to connect to your profile", "{shown}");
    assert_eq!(shown["name"], "Corner Shop Till");
    assert!(shown["purpose"].as_str().unwrap().contains("Send the receipt of what you buy at Corner Shop"), "{shown}");
    assert_eq!(shown["can"], json!(["Add receipts to your profile"]));
    looks.push(browser.inspect(&consent, "flow-consent-till"));
    browser.click_after(&consent, 500, "document.getElementById('allow').click()");
    browser.wait_for(&page, "document.readyState === 'complete' && document.getElementById('connected') !== null");
    let answer: Value =
        serde_json::from_str(browser.eval(&page, "sessionStorage.getItem('answer')").as_str().unwrap()).unwrap();
    let grant_id = answer["grantId"].as_str().unwrap().to_owned();
    assert_eq!(answer["profileUrl"], server.profile_url.as_str(), "{answer}");
    assert!(answer["profileKey"].is_object() || answer["profileKey"].is_string(), "{answer}");
    assert_eq!(text(&mut browser, &page, "profile-url"), server.profile_url);

    // A basket rung up: its receipt lands in the profile, named after the till.
    browser
        .eval(&page, "document.getElementById('qty-2').value = '0'; document.getElementById('ring-up').click(); true");
    browser.wait_for(&page, "document.getElementById('receipt').textContent !== ''");
    assert_eq!(
        text(&mut browser, &page, "receipt"),
        "Receipt sent to your profile (€5.29).",
        "{}",
        text(&mut browser, &page, "message")
    );
    browser.screenshots(&page, "till-after");
    let options = browser.open_own_page("options.html");
    browser.wait_for(&options, "document.body.dataset.loaded === 'true'");
    let till_card = format!("document.getElementById('app-{grant_id}')");
    eventually(
        &mut browser,
        &options,
        &format!(
            "!!{till_card} && !!{till_card}.querySelector('.app-added') && [...document.querySelectorAll('#cat-receipts li.item')].some((li) => li.innerText.includes('from localhost'))"
        ),
        30,
        true,
    );
    let receipt = browser.eval(&options, "document.querySelector('#cat-receipts li.item').innerText");
    assert!(receipt.as_str().unwrap().contains("Corner Shop"), "{receipt}");
    let added = browser.eval(&options, &format!("{till_card}.querySelector('.app-added').innerText"));
    assert!(added.as_str().unwrap().contains("Corner Shop"), "{added}");

    // The delivery service reads and follows the shipping address.
    let parcels = browser.open(&format!("{}/", delivery.origin));
    browser.wait_for(&parcels, "document.readyState === 'complete' && !!window.profile");
    browser.eval(&parcels, "setTimeout(() => document.getElementById('connect').click(), 0); true");
    let (_, consent) = browser.consent(&mut seen);
    let can = browser.eval(&consent, "[...document.querySelectorAll('#grant-can li')].map((li) => li.dataset.action)");
    assert_eq!(can, json!(["read", "subscribe"]));
    looks.push(browser.inspect(&consent, "flow-consent-delivery"));
    browser.click_after(&consent, 500, "document.getElementById('allow').click()");
    browser.wait_for(&parcels, "document.readyState === 'complete' && document.getElementById('address') !== null");
    assert!(text(&mut browser, &parcels, "address").contains("12 St James's Square"));
    browser.screenshots(&parcels, "delivery-before");
    own_call(
        &mut browser,
        &options,
        "saveAddress",
        json!({"kind": "shipping", "address": {"name": "Ada Lovelace", "line1": "3 New Road", "city": "Lyon",
            "postalCode": "69001", "country": "FR"}}),
    );
    eventually(
        &mut browser,
        &parcels,
        "document.getElementById('address').textContent.includes('3 New Road')",
        45,
        false,
    );
    browser.screenshots(&parcels, "delivery-after");

    // Both in Connected apps; the till revoked, with a confirm that says what stops.
    browser.reload(&options);
    browser.wait_for(
        &options,
        "document.body.dataset.loaded === 'true' && document.querySelectorAll('#apps li.app').length === 2",
    );
    browser.eval(&options, "document.getElementById('apps-card').scrollIntoView(); true");
    looks.push(browser.inspect(&options, "flow-options-apps"));
    browser.eval(&options, "window.confirm = (text) => { window.asked = text; return true; }; true");
    browser.eval(&options, &format!("{till_card}.querySelector('.revoke-app').click(); true"));
    browser.wait_for(&options, "document.querySelectorAll('#apps li.app').length === 1");
    let asked = browser.eval(&options, "window.asked");
    let asked = asked.as_str().unwrap();
    assert!(
        asked
            .starts_with(&format!("Corner Shop Till (localhost:{}) will no longer be able to add receipts", till.port)),
        "{asked}"
    );
    browser.eval(&options, "document.getElementById('apps-show-revoked').click(); true");
    browser.wait_for(&options, &format!("!!{till_card} && {till_card}.classList.contains('gone')"));
    // The activity says so at once; the till's reads of a share that held nothing of the
    // profile are no disclosure; its receipt reads as the receipts list writes it.
    browser.wait_for(
        &options,
        &format!("document.getElementById('ledger').textContent.includes('You disconnected localhost:{}')", till.port),
    );
    let ledger = browser.eval(&options, "document.getElementById('ledger').textContent");
    assert!(!ledger.as_str().unwrap().contains("appRead"), "{ledger}");
    let added = browser.eval(&options, &format!("{till_card}.querySelector('.app-added li').textContent"));
    assert!(added.as_str().unwrap().contains("€5.29"), "{added}");
    looks.push(browser.inspect(&options, "flow-options-apps-revoked"));
    browser.eval(&page, "document.getElementById('ring-up').click(); true");
    browser.wait_for(&page, "document.getElementById('receipt').className === 'error'");
    assert_eq!(text(&mut browser, &page, "receipt"), "You disconnected this till from your profile: connect again.");
    assert_eq!(text(&mut browser, &page, "connected"), "Not connected: receipts no longer go to your profile.");
    assert_eq!(text(&mut browser, &page, "connect"), "Connect your profile again");
    browser.screenshots(&page, "till-revoked");

    // Linked profiles: a ticket shown as a QR code; Bob's ticket redeemed; the link cut.
    let bob_server = ProfileServer::start("bob@example.org", PASSPHRASE);
    let bob = HostHome::new();
    bob.cli(&["pair", &bob_server.profile_url, "--email", "bob@example.org"], &format!("{PASSPHRASE}\n"));
    bob.cli(&["data", "set", "identity", "name=Bob Babbage"], "");
    let mut bob_host = HostProcess::start(bob.path());
    let issued = bob_host.ok(EXTENSION_ORIGIN, "issueLinkTicket", json!({}));
    browser.eval(
        &options,
        "document.getElementById('links-card').scrollIntoView(); document.getElementById('link-issue').click(); true",
    );
    browser.wait_for(&options, "!document.getElementById('link-ticket').hidden");
    let ticket = browser.eval(
        &options,
        "({svg: document.querySelector('#link-qr svg') !== null, text: document.getElementById('link-text').value,
          expiry: document.getElementById('link-expiry').textContent})",
    );
    assert_eq!(ticket["svg"], true, "{ticket}");
    assert!(ticket["text"].as_str().unwrap().len() > 40, "{ticket}");
    assert!(ticket["expiry"].as_str().unwrap().starts_with("Valid for 10 minutes"), "{ticket}");
    looks.push(browser.inspect(&options, "flow-link-ticket"));
    browser.eval(
        &options,
        "document.getElementById('link-done').click(); document.getElementById('link-have').click(); true",
    );
    browser.eval(
        &options,
        &format!("document.getElementById('link-ticket-input').value = {}; true", json!(issued["ticket"])),
    );
    looks.push(browser.inspect(&options, "flow-link-redeem"));
    browser.eval(&options, "document.getElementById('link-redeem-submit').click(); true");
    browser.wait_for(
        &options,
        "!document.getElementById('link-result').hidden || !document.getElementById('link-error').hidden",
    );
    assert!(
        text(&mut browser, &options, "link-result").starts_with("Linked with Bob Babbage"),
        "{}",
        text(&mut browser, &options, "link-error")
    );
    // The same ticket again: spent, said in words.
    browser.eval(&options, "document.getElementById('link-have').click(); true");
    browser.eval(
        &options,
        &format!("document.getElementById('link-ticket-input').value = {}; document.getElementById('link-redeem-submit').click(); true", json!(issued["ticket"])),
    );
    eventually(
        &mut browser,
        &options,
        "!document.getElementById('link-error').hidden || !document.getElementById('link-result').hidden",
        60,
        false,
    );
    let refused = text(&mut browser, &options, "link-error");
    assert!(refused.starts_with("Not linked: "), "{refused} {}", text(&mut browser, &options, "link-result"));
    browser.eval(&options, "document.getElementById('link-redeem-cancel').click(); true");
    browser.wait_for(
        &options,
        "[...document.querySelectorAll('#apps li.app .revoke-app')].some((b) => b.textContent === 'Unlink')",
    );
    looks.push(browser.inspect(&options, "flow-options-linked"));
    browser.eval(&options, "[...document.querySelectorAll('#apps li.app .revoke-app')].find((b) => b.textContent === 'Unlink').click(); true");
    browser.wait_for(
        &options,
        "![...document.querySelectorAll('#apps li.app .revoke-app')].some((b) => b.textContent === 'Unlink')",
    );
    let asked = browser.eval(&options, "window.asked");
    assert!(
        asked.as_str().unwrap().contains("Bob Babbage will no longer see your card; you stop seeing theirs."),
        "{asked}"
    );
    drop(bob_host);
    assert_all_clean(&looks);
}
