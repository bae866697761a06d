//! The saved addresses: `address show`, `address set`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use profile_core::{ADDRESS_FIELDS, Address, AddressKind};

use super::*;
use crate::local::store::now;
use crate::remote as sync;

pub(super) fn show(home: &Path, kind: AddressKind) -> Result<ExitCode, String> {
    let (_, state) = open_to_show(home)?;
    let address = state.addresses.get(&kind).ok_or_else(|| format!("no {} address saved", kind.as_str()))?;
    say!("{}", serde_json::to_string_pretty(address).map_err(|e| e.to_string())?);
    Ok(ExitCode::SUCCESS)
}

/// The flags of `address set`, one per field of [`ADDRESS_FIELDS`] (`--postal-code` for
/// `postalCode`), so the CLI offers exactly the fields an address has.
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
            command.arg(clap::Arg::new(field.name).long(flag(field.name)).value_name("TEXT").help(field.label))
        })
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

pub(super) fn set(
    home: &Path,
    kind: AddressKind,
    json: Option<String>,
    flags: AddressFlags,
) -> Result<ExitCode, String> {
    let address = match json {
        Some(source) => {
            let text = if source == "-" {
                std::io::read_to_string(std::io::stdin()).map_err(|e| e.to_string())?
            } else {
                source
            };
            serde_json::from_str(&text).map_err(|e| format!("invalid address: {e}"))?
        }
        None => Address::from_fields(|name| flags.0.get(name).cloned()).map_err(|e| format!("invalid address: {e}"))?,
    };
    let store = open_for_change(home)?;
    store
        .update(|s| {
            s.save_address(kind, address, now());
            Ok(())
        })
        .map_err(|e| e.message)?;
    say!("saved the {} address", kind.as_str());
    if store.state().map_err(|e| e.to_string())?.server.is_some() {
        match sync::sync(&store, &sync::Client::default()) {
            Ok(_) => say!("synced with the profile server"),
            Err(e) => say!("not synced yet ({}); it will go out at the next sync", e.message),
        }
    }
    Ok(ExitCode::SUCCESS)
}
