//! The passphrase and the lock: `lock`, `unlock`, `auto-lock`, `passphrase set`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::ExitCode;

use profile_core::{ErrorCode, WireError};

use super::*;
use crate::local::session::{lock_profile, open_store};
use crate::local::store::now;
use crate::remote as sync;

pub(super) fn lock(home: &Path) -> Result<ExitCode, String> {
    let store = open_store(home).map_err(|e| e.to_string())?;
    lock_profile(&store).map_err(|e| e.message)?;
    say!("locked: sites get nothing until you unlock it (`profile-host unlock`)");
    Ok(ExitCode::SUCCESS)
}

pub(super) fn unlock(home: &Path) -> Result<ExitCode, String> {
    let store = open_store(home).map_err(|e| e.to_string())?;
    let (state, _) = store.enforce_session(now()).map_err(|e| e.message)?;
    let vault_waits = state.server.as_ref().is_some_and(|link| link.data_key.is_none());
    if !state.locked && !vault_waits {
        match state.lock {
            Some(_) => say!("the profile is not locked"),
            None => say!("the profile is not locked (no passphrase is set: the OS keystore alone unlocks it)"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let passphrase = read_passphrase("Passphrase: ")?;
    match sync::unlock(&store, &sync::Client::default(), &state, &passphrase).map_err(|e| e.message)? {
        sync::Unlocked::VaultOpened => say!("the synced vault is open on this device"),
        sync::Unlocked::Until(until) => {
            let left = std::time::Duration::from_secs(until.saturating_sub(now()));
            say!("unlocked for at most {}", humantime::format_duration(left));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn auto_lock(home: &Path, after: u64) -> Result<ExitCode, String> {
    // A setting, not a secret: it may change while the profile is locked (unlocking still
    // needs the passphrase). A session that ran out ends first, under the old setting.
    let store = open_store(home).map_err(|e| e.to_string())?;
    store.enforce_session(now()).map_err(|e| e.message)?;
    store
        .update(|s| {
            if after > 0 && s.lock.is_none() {
                return Err(WireError::new(
                    ErrorCode::InvalidRequest,
                    "auto-lock needs a passphrase to unlock with: set one first with `profile-host passphrase set`",
                ));
            }
            s.auto_lock_secs = after;
            Ok(())
        })
        .map_err(|e| e.message)?;
    match after {
        0 => say!("auto-lock is off"),
        secs => say!(
            "the profile locks after {} without a request",
            humantime::format_duration(std::time::Duration::from_secs(secs))
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn set_passphrase_verb(home: &Path, keep_devices: bool, rotate_key: bool) -> Result<ExitCode, String> {
    // The current passphrase proves it is the person, locked or not.
    let store = open_store(home).map_err(|e| e.to_string())?;
    let state = store.state().map_err(|e| e.to_string())?;
    let paired = state.server.is_some();
    if !paired && (keep_devices || rotate_key) {
        return Err("--keep-devices and --rotate-key are for a device paired with a profile server".into());
    }
    let current = match (paired, &state.lock) {
        (true, _) => Some(read_passphrase("Your profile's current passphrase: ")?),
        (false, Some(_)) => Some(read_passphrase("The current passphrase: ")?),
        (false, None) => None,
    };
    let new = read_new_passphrase()?;
    let paper_key = if rotate_key {
        let line = read_passphrase("Your paper key, if you have one (else Enter): ")?;
        (!line.expose().trim().is_empty())
            .then(|| profile_core::vault::PaperKey::parse(line.expose()))
            .transpose()
            .map_err(|e| e.to_string())?
    } else {
        None
    };
    let how = sync::PassphraseChange { keep_devices, rotate_key };
    let set = sync::set_passphrase(&store, &sync::Client::default(), current.as_ref(), &new, paper_key.as_ref(), how)
        .map_err(|e| e.message)?;
    if !paired {
        say!("passphrase set: `profile-host lock` now locks the profile, and `unlock` asks for it");
        return Ok(ExitCode::SUCCESS);
    }
    say!(
        "the profile's passphrase is changed{}{}",
        if rotate_key { ", its vault sealed under a new key" } else { "" },
        if set.others_signed_out { "; your other devices are signed out until you pair them again" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}
