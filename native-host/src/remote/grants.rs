//! Grants to apps: made when the person allows `requestGrant`, kept current by every device,
//! revoked from the options page.
//!
//! An app's registration (`ORIGIN/.well-known/personal-profile`) names the key it signs with and
//! the key it reads with; this device fetches it itself (the profile server must not be the one
//! to say which key a share is sealed to). A grant's share, what its scopes let the app read,
//! is sealed to the app's key with HPKE and signed with the profile's key
//! (`profile_core::apps::sealed`); the profile server stores it and checks the app's requests
//! against the grant, but opens nothing. The grant itself goes into the vault (`g:ID`), so each
//! of the person's devices seals the share again after a sync that changed what it holds, and
//! takes in what the app appended: each item opened with the profile's key, checked against
//! its category's definition and saved with the app's origin as its source.

use profile_core::apps::links::LINK_APP_ID;
use profile_core::apps::sealed::{
    DecryptionKey, EncryptionKey, ShareContents, open_append, profile_decryption_key, rand_core, seal_share,
    share_digest,
};
use profile_core::apps::{Action, AppRegistration, GrantAnswer, GrantId, GrantRequest, SealedShare};
use profile_core::disclosure::share_categories;
use profile_core::public::ProfileKey;
use profile_core::server_api::{AppendList, AppendsDone, GrantInfo, GrantList, GrantRegistration, PendingAppend, path};
use profile_core::vault::{AppGrantRecord, Slot};
use profile_core::wire::{AppEntry, AppList, Disclosure};
use profile_core::{ErrorCode, ItemId, ItemInput, Origin, Secret32, WireError};
use sha2::{Digest, Sha256};

use super::client::*;
use super::devices::with_token;
use super::not_paired;
use super::sync::{fresh_token, on_link};
use crate::local::link::{ServerLink, ShareSeen};
use crate::local::state::{LocalState, SiteView};
use crate::local::store::{Store, now, random};

/// Most appended items shown per app by `listApps`.
const LISTED_APPENDS: usize = 20;

type Rng = rand_core::UnwrapErr<getrandom::SysRng>;

