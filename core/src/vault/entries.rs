//! The vault as a set of sealed items, so a change sends one item and not the whole profile.
//!
//! [`entries`] takes what the vault holds apart into entries, each under a key that names it
//! (`a:ID` an address, `a` the address book's defaults and tombstones, `c:ORIGIN ACCOUNT` a
//! site account, `i:CATEGORY:ID` an item, `p` the public part, `g:ID` a grant to an app); [`apply`] puts one back, and
//! [`diff`] names those that differ between two copies. The profile server sees each entry only as an opaque id (an HMAC of its key
//! under a key made from the data key, [`ItemIds`]), a version and a sealed blob bound to the
//! profile, that id and that version ([`seal_entry`]): it can neither read an entry, nor tell
//! which category it is of, nor pass one off as another or as another version of itself.

use std::collections::BTreeMap;

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::VaultError;
use super::contents::{AccountRecord, ContentsError, PublicChoice, VAULT_FORMAT, VaultContents};
use super::items::Items;
use crate::apps::GrantId;
use crate::{AddressBook, Category, Item, ItemId, SavedAddress, Secret32};

/// The server ids of the vault's entries: HMAC-SHA256 of each entry's key under a key made from
/// the data key, 128 bits in base64url. Every device of the profile makes the same ones.
pub struct ItemIds(Secret32);

impl ItemIds {
    pub fn new(data_key: &Secret32) -> Self {
        let hkdf = hkdf::Hkdf::<Sha256>::new(Some(b"personal-profile vault item ids"), data_key.expose());
        let mut key = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit: this cannot fail.
        let _ = hkdf.expand(b"v1", &mut key);
        Self(Secret32::from_bytes(key))
    }

    pub fn of(&self, key: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.0.expose()) else { return String::new() };
        mac.update(key.as_bytes());
        Base64UrlUnpadded::encode_string(&mac.finalize().into_bytes()[..16])
    }
}

impl std::fmt::Debug for ItemIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ItemIds(…)")
    }
}

/// An entry as sealed: its key, its content format, and its JSON.
#[derive(Serialize, Deserialize)]
struct Sealed {
    v: u16,
    k: String,
    d: Value,
}

/// Seals entry `key` (its JSON) as version `version` of server item `id` of `user`'s vault.
pub fn seal_entry(
    data_key: &Secret32,
    user: &str,
    id: &str,
    version: u64,
    nonce: [u8; 12],
    key: &str,
    json: &[u8],
) -> Vec<u8> {
    let d: Value = serde_json::from_slice(json).unwrap_or(Value::Null);
    let sealed = Sealed { v: VAULT_FORMAT, k: key.to_owned(), d };
    let plain = Zeroizing::new(serde_json::to_vec(&sealed).unwrap_or_default());
    super::seal_item(data_key, user, id, version, nonce, &plain)
}

