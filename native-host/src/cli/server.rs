//! The profile server: `pair`, `unpair`, `sync`, `devices`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::ExitCode;

use super::*;
use crate::local::session::open_store;
use crate::remote as sync;

pub(super) fn pair(
    home: &Path,
    profile_url: String,
    email: Option<String>,
    ticket: Option<String>,
    accept_older_vault: bool,
) -> Result<ExitCode, String> {
    let store = open_for_change(home)?;
    let with = match (email, ticket) {
        (_, Some(ticket)) => sync::PairWith::Ticket(profile_core::Bearer::new(ticket)),
        (Some(email), None) => {
            let passphrase = read_passphrase("Your profile's passphrase: ")?;
            sync::PairWith::Passphrase { email, passphrase }
        }
        (None, None) => return Err("give --email or --ticket".into()),
    };
    let paired =
        sync::pair(&store, &sync::Client::default(), &profile_url, with, accept_older_vault).map_err(|e| e.message)?;
    say!("paired with {}", paired["profileUrl"].as_str().unwrap_or_default());
    if paired["vaultOpen"] == false {
        say!("the vault opens at the first `unlock` with your passphrase");
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn unpair(home: &Path) -> Result<ExitCode, String> {
    let store = open_for_change(home)?;
    let done = sync::unpair(&store, &sync::Client::default()).map_err(|e| e.message)?;
    say!(
        "unpaired{}",
        if done["signedOut"] == true { "" } else { " (the server could not be told; revoke this device there)" }
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn sync_now(home: &Path) -> Result<ExitCode, String> {
    let store = open_store(home).map_err(|e| e.to_string())?;
    let Some(link) = store.state().map_err(|e| e.to_string())?.server.clone() else {
        say!("nothing to sync: this device is not paired with a profile server (`profile-host pair` pairs it)");
        return Ok(ExitCode::SUCCESS);
    };
    let server = sync::server_address(&link.api_base);
    match sync::sync(&store, &sync::Client::default()).map_err(|e| e.message)? {
        sync::Synced::Idle => say!(
            "nothing to sync yet: the synced vault is not open on this device (`profile-host unlock` opens it \
             with your profile's passphrase)"
        ),
        sync::Synced::InSync { sent, received, .. } => {
            let what = match (sent, received) {
                (false, false) => "nothing had changed",
                (true, false) => "this device's changes went out",
                (false, true) => "changes from your other devices came in",
                (true, true) => "changes from your other devices came in, and this device's went out",
            };
            say!("your profile is in sync with {server}: {what}");
        }
    }
    // A person asked: every followed profile is read again (bounded as every round is).
    let followed = sync::Follower::default().follow(&store, sync::Round::Now).map_err(|e| e.message)?;
    if followed.read + followed.failed > 0 {
        say!(
            "followed profiles: {} read, {} not (`profile-host data list contacts` says why)",
            followed.read,
            followed.failed
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn devices(home: &Path, revoke: Option<String>) -> Result<ExitCode, String> {
    // Signing a device out is a change; the list shows what the person's devices are.
    let store = match revoke {
        Some(_) => open_for_change(home)?,
        None => open_to_show(home)?.0,
    };
    let client = sync::Client::default();
    if let Some(id) = revoke {
        sync::revoke_device(&store, &client, &id).map_err(|e| e.message)?;
        say!("signed {id} out");
        return Ok(ExitCode::SUCCESS);
    }
    let listed = sync::devices(&store, &client).map_err(|e| e.message)?;
    let at = |secs: i64| when(u64::try_from(secs).unwrap_or(0));
    for device in &listed.devices {
        let state = match device.revoked_at {
            Some(revoked) => format!("signed out {}", at(revoked)),
            None => format!("last seen {}", at(device.last_seen_at)),
        };
        let current = if device.current { "  (this device)" } else { "" };
        say!("{}  {}  {state}{current}", device.id, device.name);
    }
    Ok(ExitCode::SUCCESS)
}
