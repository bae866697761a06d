//! What the vault holds, and the three-way merge two devices' changes meet in.
//!
//! The merge is a pure function of its three inputs, and symmetric: merging `local` with
//! `remote` gives what merging `remote` with `local` gives, so every device that syncs the same
//! versions agrees on the result.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::items::Items;
use crate::apps::{AppName, GrantId, Scope};
use crate::{AccountGuid, Address, AddressBook, AddressKind, AppId, Origin, PublicJwk, Secret32};

/// One site account: its login key and the counter its last assertion carried.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountRecord {
    pub origin: Origin,
    pub account_guid: AccountGuid,
    pub app_id: Option<String>,
    pub permissions: Vec<String>,
    /// The P-256 private scalar.
    pub key: Secret32,
    pub counter: u64,
    pub created_at: u64,
    pub last_used_at: u64,
}

impl AccountRecord {
    fn same_account(&self, other: &Self) -> bool {
        self.origin == other.origin && self.account_guid == other.account_guid
    }

    /// The order two copies of one account are told apart by: the more used one first; the
    /// rest only makes the order total, so both sides of a merge pick the same copy.
    fn rank(&self) -> impl Ord + '_ {
        (self.last_used_at, self.counter, self.created_at, &self.app_id, &self.permissions)
    }
}

impl fmt::Debug for AccountRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountRecord")
            .field("origin", &self.origin)
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

/// The format of what the vault holds: 1 kept one address per kind, 2 the address book, 3 adds
/// the other categories' items and the public part. A device reads every format up to its own
/// and refuses a newer one rather than write over (and drop) what it does not understand.
pub const VAULT_FORMAT: u16 = 3;

/// What the vault holds: the person's address book and site accounts (with their login keys).
///
/// It reads every earlier format: a vault (or a host's cached copy of one) from before address
/// books upgrades on reading, each address becoming a labelled one and its kind's default.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawContents")]
pub struct VaultContents {
    /// [`VAULT_FORMAT`] once read: what is written is always the current format.
    version: u16,
    pub address_book: AddressBook,
    pub accounts: Vec<AccountRecord>,
    /// Every other category's items (identity, receipts, medical events, …).
    #[serde(default, skip_serializing_if = "Items::is_empty")]
    pub items: Items,
    /// What the public part of the profile publishes.
    #[serde(default, skip_serializing_if = "PublicChoice::is_empty")]
    pub public: PublicChoice,
    /// The grants the person gave apps, revoked ones included.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub app_grants: BTreeMap<GrantId, AppGrantRecord>,
}

/// A grant the person gave an app, as every device of the profile needs it to keep the app's
/// share current: its scopes and the keys its registration published when it was granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppGrantRecord {
    pub origin: Origin,
    pub app_id: AppId,
    pub name: AppName,
    pub scopes: Vec<Scope>,
    /// The key the app signs its requests with.
    pub app_key: PublicJwk,
    /// The key its share is sealed to.
    pub encryption_key: PublicJwk,
    pub purpose: String,
    pub granted_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
    /// For a grant to a linked profile: who it is and the grant it gave back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<PeerLink>,
}

/// The other side of a linked profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerLink {
    pub profile_url: String,
    /// The grant of their card to this profile, on their profile server, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub their_grant: Option<GrantId>,
}

impl AppGrantRecord {
    /// Two devices' copies of one grant: a revocation always stays (the earlier one).
    fn merge(a: &Self, b: &Self) -> Self {
        let mut merged =
            if (a.granted_at, a.name.as_str()) >= (b.granted_at, b.name.as_str()) { a.clone() } else { b.clone() };
        merged.revoked_at = match (a.revoked_at, b.revoked_at) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        if let Some(peer) = &mut merged.peer {
            // Once one device learned the grant given back, every copy knows it.
            let theirs = |p: &Option<PeerLink>| p.as_ref().and_then(|p| p.their_grant.clone());
            peer.their_grant = theirs(&a.peer).max(theirs(&b.peer));
        }
        merged
    }
}

/// The fields the person publishes at their profile URL, and the key the profile signs that
/// document with (every device of the profile holds it, through the vault).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicChoice {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// When the choice was last changed (the later one wins a merge).
    #[serde(default)]
    pub changed_at: u64,
    /// The profile's signing key (a P-256 scalar), made the first time something is published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Secret32>,
}