fn rng() -> Rng {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// The app's registration, fetched from its origin by this device. Refused in words when there
/// is none, or when it publishes no key to seal to.
pub fn registration(client: &Client, origin: &Origin) -> Result<AppRegistration, WireError> {
    let address = format!("{origin}/.well-known/personal-profile");
    let document = client.fetch_document(&address).ok_or_else(|| {
        WireError::invalid(format!("{origin} publishes no app registration at /.well-known/personal-profile"))
    })?;
    let registration: AppRegistration = serde_json::from_value(document)
        .map_err(|e| WireError::invalid(format!("{origin}'s app registration is not valid: {e}")))?;
    if registration.app_id.as_str() == LINK_APP_ID {
        return Err(WireError::invalid(format!(
            "{origin}'s registration names itself {LINK_APP_ID}, which only a linked profile is"
        )));
    }
    if registration.encryption_key.is_none() {
        return Err(WireError::invalid(format!(
            "{origin}'s registration publishes no encryption key, so nothing can be granted to it"
        )));
    }
    Ok(registration)
}

/// Makes the grant the person allowed: seals the app's first share, registers the grant with
/// the profile server, and keeps it in the vault. Answers the page `{grantId, profileUrl,
/// profileKey}`; `not_paired` without a profile server.
pub fn grant(
    store: &Store,
    client: &Client,
    origin: &Origin,
    request: &GrantRequest,
    registration: &AppRegistration,
    new_profile_key: Secret32,
) -> Result<GrantAnswer, WireError> {
    let Some(encryption_key) = registration.encryption_key.clone() else {
        return Err(WireError::invalid("the app publishes no encryption key"));
    };
    let record = AppGrantRecord {
        origin: origin.clone(),
        app_id: registration.app_id.clone(),
        name: registration.name.clone(),
        scopes: request.scopes.clone(),
        app_key: registration.public_key.clone(),
        encryption_key,
        purpose: request.purpose.clone(),
        granted_at: now(),
        revoked_at: None,
        peer: None,
    };
    let answer = on_link(store, |link, state| {
        link.usable()?;
        fresh_token(client, link)?;
        let (grant_id, key) = give(client, link, state, record, new_profile_key)?;
        Ok(GrantAnswer { grant_id, profile_url: link.profile_url.clone(), profile_key: key.public_jwk() })
    })?;
    answer.ok_or_else(super::not_paired)
}

/// Gives a grant: seals its first share, registers it with the profile server and keeps it in
/// the vault. Makes the profile's key first when it has none. Answers the grant's id and the
/// key its shares are signed with.
pub(super) fn give(
    client: &Client,
    link: &mut ServerLink,
    state: &mut LocalState,
    record: AppGrantRecord,
    new_profile_key: Secret32,
) -> Result<(GrantId, ProfileKey), WireError> {
    let app_key = EncryptionKey::from_jwk(&record.encryption_key)
        .map_err(|e| WireError::invalid(format!("{}'s encryption key: {e}", record.name.as_str())))?;
    record.app_key.to_key().map_err(|_| WireError::invalid("the app's signing key is not a P-256 key"))?;
    let grant_id = GrantId::from_bytes(random()?);
    let mut with_key = state.clone();
    if with_key.public.key.is_none() {
        with_key.public.key = Some(new_profile_key);
    }
    let keys = ProfileKeys::of(&with_key)?;
    let (share, seen) = seal(&with_key, link, &keys, &grant_id, &record, &app_key, 1)?;
    let registered = GrantRegistration {
        grant_id: grant_id.clone(),
        origin: record.origin.clone(),
        app_id: record.app_id.clone(),
        name: record.name.clone(),
        scopes: record.scopes.clone(),
        app_key: record.app_key.clone(),
        share,
        share_note: Some(seen.note()),
    };
    let address = url(&link.api_base, path::GRANTS);
    let _: GrantInfo = client.call("POST", &address, Some(&link.access_token), Some(&registered))?.expect(201)?;
    link.shares.insert(grant_id.clone(), seen);
    state.public.key = with_key.public.key;
    state.app_grants.insert(grant_id.clone(), record);
    Ok((grant_id, keys.signing))
}

/// The profile's two keys, made from the secret in the vault, and the secret itself (which
/// keys the digests of shares).
pub(super) struct ProfileKeys {
    pub signing: ProfileKey,
    pub decryption: DecryptionKey,
    secret: Secret32,
}

impl ProfileKeys {
    pub(super) fn of(state: &LocalState) -> Result<Self, WireError> {
        let secret = state.public.key.as_ref().ok_or_else(|| WireError::internal("the profile has no key yet"))?;
        let signing = ProfileKey::from_secret(secret)
            .ok_or_else(|| WireError::internal("the profile's signing key is not a P-256 key"))?;
        Ok(Self { signing, decryption: profile_decryption_key(secret), secret: secret.clone() })
    }
}

/// Seals what `record` lets its app read now as `version`, with the digest that tells a later
/// sync whether it changed.
fn seal(
    state: &LocalState,
    link: &ServerLink,
    keys: &ProfileKeys,
    grant_id: &GrantId,
    record: &AppGrantRecord,
    app_key: &EncryptionKey,
    version: u64,
) -> Result<(SealedShare, ShareSeen), WireError> {
    let (contents, digest) = share_contents(state, link, keys, grant_id, record, version);
    let share = seal_share(&keys.signing, app_key, &contents, &mut rng())
        .map_err(|e| WireError::invalid(format!("the share for {}: {e}", record.name.as_str())))?;
    // What the app asked to be told about: the categories of its scopes with `subscribe`.
    let subscribed: Vec<_> = contents
        .categories
        .iter()
        .filter(|(category, _)| record.scopes.iter().any(|s| s.category == **category && s.may(Action::Subscribe)))
        .collect();
    let told = share_digest(
        &keys.secret,
        &[grant_id.as_str().as_bytes(), &serde_json::to_vec(&subscribed).unwrap_or_default()],
    );
    Ok((share, ShareSeen { version, digest, read_at: None, told: Some(told) }))
}

fn share_contents(
    state: &LocalState,
    link: &ServerLink,
    keys: &ProfileKeys,
    grant_id: &GrantId,
    record: &AppGrantRecord,
    version: u64,
) -> (ShareContents, String) {
    let categories = share_categories(&record.scopes, &SiteView { state, origin: &record.origin });
    let encryption_key = keys.decryption.public().to_jwk();
    let sealed_with = (&encryption_key, &record.encryption_key, keys.signing.public_jwk());
    // Bound to the grant: the server, which keeps the digests, cannot tell two grants holding
    // the same from them.
    let digest = share_digest(
        &keys.secret,
        &[
            grant_id.as_str().as_bytes(),
            &serde_json::to_vec(&categories).unwrap_or_default(),
            &serde_json::to_vec(&sealed_with).unwrap_or_default(),
        ],
    );
    let contents = ShareContents {
        grant_id: grant_id.clone(),
        version,
        profile_url: link.profile_url.clone(),
        issued_at: now(),
        encryption_key,
        categories,
    };
    (contents, digest)
}

/// What a sync's work for apps and linked profiles leaves to do once the state it changed is
/// saved: the ledger's entries, and the appends and link requests the server may then forget
/// (told only after they are safe on disk, so a crash in between reads them again; an append
/// read again finds the item it made, whose id comes from its sealed bytes, and leaves it).
#[derive(Debug, Default)]
pub(super) struct AfterSync {
    pub ledger: Vec<Disclosure>,
    pub appends_done: Vec<String>,
    pub requests_done: Vec<String>,
    /// The server's grants as this sync read them, for linked profiles to read too.
    pub grants: Option<GrantList>,
}

/// The profile server's grants of this profile, newest first.
pub(super) fn grant_list(client: &Client, link: &ServerLink) -> Result<GrantList, WireError> {
    client.call("GET", &url(&link.api_base, path::GRANTS), Some(&link.access_token), NO_BODY)?.expect(200)
}

impl AfterSync {
    /// Tells the server what it may forget.
    pub fn forget(&self, client: &Client, link: &ServerLink) -> Result<(), WireError> {
        for (ids, done) in [(&self.appends_done, path::APPENDS_DONE), (&self.requests_done, path::LINK_REQUESTS_DONE)] {
            if !ids.is_empty() {
                let body = AppendsDone { ids: ids.clone() };
                client
                    .call("POST", &url(&link.api_base, done), Some(&link.access_token), Some(&body))?
                    .expect_empty(204)?;
            }
        }
        Ok(())
    }
}

/// After a sync, when the profile granted apps anything: takes in what apps appended (and
/// syncs again when something was), then seals again the share of every live grant whose
/// contents changed since this device last sealed or saw it, and notes the apps' reads. One
/// app's failure waits for the next sync; it does not stop the others.
pub(super) fn after_sync(
    client: &Client,
    link: &mut ServerLink,
    state: &mut LocalState,
    sync_again: impl FnOnce(&mut ServerLink, &mut LocalState) -> Result<(), WireError>,
    after: &mut AfterSync,
) -> Result<(), WireError> {
    if state.app_grants.is_empty() {
        return Ok(());
    }
    let keys = ProfileKeys::of(state)?;
    take_appends(client, link, state, &keys.decryption, after)?;
    if after.ledger.iter().any(|d| d.method == "appAppend" && d.outcome == "disclosed") {
        sync_again(link, state)?;
    }
    let listed = grant_list(client, link)?;
    after.ledger.extend(reseal(client, link, state, &keys, &listed)?);
    after.grants = Some(listed);
    Ok(())
}

fn reseal(
    client: &Client,
    link: &mut ServerLink,
    state: &LocalState,
    keys: &ProfileKeys,
    listed: &GrantList,
) -> Result<Vec<Disclosure>, WireError> {
    let mut ledger = Vec::new();
    for info in &listed.grants {
        let Some(record) = state.app_grants.get(&info.grant_id) else { continue };
        if let Some(read_at) = info.last_read_at {
            let seen = link.shares.get(&info.grant_id).and_then(|s| s.read_at);
            if seen.is_none_or(|seen| read_at > seen) {
                let fields: Vec<String> = record
                    .scopes
                    .iter()
                    .filter(|s| s.may(Action::Read))
                    .map(|s| format!("read.{}", s.category))
                    .collect();
                // An app that may only add or be told reads a share holding nothing of the
                // profile: nothing was disclosed, so nothing goes in the ledger.
                if !fields.is_empty() {
                    ledger.push(Disclosure::new(
                        counter(read_at).unwrap_or(0),
                        record.origin.clone(),
                        "appRead",
                        fields,
                        "disclosed".into(),
                    ));
                }
                if let Some(share) = link.shares.get_mut(&info.grant_id) {
                    share.read_at = Some(read_at);
                }
            }
        }
        if record.revoked_at.is_some() || info.revoked_at.is_some() {
            continue;
        }
        let version = info.share_version;
        let (_, digest) = share_contents(state, link, keys, &info.grant_id, record, version);
        // What the share the server holds was sealed from, as the device that sealed it noted
        // (this one or another), else as this device sealed it last.
        let local = link.shares.get(&info.grant_id);
        let noted = (info.share_note.as_deref())
            .and_then(|note| ShareSeen::from_note(note, version, local.and_then(|s| s.read_at)));
        let known = noted.or_else(|| local.cloned());
        // Unchanged: sealing it again would only wake the app.
        if let Some(known) = known.as_ref().filter(|s| s.digest == digest) {
            link.shares.insert(info.grant_id.clone(), known.clone());
            continue;
        }
        let app_key = match EncryptionKey::from_jwk(&record.encryption_key) {
            Ok(key) => key,
            Err(e) => {
                tracing::warn!("{}'s encryption key: {e}", record.origin);
                continue;
            }
        };
        let read_at = known.as_ref().and_then(|s| s.read_at);
        // What the app was last told of, as of the share the server holds.
        let was_told = known.filter(|s| s.version == version).and_then(|s| s.told);
        let record = record.clone();
        match seal(state, link, keys, &info.grant_id, &record, &app_key, version + 1) {
            Ok((share, mut seen)) => {
                // Only a change to what it subscribed to wakes the app; a share it may read
                // but was not asked to watch is sealed again quietly.
                let notify = was_told.is_none() || seen.told != was_told;
                let address =
                    url(&link.api_base, &path::grant_share_noted(info.grant_id.as_str(), notify, &seen.note()));
                let answer = client.call("PUT", &address, Some(&link.access_token), Some(&share))?;
                match answer.status {
                    200..=299 => {
                        seen.read_at = read_at;
                        link.shares.insert(info.grant_id.clone(), seen);
                        // A linked profile reads the changed card at once.
                        if notify {
                            super::links::tell_peer(client, link, &keys.signing, &record, &info.grant_id);
                        }
                    }
                    // Another device sealed a newer one: the next sync reads its version.
                    409 => {}
                    _ => tracing::warn!("{}'s share waits for the next sync: {}", record.origin, answer.error()),
                }
            }
            Err(e) => tracing::warn!("{}'s share cannot be sealed: {e}", record.origin),
        }
    }
    Ok(ledger)
}

/// Takes in what apps appended: each item opened with the profile's key, signed by the app's
/// key as the vault holds it, only from a live grant whose scope may append to its category,
/// checked against the category's definition. Whatever is refused is dropped (and said in the
/// ledger) so it is not read again. An append of a grant this device does not know yet (another
/// device granted it, and its vault has not arrived) waits on the server for a later sync.
fn take_appends(
    client: &Client,
    link: &ServerLink,
    state: &mut LocalState,
    key: &DecryptionKey,
    after: &mut AfterSync,
) -> Result<(), WireError> {
    let list: AppendList =
        client.call("GET", &url(&link.api_base, path::APPENDS), Some(&link.access_token), NO_BODY)?.expect(200)?;
    for append in list.appends {
        let Some(record) = state.app_grants.get(&append.grant_id).cloned() else { continue };
        after.appends_done.push(append.id.clone());
        // An append adds and never replaces. The same append read twice (a crash before the
        // server heard it was taken, the server serving it again, a second process of this
        // device) was taken already: the item it made stays as the person keeps it, or gone.
        let new_id = append_item_id(&append);
        if !matches!(state.items.slot(append.category, &new_id), Slot::Absent) {
            continue;
        }
        let allowed = record.revoked_at.is_none()
            && record.scopes.iter().any(|s| s.category == append.category && s.may(Action::Append));
        let taken = (|| {
            if !allowed {
                return Err(format!("{} may not add to {}", record.name.as_str(), append.category));
            }
            let contents = open_append(key, &record.app_key, &append.grant_id, append.category, &append.sealed)
                .map_err(|e| e.to_string())?;
            let input = ItemInput { id: None, fields: contents.fields };
            state
                .save_item(append.category, input, new_id, now(), Some(record.origin.to_string()))
                .map_err(|e| e.message)
        })();
        let (fields, outcome) = match taken {
            Ok(_) => (vec![format!("appended.{}", append.category)], "disclosed".to_owned()),
            Err(why) => {
                tracing::warn!("an item {} appended was refused: {why}", record.origin);
                (vec![format!("appended.{}", append.category)], "invalid_request".to_owned())
            }
        };
        after.ledger.push(Disclosure::new(now(), record.origin.clone(), "appAppend", fields, outcome));
    }
    Ok(())
}

/// The id of the item an append makes: from all its sealed bytes (which only the app could have
/// made), so the same append makes the same item and two appends two items, whatever ephemeral
/// key the app chose.
fn append_item_id(append: &PendingAppend) -> ItemId {
    let mut hashed = Sha256::new();
    hashed.update(append.grant_id.as_str().as_bytes());
    for part in [&append.sealed.enc.0, &append.sealed.ciphertext.0] {
        hashed.update((part.len() as u64).to_be_bytes());
        hashed.update(part);
    }
    let mut id = [0u8; 12];
    id.copy_from_slice(&hashed.finalize()[..12]);
    ItemId::from_random(id)
}

/// The apps the person granted, as the profile server lists them, with the newest items each
/// appended that this device holds. When the server cannot be reached: what the vault says,
/// marked stale.
pub fn list(store: &Store, client: &Client) -> Result<AppList, WireError> {
    let state = store.state()?;
    let listed = with_token(store, client, false, grant_list);
    let (grants, stale) = match listed {
        Ok(list) => (list.grants, false),
        Err(e) if e.code == ErrorCode::NotPaired => return Err(e),
        Err(e) => {
            tracing::warn!("the app list is this device's: {e}");
            let known = state.app_grants.iter().map(|(id, r)| GrantInfo {
                grant_id: id.clone(),
                origin: r.origin.clone(),
                app_id: r.app_id.clone(),
                name: r.name.clone(),
                scopes: r.scopes.clone(),
                created_at: i64::try_from(r.granted_at).unwrap_or(i64::MAX),
                last_read_at: None,
                last_append_at: None,
                appended: 0,
                share_version: 0,
                share_note: None,
                revoked_at: r.revoked_at.and_then(|at| i64::try_from(at).ok()),
                webhook: None,
                peer_grant: None,
            });
            (known.collect(), true)
        }
    };
    // A grant revoked before the vault ever held it (made for a ticket that was then refused)
    // is nothing the person gave.
    let apps = grants
        .into_iter()
        .filter(|grant| grant.revoked_at.is_none() || state.app_grants.contains_key(&grant.grant_id))
        .map(|grant| {
            let source = grant.origin.to_string();
            let mut appended: Vec<serde_json::Value> = grant
                .scopes
                .iter()
                .filter(|s| s.may(Action::Append))
                .flat_map(|s| {
                    let category = s.category;
                    state.items.list(category, None).into_iter().filter(|i| i.source.as_deref() == Some(&source)).map(
                        move |item| {
                            let summary: Vec<&str> =
                                category.def().summary.iter().filter_map(|field| item.text(field)).collect();
                            // The fields that name it, for the page to write as the category's
                            // list does ("Corner Shop · 1 Dec 2026 · €5.29"); never the whole item.
                            let named: serde_json::Map<String, serde_json::Value> = category
                                .def()
                                .summary
                                .iter()
                                .filter_map(|field| Some(((*field).to_owned(), item.fields.get(*field)?.clone())))
                                .collect();
                            serde_json::json!({"category": category, "id": item.id, "summary": summary.join(" · "),
                                "fields": named, "addedAt": item.updated_at})
                        },
                    )
                })
                .collect();
            appended.sort_by_key(|v| std::cmp::Reverse(v["addedAt"].as_u64()));
            appended.truncate(LISTED_APPENDS);
            let linked_profile =
                state.app_grants.get(&grant.grant_id).and_then(|r| r.peer.as_ref()).map(|p| p.profile_url.clone());
            AppEntry { grant, appended_items: appended, linked_profile }
        })
        .collect();
    Ok(AppList { apps, stale })
}

/// Revokes a grant: the profile server deletes its share, refuses the app's key and tells it;
/// the vault keeps the grant as revoked, so no device seals its share again.
pub fn revoke(store: &Store, client: &Client, grant_id: &GrantId) -> Result<Origin, WireError> {
    on_link(store, |link, state| {
        link.usable()?;
        fresh_token(client, link)?;
        let answer = client.call(
            "DELETE",
            &url(&link.api_base, &path::grant(grant_id.as_str())),
            Some(&link.access_token),
            NO_BODY,
        )?;
        if !matches!(answer.status, 200..=299 | 404) {
            return Err(answer.error());
        }
        let record = state
            .app_grants
            .get_mut(grant_id)
            .ok_or_else(|| WireError::new(ErrorCode::NotFound, "no such grant on this profile"))?;
        record.revoked_at.get_or_insert(now());
        let record = record.clone();
        // A linked profile hears at once that the link is cut.
        if let Ok(keys) = ProfileKeys::of(state) {
            super::links::tell_peer(client, link, &keys.signing, &record, grant_id);
        }
        Ok(record.origin)
    })?
    .ok_or_else(not_paired)
}
