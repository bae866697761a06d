//! Syncing the vault as a set of sealed items.
//!
//! What the vault holds is taken apart into entries (profile-core's `vault::entries`: an
//! address, a site account, an item each), and each entry is a sealed item on the profile
//! server under an opaque id, with a version. A sync reads what changed since the change
//! sequence it last read up to ([`pull`]), merges it three-way with this device's changes
//! against the version both started from, and writes only the entries that differ from the
//! server's as one batch ([`push`]), each checked against the version it was based on: a 409
//! names the items another device wrote meanwhile, and the sync reads again and merges. So
//! adding one receipt to a profile of ten thousand sends one item.
//!
//! The server is not trusted with the vault's history: a change sequence lower than one read
//! before, an item at a lower version than one seen, or another blob at a version seen, halts
//! syncing with words ([`ServerLink::halt_items`]), and so does an entry of a newer format.
//! Every batch also writes this device's own head entry (`h:PAIRING`), whose version only this
//! device raises: each sync reads every device's head back, so a server that drops a device's
//! batches (restored from a backup, or rolled back and written on since) shows a head older than
//! one seen, or another at a version seen, to every device that saw it. (A removal travels
//! unsealed and a head does not commit to what its batch held: SECURITY.md names both gaps.)
//!
//! A vault kept as one blob (before items) moves over at its first sync here: the blob is read
//! and merged as before, every entry is written as an item, and the blob is then replaced with
//! a note in the next format, so a host from before refuses it in words rather than write over
//! the profile with an old copy.

use std::collections::BTreeMap;

use base64ct::{Base64UrlUnpadded, Encoding};
use profile_core::server_api::{
    Bytes, ItemBatch, ItemChange, ItemChanges, ItemDelete, ItemId as ServerItemId, ItemPut, ItemsQuery, ItemsWritten,
    MAX_ITEMS_BY_ID, VaultWrite, path,
};
use profile_core::vault::entries::{self, ItemIds, ItemOpenError, open_entry, seal_entry};
use profile_core::vault::{self, ContentsError, SeenHead, VaultContents, merge};
use profile_core::{ErrorCode, Secret32, WireError};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::client::*;
use super::sync::{MAX_MERGE_ROUNDS, Synced, read_fresh_vault};
use crate::local::link::{KnownItem, ServerLink};
use crate::local::state::LocalState;
use crate::local::store::{now, random};

/// Most operations one batch carries; a bigger change goes in several.
const BATCH_OPS: usize = 500;
/// Most vault items one sync reads (a profile keeps at most 200,000 live ones on a server by
/// default, with their removals).
const MAX_PULLED: usize = 2_000_000;
/// A batch stops growing past about this many bytes of sealed items.
const BATCH_BYTES: usize = 4 << 20;

/// A short digest of a sealed item: another blob at a version seen is a fork.
fn digest(blob: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(&Sha256::digest(blob)[..12])
}

fn server_id(id: &str) -> Result<ServerItemId, WireError> {
    ServerItemId::try_from(id.to_owned()).map_err(WireError::internal)
}

/// The key of this device's head entry.
fn head_key(link: &ServerLink) -> String {
    format!("h:{}", link.pairing_id)
}

/// Syncs the item vault: moves a blob vault over first, then pulls, merges and pushes until
/// the server takes this device's changes.
pub(super) fn sync_items(
    client: &Client,
    link: &mut ServerLink,
    state: &mut LocalState,
    data_key: &Secret32,
) -> Result<Synced, WireError> {
    let ids = ItemIds::new(data_key);
    if !link.items_moved {
        move_blob_vault(client, link, state, data_key)?;
    }
    let mut received = false;
    let mut sent = false;
    for _ in 0..MAX_MERGE_ROUNDS {
        if let Some(theirs) = pull(client, link, data_key, &ids)? {
            received = true;
            let merged = merge(&link.base, &state.vault_contents(), &theirs);
            state.take_vault_contents(merged);
            link.base = theirs;
        }
        match push(client, link, state, data_key, &ids)? {
            Pushed::Nothing => {
                if !link.blob_retired && retire_blob(client, link, state, data_key)? {
                    // A host from before items wrote the blob meanwhile: that goes out first.
                    received = true;
                    continue;
                }
                link.dirty = false;
                return Ok(Synced::InSync { counter: link.seq, sent, received });
            }
            Pushed::Sent => sent = true,
            Pushed::Conflict => {}
        }
    }
    Err(WireError::new(ErrorCode::ServerUnreachable, "the vault kept changing under this device; will retry"))
}

