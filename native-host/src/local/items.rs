//! The profile's categories as the host changes and shows them, for the extension's calls, the
//! pages' (`addBookmark`) and the CLI alike: every item is checked against its category's
//! definition before it joins the profile.

use profile_core::category::ItemError;
use profile_core::wire::{Following, ItemList, MAX_LISTED_ITEMS, PublicSettings, publishable_fields};
use profile_core::{Category, ErrorCode, Item, ItemId, ItemInput, Secret32, WireError};
use serde_json::{Map, Value};

use super::state::LocalState;

pub fn item_error(error: ItemError) -> WireError {
    let code = match error {
        ItemError::NotFound { .. } => ErrorCode::NotFound,
        _ => ErrorCode::InvalidRequest,
    };
    WireError::new(code, error.to_string())
}

impl LocalState {
    /// Saves an item of `category`: a new one (`new_id` is its id) or a saved one replaced;
    /// identity's one record is always `me`. `source` names where it came from when not the
    /// person's own hand (the site that offered a bookmark). Answers its id.
    pub fn save_item(
        &mut self,
        category: Category,
        input: ItemInput,
        new_id: ItemId,
        now: u64,
        source: Option<String>,
    ) -> Result<ItemId, WireError> {
        let def = category.def();
        let fields = def.check(&input.fields).map_err(item_error)?;
        let id = match input.id {
            _ if def.single => ItemId::single(),
            Some(id) if self.items.get(category, &id).is_none() => {
                return Err(item_error(ItemError::NotFound { noun: def.noun, id: id.to_string() }));
            }
            Some(id) => id,
            None => new_id,
        };
        let source = source.or_else(|| self.items.get(category, &id).and_then(|i| i.source.clone()));
        self.items.put(category, Item { id: id.clone(), fields, updated_at: now, source }).map_err(item_error)?;
        Ok(id)
    }

    /// Removes an item; identity's one record is emptied instead (it is never gone).
    pub fn remove_item(&mut self, category: Category, id: &ItemId, now: u64) -> Result<(), WireError> {
        if !category.holds_items() {
            return Err(WireError::invalid("addresses are removed through the address book"));
        }
        if category.def().single {
            let empty = Item { id: ItemId::single(), fields: Map::new(), updated_at: now, source: None };
            return self.items.put(category, empty).map_err(item_error);
        }
        self.items.remove(category, id, now).map(drop).map_err(item_error)
    }

    /// A page of a category's items, most recent first, with its definition.
    pub fn item_list(
        &self,
        category: Category,
        query: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<ItemList, WireError> {
        let definition = serde_json::to_value(category.def()).map_err(|e| WireError::internal(e.to_string()))?;
        let all = self.items.list(category, query);
        let items: Vec<Item> =
            all.iter().skip(offset).take(limit.min(MAX_LISTED_ITEMS)).map(|i| (*i).clone()).collect();
        let following = match category {
            Category::Contacts => {
                (items.iter()).filter_map(|i| Some((i.id.to_string(), self.following(&i.id)?.clone()))).collect()
            }
            _ => Default::default(),
        };
        Ok(ItemList { category, definition, items, total: all.len(), following })
    }

    /// What this device last read at the profile URL a contact follows, while the contact
    /// still names that URL.
    pub fn following(&self, contact: &ItemId) -> Option<&Following> {
        let url = self.items.get(Category::Contacts, contact)?.fields.get("profileUrl")?.as_str()?;
        self.follows.get(contact.as_str()).filter(|f| f.profile_url == url)
    }

    /// The profile's language, when one is set.
    pub fn language(&self) -> Option<String> {
        self.items.single(Category::Identity).get("language").and_then(Value::as_str).map(str::to_owned)
    }

    /// Chooses the public part's fields (each one of [`publishable_fields`]); `new_key` becomes
    /// the profile's signing key when it has none yet.
    pub fn set_public(&mut self, fields: Vec<String>, now: u64, new_key: Secret32) -> Result<(), WireError> {
        let allowed = publishable_fields();
        if let Some(other) = fields.iter().find(|f| !allowed.contains(&f.as_str())) {
            let other: String = other.chars().take(40).collect();
            return Err(WireError::invalid(format!("`{other}` cannot be published ({})", allowed.join(", "))));
        }
        let mut chosen: Vec<String> =
            allowed.iter().filter(|a| fields.iter().any(|f| f == *a)).map(|a| (*a).to_owned()).collect();
        chosen.dedup();
        if !chosen.is_empty() && self.public.key.is_none() {
            self.public.key = Some(new_key);
        }
        self.public.fields = chosen;
        self.public.changed_at = now;
        Ok(())
    }

    /// What the public part publishes: the chosen fields that hold something.
    pub fn public_fields(&self) -> Map<String, Value> {
        let identity = self.items.single(Category::Identity);
        let mut published = Map::new();
        for field in &self.public.fields {
            if field == "vehicles" {
                let publishable: Vec<&str> =
                    Category::Vehicles.def().fields.iter().filter(|f| f.publishable).map(|f| f.name).collect();
                let vehicles: Vec<Value> = (self.items.list(Category::Vehicles, None).into_iter())
                    .map(|v| {
                        let kept = v.fields.iter().filter(|(k, _)| publishable.contains(&k.as_str()));
                        Value::Object(kept.map(|(k, v)| (k.clone(), v.clone())).collect())
                    })
                    .collect();
                if !vehicles.is_empty() {
                    published.insert("vehicles".into(), Value::Array(vehicles));
                }
            } else if let Some(value) = identity.get(field) {
                published.insert(field.clone(), value.clone());
            }
        }
        published
    }

    pub fn public_part(&self, published: Option<Value>, pending: bool) -> PublicSettings {
        PublicSettings { fields: self.public.fields.clone(), published, pending }
    }
}
