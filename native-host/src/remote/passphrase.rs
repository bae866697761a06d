//! The passphrase as people set it and use it: setting or changing it (on the profile server
//! too when paired), and unlocking (which opens a ticket-paired host's vault). The CLI and the
//! extension's own methods both come here.

use profile_core::server_api::{
    Bytes, CredentialKind, CurrentProof, PassphraseChange as ServerPassphraseChange, Rotation, VaultWritten, path,
};
use profile_core::vault::{self, KdfParams};
use profile_core::wire::PassphraseSet;
use profile_core::{ErrorCode, Passphrase, Secret32, WireError};

use super::client::*;
use super::devices::*;
use super::sync::*;
use crate::local::link::ServerLink;
use crate::local::session::{set_local_passphrase, unlock_profile};
use crate::local::state::LocalState;
use crate::local::store::{Store, random};

/// How a paired profile's passphrase changes on its server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassphraseChange {
    /// Leave the profile's other devices signed in (by default they are signed out: a device
    /// that knew the old passphrase, or was stolen with it, is not trusted with the new one).
    pub keep_devices: bool,
    /// Also replace the vault's data key: the vault is sealed again under a new one, and every
    /// credential wraps the new key (the paper key too, which must then be given).
    pub rotate_key: bool,
}

/// Sets the passphrase, or changes it: the one way for the CLI's `passphrase set` and the
/// extension's `setPassphrase`. On a device paired with a profile server it is the profile's
/// passphrase that changes, proved by `current` on the server and there too, as `how` says
/// ([`change_passphrase`]); otherwise this host's own lock, where `current` is needed once one
/// is set ([`set_local_passphrase`]) and `how` and `paper_key` mean nothing.
pub fn set_passphrase(
    store: &Store,
    client: &Client,
    current: Option<&Passphrase>,
    new: &Passphrase,
    paper_key: Option<&vault::PaperKey>,
    how: PassphraseChange,
) -> Result<PassphraseSet, WireError> {
    if store.state()?.server.is_none() {
        set_local_passphrase(store, current, new)?;
        return Ok(PassphraseSet { others_signed_out: false });
    }
    let current = current
        .ok_or_else(|| WireError::new(ErrorCode::AuthFailed, "give the profile's current passphrase to change it"))?;
    change_passphrase(store, client, current, new, paper_key, how)?;
    Ok(PassphraseSet { others_signed_out: how.rotate_key || !how.keep_devices })
}

/// What an unlock did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlocked {
    /// The synced vault opened on a host paired with a ticket, which was not locked.
    VaultOpened,
    /// The profile is unlocked until this Unix time (and, on a host paired with a ticket, its
    /// vault opened first).
    Until(u64),
}

/// Unlocks the profile with its passphrase (the CLI's `unlock`, the extension's `unlock`). A
/// host paired with a ticket opens the synced vault with it first.
pub fn unlock(
    store: &Store,
    client: &Client,
    state: &LocalState,
    passphrase: &Passphrase,
) -> Result<Unlocked, WireError> {
    if state.server.as_ref().is_some_and(|link| link.data_key.is_none()) {
        open_with_passphrase(store, client, passphrase)?;
        if !state.locked {
            return Ok(Unlocked::VaultOpened);
        }
    }
    unlock_profile(store, passphrase).map(Unlocked::Until)
}

/// Changes the profile's passphrase on its server (proved by the current one), and this host's
/// lock with it. With `rotate_key` the vault's data key is replaced in the same step; the other
/// devices are then signed out whatever `keep_devices` says, since they hold the old key.
fn change_passphrase(
    store: &Store,
    client: &Client,
    current: &Passphrase,
    new: &Passphrase,
    paper_key: Option<&vault::PaperKey>,
    how: PassphraseChange,
) -> Result<(), WireError> {
    if how.rotate_key && how.keep_devices {
        return Err(WireError::invalid("a new data key signs the other devices out: drop --keep-devices"));
    }
    if new.expose().chars().count() < vault::MIN_PASSPHRASE_CHARS {
        return Err(WireError::invalid(format!(
            "a passphrase needs at least {} characters",
            vault::MIN_PASSPHRASE_CHARS
        )));
    }
    // What the vault holds must be on the server first: a new key seals exactly that.
    sync(store, client)?;
    let new_lock =
        crate::local::state::PassphraseLock::create(new, random()?).map_err(|e| WireError::internal(e.to_string()))?;
    let changed = on_link(store, |link, s| {
        let rotated = change_on_server(client, link, s, current, new, paper_key, how)?;
        if let Some((data_key, counter, blob)) = rotated {
            link.data_key = Some(data_key);
            link.counter = counter;
            link.saw(counter, &blob);
            // The items were sealed under the old key: the next sync removes them and writes
            // the vault's entries again under the new one, from the blob just written.
            link.items_moved = false;
            link.blob_retired = false;
        }
        s.lock = Some(new_lock.clone());
        Ok(())
    })?;
    changed.ok_or_else(not_paired)?;
    Ok(store.touch_activity()?)
}

