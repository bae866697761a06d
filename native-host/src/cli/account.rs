//! The site accounts: `account list`, `account remove`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::ExitCode;

use super::*;
use crate::local::session::remove_account;
use crate::remote as sync;

pub(super) fn list(home: &Path) -> Result<ExitCode, String> {
    let (_, state) = open_to_show(home)?;
    if state.accounts.is_empty() {
        say!("no site accounts yet");
    }
    for account in &state.accounts {
        say!(
            "{}  {}  created {}  last used {}",
            account.origin,
            account.account_guid,
            when(account.created_at),
            when(account.last_used_at)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn remove(home: &Path, origin: String, account: Option<String>) -> Result<ExitCode, String> {
    let site = profile_core::Origin::parse(&origin).map_err(|e| format!("{origin}: {e}"))?;
    let store = open_for_change(home)?;
    let state = store.state().map_err(|e| e.to_string())?;
    let at_site: Vec<_> = state.accounts.iter().filter(|a| a.origin == site).collect();
    let guid = match (account, at_site.as_slice()) {
        (Some(id), _) => profile_core::AccountGuid::try_from(id).map_err(str::to_owned)?,
        (None, [only]) => only.account_guid.clone(),
        (None, []) => return Err(format!("no account at {site}")),
        (None, _) => return Err(format!("several accounts at {site}: name one with --account")),
    };
    let paired = remove_account(&store, &site, &guid).map_err(|e| e.message)?;
    say!("removed the account {guid} at {site}");
    if paired {
        match sync::sync(&store, &sync::Client::default()) {
            Ok(_) => say!("synced with the profile server"),
            Err(e) => say!("not synced yet ({}); it will go out at the next sync", e.message),
        }
    }
    Ok(ExitCode::SUCCESS)
}
