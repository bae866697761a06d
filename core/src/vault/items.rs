//! The items of the profile's categories (every category but the address book), with the
//! tombstones of removed ones, and their three-way merge.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::category::{Category, Item, ItemError, ItemId, MAX_ITEM_BYTES};

/// Most tombstones kept per category; past it the oldest go (the profile server keeps its own,
/// which still refuse a stale device's write of a removed item).
pub const MAX_TOMBSTONES: usize = 100_000;

/// Every category's items, and when each removed one was removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Items {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    /// Shared: a copy of the items (the server's as last synced, a merge's result) costs a
    /// pointer per item, and an item unchanged since is recognised by its address.
    live: BTreeMap<Category, BTreeMap<ItemId, Arc<Item>>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    removed: BTreeMap<Category, BTreeMap<ItemId, u64>>,
}

/// One item's place as kept: live, removed (when), or nothing. What a store of items writes per
/// change, so a change to one of ten thousand items writes one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kept {
    Live(Item),
    /// An item another copy holds (never written: a merge puts it in place).
    #[serde(skip)]
    Shared(Arc<Item>),
    Removed(u64),
    Absent,
}

/// One item's state on one side of a merge.
#[derive(Debug, Clone, Copy)]
pub enum Slot<'a> {
    Absent,
    Live(&'a Arc<Item>),
    Removed(u64),
}

impl PartialEq for Slot<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Live(a), Self::Live(b)) => same(a, b),
            (Self::Removed(a), Self::Removed(b)) => a == b,
            (Self::Absent, Self::Absent) => true,
            _ => false,
        }
    }
}

