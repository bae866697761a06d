//! Keeping the vault in sync.
//!
//! Once paired, the addresses and site accounts live in the person's vault on their profile
//! server, end-to-end encrypted under a data key only their devices hold; the local state is
//! its cache, still usable offline. Every change is written locally first and marked dirty;
//! [`sync`] then writes it to the server with the vault's counter. When another device wrote
//! in between (409), it reads the server's version, merges field by field against the version
//! both started from, and writes again, so no change is dropped. When the server cannot be
//! reached the change stays dirty and goes out at the next sync.
//!
//! Tokens are refreshed and syncs run inside [`Store::update`], under the data dir's file
//! lock, so two host processes on one data dir never spend the same refresh token (which the
//! server would take for theft, and revoke the device).
//!
//! The server is not trusted with the vault's history either: the host remembers the newest
//! version it has seen ([`Watermark`]) and refuses an older one, or another blob at a counter
//! it has seen. It then keeps its data, stops syncing with that server and says so
//! ([`SyncHalt`]) until the person pairs again.
//!
//! What the server's accounts registry must hear (a sign-up, a login, a removed account) waits
//! in the sealed state's outbox and goes out in order at each sync until the server
//! acknowledges it, like a vault change: nothing is dropped when the server is away.

use profile_core::server_api::{
    AccountRef, AccountRegistration, CredentialKind, ItemsQuery, RefreshRequest, Tokens, Vault, WrappedKey, path,
};
use profile_core::vault::{self, ContentsError, KdfParams, VaultContents};
use profile_core::{AppId, ErrorCode, Permissions, Secret32, WireError};

use super::client::*;
use crate::local::link::{RegistryNews, ServerLink};
use crate::local::state::LocalState;
use crate::local::store::{Store, now};

/// Refresh the access token this long before it expires.
pub(super) const REFRESH_MARGIN_SECS: u64 = 60;
/// Rounds of read-merge-write before giving up on a busy vault.
pub(super) const MAX_MERGE_ROUNDS: usize = 8;

/// The vault as the server sends it.
pub(super) struct RemoteVault {
    pub(super) counter: u64,
    pub(super) blob: Vec<u8>,
    pub(super) kdf: KdfParams,
    credentials: Vec<WrappedKey>,
}

impl RemoteVault {
    /// The data key as wrapped for one kind of credential.
    pub(super) fn wrapped(&self, kind: CredentialKind) -> Option<&[u8]> {
        self.credentials.iter().find(|c| c.kind == kind).map(|c| c.wrapped_key.0.as_slice())
    }

    pub(super) fn unwrap_key(&self, kek: &Secret32) -> Result<Secret32, WireError> {
        let wrapped = self
            .wrapped(CredentialKind::Passphrase)
            .ok_or_else(|| WireError::internal("the vault has no passphrase key"))?;
        vault::unwrap(kek, wrapped).map_err(|e| WireError::new(ErrorCode::AuthFailed, e.to_string()))
    }

    /// Opens the vault for `link`'s profile. One written by a newer version, in a format this
    /// host does not read, halts syncing with words (recorded in the link, which the caller
    /// saves): nothing is written over it.
    pub(super) fn open(&self, data_key: &Secret32, link: &mut ServerLink) -> Result<VaultContents, WireError> {
        let json = vault::open_vault(data_key, &link.profile_id, self.counter, &self.blob)
            .map_err(|e| WireError::internal(format!("the server's vault: {e}")))?;
        VaultContents::from_json(&json).map_err(|e| match e {
            ContentsError::Newer { found } => link.refuse_newer(found),
            ContentsError::Invalid(_) => WireError::internal(e.to_string()),
        })
    }
}

pub(super) fn read_vault(client: &Client, link: &ServerLink) -> Result<RemoteVault, WireError> {
    let answer: Vault =
        client.call("GET", &url(&link.api_base, path::VAULT), Some(&link.access_token), NO_BODY)?.expect(200)?;
    Ok(RemoteVault {
        counter: counter(answer.counter)?,
        blob: answer.blob.0,
        kdf: answer.kdf,
        credentials: answer.credentials,
    })
}

/// Refreshes the access token when it is about to expire (inside a state update).
pub(super) fn fresh_token(client: &Client, link: &mut ServerLink) -> Result<(), WireError> {
    if now() + REFRESH_MARGIN_SECS < link.access_expires_at {
        return Ok(());
    }
    let body = RefreshRequest { refresh_token: link.refresh_token.clone() };
    let answer = client.call("POST", &url(&link.api_base, path::TOKEN), None, Some(&body))?;
    if answer.status == 401 {
        return Err(WireError::new(ErrorCode::NotPaired, "the profile server signed this device out; pair it again"));
    }
    let tokens: Tokens = answer.expect(200)?;
    link.access_token = tokens.access_token;
    link.refresh_token = tokens.refresh_token;
    link.access_expires_at = now() + u64::try_from(tokens.expires_in).unwrap_or(0);
    Ok(())
}

/// What a sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synced {
    /// Nothing to do: not paired, or the vault is not open yet.
    Idle,
    /// The server's vault and the local state agree, at vault version `counter`.
    InSync {
        counter: u64,
        /// This device's changes went to the server.
        sent: bool,
        /// Changes other devices made came in.
        received: bool,
    },
}

