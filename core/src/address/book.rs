//! The address book: any number of labelled addresses ("Home", "Work", "Mum's"), each with a
//! stable id, one default for shipping and one for billing, and the ids of removed addresses
//! (tombstones), so that a removal travels to the person's other devices instead of the
//! address coming back from them.
//!
//! [`AddressBook::merge`] is what two devices' books meet in, a pure and symmetric function
//! (the vault's merge calls it): per address id, a change made on one side only wins, two edits
//! are merged field by field with the later save winning where both changed the same field, and
//! a removal wins over every copy saved before it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ADDRESS_FIELDS, Address, AddressKind};

/// Most addresses a book holds: a `listAddresses` answer stays well within one message.
pub const MAX_ADDRESSES: usize = 50;
/// Longest label, in characters.
pub const MAX_LABEL: usize = 60;
/// Most tombstones kept; past it the oldest go (a device that stayed away longer than that many
/// removals could bring those addresses back).
pub const MAX_REMOVED: usize = 1_000;
/// Longest address id.
const MAX_ID: usize = 64;

/// An address's stable id: 1 to 64 ASCII letters, digits, `-` or `_`. Made from random bytes
/// for a new address; an address upgraded from the one-per-kind vault keeps its kind as its id
/// (`shipping`, `billing`), so every device that upgrades the same vault agrees on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AddressId(String);

impl AddressId {
    /// A new id from random bytes (the caller brings them: the core does no I/O).
    pub fn from_random(bytes: [u8; 12]) -> Self {
        Self(base16ct::lower::encode_string(&bytes))
    }

    /// The id an address of the one-per-kind vault gets when it is upgraded.
    pub fn of_kind(kind: AddressKind) -> Self {
        Self(kind.as_str().to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AddressId {
    type Error = AddressBookError;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        let fine = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if id.is_empty() || id.len() > MAX_ID || !id.bytes().all(fine) {
            return Err(AddressBookError::Id);
        }
        Ok(Self(id))
    }
}

impl From<AddressId> for String {
    fn from(id: AddressId) -> Self {
        id.0
    }
}

impl fmt::Display for AddressId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What people call an address: 1 to [`MAX_LABEL`] characters, trimmed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Label(String);

impl Label {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Label {
    type Error = AddressBookError;

    fn try_from(label: String) -> Result<Self, Self::Error> {
        let label = label.trim();
        if label.is_empty() || label.chars().count() > MAX_LABEL || label.chars().any(char::is_control) {
            return Err(AddressBookError::Label);
        }
        Ok(Self(label.to_owned()))
    }
}

impl From<Label> for String {
    fn from(label: Label) -> Self {
        label.0
    }
}

impl From<AddressKind> for Label {
    fn from(kind: AddressKind) -> Self {
        Self(kind.title().to_owned())
    }
}

/// What is wrong with a change to the address book.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressBookError {
    #[error("an address id is 1 to {MAX_ID} letters, digits, `-` or `_`")]
    Id,
    #[error("a label is 1 to {MAX_LABEL} characters, without control characters")]
    Label,
    #[error("no saved address has the id `{0}`")]
    Unknown(AddressId),
    #[error("the address book is full ({MAX_ADDRESSES} addresses): remove one first")]
    Full,
    #[error("the address `{0}` was removed")]
    Removed(AddressId),
}

/// One saved address.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SavedAddress {
    pub id: AddressId,
    pub label: Label,
    pub address: Address,
    /// When it was last saved (Unix seconds): of two edits of one field the later wins, and a
    /// removal wins over every copy saved before it.
    #[serde(default)]
    pub saved_at: u64,
}

impl fmt::Debug for SavedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SavedAddress").field("id", &self.id).field("saved_at", &self.saved_at).finish_non_exhaustive()
    }
}

/// Which address is the default of a kind, and since when (the later choice wins a merge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DefaultChoice {
    pub id: AddressId,
    #[serde(default)]
    pub at: u64,
}