/// Reads the changes since the sequence last read, and every device's head, and answers the
/// server's vault with them (`None` when nothing changed). Refuses, and halts syncing, on any
/// sign of a rollback or a fork.
fn pull(
    client: &Client,
    link: &mut ServerLink,
    data_key: &Secret32,
    ids: &ItemIds,
) -> Result<Option<VaultContents>, WireError> {
    let mut query = ItemsQuery { since: i64::try_from(link.seq).unwrap_or(i64::MAX), ..ItemsQuery::default() };
    let mut changes: Vec<ItemChange> = Vec::new();
    let seq = loop {
        let page = read_items(client, link, &query)?;
        let seq = u64::try_from(page.seq).unwrap_or(0);
        let floor = link.seq.max(link.seen.seq);
        if seq < floor {
            return Err(link.halt_items(floor, seq));
        }
        // Pages move forward in (seq, id) order, and a profile holds a bounded number of items:
        // a server cannot keep this device reading.
        let mut position = (query.since, query.after.clone());
        for item in &page.items {
            let next = (item.seq, Some(item.id.clone()));
            if next <= position {
                return Err(WireError::internal("the profile server sent vault items out of order"));
            }
            position = next;
        }
        if changes.len() + page.items.len() > MAX_PULLED {
            return Err(WireError::internal("the profile server sent more vault items than a profile holds"));
        }
        let last = page.items.last().cloned();
        changes.extend(page.items);
        match (page.more, last) {
            (true, Some(last)) => query = query.after_item(&last),
            _ => break seq,
        }
    };
    let mut theirs = link.base.clone();
    let mut changed = false;
    let at = now();
    // The versions read: the link takes them only with the server's copy they belong to, once
    // every check passed, so a pull that fails midway leaves nothing half-known.
    let mut read: BTreeMap<String, KnownItem> = BTreeMap::new();
    for change in changes {
        let version = u64::try_from(change.version).unwrap_or(0);
        let id = change.id.as_str().to_owned();
        let known = read.get(&id).or_else(|| link.versions.get(&id)).cloned();
        let blob_digest = change.blob.as_ref().map(|b| digest(&b.0)).unwrap_or_default();
        if let Some(known) = &known {
            if version < known.version || (version == known.version && blob_digest != known.digest) {
                return Err(link.halt_items(known.version, version));
            }
            if version == known.version {
                continue;
            }
        }
        changed = true;
        match change.blob {
            Some(blob) => {
                let (key, json) = open_entry(data_key, ids, &link.profile_id, &id, version, &blob.0)
                    .map_err(|e| open_error(link, e))?;
                entries::apply(&mut theirs, &key, Some(&json), at).map_err(|e| contents_error(link, e))?;
                read.insert(id, KnownItem { key, version, digest: blob_digest });
            }
            None => {
                // A removal: its key is known from the item this device saw, or one it holds.
                let key = known.map(|k| k.key).filter(|k| !k.is_empty());
                if let Some(key) = &key {
                    entries::apply(&mut theirs, key, None, at).map_err(|e| contents_error(link, e))?;
                }
                read.insert(id, KnownItem { key: key.unwrap_or_default(), version, digest: String::new() });
            }
        }
    }
    check_heads(client, link)?;
    link.versions.extend(read);
    link.seq = seq;
    link.seen.seq = link.seen.seq.max(seq);
    Ok(changed.then_some(theirs))
}

/// One read of the server's items (`GET /api/v1/vault/items?…`).
pub(super) fn read_items(client: &Client, link: &ServerLink, query: &ItemsQuery) -> Result<ItemChanges, WireError> {
    let address = format!("{}{}", url(&link.api_base, path::VAULT_ITEMS), query.to_query());
    client.call("GET", &address, Some(&link.access_token), NO_BODY)?.expect(200)
}

/// Reads back every device head this device has seen (the heads it wrote itself included): one
/// the server shows older than seen, or forked, halts syncing.
fn check_heads(client: &Client, link: &mut ServerLink) -> Result<(), WireError> {
    let heads = link.newest_seen().heads;
    if let Some((seen, offered)) = rolled_back_head(client, link, &heads)? {
        return Err(link.halt_items(seen, offered));
    }
    Ok(())
}

/// Reads back device heads seen (by server id): the versions seen and offered of the first the
/// server shows older than seen, or another at a version seen.
pub(super) fn rolled_back_head(
    client: &Client,
    link: &ServerLink,
    heads: &BTreeMap<String, SeenHead>,
) -> Result<Option<(u64, u64)>, WireError> {
    let ids: Vec<&String> = heads.keys().collect();
    let mut found = Vec::new();
    for chunk in ids.chunks(MAX_ITEMS_BY_ID) {
        let wanted: Vec<&str> = chunk.iter().map(|id| id.as_str()).collect();
        let query = ItemsQuery { ids: Some(wanted.join(",")), ..ItemsQuery::default() };
        found.extend(read_items(client, link, &query)?.items);
    }
    for (id, seen) in heads {
        let offered = found.iter().find(|c| c.id.as_str() == id);
        let (version, blob_digest) = offered.map_or((0, String::new()), |c| {
            (u64::try_from(c.version).unwrap_or(0), c.blob.as_ref().map(|b| digest(&b.0)).unwrap_or_default())
        });
        if version < seen.version || (version == seen.version && blob_digest != seen.digest) {
            return Ok(Some((seen.version, version)));
        }
    }
    Ok(None)
}