/// Brings the local state and the server's vault together: pulls what other devices wrote,
/// pushes local changes, merging on conflict. Tokens it rotates are saved even when a later
/// step fails; a change it cannot push stays dirty.
pub fn sync(store: &Store, client: &Client) -> Result<Synced, WireError> {
    let mut after = super::grants::AfterSync::default();
    let synced = on_link(store, |link, state| {
        let synced = sync_link(client, link, state)?;
        // The apps: what they appended comes in, what they may read is sealed again; linked
        // profiles' cards are read. Each waits for the next sync when it cannot be done now.
        let again = |link: &mut ServerLink, state: &mut LocalState| sync_link(client, link, state).map(drop);
        if let Err(e) = super::grants::after_sync(client, link, state, again, &mut after) {
            tracing::warn!("the apps' shares and appends wait for the next sync: {e}");
        }
        if let Err(e) = super::links::after_sync(client, link, state, &mut after) {
            tracing::warn!("the linked profiles wait for the next sync: {e}");
        }
        Ok(synced)
    })?;
    // What came in is saved: the server may forget it now.
    if !(after.appends_done.is_empty() && after.requests_done.is_empty())
        && let Err(e) = on_link(store, |link, _| after.forget(client, link))
    {
        tracing::warn!("what apps sent is in; the server hears so at the next sync: {e}");
    }
    for entry in &after.ledger {
        if let Err(e) = store.append_disclosure(entry) {
            tracing::warn!("cannot write the disclosure ledger: {e}");
        }
    }
    Ok(synced.unwrap_or(Synced::Idle))
}

/// Runs `work` on the paired link inside a state update, and saves the link whatever `work`
/// answers, so tokens rotated on the way are kept even when a later step failed; a device the
/// server signed out is unpaired instead (its cache stays). `None` when not paired.
pub(super) fn on_link<T>(
    store: &Store,
    work: impl FnOnce(&mut ServerLink, &mut LocalState) -> Result<T, WireError>,
) -> Result<Option<T>, WireError> {
    store.update(|s| {
        // Taken out for the work (not copied: it holds the versions of every server item) and
        // put back whatever it answers.
        let Some(mut link) = s.server.take() else { return Ok(Ok(None)) };
        let outcome = work(&mut link, s);
        s.server = Some(link);
        if outcome.as_ref().is_err_and(|e| e.code == ErrorCode::NotPaired) {
            tracing::warn!("the profile server signed this device out; it is no longer paired");
            s.forget_server();
        }
        Ok(outcome.map(Some))
    })?
}

pub(super) fn sync_link(client: &Client, link: &mut ServerLink, state: &mut LocalState) -> Result<Synced, WireError> {
    link.usable()?;
    fresh_token(client, link)?;
    // The registry's news wait for another sync when the server cannot take them now; the vault
    // does not wait for them.
    if let Err(e) = flush_outbox(client, link) {
        tracing::warn!("the accounts registry's news wait for the next sync: {e}");
    }
    let Some(data_key) = link.data_key.clone() else { return Ok(Synced::Idle) };
    let synced = super::items::sync_items(client, link, state, &data_key)?;
    // The vault is in: publish what the person chose of it, or wait for the next sync.
    if let Err(e) = super::public::publish(client, link, state) {
        tracing::warn!("the public part waits for the next sync: {e}");
    }
    Ok(synced)
}

/// The item change sequence the server is at.
pub(super) fn current_seq(client: &Client, link: &ServerLink) -> Result<u64, WireError> {
    let query = ItemsQuery { since: i64::MAX, limit: Some(1), ..ItemsQuery::default() };
    Ok(u64::try_from(super::items::read_items(client, link, &query)?.seq).unwrap_or(0))
}

/// Reads the server's vault and checks it against the newest version this device has seen:
/// an older one halts syncing with this server (the caller saves the halt with the link). The
/// version counts as seen only once it is opened.
pub(super) fn read_fresh_vault(client: &Client, link: &mut ServerLink) -> Result<RemoteVault, WireError> {
    let server = read_vault(client, link)?;
    link.check_offer(server.counter, &server.blob)?;
    Ok(server)
}

/// Sends the registry's news in order, each until the server acknowledges it. A refusal that
/// will not change (the account unknown there, a malformed record) drops that news with a
/// warning; anything else (unreachable, rate-limited, a server error) leaves it and what follows
/// for the next sync.
pub(super) fn flush_outbox(client: &Client, link: &mut ServerLink) -> Result<(), WireError> {
    while let Some(news) = link.outbox.first() {
        let token = Some(&link.access_token);
        let answer = match news {
            RegistryNews::SignedUp { origin, account_guid, app_id, public_key, permissions } => {
                let registration = AccountRegistration {
                    origin: origin.clone(),
                    account_guid: account_guid.clone(),
                    app_id: app_id.clone().and_then(|id| AppId::try_from(id).ok()),
                    public_key: public_key.clone(),
                    permissions: Permissions::try_from(permissions.clone()).unwrap_or_default(),
                };
                client.call("PUT", &url(&link.api_base, path::ACCOUNTS), token, Some(&registration))?
            }
            RegistryNews::LoggedIn { origin, account_guid } => {
                let account = AccountRef { origin: origin.clone(), account_guid: account_guid.clone() };
                client.call("POST", &url(&link.api_base, path::ACCOUNTS_LOGIN), token, Some(&account))?
            }
            RegistryNews::Removed { origin, account_guid } => {
                let query = query(&[("origin", origin.as_str()), ("accountGuid", account_guid.as_str())]);
                let address = format!("{}?{query}", url(&link.api_base, path::ACCOUNTS));
                client.call("DELETE", &address, token, NO_BODY)?
            }
        };
        match answer.status {
            200..=299 => {}
            400 | 404 | 413 | 422 => tracing::warn!("the accounts registry refused {news:?}: {}", answer.error()),
            _ => return Err(answer.error()),
        }
        link.outbox.remove(0);
    }
    Ok(())
}

/// `a=1&b=2`, each value percent-encoded.
pub(super) fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}