/// The person's addresses.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressBook {
    /// Ordered by id.
    #[serde(default)]
    addresses: Vec<SavedAddress>,
    #[serde(default)]
    defaults: BTreeMap<AddressKind, DefaultChoice>,
    /// Removed ids, with when each was removed.
    #[serde(default)]
    removed: BTreeMap<AddressId, u64>,
}

impl fmt::Debug for AddressBook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddressBook")
            .field("addresses", &self.addresses.len())
            .field("defaults", &self.defaults)
            .field("removed", &self.removed.len())
            .finish()
    }
}

impl AddressBook {
    /// The book an address-per-kind profile (before address books) becomes: each address is
    /// kept, labelled with its kind, under its kind as id, and is that kind's default.
    pub fn upgraded(addresses: BTreeMap<AddressKind, Address>, saved_at: &BTreeMap<AddressKind, u64>) -> Self {
        let mut book = Self::default();
        for (kind, address) in addresses {
            let at = saved_at.get(&kind).copied().unwrap_or(0);
            let id = AddressId::of_kind(kind);
            book.addresses.push(SavedAddress { id: id.clone(), label: kind.into(), address, saved_at: at });
            book.defaults.insert(kind, DefaultChoice { id, at });
        }
        book.addresses.sort_by(|a, b| a.id.cmp(&b.id));
        book
    }

    /// Every saved address, ordered by id.
    pub fn addresses(&self) -> &[SavedAddress] {
        &self.addresses
    }

    pub fn get(&self, id: &AddressId) -> Option<&SavedAddress> {
        self.addresses.iter().find(|a| &a.id == id)
    }

    /// The default address of a kind.
    pub fn default_of(&self, kind: AddressKind) -> Option<&SavedAddress> {
        self.defaults.get(&kind).and_then(|choice| self.get(&choice.id))
    }

    /// The kinds `id` is the default of.
    pub fn default_kinds(&self, id: &AddressId) -> Vec<AddressKind> {
        AddressKind::ALL.into_iter().filter(|kind| self.defaults.get(kind).is_some_and(|d| &d.id == id)).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
    }

    pub fn len(&self) -> usize {
        self.addresses.len()
    }

    /// Saves a new address (`id` not in the book) or replaces one. A new address becomes the
    /// default of each kind that has none.
    pub fn save(&mut self, id: AddressId, label: Label, address: Address, now: u64) -> Result<(), AddressBookError> {
        self.put(id, label, address, now, true)
    }

    fn put(
        &mut self,
        id: AddressId,
        label: Label,
        address: Address,
        now: u64,
        default_where_none: bool,
    ) -> Result<(), AddressBookError> {
        if self.removed.contains_key(&id) {
            return Err(AddressBookError::Removed(id));
        }
        match self.addresses.iter_mut().find(|a| a.id == id) {
            Some(saved) => *saved = SavedAddress { id, label, address, saved_at: now },
            None => {
                if self.addresses.len() >= MAX_ADDRESSES {
                    return Err(AddressBookError::Full);
                }
                for kind in AddressKind::ALL.into_iter().filter(|_| default_where_none) {
                    self.defaults.entry(kind).or_insert_with(|| DefaultChoice { id: id.clone(), at: now });
                }
                self.addresses.push(SavedAddress { id, label, address, saved_at: now });
                self.addresses.sort_by(|a, b| a.id.cmp(&b.id));
            }
        }
        Ok(())
    }

    /// What `saveAddress {kind, address}` did before address books: saves the kind's default in
    /// place, unless it is also the other kind's default, when the kind gets an address of its
    /// own (labelled with the kind), so saving one kind never changes the other (nor makes it
    /// the other's default). Answers the id.
    pub fn save_as_default(
        &mut self,
        kind: AddressKind,
        address: Address,
        new_id: AddressId,
        now: u64,
    ) -> Result<AddressId, AddressBookError> {
        let shared = self.default_of(kind).filter(|saved| self.default_kinds(&saved.id).len() == 1);
        if let Some(saved) = shared {
            let (id, label) = (saved.id.clone(), saved.label.clone());
            self.save(id.clone(), label, address, now)?;
            return Ok(id);
        }
        self.put(new_id.clone(), kind.into(), address, now, false)?;
        self.set_default(&new_id, kind, now)?;
        Ok(new_id)
    }

