//! The address book: `address list`, `show`, `add`, `set`, `remove`, `default`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use profile_core::wire::SaveAddressParams;
use profile_core::{ADDRESS_FIELDS, Address, AddressId, AddressKind, Label};

use super::*;
use crate::local::store::{now, random};

pub(super) fn list(home: &Path) -> Result<ExitCode, String> {
    let (_, state) = open_to_show(home)?;
    let listed = state.address_list();
    if listed.addresses.is_empty() {
        say!("no address saved yet: `profile-host address add --label Home …`");
    }
    for entry in &listed.addresses {
        let defaults: Vec<_> = entry.default_for.iter().map(|k| k.as_str()).collect();
        let default =
            if defaults.is_empty() { String::new() } else { format!("  (default for {})", defaults.join(" and ")) };
        say!("{}  {}{default}", entry.id, entry.label.as_str());
        for line in entry.lines.iter().chain([&entry.address.country]) {
            say!("    {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn show(home: &Path, which: Option<String>) -> Result<ExitCode, String> {
    let (_, state) = open_to_show(home)?;
    let json = match which {
        Some(which) => serde_json::to_string_pretty(&state.find_address(&which).map_err(|e| e.message)?.address),
        None => serde_json::to_string_pretty(&state.address_list().addresses),
    };
    say!("{}", json.map_err(|e| e.to_string())?);
    Ok(ExitCode::SUCCESS)
}

/// The flags of `address add` and `address set`, one per field of [`ADDRESS_FIELDS`]
/// (`--postal-code` for `postalCode`), so the CLI offers exactly the fields an address has.
#[derive(Debug, Clone, Default)]
pub struct AddressFlags(BTreeMap<&'static str, String>);

/// `postalCode` → `postal-code`.
fn flag(name: &str) -> String {
    name.chars()
        .flat_map(|c| if c.is_ascii_uppercase() { vec!['-', c.to_ascii_lowercase()] } else { vec![c] })
        .collect()
}

impl clap::FromArgMatches for AddressFlags {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Self::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        for field in &ADDRESS_FIELDS {
            if let Some(value) = matches.get_one::<String>(field.name) {
                self.0.insert(field.name, value.clone());
            }
        }
        Ok(())
    }
}

impl clap::Args for AddressFlags {
    fn augment_args(command: clap::Command) -> clap::Command {
        ADDRESS_FIELDS.iter().fold(command, |command, field| {
            // The two codes are typed as codes: their help says which.
            let help = match field.name {
                "country" => "Country (2 letters, e.g. GB)",
                "regionCode" => "Region code (ISO 3166-2, e.g. US-CA)",
                _ => field.label,
            };
            command.arg(clap::Arg::new(field.name).long(flag(field.name)).value_name("TEXT").help(help))
        })
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

/// The address the command gives: `--json` (or stdin), else the flags over `base` (an empty
/// flag clears its field).
fn address_from(json: Option<String>, flags: &AddressFlags, base: Option<&Address>) -> Result<Address, String> {
    match json {
        Some(source) => serde_json::from_str(&read_source(&source)?).map_err(|e| format!("invalid address: {e}")),
        None => Address::from_fields(|name| match flags.0.get(name) {
            Some(value) => Some(value.clone()),
            None => base.and_then(|b| b.get(name)).map(str::to_owned),
        })
        .map_err(|e| format!("invalid address: {e}")),
    }
}

fn label(text: String) -> Result<Label, String> {
    Label::try_from(text).map_err(|e| e.to_string())
}

fn new_id() -> Result<AddressId, String> {
    random().map(AddressId::from_random).map_err(|e| e.to_string())
}

pub(super) fn add(
    home: &Path,
    label_text: String,
    json: Option<String>,
    flags: AddressFlags,
) -> Result<ExitCode, String> {
    let label = label(label_text)?;
    let address = address_from(json, &flags, None)?;
    let (id, shown) = (new_id()?, label.as_str().to_owned());
    let saved =
        change_and_sync(home, |s| s.save_address(SaveAddressParams::Book { id: None, label, address }, id, now()))?;
    let defaults: Vec<_> = saved.default_for.iter().map(|k| k.as_str()).collect();
    let default =
        if defaults.is_empty() { String::new() } else { format!(", the default for {}", defaults.join(" and ")) };
    say!("saved \"{shown}\" as {}{default}", saved.id);
    Ok(ExitCode::SUCCESS)
}

pub(super) fn set(
    home: &Path,
    which: String,
    label_text: Option<String>,
    json: Option<String>,
    flags: AddressFlags,
) -> Result<ExitCode, String> {
    let state = open_store(home).map_err(|e| e.to_string())?.state().map_err(|e| e.to_string())?;
    let kind = AddressKind::ALL.into_iter().find(|k| k.as_str() == which);
    let current = state.find_address(&which).ok();
    if kind.is_none() && current.is_none() {
        return Err(format!("no saved address has the id `{which}` (see `profile-host address list`)"));
    }
    let address = address_from(json, &flags, current.map(|saved| &saved.address))?;
    let params = match (kind, current) {
        (Some(kind), _) if label_text.is_none() => SaveAddressParams::Default { kind, address },
        (_, Some(saved)) => SaveAddressParams::Book {
            id: Some(saved.id.clone()),
            label: label_text.map(label).transpose()?.unwrap_or_else(|| saved.label.clone()),
            address,
        },
        (_, None) => return Err(format!("no {which} address saved yet to label: save one first")),
    };
    let id = new_id()?;
    let saved = change_and_sync(home, |s| s.save_address(params, id, now()))?;
    match kind {
        Some(kind) => say!("saved the {} address ({})", kind.as_str(), saved.id),
        None => say!("saved {}", saved.id),
    }
    Ok(ExitCode::SUCCESS)
}

fn id(text: &str) -> Result<AddressId, String> {
    AddressId::try_from(text.to_owned()).map_err(|e| e.to_string())
}

pub(super) fn remove(home: &Path, text: String) -> Result<ExitCode, String> {
    let id = id(&text)?;
    change_and_sync(home, |s| s.remove_address(&id, now()))?;
    say!("removed {id}");
    Ok(ExitCode::SUCCESS)
}

pub(super) fn make_default(home: &Path, text: String, kind: AddressKind) -> Result<ExitCode, String> {
    let id = id(&text)?;
    change_and_sync(home, |s| s.set_default_address(&id, kind, now()))?;
    say!("{id} is now the default {} address", kind.as_str());
    Ok(ExitCode::SUCCESS)
}