/// An entry written in a batch: its server id, key, JSON (`None`: removed, or a head), the
/// version it was sealed as, and its blob's digest.
type Written<'a> = (String, String, Option<&'a [u8]>, u64, String);

enum Pushed {
    /// The server holds what this device holds.
    Nothing,
    /// This device's changes went out.
    Sent,
    /// Another device wrote some of the same items: read and merge again.
    Conflict,
}

/// Writes the entries that differ from the server's, in batches, each with this device's head.
fn push(
    client: &Client,
    link: &mut ServerLink,
    state: &LocalState,
    data_key: &Secret32,
    ids: &ItemIds,
) -> Result<Pushed, WireError> {
    let changes = entries::diff(&link.base, &state.vault_contents());
    if changes.is_empty() {
        return Ok(Pushed::Nothing);
    }
    let head = head_key(link);
    let mut pending = changes.as_slice();
    while !pending.is_empty() {
        let mut batch = ItemBatch::default();
        let mut written: Vec<Written> = Vec::new();
        let mut bytes = 0;
        let mut taken = 0;
        for (key, json) in pending {
            let json = json.as_deref();
            if taken > 0 && (taken >= BATCH_OPS || bytes >= BATCH_BYTES) {
                break;
            }
            taken += 1;
            let id = ids.of(key);
            let base = link.versions.get(&id).map_or(0, |k| k.version);
            let base_version = i64::try_from(base).unwrap_or(i64::MAX);
            match json {
                Some(json) => {
                    let blob = seal_entry(data_key, &link.profile_id, &id, base + 1, random()?, key, json);
                    bytes += blob.len();
                    written.push((id.clone(), key.clone(), Some(json), base + 1, digest(&blob)));
                    batch.puts.push(ItemPut { id: server_id(&id)?, version: base_version, blob: Bytes(blob) });
                }
                None => {
                    written.push((id.clone(), key.clone(), None, base + 1, String::new()));
                    batch.deletes.push(ItemDelete { id: server_id(&id)?, version: base_version });
                }
            }
        }
        // This device's head rises with every batch it writes.
        let head_id = ids.of(&head);
        let head_base = link.versions.get(&head_id).map_or(0, |k| k.version);
        let stamp = serde_json::to_vec(&serde_json::json!({"at": now(), "seq": link.seq})).unwrap_or_default();
        let head_blob = seal_entry(data_key, &link.profile_id, &head_id, head_base + 1, random()?, &head, &stamp);
        written.push((head_id.clone(), head.clone(), None, head_base + 1, digest(&head_blob)));
        batch.puts.push(ItemPut {
            id: server_id(&head_id)?,
            version: i64::try_from(head_base).unwrap_or(i64::MAX),
            blob: Bytes(head_blob),
        });

        let answer =
            client.call("POST", &url(&link.api_base, path::VAULT_ITEMS), Some(&link.access_token), Some(&batch))?;
        match answer.status {
            200 => {
                let stored: ItemsWritten = answer.read()?;
                // Versions as sealed: a server that stored anything else is caught at the next read.
                let at = now();
                for (id, key, json, version, digest) in written {
                    if key != head {
                        entries::apply(&mut link.base, &key, json, at).map_err(|e| contents_error(link, e))?;
                    }
                    link.versions.insert(id, KnownItem { key, version, digest });
                }
                let stored_seq = u64::try_from(stored.seq).unwrap_or(0);
                // Nobody wrote between the last read and this batch: no need to read it back.
                if stored_seq == link.seq + 1 {
                    link.seq = stored_seq;
                }
                pending = &pending[taken..];
                // What went out is what this device holds: one copy of each.
                link.base.items.share_with(&state.items);
            }
            409 => return Ok(Pushed::Conflict),
            _ => return Err(answer.error()),
        }
    }
    Ok(Pushed::Sent)
}

fn open_error(link: &mut ServerLink, error: ItemOpenError) -> WireError {
    match error {
        ItemOpenError::Contents(e) => contents_error(link, e),
        other => WireError::internal(format!("the server's vault: {other}")),
    }
}

fn contents_error(link: &mut ServerLink, error: ContentsError) -> WireError {
    match error {
        ContentsError::Newer { found } => link.refuse_newer(found),
        ContentsError::Invalid(_) => WireError::internal(error.to_string()),
    }
}

