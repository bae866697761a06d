//! Every category of the profile: `data list`, `show`, `set`, `remove`, `import`. Items are
//! checked against their category's definition (profile-core's `category`) before they are
//! saved, and every change syncs when the device is paired.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::ExitCode;

use profile_core::category::{Category, ItemInput};
use profile_core::wire::Following;
use profile_core::{Item, ItemId};
use serde_json::{Map, Value};

use super::*;
use crate::local::store::random;

fn category(name: &str) -> Result<Category, String> {
    name.parse::<Category>().map_err(|e| e.to_string())
}

fn item_id(text: &str) -> Result<ItemId, String> {
    ItemId::try_from(text.to_owned()).map_err(|e| e.to_string())
}

fn new_id() -> Result<ItemId, String> {
    random().map(ItemId::from_random).map_err(|e| e.to_string())
}

/// An item in a line: its id and the fields that name it (`merchant`, `date`, `total`).
fn line(category: Category, item: &Item) -> String {
    let def = category.def();
    let named: Vec<String> = def
        .summary
        .iter()
        .filter_map(|name| match item.fields.get(*name)? {
            Value::String(text) => Some(text.clone()),
            other => Some(other.to_string()),
        })
        .collect();
    let from = item.source.as_deref().map(|s| format!("  (from {s})")).unwrap_or_default();
    format!("{}  {}{from}", item.id, named.join("  "))
}

/// What a contact that follows a profile URL shows of it: "following URL: Ada (read …)", or
/// why it was not.
fn following_line(following: &Following) -> String {
    let name = following.fields.get("displayName").and_then(Value::as_str);
    let said = match (&following.problem, name) {
        (Some(problem), _) => problem.clone(),
        (None, Some(name)) => format!("{name}, read {}", when(following.fetched_at)),
        (None, None) if following.fetched_at > 0 => format!("publishes no name, read {}", when(following.fetched_at)),
        (None, None) => "not read yet (`profile-host sync` reads it)".into(),
    };
    format!("following {}: {said}", following.profile_url)
}

