//! What the vault holds, and the three-way merge two devices' changes meet in.
//!
//! The merge is a pure function of its three inputs, and symmetric: merging `local` with
//! `remote` gives what merging `remote` with `local` gives, so every device that syncs the same
//! versions agrees on the result.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{AccountGuid, Address, AddressKind, Origin, Secret32};

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

/// What the vault holds: the person's addresses (with when each was last saved) and site
/// accounts (with their login keys).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultContents {
    #[serde(default)]
    pub addresses: BTreeMap<AddressKind, Address>,
    /// When each address was last saved (Unix seconds): of two edits of one field, the later
    /// wins. Absent for vaults written before it was kept.
    #[serde(default)]
    pub address_saved_at: BTreeMap<AddressKind, u64>,
    #[serde(default)]
    pub accounts: Vec<AccountRecord>,
}

impl fmt::Debug for VaultContents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultContents")
            .field("addresses", &self.addresses.keys().collect::<Vec<_>>())
            .field("accounts", &self.accounts.len())
            .finish()
    }
}

/// Three-way merge of the vault: `base` is what both sides started from.
///
/// - A change made on one side only wins; so does an addition on either side.
/// - An address or account removed on one side is gone, unless the other side changed it (an
///   address) or used it (an account) since `base`.
/// - Where both sides changed one address field, the later save wins (ties: the greater value,
///   a fixed order both sides agree on).
/// - For an account on both sides, the higher counter and the later use win, so a login key's
///   counter never goes back.
///
/// Accounts come out ordered by origin and account id.
pub fn merge(base: &VaultContents, local: &VaultContents, remote: &VaultContents) -> VaultContents {
    let mut merged = VaultContents::default();
    let kinds: BTreeSet<_> = local.addresses.keys().chain(remote.addresses.keys()).collect();
    for &kind in kinds {
        let base_address = base.addresses.get(&kind);
        fn side(contents: &VaultContents, kind: AddressKind) -> Option<(&Address, u64)> {
            contents.addresses.get(&kind).map(|a| (a, contents.address_saved_at.get(&kind).copied().unwrap_or(0)))
        }
        let address = match (side(local, kind), side(remote, kind)) {
            (Some((l, _)), Some((r, _))) if l == r => Some(l.clone()),
            (Some(l), Some(r)) => Some(merge_address(base_address, l, r)),
            // Present on one side only: it was added there, or removed on the other side
            // without the first changing it since.
            (Some((only, _)), None) | (None, Some((only, _))) => (base_address != Some(only)).then(|| only.clone()),
            (None, None) => None,
        };
        if let Some(address) = address {
            let saved_at = [local, remote].iter().filter_map(|c| c.address_saved_at.get(&kind)).max();
            if let Some(&saved_at) = saved_at {
                merged.address_saved_at.insert(kind, saved_at);
            }
            merged.addresses.insert(kind, address);
        }
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

/// Field by field: a field one side changed takes that side's value; a field both changed
/// takes the later save's.
fn merge_address(base: Option<&Address>, local: (&Address, u64), remote: (&Address, u64)) -> Address {
    let merged = Address::from_fields(|name| {
        let (l, r, b) = (local.0.get(name), remote.0.get(name), base.and_then(|a| a.get(name)));
        let value = if l == r || r == b {
            l
        } else if l == b {
            r
        } else if local.1 != remote.1 {
            if local.1 > remote.1 { l } else { r }
        } else {
            // Same second on both sides: any fixed order will do, as long as both agree.
            l.max(r)
        };
        value.map(str::to_owned)
    });
    // Two valid addresses merged field by field keep every required field; should the result
    // fail a check all the same, the later one is kept whole.
    merged.unwrap_or_else(|_| if remote.1 > local.1 { remote.0.clone() } else { local.0.clone() })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn address(city: &str, phone: Option<&str>) -> Address {
        serde_json::from_value(json!({
            "name": "Ada Lovelace", "line1": "12 Example Street", "city": city, "postalCode": "75001",
            "country": "FR", "phone": phone,
        }))
        .unwrap()
    }

    fn contents(addresses: &[(AddressKind, Address)]) -> VaultContents {
        VaultContents { addresses: addresses.iter().cloned().collect(), ..VaultContents::default() }
    }

    fn saved(mut contents: VaultContents, at: u64) -> VaultContents {
        contents.address_saved_at = contents.addresses.keys().map(|k| (*k, at)).collect();
        contents
    }

    #[test]
    fn merges_keep_both_sides_changes() {
        use AddressKind::{Billing, Shipping};
        let base = contents(&[(Shipping, address("Paris", None))]);
        // Different fields changed on each side: both changes kept.
        let local = contents(&[(Shipping, address("Lyon", None))]);
        let remote = contents(&[(Shipping, address("Paris", Some("+33 1 23 45 67 89")))]);
        let merged = merge(&base, &local, &remote);
        assert_eq!(merged.addresses[&Shipping], address("Lyon", Some("+33 1 23 45 67 89")));
        // An address added on each side: both kept.
        let local = contents(&[(Shipping, address("Paris", None)), (Billing, address("Nice", None))]);
        let remote = contents(&[]);
        assert_eq!(merge(&base, &local, &remote).addresses.len(), 1, "deleted remotely, unchanged locally");
        let remote = contents(&[(Shipping, address("Paris", None))]);
        assert_eq!(merge(&base, &local, &remote).addresses.len(), 2);
        // The same field changed on both sides: the later save wins, whichever side merges.
        let local = saved(contents(&[(Shipping, address("Lyon", None))]), 20);
        let remote = saved(contents(&[(Shipping, address("Lille", None))]), 10);
        assert_eq!(merge(&base, &local, &remote).addresses[&Shipping].city, "Lyon");
        assert_eq!(merge(&base, &remote, &local).addresses[&Shipping].city, "Lyon");
        assert_eq!(merge(&base, &local, &remote).address_saved_at[&Shipping], 20);
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

    // Small alphabets, so the generated sides often share, change and remove the same things.
    fn any_address() -> impl Strategy<Value = Address> {
        (0..3usize, proptest::option::of(0..3usize), 0..2usize).prop_map(|(city, phone, name)| {
            let mut a = address(["Paris", "Lyon", "Nice"][city], phone.map(|p| ["+33 1", "+33 2", "+33 3"][p]));
            a.name = ["Ada Lovelace", "Ada King"][name].to_owned();
            a
        })
    }

    fn any_account() -> impl Strategy<Value = AccountRecord> {
        (0..4usize, 0..5u64).prop_map(|(guid, counter)| account(["a", "b", "c", "d"][guid], counter))
    }

    fn any_contents() -> impl Strategy<Value = VaultContents> {
        let kinds = proptest::sample::select(vec![AddressKind::Shipping, AddressKind::Billing]);
        (
            proptest::collection::btree_map(kinds, (any_address(), 0..4u64), 0..=2),
            proptest::collection::vec(any_account(), 0..4),
        )
            .prop_map(|(addresses, accounts)| {
                let mut contents = VaultContents::default();
                for (kind, (address, at)) in addresses {
                    contents.addresses.insert(kind, address);
                    contents.address_saved_at.insert(kind, at);
                }
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
                prop_assert_eq!(&merged.addresses, &changed.addresses);
                prop_assert_eq!(ids(&merged), ids(&changed));
            }
        }

        #[test]
        fn nothing_either_side_added_is_lost(base in any_contents(), local in any_contents(), remote in any_contents()) {
            let merged = merge(&base, &local, &remote);
            for side in [&local, &remote] {
                                for kind in side.addresses.keys() {
                    if !base.addresses.contains_key(kind) {
                        prop_assert!(merged.addresses.contains_key(kind), "an added {kind:?} address was lost");
                    }
                }
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