/// The server's part of a passphrase change; with a rotation, the new data key and the vault
/// version it sealed.
pub(super) fn change_on_server(
    client: &Client,
    link: &mut ServerLink,
    state: &LocalState,
    current: &Passphrase,
    new: &Passphrase,
    paper_key: Option<&vault::PaperKey>,
    how: PassphraseChange,
) -> Result<Option<(Secret32, u64, Vec<u8>)>, WireError> {
    link.usable()?;
    let data_key = link.data_key.clone().ok_or_else(|| {
        WireError::invalid("the synced vault is not open on this device yet: unlock it with the passphrase first")
    })?;
    fresh_token(client, link)?;
    let remote = read_fresh_vault(client, link)?;
    let kdf = remote.kdf.clone();
    let old_keys =
        vault::derive(current, &kdf).map_err(|e| WireError::new(ErrorCode::InvalidRequest, e.to_string()))?;
    let new_kdf = KdfParams::recommended(random()?);
    let new_keys =
        vault::derive(new, &new_kdf).map_err(|e| WireError::new(ErrorCode::InvalidRequest, e.to_string()))?;
    let mut rotation = None;
    let mut rotated = None;
    let key = if how.rotate_key {
        if link.dirty || remote.counter != link.counter {
            return Err(WireError::new(ErrorCode::Busy, "the vault changed meanwhile; try again"));
        }
        let fresh = Secret32::from_bytes(random()?);
        let contents = state.vault_contents();
        let json =
            zeroize::Zeroizing::new(serde_json::to_vec(&contents).map_err(|e| WireError::internal(e.to_string()))?);
        let blob = vault::seal_vault(&fresh, &link.profile_id, link.counter + 1, random()?, &json);
        let mut rotate =
            Rotation { counter: signed(link.counter)?, blob: Bytes(blob.clone()), paper_wrapped_key: None };
        if let Some(paper_wrapped) = remote.wrapped(CredentialKind::Paper) {
            let paper = paper_key.ok_or_else(|| {
                WireError::invalid("this profile has a paper key: give it, so it can open the new data key too")
            })?;
            vault::unwrap(&paper.kek(), paper_wrapped)
                .map_err(|_| WireError::invalid("that paper key is not this profile's"))?;
            rotate.paper_wrapped_key = Some(Bytes(vault::wrap(&paper.kek(), &fresh, random()?)));
        }
        rotation = Some(rotate);
        rotated = Some((fresh.clone(), link.counter + 1, blob));
        fresh
    } else {
        data_key
    };
    let body = ServerPassphraseChange {
        proof: CurrentProof::auth_key(&old_keys.auth_key),
        kdf: new_kdf,
        auth_key: new_keys.auth_key.clone(),
        wrapped_key: Bytes(vault::wrap(&new_keys.kek, &key, random()?)),
        keep_devices: how.keep_devices,
        rotate: rotation,
    };
    let answer = client.call("PUT", &url(&link.api_base, path::PASSPHRASE), Some(&link.access_token), Some(&body))?;
    match answer.status {
        200 | 204 => {}
        401 => return Err(WireError::new(ErrorCode::AuthFailed, "the current passphrase is wrong")),
        409 => return Err(WireError::new(ErrorCode::Busy, "the vault changed meanwhile; try again")),
        _ => return Err(answer.error()),
    }
    if let Some((_, expected, _)) = &rotated
        && answer.read::<VaultWritten>().ok().map(|w| counter(w.counter)) != Some(Ok(*expected))
    {
        return Err(WireError::internal("the profile server did not store the vault under the new key"));
    }
    Ok(rotated)
}

/// Opens the vault of a ticket-paired host with the profile's passphrase.
fn open_with_passphrase(store: &Store, client: &Client, passphrase: &Passphrase) -> Result<bool, WireError> {
    let Some(link) = store.state()?.server.clone() else { return Ok(false) };
    if link.data_key.is_some() {
        return Ok(false);
    }
    let remote = read_vault(client, &link)?;
    let kdf = remote.kdf.clone();
    let keys = vault::derive(passphrase, &kdf).map_err(|e| WireError::new(ErrorCode::InvalidRequest, e.to_string()))?;
    let data_key = remote.unwrap_key(&keys.kek)?;
    let mut lock = Some(
        crate::local::state::PassphraseLock::create(passphrase, random()?)
            .map_err(|e| WireError::internal(e.to_string()))?,
    );
    store.update(|s| {
        if let Some(link) = s.server.as_mut() {
            link.data_key = Some(data_key);
            link.dirty = true;
        }
        if s.lock.is_none() {
            // As after pairing with the passphrase: it now also locks this host.
            s.lock = lock.take();
        }
        Ok(())
    })?;
    sync(store, client)?;
    Ok(true)
}