impl PublicChoice {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.key.is_none()
    }

    /// The later choice; of two keys, the one both sides agree on (the greater).
    fn merge(base: &Self, local: &Self, remote: &Self) -> Self {
        let pick = |l: &Self, r: &Self| {
            if l == base {
                r.clone()
            } else if r == base || (l.changed_at, &l.fields) >= (r.changed_at, &r.fields) {
                l.clone()
            } else {
                r.clone()
            }
        };
        let mut merged = pick(local, remote);
        merged.key = match (&local.key, &remote.key) {
            (Some(l), Some(r)) => Some(if l.expose() >= r.expose() { l.clone() } else { r.clone() }),
            (l, r) => l.clone().or_else(|| r.clone()),
        };
        merged
    }
}

impl fmt::Debug for PublicChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicChoice").field("fields", &self.fields).finish_non_exhaustive()
    }
}

impl Default for VaultContents {
    fn default() -> Self {
        Self::new(AddressBook::default(), Vec::new())
    }
}

impl VaultContents {
    pub fn new(address_book: AddressBook, accounts: Vec<AccountRecord>) -> Self {
        Self {
            version: VAULT_FORMAT,
            address_book,
            accounts,
            items: Items::default(),
            public: PublicChoice::default(),
            app_grants: BTreeMap::new(),
        }
    }

    /// The same, holding `items` and `public`.
    pub fn with_items(self, items: Items, public: PublicChoice) -> Self {
        Self { items, public, ..self }
    }

    /// Reads a vault's JSON, of this format or an earlier one; a vault written by a newer
    /// version is refused in words before anything else of it is read.
    pub fn from_json(json: &[u8]) -> Result<Self, ContentsError> {
        #[derive(Deserialize)]
        struct Version {
            #[serde(default)]
            version: Option<u16>,
        }
        let Version { version } = serde_json::from_slice(json).map_err(|e| ContentsError::Invalid(e.to_string()))?;
        newer_check(version)?;
        serde_json::from_slice(json).map_err(|e| ContentsError::Invalid(e.to_string()))
    }
}

/// Why a vault's contents cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentsError {
    #[error(
        "the vault was written by a newer version of Personal Profile (format {found}; this one reads formats up \
         to {VAULT_FORMAT}): update profile-host on this device. Nothing was written to the vault"
    )]
    Newer { found: u16 },
    #[error("the vault's contents are not valid: {0}")]
    Invalid(String),
}

fn newer_check(version: Option<u16>) -> Result<(), ContentsError> {
    match version {
        Some(found) if found > VAULT_FORMAT => Err(ContentsError::Newer { found }),
        _ => Ok(()),
    }
}

/// Every format's members: format 1's `addresses` (one per kind) and `addressSavedAt`, format
/// 2's `version` and `addressBook`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawContents {
    #[serde(default)]
    version: Option<u16>,
    /// Read only once the version is known to be one this device reads.
    #[serde(default)]
    address_book: Option<serde_json::Value>,
    #[serde(default)]
    addresses: BTreeMap<AddressKind, Address>,
    #[serde(default)]
    address_saved_at: BTreeMap<AddressKind, u64>,
    #[serde(default)]
    accounts: Vec<AccountRecord>,
    #[serde(default)]
    items: Items,
    #[serde(default)]
    public: PublicChoice,
    #[serde(default)]
    app_grants: BTreeMap<GrantId, AppGrantRecord>,
}

impl TryFrom<RawContents> for VaultContents {
    type Error = ContentsError;

    fn try_from(raw: RawContents) -> Result<Self, Self::Error> {
        newer_check(raw.version)?;
        let address_book = match raw.address_book {
            Some(book) => {
                serde_json::from_value(book).map_err(|e| ContentsError::Invalid(format!("addressBook: {e}")))?
            }
            None => AddressBook::upgraded(raw.addresses, &raw.address_saved_at),
        };
        Ok(Self {
            items: raw.items,
            public: raw.public,
            app_grants: raw.app_grants,
            ..Self::new(address_book, raw.accounts)
        })
    }
}

impl fmt::Debug for VaultContents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultContents")
            .field("address_book", &self.address_book)
            .field("accounts", &self.accounts.len())
            .field("items", &"…")
            .field("public", &self.public)
            .field("app_grants", &self.app_grants.len())
            .finish()
    }
}

