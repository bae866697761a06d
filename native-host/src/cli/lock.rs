//! The passphrase and the lock: `lock`, `unlock`, `auto-lock`, `passphrase set`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::process::ExitCode;

use profile_core::Passphrase;

use super::*;
use crate::local::session::{lock_profile, open_store, set_passphrase, unlock_profile};
use crate::local::store::now;
use crate::remote as sync;

pub(super) fn lock(home: &Path) -> Result<ExitCode, String> {
    let store = open_store(home).map_err(|e| e.to_string())?;
    lock_profile(&store).map_err(|e| e.message)?;
    println!("locked");
    Ok(ExitCode::SUCCESS)
}

pub(super) fn unlock(home: &Path) -> Result<ExitCode, String> {
    let store = open_store(home).map_err(|e| e.to_string())?;
    let (state, _) = store.enforce_session(now()).map_err(|e| e.message)?;
    if !state.locked {
        println!("already unlocked");
        return Ok(ExitCode::SUCCESS);
    }
    let passphrase = read_passphrase("Passphrase: ")?;
    let until = unlock_profile(&store, &passphrase).map_err(|e| e.message)?;
    let left = std::time::Duration::from_secs(until.saturating_sub(now()));
    println!("unlocked for at most {}", humantime::format_duration(left));
    Ok(ExitCode::SUCCESS)
}

pub(super) fn auto_lock(home: &Path, after: u64) -> Result<ExitCode, String> {
    // A setting, not a secret: it may change while the profile is locked (unlocking still
    // needs the passphrase). A session that ran out ends first, under the old setting.
    let store = open_store(home).map_err(|e| e.to_string())?;
    store.enforce_session(now()).map_err(|e| e.message)?;
    store
        .update(|s| {
            s.auto_lock_secs = after;
            Ok(())
        })
        .map_err(|e| e.message)?;
    match after {
        0 => println!("auto-lock is off"),
        secs => println!(
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
    if state.server.is_some() {
        let current = read_passphrase("Your profile's current passphrase: ")?;
        let new = read_passphrase("The new passphrase: ")?;
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
        sync::change_passphrase(&store, &sync::Client::default(), &current, &new, paper_key.as_ref(), how)
            .map_err(|e| e.message)?;
        println!(
            "the profile's passphrase is changed{}{}",
            if rotate_key { ", its vault sealed under a new key" } else { "" },
            if keep_devices { "" } else { "; your other devices are signed out until you pair them again" }
        );
        return Ok(ExitCode::SUCCESS);
    }
    if keep_devices || rotate_key {
        return Err("--keep-devices and --rotate-key are for a device paired with a profile server".into());
    }
    let has_one = state.lock.is_some();
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!(
            "{}",
            if has_one {
                "Type the current passphrase, Enter, then the new one, Enter:"
            } else {
                "Type the new passphrase, Enter:"
            }
        );
    }
    let mut lines = stdin.lock().lines();
    let mut next = || lines.next().transpose().map_err(|e| e.to_string()).map(|l| l.map(Passphrase::new));
    let current = if has_one { Some(next()?.ok_or("expected the current passphrase on stdin")?) } else { None };
    let new = next()?.ok_or("expected the new passphrase on stdin")?;
    set_passphrase(&store, current.as_ref(), &new).map_err(|e| e.message)?;
    println!("passphrase set");
    Ok(ExitCode::SUCCESS)
}