/// Moves a vault kept as one blob over to items: reads and merges the blob as before; the
/// items start from nothing, so every entry is written at the next push (an item another
/// device already wrote conflicts, and is merged).
fn move_blob_vault(
    client: &Client,
    link: &mut ServerLink,
    state: &mut LocalState,
    data_key: &Secret32,
) -> Result<(), WireError> {
    let server = read_fresh_vault(client, link)?;
    // Another device moved it already: the note says nothing of the profile.
    if server.counter != link.counter && !holds_the_note(data_key, link, &server) {
        let theirs = server.open(data_key, link)?;
        link.saw(server.counter, &server.blob);
        let merged = merge(&link.base, &state.vault_contents(), &theirs);
        state.take_vault_contents(merged);
        link.counter = server.counter;
    }
    // Items sealed under a data key since replaced go: their ids are of that key.
    let old: Vec<(String, u64)> = link.versions.iter().map(|(id, k)| (id.clone(), k.version)).collect();
    for chunk in old.chunks(BATCH_OPS) {
        let mut batch = ItemBatch::default();
        for (id, version) in chunk {
            let version = i64::try_from(*version).unwrap_or(i64::MAX);
            batch.deletes.push(ItemDelete { id: server_id(id)?, version });
        }
        let answer =
            client.call("POST", &url(&link.api_base, path::VAULT_ITEMS), Some(&link.access_token), Some(&batch))?;
        if answer.status != 200 && answer.status != 409 {
            return Err(answer.error());
        }
    }
    link.base = VaultContents::default();
    link.versions.clear();
    // Read from the start again; the highest sequence seen stays the floor.
    link.seen.seq = link.seen.seq.max(link.seq);
    link.seq = 0;
    link.items_moved = true;
    link.blob_retired = false;
    Ok(())
}

/// Whether the blob is the note that the vault moved to items.
fn holds_the_note(data_key: &Secret32, link: &ServerLink, server: &super::sync::RemoteVault) -> bool {
    let opened = vault::open_vault(data_key, &link.profile_id, server.counter, &server.blob);
    let note = opened.ok().and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok());
    note.is_some_and(|note| note["movedToItems"] == true)
}

/// Replaces the blob vault with a note in the next content format, once the items hold the
/// profile: a host from before items then refuses the blob in words (and writes nothing over
/// it) instead of reading an old copy as the profile. `true` when such a host had written the
/// blob since it was read: what it wrote is merged in instead, to go out as items first.
fn retire_blob(
    client: &Client,
    link: &mut ServerLink,
    state: &mut LocalState,
    data_key: &Secret32,
) -> Result<bool, WireError> {
    let note = Zeroizing::new(
        serde_json::to_vec(&serde_json::json!({"version": vault::VAULT_FORMAT, "movedToItems": true}))
            .map_err(|e| WireError::internal(e.to_string()))?,
    );
    for _ in 0..MAX_MERGE_ROUNDS {
        let server = read_fresh_vault(client, link)?;
        // Another device of the profile retired it already.
        if holds_the_note(data_key, link, &server) {
            link.saw(server.counter, &server.blob);
            link.counter = server.counter;
            link.blob_retired = true;
            return Ok(false);
        }
        if server.counter != link.counter {
            // A host from before wrote the blob since: what it wrote joins the items first.
            let theirs = server.open(data_key, link)?;
            link.saw(server.counter, &server.blob);
            link.counter = server.counter;
            if theirs != VaultContents::default() {
                // A host from before knows nothing of items, the public part or accounts made
                // by newer hosts: what its blob lacks of them is not a removal.
                let mut theirs = theirs.with_items(link.base.items.clone(), link.base.public.clone());
                for account in &link.base.accounts {
                    let same = |a: &&profile_core::vault::AccountRecord| {
                        a.origin == account.origin && a.account_guid == account.account_guid
                    };
                    if !theirs.accounts.iter().any(|a| same(&a)) {
                        theirs.accounts.push(account.clone());
                    }
                }
                let merged = merge(&link.base, &state.vault_contents(), &theirs);
                state.take_vault_contents(merged);
                return Ok(true);
            }
        }
        let blob = vault::seal_vault(data_key, &link.profile_id, server.counter + 1, random()?, &note);
        let body = VaultWrite { counter: i64::try_from(server.counter).unwrap_or(i64::MAX), blob: Bytes(blob.clone()) };
        let answer = client.call("PUT", &url(&link.api_base, path::VAULT), Some(&link.access_token), Some(&body))?;
        match answer.status {
            200 => {
                link.counter = server.counter + 1;
                link.saw(link.counter, &blob);
                link.blob_retired = true;
                return Ok(false);
            }
            409 => continue,
            _ => return Err(answer.error()),
        }
    }
    Ok(false)
}