/// Three-way merge of the vault: `base` is what both sides started from.
///
/// - The address book merges per address id ([`AddressBook::merge`]): a change made on one side
///   only wins; of two edits of one field the later save wins (ties: the greater value, a fixed
///   order both sides agree on); a removal travels as a tombstone and wins over every copy saved
///   before it, so a removed address does not come back from another device.
/// - An account removed on one side is gone, unless the other side used it since `base`; for an
///   account on both sides, the higher counter and the later use win, so a login key's counter
///   never goes back.
///
/// Accounts come out ordered by origin and account id.
pub fn merge(base: &VaultContents, local: &VaultContents, remote: &VaultContents) -> VaultContents {
    let mut merged = VaultContents {
        address_book: AddressBook::merge(&base.address_book, &local.address_book, &remote.address_book),
        items: Items::merge(&base.items, &local.items, &remote.items),
        public: PublicChoice::merge(&base.public, &local.public, &remote.public),
        ..VaultContents::default()
    };
    // Grants are never removed, only revoked: every copy meets.
    merged.app_grants = local.app_grants.clone();
    for (id, grant) in &remote.app_grants {
        let kept = match merged.app_grants.get(id) {
            Some(ours) => AppGrantRecord::merge(ours, grant),
            None => grant.clone(),
        };
        merged.app_grants.insert(id.clone(), kept);
    }

    // Removed from `side`, and untouched on the other since `base`.
    let removed_from = |side: &VaultContents, account: &AccountRecord| {
        !side.accounts.iter().any(|a| a.same_account(account))
            && base.accounts.iter().any(|b| b.same_account(account) && b.counter == account.counter)
    };
    for (side, other) in [(local, remote), (remote, local)] {
        for account in side.accounts.iter().filter(|a| !removed_from(other, a)) {
            match merged.accounts.iter_mut().find(|a| a.same_account(account)) {
                Some(kept) => {
                    let (counter, last_used_at) =
                        (kept.counter.max(account.counter), kept.last_used_at.max(account.last_used_at));
                    if account.rank() > kept.rank() {
                        *kept = account.clone();
                    }
                    kept.counter = counter;
                    kept.last_used_at = last_used_at;
                }
                None => merged.accounts.push(account.clone()),
            }
        }
    }
    merged.accounts.sort_by(|a, b| (&a.origin, &a.account_guid).cmp(&(&b.origin, &b.account_guid)));
    merged
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn a_vault_of_the_first_format_upgrades_without_loss() {
        // Written by the host before address books (tests/fixtures, made with that code).
        let json = include_bytes!("../../tests/fixtures/vault-contents-v1.json");
        let contents = VaultContents::from_json(json).unwrap();
        let book = &contents.address_book;
        assert_eq!(book.len(), 2);
        let shipping = book.default_of(AddressKind::Shipping).unwrap();
        assert_eq!(
            (shipping.id.as_str(), shipping.label.as_str(), shipping.saved_at),
            ("shipping", "Shipping", 1_700_000_000)
        );
        assert_eq!(shipping.address.line2.as_deref(), Some("Flat 3"));
        assert_eq!(shipping.address.phone.as_deref(), Some("+44 20 7946 0000"), "kept as it was saved");
        let billing = book.default_of(AddressKind::Billing).unwrap();
        assert_eq!((billing.label.as_str(), billing.address.region.as_deref()), ("Billing", Some("Île-de-France")));
        assert_eq!(contents.accounts.len(), 1);
        assert_eq!(contents.accounts[0].counter, 3);
        // Written again, it is the current format, and reads back the same.
        let written = serde_json::to_value(&contents).unwrap();
        assert_eq!(written["version"], VAULT_FORMAT);
        assert!(written.get("addresses").is_none());
        assert_eq!(VaultContents::from_json(written.to_string().as_bytes()).unwrap(), contents);
    }

    #[test]
    fn a_vault_of_a_newer_format_is_refused_in_words() {
        let newer = br#"{"version": 4, "addressBook": {"addresses": [], "homes": []}, "somethingNew": 1}"#;
        let error = VaultContents::from_json(newer).unwrap_err();
        assert_eq!(error, ContentsError::Newer { found: 4 });
        let words = error.to_string();
        assert!(
            words.contains("newer version of Personal Profile") && words.contains("update profile-host"),
            "{words}"
        );
        // Read through serde too (a host's cached copy): the same refusal.
        let error = serde_json::from_slice::<VaultContents>(newer).unwrap_err().to_string();
        assert!(error.contains("newer version"), "{error}");
        assert!(matches!(VaultContents::from_json(b"\"a vault\""), Err(ContentsError::Invalid(_))));
    }

    /// An account at the shop, with a counter (and a last use that follows it).
    fn account(guid: &str, counter: u64) -> AccountRecord {
        AccountRecord {
            origin: Origin::parse("https://shop.example").unwrap(),
            account_guid: AccountGuid::try_from(guid.to_owned()).unwrap(),
            app_id: None,
            permissions: Vec::new(),
            key: Secret32::from_bytes([1; 32]),
            counter,
            created_at: 1,
            last_used_at: counter,
        }
    }

    #[test]
    fn merged_accounts_are_a_union_whose_counters_never_go_back() {
        let base = VaultContents { accounts: vec![account("a", 3)], ..VaultContents::default() };
        let local = VaultContents { accounts: vec![account("a", 5), account("b", 0)], ..VaultContents::default() };
        let remote = VaultContents { accounts: vec![account("a", 7), account("c", 0)], ..VaultContents::default() };
        let merged = merge(&base, &local, &remote);
        let seen: Vec<_> = merged.accounts.iter().map(|a| (a.account_guid.as_str().to_owned(), a.counter)).collect();
        assert_eq!(seen, [("a".to_owned(), 7), ("b".to_owned(), 0), ("c".to_owned(), 0)]);
    }

    #[test]
    fn a_removal_on_one_side_wins_unless_the_other_used_the_account_since() {
        let both = |accounts: Vec<AccountRecord>| VaultContents { accounts, ..VaultContents::default() };
        let guids =
            |merged: VaultContents| merged.accounts.iter().map(|a| a.account_guid.to_string()).collect::<Vec<_>>();
        let base = both(vec![account("a", 3), account("b", 1)]);
        // Removed here, untouched there: gone. Removed there, untouched here: gone.
        assert_eq!(guids(merge(&base, &both(vec![account("b", 1)]), &base)), ["b"]);
        assert_eq!(guids(merge(&base, &base, &both(vec![account("b", 1)]))), ["b"]);
        // Removed here, but logged in there since: kept, with the newer counter.
        let merged = merge(&base, &both(vec![account("b", 1)]), &both(vec![account("a", 4), account("b", 1)]));
        assert_eq!(guids(merged), ["a", "b"]);
    }

    fn any_account() -> impl Strategy<Value = AccountRecord> {
        (0..4usize, 0..5u64).prop_map(|(guid, counter)| account(["a", "b", "c", "d"][guid], counter))
    }

    fn any_contents() -> impl Strategy<Value = VaultContents> {
        proptest::collection::vec(any_account(), 0..4).prop_map(|accounts| {
            let mut contents = VaultContents::default();
            for account in accounts {
                if !contents.accounts.iter().any(|a| a.same_account(&account)) {
                    contents.accounts.push(account);
                }
            }
            contents
        })
    }

    proptest! {
        #[test]
        fn the_result_does_not_depend_on_which_side_merges(
            base in any_contents(), local in any_contents(), remote in any_contents(),
        ) {
            prop_assert_eq!(merge(&base, &local, &remote), merge(&base, &remote, &local));
        }

        #[test]
                fn a_change_made_on_one_side_only_wins(base in any_contents(), changed in any_contents()) {
            let ids = |c: &VaultContents| {
                c.accounts.iter().map(|a| a.account_guid.as_str().to_owned()).collect::<BTreeSet<_>>()
            };
            for merged in [merge(&base, &changed, &base), merge(&base, &base, &changed)] {
                prop_assert_eq!(ids(&merged), ids(&changed));
            }
        }

        #[test]
        fn nothing_either_side_added_is_lost(base in any_contents(), local in any_contents(), remote in any_contents()) {
            let merged = merge(&base, &local, &remote);
            for side in [&local, &remote] {
                for account in &side.accounts {
                    if !base.accounts.iter().any(|b| b.same_account(account)) {
                        let kept = merged.accounts.iter().find(|a| a.same_account(account));
                        prop_assert!(kept.is_some_and(|k| k.counter >= account.counter), "an added account was lost");
                    }
                }
            }
        }

        #[test]
        fn counters_never_go_back(base in any_contents(), local in any_contents(), remote in any_contents()) {
            let merged = merge(&base, &local, &remote);
            for account in &merged.accounts {
                for side in [&local, &remote] {
                    if let Some(was) = side.accounts.iter().find(|a| a.same_account(account)) {
                        prop_assert!(account.counter >= was.counter);
                    }
                }
            }
        }
    }
}
