//! The passphrase lock and the unlock session, and forgetting an account: changes to the local
//! state the extension and the CLI both make.

use profile_core::{AccountGuid, ErrorCode, Origin, WireError};

use crate::local::keystore::OsKeystore;
use crate::local::link::RegistryNews;
use crate::local::state::{LocalState, MIN_PASSPHRASE_CHARS, PassphraseLock};
use crate::local::store::{Store, StoreError, now, random};

fn fail<T>(code: ErrorCode, message: impl Into<String>) -> Result<T, WireError> {
    Err(WireError::new(code, message))
}

/// Forgets a site account and its login key here; the vault and the server's registry hear of
/// it at the next sync. Says whether this profile is paired (and so has something to sync).
pub fn remove_account(store: &Store, site: &Origin, guid: &AccountGuid) -> Result<bool, WireError> {
    store.update(|s| {
        let before = s.accounts.len();
        s.accounts.retain(|a| !(&a.origin == site && &a.account_guid == guid));
        if s.accounts.len() == before {
            return fail(ErrorCode::NotFound, format!("no account {guid} at {site}"));
        }
        // A remembered login there has nothing left to log in with.
        if !s.accounts.iter().any(|a| &a.origin == site) {
            s.grants.retain(|g| !(&g.origin == site && g.kind == profile_core::wire::GrantKind::Login));
        }
        if let Some(link) = s.server.as_mut() {
            link.tell(RegistryNews::Removed { origin: site.clone(), account_guid: guid.clone() });
        }
        Ok(s.server.is_some())
    })
}

enum Unlock {
    /// Unlocked until this time.
    Unlocked(u64),
    /// The failure was counted (and saved) for the back-off.
    WrongPassphrase,
}

fn unlock(state: &mut LocalState, passphrase: &profile_core::Passphrase, now: u64) -> Result<Unlock, WireError> {
    let locked = state.locked;
    let Some(lock) = state.lock.as_mut() else {
        return fail(ErrorCode::InvalidRequest, "no passphrase is set: the OS keystore alone unlocks this profile");
    };
    if !locked {
        return fail(ErrorCode::InvalidRequest, "already unlocked");
    }
    if !check_passphrase(lock, passphrase, now)? {
        return Ok(Unlock::WrongPassphrase);
    }
    state.locked = false;
    let until = now + crate::local::state::SESSION_SECS;
    state.unlocked_until = Some(until);
    Ok(Unlock::Unlocked(until))
}

/// Checks a passphrase against the lock, slowed down after repeated failures: `Ok(false)` for a
/// wrong one (counted, for the caller to save), `rate_limited` while a wait is on.
pub fn check_passphrase(
    lock: &mut PassphraseLock,
    passphrase: &profile_core::Passphrase,
    now: u64,
) -> Result<bool, WireError> {
    let wait = lock.wait_secs(now);
    if wait > 0 {
        return fail(ErrorCode::RateLimited, format!("too many wrong passphrases; try again in {wait} s"));
    }
    if !lock.matches(passphrase) {
        lock.failures += 1;
        lock.last_failure_at = now;
        return Ok(false);
    }
    lock.failures = 0;
    Ok(true)
}

/// Shows what a locked profile keeps, once, to a person who gives its passphrase (the CLI's
/// verbs that reveal something): the passphrase is checked like an unlock, with the same
/// back-off, and the profile stays locked.
pub fn prove_passphrase(store: &Store, passphrase: &profile_core::Passphrase) -> Result<(), WireError> {
    let right = store.update(|s| match s.lock.as_mut() {
        None => Ok(true),
        Some(lock) => check_passphrase(lock, passphrase, now()),
    })?;
    if right { Ok(()) } else { fail(ErrorCode::AuthFailed, "wrong passphrase") }
}

/// Locks the profile (the CLI's `lock`, the extension's `lock`); idempotent. Only a profile with
/// a passphrase can be locked.
pub fn lock_profile(store: &Store) -> Result<(), WireError> {
    store.update(|s| match s.lock {
        None => fail(
            ErrorCode::InvalidRequest,
            "set a passphrase first (`profile-host passphrase set`): without one the OS keystore alone unlocks this profile",
        ),
        Some(_) => {
            s.locked = true;
            Ok(())
        }
    })
}

/// Unlocks the profile (the CLI's `unlock`, the extension's `unlock`).
pub fn unlock_profile(store: &Store, passphrase: &profile_core::Passphrase) -> Result<u64, WireError> {
    match store.update(|s| unlock(s, passphrase, now()))? {
        Unlock::Unlocked(until) => {
            store.touch_activity()?;
            Ok(until)
        }
        Unlock::WrongPassphrase => fail(ErrorCode::AuthFailed, "wrong passphrase"),
    }
}

/// Sets or replaces this host's own passphrase (a device not paired with a profile server;
/// [`crate::remote::set_passphrase`] decides). Replacing one needs `current`, checked like an
/// unlock: wrong tries are counted (and saved) and slowed.
pub fn set_local_passphrase(
    store: &Store,
    current: Option<&profile_core::Passphrase>,
    new: &profile_core::Passphrase,
) -> Result<(), WireError> {
    if new.expose().chars().count() < MIN_PASSPHRASE_CHARS {
        return fail(
            ErrorCode::InvalidRequest,
            format!("a passphrase needs at least {MIN_PASSPHRASE_CHARS} characters"),
        );
    }
    let lock = PassphraseLock::create(new, random()?).map_err(|e| WireError::internal(e.to_string()))?;
    let outcome = store.update(|s| {
        let outcome = match (s.lock.as_mut(), current) {
            (None, _) => Ok(()),
            (Some(_), None) => Err("a passphrase is set: give the current one to change it"),
            (Some(existing), Some(current)) => {
                if check_passphrase(existing, current, now())? {
                    Ok(())
                } else {
                    Err("the current passphrase is wrong")
                }
            }
        };
        if outcome.is_ok() {
            s.lock = Some(lock);
        }
        Ok(outcome)
    })?;
    outcome.or_else(|why| fail(ErrorCode::AuthFailed, why))?;
    // Setting it is a person's doing: the idle clock starts now.
    Ok(store.touch_activity()?)
}

/// Opens a data dir's store on the OS keystore (for the CLI).
pub fn open_store(dir: &std::path::Path) -> Result<Store, StoreError> {
    Store::open(dir, &OsKeystore)
}
