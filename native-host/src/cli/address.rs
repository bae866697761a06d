//! The saved addresses: `address show`, `address set`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::ExitCode;

use profile_core::{Address, AddressKind};

use super::*;
use crate::local::store::now;
use crate::remote as sync;

pub(super) fn show(home: &Path, kind: AddressKind) -> Result<ExitCode, String> {
    let (_, state) = open_to_show(home)?;
    let address = state.addresses.get(&kind).ok_or_else(|| format!("no {} address saved", kind.as_str()))?;
    println!("{}", serde_json::to_string_pretty(address).map_err(|e| e.to_string())?);
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn set(
    home: &Path,
    kind: AddressKind,
    json: Option<String>,
    name: Option<String>,
    organization: Option<String>,
    line1: Option<String>,
    line2: Option<String>,
    city: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    phone: Option<String>,
    email: Option<String>,
) -> Result<ExitCode, String> {
    let value = match json {
        Some(source) => {
            let text = if source == "-" {
                std::io::read_to_string(std::io::stdin()).map_err(|e| e.to_string())?
            } else {
                source
            };
            serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?
        }
        None => {
            serde_json::json!({"name": name.unwrap_or_default(), "organization": organization, "line1": line1.unwrap_or_default(),
                "line2": line2, "city": city.unwrap_or_default(), "region": region, "postalCode": postal_code.unwrap_or_default(),
                "country": country.unwrap_or_default(), "phone": phone, "email": email})
        }
    };
    let address: Address = serde_json::from_value(value).map_err(|e| format!("invalid address: {e}"))?;
    let store = open_for_change(home)?;
    store
        .update(|s| {
            s.save_address(kind, address, now());
            Ok(())
        })
        .map_err(|e| e.message)?;
    println!("saved the {} address", kind.as_str());
    if store.state().map_err(|e| e.to_string())?.server.is_some() {
        match sync::sync(&store, &sync::Client::default()) {
            Ok(_) => println!("synced with the profile server"),
            Err(e) => println!("not synced yet ({}); it will go out at the next sync", e.message),
        }
    }
    Ok(ExitCode::SUCCESS)
}
