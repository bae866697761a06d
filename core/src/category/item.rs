//! One item of a category as the profile keeps it.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Largest item, written as JSON: 48 KiB (a receipt with its own JSON fits; sealed, it stays
/// under what the profile server takes for one item).
pub const MAX_ITEM_BYTES: usize = 48 * 1024;

/// An item's stable id within its category: 1 to 64 ASCII letters, digits, `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ItemId(String);

impl ItemId {
    /// A new id from random bytes (the caller brings them: the core does no I/O).
    pub fn from_random(bytes: [u8; 12]) -> Self {
        Self(base16ct::lower::encode_string(&bytes))
    }

    /// The id of a category's one record (identity).
    pub fn single() -> Self {
        Self("me".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ItemId {
    type Error = ItemError;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        let fine = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if id.is_empty() || id.len() > 64 || !id.bytes().all(fine) {
            return Err(ItemError::Id);
        }
        Ok(Self(id))
    }
}

impl From<ItemId> for String {
    fn from(id: ItemId) -> Self {
        id.0
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An item: its fields (checked against its category's definition), when it was last saved,
/// and where it came from when not from the person's own devices (the site that offered a
/// bookmark, the app that appended a receipt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Item {
    pub id: ItemId,
    pub fields: Map<String, Value>,
    /// Unix seconds.
    pub updated_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Item {
    /// A field's text, when it is text.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    /// Whether any of its text holds `query`, ignoring case (the options page's search).
    pub fn matches(&self, query: &str) -> bool {
        fn holds(value: &Value, query: &str) -> bool {
            match value {
                Value::String(text) => text.to_lowercase().contains(query),
                Value::Array(items) => items.iter().any(|v| holds(v, query)),
                Value::Object(members) => members.values().any(|v| holds(v, query)),
                Value::Number(n) => n.to_string().contains(query),
                _ => false,
            }
        }
        let query = query.trim().to_lowercase();
        query.is_empty() || self.fields.values().any(|v| holds(v, &query))
    }
}

/// An item as the options page, the command line or a file gives it: a new one without `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ItemInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ItemId>,
    pub fields: Map<String, Value>,
}

/// Why an item, or a claim on one, is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    #[error("{0}")]
    Category(String),
    #[error("{0}")]
    Field(String),
    #[error("an item id is 1 to 64 letters, digits, `-` or `_`")]
    Id,
    #[error("the item is {0} bytes as JSON; at most {MAX_ITEM_BYTES} are kept")]
    TooLarge(usize),
    #[error("the profile keeps at most {max} {noun}s; remove some first")]
    Full { max: usize, noun: &'static str },
    #[error("no {noun} with id {id}")]
    NotFound { noun: &'static str, id: String },
}