    /// Makes `id` the default of `kind`.
    pub fn set_default(&mut self, id: &AddressId, kind: AddressKind, now: u64) -> Result<(), AddressBookError> {
        if self.get(id).is_none() {
            return Err(AddressBookError::Unknown(id.clone()));
        }
        self.defaults.insert(kind, DefaultChoice { id: id.clone(), at: now });
        Ok(())
    }

    /// Removes an address, leaving a tombstone; a kind it was the default of has none after.
    pub fn remove(&mut self, id: &AddressId, now: u64) -> Result<(), AddressBookError> {
        let before = self.addresses.len();
        self.addresses.retain(|a| &a.id != id);
        if self.addresses.len() == before {
            return Err(AddressBookError::Unknown(id.clone()));
        }
        self.defaults.retain(|_, choice| &choice.id != id);
        self.removed.insert(id.clone(), now);
        self.trim_removed();
        Ok(())
    }

    /// Keeps the newest [`MAX_REMOVED`] tombstones (the order is total, so both sides of a merge
    /// keep the same ones).
    fn trim_removed(&mut self) {
        if self.removed.len() <= MAX_REMOVED {
            return;
        }
        let mut by_age: Vec<_> = self.removed.iter().map(|(id, at)| (*at, id.clone())).collect();
        by_age.sort();
        for (_, id) in by_age.into_iter().take(self.removed.len() - MAX_REMOVED) {
            self.removed.remove(&id);
        }
    }

    /// The book without its addresses (its defaults and tombstones), and its addresses: how the
    /// vault keeps it, an item each.
    pub fn split(&self) -> (Self, &[SavedAddress]) {
        (
            Self { addresses: Vec::new(), defaults: self.defaults.clone(), removed: self.removed.clone() },
            &self.addresses,
        )
    }

    /// The book [`AddressBook::split`] took apart, put together again (addresses by id; a
    /// removed one stays out).
    pub fn joined(mut rest: Self, addresses: impl IntoIterator<Item = SavedAddress>) -> Self {
        rest.addresses = addresses.into_iter().filter(|a| !rest.removed.contains_key(&a.id)).collect();
        rest.addresses.sort_by(|a, b| a.id.cmp(&b.id));
        rest
    }

    /// Three-way merge: `base` is what both sides started from.
    ///
    /// - Tombstones are a union (the later removal time of an id kept).
    /// - An address on either side is kept unless a removal came at or after its save.
    /// - An address on both sides: a side that did not change it since `base` takes the other
    ///   side's copy; if both changed it, field by field, the changed side wins a field, and the
    ///   later save a field both changed (ties: the greater value); the label likewise.
    /// - A kind's default: the side that changed it wins, the later choice if both did; a
    ///   default naming an address that is gone leaves the kind without one.
    pub fn merge(base: &Self, local: &Self, remote: &Self) -> Self {
        let mut merged = Self::default();
        for side in [local, remote] {
            for (id, at) in &side.removed {
                let kept = merged.removed.entry(id.clone()).or_insert(*at);
                *kept = (*kept).max(*at);
            }
        }
        let ids: BTreeSet<&AddressId> = local.addresses.iter().chain(&remote.addresses).map(|a| &a.id).collect();
        for id in ids {
            let saved = match (local.get(id), remote.get(id)) {
                (Some(l), Some(r)) => merge_saved(base.get(id), l, r),
                (Some(only), None) | (None, Some(only)) => only.clone(),
                (None, None) => continue,
            };
            if merged.removed.get(id).is_none_or(|removed_at| saved.saved_at > *removed_at) {
                merged.addresses.push(saved);
            }
        }
        merged.trim_removed();
        for kind in AddressKind::ALL {
            let (b, l, r) = (base.defaults.get(&kind), local.defaults.get(&kind), remote.defaults.get(&kind));
            let choice = if l == r || r == b {
                l
            } else if l == b {
                r
            } else {
                // Both chose: the later choice, then any fixed order both sides agree on.
                match (l, r) {
                    (Some(x), Some(y)) => Some(if (x.at, &x.id) >= (y.at, &y.id) { x } else { y }),
                    (x, y) => x.or(y),
                }
            };
            if let Some(choice) = choice.filter(|c| merged.get(&c.id).is_some()) {
                merged.defaults.insert(kind, choice.clone());
            }
        }
        merged
    }
}

