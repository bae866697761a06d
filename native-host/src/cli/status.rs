//! What the host keeps (`status`) and what left to which site (`log`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::ExitCode;

use profile_core::AddressKind;
use profile_core::wire::Disclosure;

use super::*;
use crate::local::session::open_store;
use crate::local::store::now;

pub(super) fn status(home: &Path) -> Result<ExitCode, String> {
    let store = open_store(home).map_err(|e| e.to_string())?;
    let (state, _) = store.enforce_session(now()).map_err(|e| e.message)?;
    let disclosures = store.disclosures().map_err(|e| e.to_string())?.len();
    say!("data dir     {}", store.dir().display());
    say!("keystore     {} (master key present)", crate::local::keystore::NAME);
    say!("profile URL  {}", state.profile_url.as_deref().unwrap_or("not paired"));
    if let Some(link) = &state.server {
        let dirty = link.dirty || state.vault_contents() != link.base;
        let vault = match (&link.data_key, dirty) {
            (None, _) => "not open yet (unlock with the passphrase)".to_owned(),
            (Some(_), true) => format!("change {}, local changes not yet synced", link.seq),
            (Some(_), false) => format!("change {}, in sync", link.seq),
        };
        say!("server       {} (pairing {})", link.api_base, link.pairing_id);
        say!("vault        {vault}");
        if let Some(halt) = &link.halted {
            say!("warning      {}", halt.explain());
        }
        if !link.outbox.is_empty() {
            say!("registry     {} waiting for the server", count(link.outbox.len(), "update", "updates"));
        }
    }
    say!("locked       {}", if state.locked { "yes" } else { "no" });
    let idle = match (state.auto_lock_secs, &state.lock) {
        (0, _) => "off".to_owned(),
        (secs, lock) => format!(
            "after {} idle{}",
            humantime::format_duration(std::time::Duration::from_secs(secs)),
            if lock.is_some() { "" } else { ", once a passphrase is set" }
        ),
    };
    say!("auto-lock    {idle}");
    say!("passphrase   {}", if state.lock.is_some() { "set" } else { "not set (the OS keystore alone unlocks)" });
    let book = &state.address_book;
    let defaults: Vec<_> = (AddressKind::ALL.into_iter())
        .filter_map(|kind| book.default_of(kind).map(|saved| format!("{}: {}", kind.as_str(), saved.label.as_str())))
        .collect();
    let addresses = match (book.len(), defaults.is_empty()) {
        (0, _) => "none".to_owned(),
        (n, true) => format!("{} saved, no defaults", count(n, "address", "addresses")),
        (n, false) => format!("{} saved; defaults {}", count(n, "address", "addresses"), defaults.join(", ")),
    };
    say!("addresses    {addresses}");
    say!("accounts     {}", state.accounts.len());
    // Which sites is personal: not shown while the profile is locked.
    if !state.locked {
        for account in &state.accounts {
            say!("  {}  as {}  (counter {})", account.origin, account.account_guid, account.counter);
        }
    }
    say!("disclosures  {disclosures} (see `profile-host log`)");
    Ok(ExitCode::SUCCESS)
}

pub(super) fn log(home: &Path, limit: usize) -> Result<ExitCode, String> {
    let (store, _) = open_to_show(home)?;
    let entries = store.disclosures().map_err(|e| e.to_string())?;
    if entries.is_empty() {
        say!("nothing has been disclosed yet");
    }
    for Disclosure { at, origin, method, fields, outcome, count, until } in entries.iter().rev().take(limit) {
        let what = if fields.is_empty() { String::new() } else { format!(" [{}]", fields.join(", ")) };
        let times = match until {
            Some(until) if *count > 1 => format!("  ({count} times, the last at {})", when(*until)),
            _ => String::new(),
        };
        say!("{}  {origin}  {method}  {outcome}{what}{times}", when(*at));
    }
    Ok(ExitCode::SUCCESS)
}
