//! Pairing with a profile server: discovery from the profile URL, logging in with the
//! passphrase or a ticket, and the first merge.

use profile_core::server_api::{
    LoginCredential, LoginRequest, PreloginRequest, PreloginResponse, ProfileDocument, Tokens, path,
};
use profile_core::vault::{self, KdfParams, VaultContents, Watermark, merge};
use profile_core::{Bearer, ErrorCode, Origin, Passphrase, WireError};
use serde_json::{Value, json};

use super::client::*;
use super::sync::*;
use crate::local::link::ServerLink;
use crate::local::store::{Store, now, random};

/// The profile URL's document names the API; only https (or http on loopback) is accepted,
/// since a passphrase-derived key travels to it.
pub(super) fn discover(client: &Client, profile_url: &str) -> Result<(String, String, String), WireError> {
    let check = |url: &str| -> Result<(), WireError> {
        let origin_part: String = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
        match Origin::parse(&origin_part) {
            Ok(origin) if origin.is_web() => Ok(()),
            _ => Err(WireError::new(
                ErrorCode::InvalidRequest,
                format!("`{url}` is not an https URL (http is allowed only on localhost)"),
            )),
        }
    };
    check(profile_url)?;
    let answer = client.call("GET", profile_url, None, NO_BODY)?;
    if answer.status != 200 {
        return Err(answer.error());
    }
    let document: ProfileDocument = answer
        .read()
        .map_err(|_| WireError::new(ErrorCode::InvalidRequest, format!("{profile_url} is not a profile document")))?;
    check(&document.api_base)?;
    Ok((document.profile_id, document.profile_url, document.api_base.trim_end_matches('/').to_owned()))
}

/// The device name the server lists.
pub(super) fn device_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()).filter(|h| !h.is_empty());
    format!("profile-host on {}", host.unwrap_or_else(|| std::env::consts::OS.to_owned()))
}

/// What pairing proves itself with.
#[derive(Debug)]
pub enum PairWith {
    Passphrase { email: String, passphrase: Passphrase },
    Ticket(Bearer),
}

/// Pairs this host with the profile at `profile_url`: logs in, opens the vault (with the
/// passphrase), merges what this host already had into it, and writes it back. A vault older
/// than one this host saw of the same profile is refused unless `accept_older_vault`.
pub fn pair(
    store: &Store,
    client: &Client,
    profile_url: &str,
    with: PairWith,
    accept_older_vault: bool,
) -> Result<Value, WireError> {
    if store.state()?.server.is_some() {
        return Err(WireError::new(ErrorCode::InvalidRequest, "already paired; unpair first"));
    }
    let (profile_id, profile_url, api_base) = discover(client, profile_url)?;
    let (body, passphrase, mut lock) = match with {
        PairWith::Passphrase { email, passphrase } => {
            let kdf = prelogin(client, &api_base, &profile_id, &email)?;
            let keys = vault::derive(&passphrase, &kdf)
                .map_err(|e| WireError::new(ErrorCode::InvalidRequest, e.to_string()))?;
            let body = LoginRequest::with_auth_key(&profile_id, &email, &keys.auth_key, &device_name());
            let lock = crate::local::state::PassphraseLock::create(&passphrase, random()?)
                .map_err(|e| WireError::internal(e.to_string()))?;
            (body, Some(keys), Some(lock))
        }
        PairWith::Ticket(ticket) => (LoginRequest::new(LoginCredential::Ticket(ticket), device_name()), None, None),
    };
    let tokens: Tokens = client.call("POST", &url(&api_base, path::LOGIN), None, Some(&body))?.expect(200)?;
    let mut link = ServerLink {
        api_base,
        profile_id,
        profile_url: profile_url.clone(),
        pairing_id: tokens.pairing_id,
        access_expires_at: now() + u64::try_from(tokens.expires_in).unwrap_or(0),
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        data_key: None,
        counter: 0,
        base: VaultContents::default(),
        dirty: true,
        seen: Watermark::default(),
        halted: None,
        outbox: Vec::new(),
        items_moved: false,
        blob_retired: false,
        seq: 0,
        versions: Default::default(),
        published: None,
        published_key: None,
        shares: Default::default(),
        tickets: Vec::new(),
        peer_apis: Default::default(),
        unconfirmed_links: Default::default(),
    };
    let remote = read_vault(client, &link)?;
    let history = store.state()?.vault_history.get(&profile_url).cloned().unwrap_or_default();
    if let Err(rollback) = history.check(remote.counter, &remote.blob)
        && !accept_older_vault
    {
        return Err(WireError::invalid(format!(
            "the profile server offers an older vault of this profile (version {}) than this device has seen \
             (version {}): it may have been restored from a backup or tampered with. To use it anyway, pair again \
             accepting the older vault; what this device holds is merged into it",
            rollback.offered, rollback.seen
        )));
    }
    // The items too: a change sequence below one seen is an older copy of the profile.
    let offered_seq = current_seq(client, &link)?;
    let forked = super::items::rolled_back_head(client, &link, &history.heads)?;
    if let Some((seen, offered)) = forked
        && !accept_older_vault
    {
        return Err(WireError::invalid(format!(
            "the profile server offers an older vault of this profile than this device has seen (a device's \
             changes at version {seen} are gone, version {offered} is there): it may have been restored from a \
             backup or tampered with. To use it anyway, pair again accepting the older vault; what this device \
             holds is merged into it"
        )));
    }
    if offered_seq < history.seq && !accept_older_vault {
        return Err(WireError::invalid(format!(
            "the profile server offers an older vault of this profile (change {offered_seq}) than this device has \
             seen (change {}): it may have been restored from a backup or tampered with. To use it anyway, pair \
             again accepting the older vault; what this device holds is merged into it",
            history.seq
        )));
    }
    if let Some(keys) = &passphrase {
        link.data_key = Some(remote.unwrap_key(&keys.kek)?);
    }
    store.update(|s| {
        s.profile_url = Some(profile_url.clone());
        if let Some(lock) = lock.take()
            && s.lock.is_none()
        {
            // The profile's passphrase now also locks this host (with its own salt).
            s.lock = Some(lock);
        }
        if let Some(data_key) = link.data_key.clone() {
            let contents = remote.open(&data_key, &mut link)?;
            s.take_vault_contents(merge(&VaultContents::default(), &s.vault_contents(), &contents));
            link.counter = remote.counter;
            link.base = contents;
            link.saw(remote.counter, &remote.blob);
        }
        // From here on this pairing's own watermark rules.
        s.vault_history.remove(&profile_url);
        s.server = Some(link);
        Ok(())
    })?;
    let synced = sync(store, client);
    if let Err(error) = &synced
        && store.state()?.server.as_ref().is_some_and(|link| link.halted.is_some())
    {
        // A vault this device cannot take (of a newer format, or older than one it saw): it is
        // not paired with it, and wrote nothing to it.
        let _ = super::devices::unpair(store, client);
        return Err(error.clone());
    }
    Ok(json!({
        "profileUrl": profile_url,
        "vaultOpen": passphrase.is_some(),
        "synced": synced.is_ok(),
    }))
}

pub(super) fn prelogin(client: &Client, api_base: &str, profile_id: &str, email: &str) -> Result<KdfParams, WireError> {
    let body = PreloginRequest { profile_id: profile_id.to_owned(), email: email.to_owned() };
    let answer: PreloginResponse =
        client.call("POST", &url(api_base, path::PRELOGIN), None, Some(&body))?.expect(200)?;
    Ok(answer.kdf)
}
