//! The push socket: a thread per process that syncs when another device changed the vault, and
//! after each sync reads the followed profiles that are due ([`super::follow`]).

use std::time::Duration;

use profile_core::ErrorCode;
use profile_core::server_api::{PushEvent, path};

use super::client::*;
use super::devices::*;
use super::follow::{Follower, Round};
use super::sync::*;
use crate::local::store::Store;

/// The longest pause between reconnections of the push socket.
pub(super) const MAX_RECONNECT_SECS: u64 = 60;
/// How often an unpaired host looks whether it was paired meanwhile.
pub(super) const NOT_PAIRED_CHECK_SECS: u64 = 5;

/// Starts (once per process) the thread that holds the profile server's push socket: it syncs
/// when it connects and whenever another device changes the vault, reconnects with a growing
/// pause when the connection drops, and forgets the server when it revokes this device.
pub fn listen(store: std::sync::Arc<Store>) {
    static STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if STARTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let spawned = std::thread::Builder::new().name("push".into()).spawn(move || {
        let client = Client::default();
        let follower = Follower::default();
        let mut pause = 1;
        loop {
            if !store.state().is_ok_and(|s| s.server.as_ref().is_some_and(|link| link.halted.is_none())) {
                // Not paired (yet), or syncing stopped: look again soon, e.g. after a pairing
                // in the browser.
                std::thread::sleep(Duration::from_secs(NOT_PAIRED_CHECK_SECS));
                pause = 1;
                continue;
            }
            match hold_socket(&store, &client, &follower) {
                Ok(()) => pause = 1,
                Err(e) => tracing::info!("push socket: {e}; reconnecting in {pause} s"),
            }
            std::thread::sleep(Duration::from_secs(pause));
            pause = (pause * 2).min(MAX_RECONNECT_SECS);
        }
    });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the push thread: {e}");
    }
}

/// One push connection, until it closes.
pub(super) fn hold_socket(store: &Store, client: &Client, follower: &Follower) -> Result<(), String> {
    use tungstenite::client::IntoClientRequest;
    let link = match with_token(store, client, false, |_, link| Ok(link.clone())) {
        Ok(link) => link,
        Err(e) if e.code == ErrorCode::NotPaired => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    let url = format!("ws{}{}", link.api_base.trim_start_matches("http"), path::PUSH);
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    let bearer = format!("Bearer {}", link.access_token.expose()).parse().map_err(|_| "unusable token".to_owned())?;
    request.headers_mut().insert("Authorization", bearer);
    let (mut socket, _) = tungstenite::connect(request).map_err(|e| e.to_string())?;
    tracing::info!("push socket connected");
    // Whatever happened while disconnected.
    let _ = sync(store, client);
    follow_due(store, follower);
    loop {
        let message = match socket.read() {
            Ok(tungstenite::Message::Text(text)) => text,
            Ok(tungstenite::Message::Close(_)) => return Ok(()),
            Ok(_) => continue,
            Err(e) => return Err(e.to_string()),
        };
        // An event this version does not know is skipped.
        let Ok(event) = serde_json::from_str::<PushEvent>(&message) else { continue };
        match event {
            // A linked profile redeemed a ticket of this device, confirmed a link, changed its
            // card or cut the link: the sync after it completes, reads or cuts.
            PushEvent::VaultChanged { .. }
            | PushEvent::Resync
            | PushEvent::AppendReceived { .. }
            | PushEvent::LinkRequested {} => {
                if let Err(e) = sync(store, client) {
                    tracing::warn!("profile server sync: {e}");
                }
                follow_due(store, follower);
            }
            PushEvent::DeviceRevoked { pairing_id } if pairing_id == link.pairing_id => {
                tracing::warn!("the profile server signed this device out; it is no longer paired");
                store
                    .update(|s| {
                        s.forget_server();
                        Ok(())
                    })
                    .map_err(|e| e.to_string())?;
                return Ok(());
            }
            _ => {}
        }
    }
}

/// Reads the followed profiles that are due; what fails is recorded with each contact.
fn follow_due(store: &Store, follower: &Follower) {
    if let Err(e) = follower.follow(store, Round::Due) {
        tracing::warn!("followed profiles: {e}");
    }
}
