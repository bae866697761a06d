//! The profile's devices: listing, signing one out, and unpairing this one.

use profile_core::server_api::{DeviceList, path};
use profile_core::{ErrorCode, WireError};
use serde_json::{Value, json};

use super::client::*;
use super::sync::*;
use crate::local::link::ServerLink;
use crate::local::store::Store;

/// Runs `call` with a fresh access token, inside a state update so that rotated tokens are
/// saved whatever `call` answers. A device the server signed out is unpaired (its cache stays).
/// A server that offered an older vault is not talked to at all, so it cannot undo the halt
/// (by refusing a refresh, say), unless `even_halted` (unpairing, the person's own choice).
pub(super) fn with_token<T>(
    store: &Store,
    client: &Client,
    even_halted: bool,
    call: impl FnOnce(&Client, &ServerLink) -> Result<T, WireError>,
) -> Result<T, WireError> {
    on_link(store, |link, _| {
        if !even_halted {
            link.usable()?;
        }
        fresh_token(client, link)?;
        call(client, link)
    })?
    .ok_or_else(not_paired)
}

/// The answer of a call that needs a profile server, when none is paired.
pub fn not_paired() -> WireError {
    WireError::new(ErrorCode::NotPaired, "this profile is not paired with a profile server")
}

/// The profile's devices, as the server lists them (`current` marks this one).
pub fn devices(store: &Store, client: &Client) -> Result<DeviceList, WireError> {
    with_token(store, client, false, |client, link| {
        client.call("GET", &url(&link.api_base, path::DEVICES), Some(&link.access_token), NO_BODY)?.expect(200)
    })
}

/// Signs one of the profile's devices out.
pub fn revoke_device(store: &Store, client: &Client, pairing_id: &str) -> Result<(), WireError> {
    // It goes into the URL's path: only the server's id alphabet, so it names nothing else.
    let well_formed = (1..=64).contains(&pairing_id.len())
        && pairing_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(WireError::invalid("pairingId must be a pairing id from the device list"));
    }
    with_token(store, client, false, |client, link| {
        let address = url(&link.api_base, &path::device(pairing_id));
        client.call("DELETE", &address, Some(&link.access_token), NO_BODY)?.expect_empty(204)
    })
}

/// Forgets the server: signs this device out there (when it can) and drops the tokens and the
/// data key. The local cache stays.
pub fn unpair(store: &Store, client: &Client) -> Result<Value, WireError> {
    if store.state()?.server.is_none() {
        return Err(not_paired());
    }
    let signed_out = with_token(store, client, true, |client, link| {
        let address = url(&link.api_base, &path::device(&link.pairing_id));
        Ok(client.call("DELETE", &address, Some(&link.access_token), NO_BODY)?.status == 204)
    })
    .unwrap_or(false);
    store.update(|s| {
        s.forget_server();
        Ok(())
    })?;
    Ok(json!({"unpaired": true, "signedOut": signed_out}))
}