pub(super) fn list(home: &Path, which: Option<String>) -> Result<ExitCode, String> {
    let Some(which) = which else {
        let (_, state) = open_to_show(home)?;
        for category in Category::ALL {
            let def = category.def();
            let count = match category {
                Category::Addresses => state.address_book.len(),
                _ if def.single => usize::from(!state.items.single(category).is_empty()),
                _ => state.items.count(category),
            };
            say!("{:<10} {:>6}  {}", def.name, count, def.title);
        }
        return Ok(ExitCode::SUCCESS);
    };
    let category = category(&which)?;
    if category == Category::Addresses {
        return super::address::list(home);
    }
    let (_, state) = open_to_show(home)?;
    if category.def().single {
        for (name, value) in state.items.single(category) {
            say!("{name}: {}", value.as_str().map_or_else(|| value.to_string(), str::to_owned));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let items = state.items.list(category, None);
    if items.is_empty() {
        say!("no {} saved yet: `profile-host data set {} FIELD=VALUE…`", category.def().noun, category);
    }
    for item in items {
        say!("{}", line(category, item));
        if let Some(following) = state.following(&item.id).filter(|_| category == Category::Contacts) {
            say!("    {}", following_line(following));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn show(home: &Path, which: String, id: Option<String>) -> Result<ExitCode, String> {
    let category = category(&which)?;
    if category == Category::Addresses {
        return super::address::show(home, id);
    }
    let (_, state) = open_to_show(home)?;
    let json = match (id, category.def().single) {
        (_, true) => serde_json::to_string_pretty(&state.items.get(category, &ItemId::single())),
        (Some(id), false) => {
            let id = item_id(&id)?;
            let item = state.items.get(category, &id).ok_or(format!("no {} has the id {id}", category.def().noun))?;
            // A contact that follows a profile URL: what this device last read there, beside it.
            match (serde_json::to_value(item), state.following(&id).filter(|_| category == Category::Contacts)) {
                (Ok(Value::Object(mut shown)), Some(following)) => {
                    shown.insert("following".into(), serde_json::to_value(following).unwrap_or_default());
                    serde_json::to_string_pretty(&shown)
                }
                _ => serde_json::to_string_pretty(item),
            }
        }
        (None, false) => serde_json::to_string_pretty(&state.items.list(category, None)),
    };
    say!("{}", json.map_err(|e| e.to_string())?);
    Ok(ExitCode::SUCCESS)
}

/// `data set CATEGORY [ID] (--json -|FIELD=VALUE…)`: the fields given replace those saved (an
/// empty value clears one); `--json` gives the whole item's fields as a JSON object.
pub(super) fn set(home: &Path, which: String, args: Vec<String>, json: Option<String>) -> Result<ExitCode, String> {
    let category = category(&which)?;
    if category == Category::Addresses {
        return Err("addresses have their own verbs: `profile-host address add|set …`".into());
    }
    let (id, pairs) = match args.split_first() {
        Some((first, rest)) if !first.contains('=') => (Some(item_id(first)?), rest),
        _ => (None, args.as_slice()),
    };
    let def = category.def();
    let state = open_store(home).map_err(|e| e.to_string())?.state().map_err(|e| e.to_string())?;
    let current = match (&id, def.single) {
        (_, true) => state.items.single(category),
        (Some(id), false) => {
            state.items.get(category, id).ok_or(format!("no {} has the id {id}", def.noun))?.fields.clone()
        }
        (None, false) => Map::new(),
    };
    let fields = match json {
        Some(source) => match serde_json::from_str(&read_source(&source)?).map_err(|e| format!("not JSON: {e}"))? {
            Value::Object(fields) => fields,
            _ => return Err("--json takes the item's fields as one JSON object".into()),
        },
        None if pairs.is_empty() => {
            return Err(format!(
                "nothing to set: give FIELD=VALUE pairs or --json (fields of a {}: {})",
                def.noun,
                names(category)
            ));
        }
        None => {
            let mut fields = current;
            for pair in pairs {
                let (name, value) = pair.split_once('=').ok_or(format!("`{pair}` is not FIELD=VALUE"))?;
                if value.is_empty() {
                    fields.remove(name);
                } else {
                    fields.insert(name.to_owned(), Value::String(value.to_owned()));
                }
            }
            fields
        }
    };
    let new = new_id()?;
    let input = ItemInput { id: id.filter(|_| !def.single), fields };
    let saved = change_and_sync(home, |s| s.save_item(category, input, new, now(), None))?;
    say!("saved {} {saved}", def.noun);
    Ok(ExitCode::SUCCESS)
}

fn names(category: Category) -> String {
    category.def().fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
}

pub(super) fn remove(home: &Path, which: String, id: String) -> Result<ExitCode, String> {
    let category = category(&which)?;
    if category == Category::Addresses {
        return super::address::remove(home, id);
    }
    let id = item_id(&id)?;
    change_and_sync(home, |s| s.remove_item(category, &id, now()))?;
    say!("removed {} {id}", category.def().noun);
    Ok(ExitCode::SUCCESS)
}

/// Most items one import takes.
const MAX_IMPORT: usize = 10_000;

/// `data import CATEGORY FILE`: a JSON array of items' fields (or `{"items": [...]}`), each
/// checked before any is saved: all of them join the profile, or none.
pub(super) fn import(home: &Path, which: String, file: &Path) -> Result<ExitCode, String> {
    let category = category(&which)?;
    let def = category.def();
    if !category.holds_items() || def.single {
        return Err(format!("{} cannot be imported from a file", def.title));
    }
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", file.display()))?;
    let list = match value {
        Value::Array(list) => list,
        Value::Object(mut top) => match top.remove("items") {
            Some(Value::Array(list)) => list,
            _ => return Err("the file holds a JSON array of items, or {\"items\": [...]}".into()),
        },
        _ => return Err("the file holds a JSON array of items, or {\"items\": [...]}".into()),
    };
    if list.len() > MAX_IMPORT {
        return Err(format!("{} items: at most {MAX_IMPORT} are imported at once", list.len()));
    }
    let mut inputs = Vec::with_capacity(list.len());
    for (i, entry) in list.into_iter().enumerate() {
        let Value::Object(fields) = entry else { return Err(format!("item {}: not a JSON object", i + 1)) };
        def.check(&fields).map_err(|e| format!("item {}: {e}", i + 1))?;
        inputs.push((ItemInput { id: None, fields }, new_id()?));
    }
    let count = inputs.len();
    change_and_sync(home, |s| {
        let at = now();
        for (input, id) in inputs {
            s.save_item(category, input, id, at, None)?;
        }
        Ok(())
    })?;
    say!("imported {}", count_of(count, def.noun));
    Ok(ExitCode::SUCCESS)
}

fn count_of(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}