/// Opens what the server says is version `version` of item `id`: its entry key and JSON. Refused
/// when it was sealed as another item or version, when its key does not make `id` (so one entry
/// cannot stand in for another), or when it is of a newer format.
pub fn open_entry(
    data_key: &Secret32,
    ids: &ItemIds,
    user: &str,
    id: &str,
    version: u64,
    blob: &[u8],
) -> Result<(String, Zeroizing<Vec<u8>>), ItemOpenError> {
    let plain = super::open_item(data_key, user, id, version, blob).map_err(ItemOpenError::Open)?;
    let sealed: Sealed = serde_json::from_slice(&plain).map_err(|e| ItemOpenError::Invalid(e.to_string()))?;
    if sealed.v > VAULT_FORMAT {
        return Err(ItemOpenError::Contents(ContentsError::Newer { found: sealed.v }));
    }
    if ids.of(&sealed.k) != id {
        return Err(ItemOpenError::Invalid("an entry sealed under another id".into()));
    }
    let json = serde_json::to_vec(&sealed.d).map_err(|e| ItemOpenError::Invalid(e.to_string()))?;
    Ok((sealed.k, Zeroizing::new(json)))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemOpenError {
    #[error(transparent)]
    Open(VaultError),
    #[error(transparent)]
    Contents(ContentsError),
    #[error("a vault item is not valid: {0}")]
    Invalid(String),
}

/// The entries of what the vault holds, by key, each as JSON.
pub fn entries(contents: &VaultContents) -> BTreeMap<String, Vec<u8>> {
    fn json(value: &impl Serialize) -> Vec<u8> {
        serde_json::to_vec(value).unwrap_or_default()
    }
    let mut out = BTreeMap::new();
    let (book, addresses) = contents.address_book.split();
    out.insert("a".to_owned(), json(&book));
    for address in addresses {
        out.insert(format!("a:{}", address.id), json(address));
    }
    for account in &contents.accounts {
        out.insert(account_key(account), json(account));
    }
    for category in Category::ALL.into_iter().filter(|c| c.holds_items()) {
        for (id, item) in contents.items.live(category) {
            out.insert(format!("i:{category}:{id}"), json(&**item));
        }
    }
    if !contents.public.is_empty() {
        out.insert("p".to_owned(), json(&contents.public));
    }
    for (id, grant) in &contents.app_grants {
        out.insert(format!("g:{id}"), json(grant));
    }
    out
}

/// The entries that differ from `base` in `contents`: each with its JSON, or `None` when it is
/// gone. Items are compared as values, so only those that differ are written out: with a
/// profile of ten thousand receipts, adding one writes one.
pub fn diff(base: &VaultContents, contents: &VaultContents) -> Vec<(String, Option<Vec<u8>>)> {
    let small = |c: &VaultContents| {
        let mut light = VaultContents::new(c.address_book.clone(), c.accounts.clone())
            .with_items(Items::default(), c.public.clone());
        light.app_grants = c.app_grants.clone();
        entries(&light)
    };
    let (before, after) = (small(base), small(contents));
    let mut changes: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    for (key, json) in &after {
        if before.get(key) != Some(json) {
            changes.push((key.clone(), Some(json.clone())));
        }
    }
    changes.extend(before.keys().filter(|k| !after.contains_key(*k)).map(|k| (k.clone(), None)));
    for category in Category::ALL.into_iter().filter(|c| c.holds_items()) {
        let (old, new) = (base.items.live(category), contents.items.live(category));
        for (id, item) in new {
            if !old.get(id).is_some_and(|was| super::items::same(was, item)) {
                changes.push((format!("i:{category}:{id}"), Some(serde_json::to_vec(&**item).unwrap_or_default())));
            }
        }
        changes.extend(old.keys().filter(|id| !new.contains_key(*id)).map(|id| (format!("i:{category}:{id}"), None)));
    }
    changes
}

/// Puts one entry into `contents` (its JSON), or takes it out (`None`: removed on the server,
/// which keeps removed items removed however another device merges).
pub fn apply(contents: &mut VaultContents, key: &str, json: Option<&[u8]>, now: u64) -> Result<(), ContentsError> {
    let bad = |e: serde_json::Error| ContentsError::Invalid(format!("{key}: {e}"));
    match (key.split_once(':'), json) {
        (None, Some(json)) if key == "a" => {
            let rest: AddressBook = serde_json::from_slice(json).map_err(bad)?;
            let (_, addresses) = contents.address_book.split();
            contents.address_book = AddressBook::joined(rest, addresses.to_vec());
        }
        (None, None) if key == "a" => {}
        (None, Some(json)) if key == "p" => contents.public = serde_json::from_slice(json).map_err(bad)?,
        (None, None) if key == "p" => contents.public = PublicChoice::default(),
        (Some(("a", _)), json) => {
            let (rest, addresses) = contents.address_book.split();
            let id = key.trim_start_matches("a:");
            let mut addresses: Vec<SavedAddress> = addresses.iter().filter(|a| a.id.as_str() != id).cloned().collect();
            if let Some(json) = json {
                addresses.push(serde_json::from_slice(json).map_err(bad)?);
            }
            contents.address_book = AddressBook::joined(rest, addresses);
        }
        (Some(("c", _)), json) => {
            contents.accounts.retain(|a| account_key(a) != key);
            if let Some(json) = json {
                contents.accounts.push(serde_json::from_slice(json).map_err(bad)?);
                contents.accounts.sort_by(|a, b| (&a.origin, &a.account_guid).cmp(&(&b.origin, &b.account_guid)));
            }
        }
        (Some(("i", rest)), json) => {
            let (category, id) = rest.split_once(':').unwrap_or((rest, ""));
            let category: Category =
                category.parse().map_err(|e: crate::ItemError| ContentsError::Invalid(e.to_string()))?;
            let id = ItemId::try_from(id.to_owned()).map_err(|e| ContentsError::Invalid(e.to_string()))?;
            match json {
                Some(json) => {
                    let item: Item = serde_json::from_slice(json).map_err(bad)?;
                    contents.items.put_synced(category, item);
                }
                None => contents.items.bury_removed(category, id, now),
            }
        }
        (Some(("g", id)), json) => {
            let id = GrantId::try_from(id.to_owned()).map_err(ContentsError::Invalid)?;
            match json {
                Some(json) => {
                    contents.app_grants.insert(id, serde_json::from_slice(json).map_err(bad)?);
                }
                None => {
                    contents.app_grants.remove(&id);
                }
            }
        }
        (Some(("h", _)), _) => {}
        _ => return Err(ContentsError::Newer { found: VAULT_FORMAT + 1 }),
    }
    Ok(())
}

/// An account's entry key: `c:ORIGIN ACCOUNT`.
fn account_key(account: &AccountRecord) -> String {
    format!("c:{} {}", account.origin, account.account_guid)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{AddressId, Label, Origin};

    fn sample() -> VaultContents {
        let mut book = AddressBook::default();
        let address = serde_json::from_value(json!({"name": "Ada", "line1": "1 Loop", "city": "Paris",
            "postalCode": "75001", "country": "FR"}))
        .unwrap();
        book.save(
            AddressId::try_from("home".to_owned()).unwrap(),
            Label::try_from("Home".to_owned()).unwrap(),
            address,
            5,
        )
        .unwrap();
        let account = AccountRecord {
            origin: Origin::parse("https://shop.example").unwrap(),
            account_guid: crate::AccountGuid::try_from("acct".to_owned()).unwrap(),
            app_id: None,
            permissions: Vec::new(),
            key: Secret32::from_bytes([7; 32]),
            counter: 3,
            created_at: 1,
            last_used_at: 2,
        };
        let mut items = Items::default();
        let fields = json!({"url": "https://shop.example/ring", "title": "Ring"}).as_object().unwrap().clone();
        items
            .put(
                Category::Bookmarks,
                Item { id: ItemId::try_from("b1".to_owned()).unwrap(), fields, updated_at: 9, source: None },
            )
            .unwrap();
        let public =
            PublicChoice { fields: vec!["language".into()], changed_at: 4, key: Some(Secret32::from_bytes([9; 32])) };
        VaultContents::new(book, vec![account]).with_items(items, public)
    }

    #[test]
    fn entries_put_together_again_are_the_same_contents() {
        let contents = sample();
        let entries = entries(&contents);
        let keys: Vec<&str> = entries.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a", "a:home", "c:https://shop.example acct", "i:bookmarks:b1", "p"]);
        // A removed item comes back as a tombstone, which a merge keeps.
        let mut removed = contents.clone();
        apply(&mut removed, "i:bookmarks:b1", None, 50).unwrap();
        let merged = super::super::merge(&contents, &contents, &removed);
        assert!(merged.items.get(Category::Bookmarks, &ItemId::try_from("b1".to_owned()).unwrap()).is_none());
        let mut unknown = VaultContents::default();
        assert!(matches!(apply(&mut unknown, "x:thing", Some(b"{}"), 0), Err(ContentsError::Newer { .. })));
    }

    #[test]
    fn a_change_is_the_entries_that_differ_and_applies_entry_by_entry() {
        let contents = sample();
        let mut applied = VaultContents::default();
        for (key, json) in entries(&contents) {
            apply(&mut applied, &key, Some(&json), 0).unwrap();
        }
        assert_eq!(applied, contents);
        let mut changed = contents.clone();
        let fields = json!({"url": "https://shop.example/b2", "title": "B2"}).as_object().unwrap().clone();
        let b2 = Item { id: ItemId::try_from("b2".to_owned()).unwrap(), fields, updated_at: 10, source: None };
        changed.items.put(Category::Bookmarks, b2).unwrap();
        changed.accounts.clear();
        let keys: Vec<(String, bool)> = diff(&contents, &changed).into_iter().map(|(k, j)| (k, j.is_some())).collect();
        assert_eq!(keys, [("c:https://shop.example acct".to_owned(), false), ("i:bookmarks:b2".to_owned(), true)]);
        for (key, json) in diff(&contents, &changed) {
            apply(&mut applied, &key, json.as_deref(), 0).unwrap();
        }
        assert_eq!(applied, changed);
        assert!(diff(&changed, &changed).is_empty());
    }

    #[test]
    fn a_sealed_item_opens_only_as_itself() {
        let key = Secret32::from_bytes([1; 32]);
        let ids = ItemIds::new(&key);
        let id = ids.of("i:bookmarks:b1");
        assert_eq!(id.len(), 22);
        assert_ne!(id, ids.of("i:bookmarks:b2"));
        assert_ne!(id, ItemIds::new(&Secret32::from_bytes([2; 32])).of("i:bookmarks:b1"), "ids differ per profile");
        let blob = seal_entry(&key, "user", &id, 3, [5; 12], "i:bookmarks:b1", br#"{"a":1}"#);
        let (entry, json) = open_entry(&key, &ids, "user", &id, 3, &blob).unwrap();
        assert_eq!((entry.as_str(), json.as_slice()), ("i:bookmarks:b1", br#"{"a":1}"#.as_slice()));
        assert!(open_entry(&key, &ids, "user", &id, 4, &blob).is_err(), "not as another version");
        assert!(open_entry(&key, &ids, "other", &id, 3, &blob).is_err(), "not for another profile");
        let other = ids.of("i:bookmarks:b2");
        assert!(open_entry(&key, &ids, "user", &other, 3, &blob).is_err(), "not as another item");
        // Sealed under the right id and version, but naming another entry: refused.
        let forged = seal_entry(&key, "user", &other, 3, [5; 12], "i:bookmarks:b1", b"{}");
        assert!(matches!(open_entry(&key, &ids, "user", &other, 3, &forged), Err(ItemOpenError::Invalid(_))));
    }
}