/// The same item: one shared copy, or two equal ones.
pub fn same(a: &Arc<Item>, b: &Arc<Item>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

impl Items {
    pub fn is_empty(&self) -> bool {
        self.live.is_empty() && self.removed.is_empty()
    }

    pub fn get(&self, category: Category, id: &ItemId) -> Option<&Item> {
        self.live.get(&category)?.get(id).map(|item| &**item)
    }

    pub fn slot(&self, category: Category, id: &ItemId) -> Slot<'_> {
        if let Some(item) = self.live.get(&category).and_then(|items| items.get(id)) {
            return Slot::Live(item);
        }
        match self.removed.get(&category).and_then(|r| r.get(id)) {
            Some(at) => Slot::Removed(*at),
            None => Slot::Absent,
        }
    }

    pub fn count(&self, category: Category) -> usize {
        self.live.get(&category).map_or(0, BTreeMap::len)
    }

    /// A category's items, most recent first (by its date field, then by when each was saved),
    /// those holding `query` when one is given.
    pub fn list(&self, category: Category, query: Option<&str>) -> Vec<&Item> {
        let def = category.def();
        let items: Vec<&Item> = self
            .live
            .get(&category)
            .map(|items| items.values().map(|i| &**i).filter(|i| query.is_none_or(|q| i.matches(q))).collect())
            .unwrap_or_default();
        // Keys borrowed from the items, read once each: listing ten thousand allocates nothing
        // per item.
        let mut keyed: Vec<((&str, u64, &str), &Item)> = (items.into_iter())
            .map(|i| ((def.newest_by.and_then(|f| i.text(f)).unwrap_or(""), i.updated_at, i.id.as_str()), i))
            .collect();
        keyed.sort_unstable_by(|(a, _), (b, _)| b.cmp(a));
        keyed.into_iter().map(|(_, item)| item).collect()
    }

    /// Saves an item whose fields were checked against its category: a new one is refused when
    /// the category is full, and a removed one stays removed.
    pub fn put(&mut self, category: Category, item: Item) -> Result<(), ItemError> {
        let def = category.def();
        let size = serde_json::to_vec(&item).map_or(usize::MAX, |b| b.len());
        if size > MAX_ITEM_BYTES {
            return Err(ItemError::TooLarge(size));
        }
        if self.removed.get(&category).is_some_and(|r| r.contains_key(&item.id)) {
            return Err(ItemError::NotFound { noun: def.noun, id: item.id.to_string() });
        }
        let items = self.live.entry(category).or_default();
        if !items.contains_key(&item.id) && items.len() >= def.max_items {
            return Err(ItemError::Full { max: def.max_items, noun: def.noun });
        }
        items.insert(item.id.clone(), Arc::new(item));
        Ok(())
    }

    /// Removes an item, leaving a tombstone so it does not come back from another device.
    pub fn remove(&mut self, category: Category, id: &ItemId, now: u64) -> Result<Item, ItemError> {
        let noun = category.def().noun;
        let items = self.live.get_mut(&category).ok_or_else(|| ItemError::NotFound { noun, id: id.to_string() })?;
        let item = items.remove(id).ok_or_else(|| ItemError::NotFound { noun, id: id.to_string() })?;
        if items.is_empty() {
            // No empty lists: two equal profiles compare equal.
            self.live.remove(&category);
        }
        self.bury(category, id.clone(), now);
        Ok(Arc::unwrap_or_clone(item))
    }

    /// A category's live items by id.
    pub fn live(&self, category: Category) -> &BTreeMap<ItemId, Arc<Item>> {
        static EMPTY: BTreeMap<ItemId, Arc<Item>> = BTreeMap::new();
        self.live.get(&category).unwrap_or(&EMPTY)
    }

    /// Takes an item as another device saved it (the server's copy): without the bounds a new
    /// item here meets, which that device checked, so a full category never loses what synced.
    pub fn put_synced(&mut self, category: Category, item: Item) {
        if self.removed.get(&category).is_some_and(|r| r.contains_key(&item.id)) {
            return;
        }
        self.live.entry(category).or_default().insert(item.id.clone(), Arc::new(item));
    }

    /// Marks an item removed (the profile server holds it so): it leaves the live items too.
    pub fn bury_removed(&mut self, category: Category, id: ItemId, at: u64) {
        if let Some(items) = self.live.get_mut(&category) {
            items.remove(&id);
            if items.is_empty() {
                self.live.remove(&category);
            }
        }
        self.bury(category, id, at);
    }

    fn bury(&mut self, category: Category, id: ItemId, at: u64) {
        let removed = self.removed.entry(category).or_default();
        removed.insert(id, at);
        while removed.len() > MAX_TOMBSTONES {
            let oldest = removed.iter().min_by_key(|(id, at)| (**at, (*id).clone())).map(|(id, _)| id.clone());
            oldest.map(|id| removed.remove(&id));
        }
    }

    /// Three-way merge, item by item: a change made on one side only wins; of two changes the
    /// later save wins (ties: the greater item as JSON, an order both sides agree on); a removal
    /// on either side wins over any change, so a removed item never comes back. Symmetric.
    ///
    /// It starts from `remote` and walks only the items either side changed since `base` (an
    /// item two copies share is passed over by its address), so merging one change into ten
    /// thousand items costs a pass of pointer comparisons; unchanged items stay shared.
    pub fn merge(base: &Self, local: &Self, remote: &Self) -> Self {
        let mut merged = remote.clone();
        let mut ids = Self::changed_ids(base, local);
        ids.extend(Self::changed_ids(base, remote));
        ids.sort();
        ids.dedup();
        for (category, id) in ids {
            let (b, l, r) = (base.slot(category, &id), local.slot(category, &id), remote.slot(category, &id));
            let kept = match (l, r) {
                (Slot::Removed(x), Slot::Removed(y)) => Slot::Removed(x.max(y)),
                (Slot::Removed(at), _) | (_, Slot::Removed(at)) => Slot::Removed(at),
                (l, r) if l == r => r,
                (l, r) if l == b => r,
                (l, r) if r == b => l,
                // Both changed: the later save; removed on one side (absent where base had it)
                // and changed on the other: removed.
                (Slot::Live(x), Slot::Live(y)) => Slot::Live(later(x, y)),
                // (The base had it: were it absent there, the side without it would equal it.)
                (Slot::Absent, _) | (_, Slot::Absent) => Slot::Absent,
            };
            let kept = match kept {
                Slot::Live(item) => Kept::Shared(item.clone()),
                Slot::Removed(at) => Kept::Removed(at),
                Slot::Absent => Kept::Absent,
            };
            merged.set(category, id, kept);
        }
        merged
    }

    /// The items whose place may differ between `before` and `after`, walking both in order (an
    /// item both share is passed over by its address).
    fn changed_ids(before: &Self, after: &Self) -> Vec<(Category, ItemId)> {
        let mut ids = Vec::new();
        for category in Category::ALL {
            let (was, is) = (before.live(category), after.live(category));
            let (mut a, mut b) = (was.iter().peekable(), is.iter().peekable());
            loop {
                match (a.peek(), b.peek()) {
                    (Some((x, xi)), Some((y, yi))) => match x.cmp(y) {
                        std::cmp::Ordering::Less => {
                            ids.push((category, (*x).clone()));
                            a.next();
                        }
                        std::cmp::Ordering::Greater => {
                            ids.push((category, (*y).clone()));
                            b.next();
                        }
                        std::cmp::Ordering::Equal => {
                            if !same(xi, yi) {
                                ids.push((category, (*x).clone()));
                            }
                            a.next();
                            b.next();
                        }
                    },
                    (Some((x, _)), None) => {
                        ids.push((category, (*x).clone()));
                        a.next();
                    }
                    (None, Some((y, _))) => {
                        ids.push((category, (*y).clone()));
                        b.next();
                    }
                    (None, None) => break,
                }
            }
            let none = BTreeMap::new();
            let was = before.removed.get(&category).unwrap_or(&none);
            let is = after.removed.get(&category).unwrap_or(&none);
            for (id, at) in is {
                if was.get(id) != Some(at) {
                    ids.push((category, id.clone()));
                }
            }
            ids.extend(was.keys().filter(|id| !is.contains_key(*id)).map(|id| (category, id.clone())));
        }
        ids.sort();
        ids.dedup();
        ids
    }

    /// Shares with `other` every item the two hold equal (after reading both from a file), so
    /// later comparisons between them go by address.
    pub fn share_with(&mut self, other: &Self) {
        for (category, items) in &mut self.live {
            let Some(theirs) = other.live.get(category) else { continue };
            for (id, item) in items.iter_mut() {
                if let Some(their) = theirs.get(id)
                    && !Arc::ptr_eq(item, their)
                    && item == their
                {
                    *item = their.clone();
                }
            }
        }
    }

    /// Every item whose place differs between `before` and `after`, with its place in `after`.
    pub fn changes(before: &Self, after: &Self) -> Vec<(Category, ItemId, Kept)> {
        let mut changes = Vec::new();
        for (category, id) in Self::changed_ids(before, after) {
            let (was, is) = (before.slot(category, &id), after.slot(category, &id));
            if was != is {
                let kept = match is {
                    Slot::Live(item) => Kept::Live((**item).clone()),
                    Slot::Removed(at) => Kept::Removed(at),
                    Slot::Absent => Kept::Absent,
                };
                changes.push((category, id, kept));
            }
        }
        changes
    }

    /// Every item's place, as [`Items::changes`] from nothing gives it.
    pub fn all(&self) -> Vec<(Category, ItemId, Kept)> {
        Self::changes(&Self::default(), self)
    }

    /// Puts an item in its place as kept (replaying what [`Items::changes`] wrote).
    pub fn set(&mut self, category: Category, id: ItemId, kept: Kept) {
        if let Some(items) = self.live.get_mut(&category) {
            items.remove(&id);
            if items.is_empty() {
                self.live.remove(&category);
            }
        }
        if let Some(removed) = self.removed.get_mut(&category) {
            removed.remove(&id);
            if removed.is_empty() {
                self.removed.remove(&category);
            }
        }
        match kept {
            Kept::Live(item) => {
                self.live.entry(category).or_default().insert(id, Arc::new(item));
            }
            Kept::Shared(item) => {
                self.live.entry(category).or_default().insert(id, item);
            }
            Kept::Removed(at) => self.bury(category, id, at),
            Kept::Absent => {}
        }
    }

    /// How many items and tombstones it keeps.
    pub fn len(&self) -> usize {
        self.live.values().map(BTreeMap::len).sum::<usize>() + self.removed.values().map(BTreeMap::len).sum::<usize>()
    }

    /// The fields of a category's one record (identity), empty when none is saved.
    pub fn single(&self, category: Category) -> Map<String, Value> {
        self.get(category, &ItemId::single()).map(|i| i.fields.clone()).unwrap_or_default()
    }
}