/// One address changed on both sides since `base` (or added on both).
fn merge_saved(base: Option<&SavedAddress>, local: &SavedAddress, remote: &SavedAddress) -> SavedAddress {
    if local == remote || Some(remote) == base {
        return local.clone();
    }
    if Some(local) == base {
        return remote.clone();
    }
    // The order the whole copies are told apart by, should the field-by-field merge fail.
    let rank = |s: &SavedAddress| {
        (
            s.saved_at,
            s.label.clone(),
            ADDRESS_FIELDS.iter().map(|f| s.address.get(f.name).map(str::to_owned)).collect::<Vec<_>>(),
        )
    };
    let later_local = rank(local) > rank(remote);
    let pick = |l: Option<&str>, r: Option<&str>, b: Option<&str>| -> Option<String> {
        let value = if l == r || r == b {
            l
        } else if l == b {
            r
        } else if local.saved_at != remote.saved_at {
            if local.saved_at > remote.saved_at { l } else { r }
        } else {
            // Same second on both sides: any fixed order will do, as long as both agree.
            l.max(r)
        };
        value.map(str::to_owned)
    };
    let base_address = base.map(|b| &b.address);
    let address = Address::from_fields(|name| {
        pick(local.address.get(name), remote.address.get(name), base_address.and_then(|a| a.get(name)))
    })
    // Two valid addresses merged field by field keep every required field; should the result
    // fail a check all the same, the later one is kept whole.
    .unwrap_or_else(|_| if later_local { local.address.clone() } else { remote.address.clone() });
    let label = pick(Some(local.label.as_str()), Some(remote.label.as_str()), base.map(|b| b.label.as_str()))
        .and_then(|label| Label::try_from(label).ok())
        .unwrap_or_else(|| local.label.clone());
    SavedAddress { id: local.id.clone(), label, address, saved_at: local.saved_at.max(remote.saved_at) }
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

    fn id(text: &str) -> AddressId {
        AddressId::try_from(text.to_owned()).unwrap()
    }

    fn label(text: &str) -> Label {
        Label::try_from(text.to_owned()).unwrap()
    }

    #[test]
    fn ids_and_labels_are_bounded() {
        assert!(AddressId::try_from("home-1_A".to_owned()).is_ok());
        for bad in ["", "a b", "é", &"x".repeat(65), "a/b"] {
            assert_eq!(AddressId::try_from(bad.to_owned()), Err(AddressBookError::Id), "{bad:?}");
        }
        assert_eq!(AddressId::from_random([0xab; 12]).as_str(), "abababababababababababab");
        assert_eq!(label("  Mum's  ").as_str(), "Mum's");
        for bad in ["", "  ", "a\nb", &"x".repeat(61)] {
            assert_eq!(Label::try_from(bad.to_owned()), Err(AddressBookError::Label), "{bad:?}");
        }
        assert!(
            serde_json::from_value::<SavedAddress>(json!({"id": "a b", "label": "x",
            "address": {"name": "A", "line1": "1", "country": "FR"}}))
            .is_err()
        );
    }

    #[test]
    fn a_new_address_becomes_the_default_of_kinds_without_one_and_removal_leaves_a_tombstone() {
        let mut book = AddressBook::default();
        book.save(id("home"), label("Home"), address("Paris", None), 10).unwrap();
        assert_eq!(book.default_kinds(&id("home")), AddressKind::ALL);
        book.save(id("work"), label("Work"), address("Lyon", None), 11).unwrap();
        assert_eq!(book.default_kinds(&id("work")), []);
        book.set_default(&id("work"), AddressKind::Billing, 12).unwrap();
        assert_eq!(book.default_of(AddressKind::Billing).unwrap().label.as_str(), "Work");
        assert_eq!(book.set_default(&id("mum"), AddressKind::Billing, 12), Err(AddressBookError::Unknown(id("mum"))));
        book.remove(&id("work"), 13).unwrap();
        assert!(book.default_of(AddressKind::Billing).is_none());
        assert_eq!(book.default_of(AddressKind::Shipping).unwrap().id, id("home"));
        assert_eq!(book.remove(&id("work"), 14), Err(AddressBookError::Unknown(id("work"))));
        assert_eq!(
            book.save(id("work"), label("Work"), address("Lyon", None), 15),
            Err(AddressBookError::Removed(id("work")))
        );
        for n in 0..MAX_ADDRESSES - 1 {
            book.save(id(&format!("a{n}")), label("A"), address("Nice", None), 20).unwrap();
        }
        assert_eq!(book.save(id("one-more"), label("A"), address("Nice", None), 20), Err(AddressBookError::Full));
    }

    #[test]
    fn saving_by_kind_keeps_the_other_kind_as_it_was() {
        let mut book = AddressBook::default();
        let first = book.save_as_default(AddressKind::Shipping, address("Paris", None), id("n1"), 1).unwrap();
        assert_eq!(first, id("n1"));
        assert_eq!(book.default_kinds(&first), [AddressKind::Shipping], "saving one kind says nothing of the other");
        book.set_default(&first, AddressKind::Billing, 1).unwrap();
        // Shared by both kinds: billing gets an address of its own, shipping stays.
        let billing = book.save_as_default(AddressKind::Billing, address("Lyon", None), id("n2"), 2).unwrap();
        assert_eq!(billing, id("n2"));
        assert_eq!(book.default_of(AddressKind::Shipping).unwrap().address.city.as_deref(), Some("Paris"));
        assert_eq!(book.default_of(AddressKind::Billing).unwrap().label.as_str(), "Billing");
        // Now each is one kind's only: saved in place.
        assert_eq!(book.save_as_default(AddressKind::Billing, address("Nice", None), id("n3"), 3).unwrap(), id("n2"));
        assert_eq!(book.len(), 2);
    }

    #[test]
    fn the_one_per_kind_profile_upgrades_without_loss() {
        let addresses = BTreeMap::from([
            (AddressKind::Shipping, address("Paris", None)),
            (AddressKind::Billing, address("Lyon", None)),
        ]);
        let book = AddressBook::upgraded(addresses, &BTreeMap::from([(AddressKind::Billing, 7)]));
        let shipping = book.default_of(AddressKind::Shipping).unwrap();
        assert_eq!((shipping.id.as_str(), shipping.label.as_str(), shipping.saved_at), ("shipping", "Shipping", 0));
        assert_eq!(shipping.address, address("Paris", None));
        let billing = book.default_of(AddressKind::Billing).unwrap();
        assert_eq!((billing.id.as_str(), billing.label.as_str(), billing.saved_at), ("billing", "Billing", 7));
    }

    #[test]
    fn merges_keep_both_sides_changes_and_removals_do_not_come_back() {
        let mut base = AddressBook::default();
        base.save(id("home"), label("Home"), address("Paris", None), 10).unwrap();
        // Different fields changed on each side: both kept.
        let mut local = base.clone();
        local.save(id("home"), label("Home"), address("Lyon", None), 20).unwrap();
        let mut remote = base.clone();
        remote.save(id("home"), label("Maison"), address("Paris", Some("+33 1")), 30).unwrap();
        let merged = AddressBook::merge(&base, &local, &remote);
        let home = merged.get(&id("home")).unwrap();
        assert_eq!(
            (home.address.clone(), home.label.as_str(), home.saved_at),
            (address("Lyon", Some("+33 1")), "Maison", 30)
        );
        // Removed on one side, untouched or edited earlier on the other: gone, on both sides.
        let mut removed = base.clone();
        removed.remove(&id("home"), 40).unwrap();
        for merged in [AddressBook::merge(&base, &removed, &remote), AddressBook::merge(&base, &remote, &removed)] {
            assert!(merged.is_empty() && merged.default_of(AddressKind::Shipping).is_none());
        }
        // A device that never saw the removal (pairing merges from an empty base) cannot bring it back.
        let stale = base.clone();
        assert!(AddressBook::merge(&AddressBook::default(), &stale, &removed).is_empty());
        // An edit after the removal keeps the address.
        let mut later = base.clone();
        later.save(id("home"), label("Home"), address("Nice", None), 50).unwrap();
        assert_eq!(AddressBook::merge(&base, &later, &removed).len(), 1);
    }

    fn any_address() -> impl Strategy<Value = Address> {
        (0..3usize, proptest::option::of(0..3usize), 0..2usize).prop_map(|(city, phone, name)| {
            let mut a = address(["Paris", "Lyon", "Nice"][city], phone.map(|p| ["+33 1", "+33 2", "+33 3"][p]));
            a.name = ["Ada Lovelace", "Ada King"][name].to_owned();
            a
        })
    }

    /// What a device does to its book.
    #[derive(Debug, Clone)]
    enum Change {
        Save(usize, usize, Box<Address>),
        Remove(usize),
        Default(usize, AddressKind),
    }

    fn any_change() -> impl Strategy<Value = Change> {
        prop_oneof![
            (0..4usize, 0..2usize, any_address()).prop_map(|(id, label, a)| Change::Save(id, label, Box::new(a))),
            (0..4usize).prop_map(Change::Remove),
            (0..4usize, proptest::sample::select(AddressKind::ALL.to_vec())).prop_map(|(i, k)| Change::Default(i, k)),
        ]
    }

    /// Applies changes at times from `start` on, as a device would (refused ones are skipped).
    fn apply(mut book: AddressBook, changes: &[Change], start: u64) -> AddressBook {
        for (n, change) in changes.iter().enumerate() {
            let now = start + n as u64 / 2;
            let ids = ["a", "b", "c", "d"].map(id);
            let _ = match change {
                Change::Save(i, l, a) => book.save(ids[*i].clone(), label(["Home", "Work"][*l]), (**a).clone(), now),
                Change::Remove(i) => book.remove(&ids[*i], now),
                Change::Default(i, kind) => book.set_default(&ids[*i], *kind, now),
            };
        }
        book
    }

    fn books() -> impl Strategy<Value = (AddressBook, AddressBook, AddressBook)> {
        let changes = || proptest::collection::vec(any_change(), 0..6);
        (changes(), changes(), changes(), 0..3u64).prop_map(|(shared, mine, theirs, skew)| {
            let base = apply(AddressBook::default(), &shared, 1);
            (base.clone(), apply(base.clone(), &mine, 10), apply(base, &theirs, 10 + skew))
        })
    }

    proptest! {
        #[test]
        fn the_result_does_not_depend_on_which_side_merges((base, local, remote) in books()) {
            prop_assert_eq!(AddressBook::merge(&base, &local, &remote), AddressBook::merge(&base, &remote, &local));
        }

        #[test]
        fn a_change_made_on_one_side_only_wins((base, changed, _) in books()) {
            for merged in [AddressBook::merge(&base, &changed, &base), AddressBook::merge(&base, &base, &changed)] {
                prop_assert_eq!(&merged.addresses, &changed.addresses);
                prop_assert_eq!(&merged.defaults, &changed.defaults);
            }
        }

        #[test]
        fn nothing_added_is_lost_and_nothing_removed_comes_back((base, local, remote) in books()) {
            let merged = AddressBook::merge(&base, &local, &remote);
            for (side, other) in [(&local, &remote), (&remote, &local)] {
                for saved in &side.addresses {
                    let removed_later = other.removed.get(&saved.id).is_some_and(|at| *at >= saved.saved_at);
                    prop_assert_eq!(merged.get(&saved.id).is_some(), !removed_later, "{:?}", saved.id);
                }
                for id in side.removed.keys() {
                    prop_assert!(merged.removed.contains_key(id));
                    let resurrected = merged.get(id).is_some_and(|saved| saved.saved_at <= side.removed[id]);
                    prop_assert!(!resurrected, "{:?} came back", id);
                }
            }
            for choice in merged.defaults.values() {
                prop_assert!(merged.get(&choice.id).is_some(), "a default names a missing address");
            }
        }
    }
}