fn later<'a>(x: &'a Arc<Item>, y: &'a Arc<Item>) -> &'a Arc<Item> {
    let json = |i: &Item| serde_json::to_string(i).unwrap_or_default();
    match x.updated_at.cmp(&y.updated_at) {
        std::cmp::Ordering::Greater => x,
        std::cmp::Ordering::Less => y,
        std::cmp::Ordering::Equal => {
            if json(x) >= json(y) {
                x
            } else {
                y
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn item(id: &str, title: &str, at: u64) -> Item {
        Item {
            id: ItemId::try_from(id.to_owned()).unwrap(),
            fields: json!({"url": "https://shop.example/", "title": title}).as_object().unwrap().clone(),
            updated_at: at,
            source: None,
        }
    }

    fn id(text: &str) -> ItemId {
        ItemId::try_from(text.to_owned()).unwrap()
    }

    #[test]
    fn edits_of_different_items_on_two_sides_both_stay() {
        let mut base = Items::default();
        base.put(Category::Bookmarks, item("a", "A", 1)).unwrap();
        base.put(Category::Bookmarks, item("b", "B", 1)).unwrap();
        let (mut local, mut remote) = (base.clone(), base.clone());
        local.put(Category::Bookmarks, item("a", "A2", 2)).unwrap();
        remote.put(Category::Bookmarks, item("b", "B2", 3)).unwrap();
        remote.put(Category::Bookmarks, item("c", "C", 3)).unwrap();
        let merged = Items::merge(&base, &local, &remote);
        let titles: Vec<_> = merged.list(Category::Bookmarks, None).iter().map(|i| i.text("title").unwrap()).collect();
        assert_eq!(titles, ["C", "B2", "A2"], "most recent first");
    }

    #[test]
    fn a_removed_item_stays_removed_even_when_edited_elsewhere() {
        let mut base = Items::default();
        base.put(Category::Medical, item("a", "A", 1)).unwrap();
        let (mut local, mut remote) = (base.clone(), base.clone());
        local.remove(Category::Medical, &id("a"), 5).unwrap();
        remote.put(Category::Medical, item("a", "edited later", 9)).unwrap();
        let merged = Items::merge(&base, &local, &remote);
        assert_eq!(merged.slot(Category::Medical, &id("a")), Slot::Removed(5));
        // And from a device that never saw it (an empty base).
        let merged = Items::merge(&Items::default(), &remote, &local);
        assert_eq!(merged.slot(Category::Medical, &id("a")), Slot::Removed(5));
        let mut again = merged.clone();
        assert!(again.put(Category::Medical, item("a", "back?", 10)).is_err(), "a removed id cannot be saved again");
    }

    #[test]
    fn changes_replayed_give_the_same_items() {
        let mut before = Items::default();
        before.put(Category::Bookmarks, item("a", "A", 1)).unwrap();
        before.put(Category::Bookmarks, item("b", "B", 1)).unwrap();
        let mut after = before.clone();
        after.put(Category::Bookmarks, item("a", "A2", 2)).unwrap();
        after.remove(Category::Bookmarks, &id("b"), 3).unwrap();
        after.put(Category::Medical, item("c", "C", 3)).unwrap();
        let changes = Items::changes(&before, &after);
        assert_eq!(changes.len(), 3, "{changes:?}");
        let mut replayed = before.clone();
        for (category, id, kept) in changes {
            replayed.set(category, id, kept);
        }
        assert_eq!(replayed, after);
        let mut rebuilt = Items::default();
        for (category, id, kept) in after.all() {
            rebuilt.set(category, id, kept);
        }
        assert_eq!(rebuilt, after);
        assert_eq!(after.len(), 3);
    }

    #[test]
    fn a_full_category_refuses_a_new_item() {
        let mut items = Items::default();
        for n in 0..100 {
            let vin = Item { id: id(&format!("v{n}")), fields: Map::new(), updated_at: 0, source: None };
            items.put(Category::Vehicles, vin).unwrap();
        }
        let one_more = Item { id: id("v100"), fields: Map::new(), updated_at: 0, source: None };
        assert!(matches!(items.put(Category::Vehicles, one_more), Err(ItemError::Full { max: 100, .. })));
    }

    fn any_items() -> impl Strategy<Value = Items> {
        proptest::collection::vec((0..4usize, 0..3u64, any::<bool>()), 0..5).prop_map(|ops| {
            let mut items = Items::default();
            for (n, at, removed) in ops {
                let name = ["a", "b", "c", "d"][n];
                if removed {
                    if items.remove(Category::Bookmarks, &id(name), at).is_err() {
                        items.bury(Category::Bookmarks, id(name), at);
                    }
                } else if items.slot(Category::Bookmarks, &id(name)) == Slot::Absent {
                    items.put(Category::Bookmarks, item(name, &format!("{name}{at}"), at)).unwrap();
                }
            }
            items
        })
    }

    proptest! {
        #[test]
        fn the_merge_does_not_depend_on_which_side_merges(base in any_items(), local in any_items(), remote in any_items()) {
            prop_assert_eq!(Items::merge(&base, &local, &remote), Items::merge(&base, &remote, &local));
        }

        #[test]
        fn nothing_removed_comes_back(base in any_items(), local in any_items(), remote in any_items()) {
            let merged = Items::merge(&base, &local, &remote);
            for side in [&local, &remote] {
                for (category, removed) in &side.removed {
                    for id in removed.keys() {
                        prop_assert!(merged.get(*category, id).is_none());
                    }
                }
            }
        }

        #[test]
        fn a_change_made_on_one_side_only_wins(base in any_items(), changed in any_items()) {
            // Only meaningful where `changed` did not resurrect what base removed.
            prop_assume!(base.removed.values().flat_map(|r| r.keys()).all(|id| changed.slot(Category::Bookmarks, id) != Slot::Absent
                && changed.get(Category::Bookmarks, id).is_none()));
            for merged in [Items::merge(&base, &changed, &base), Items::merge(&base, &base, &changed)] {
                prop_assert_eq!(&merged.live, &changed.live);
            }
        }
    }
}
