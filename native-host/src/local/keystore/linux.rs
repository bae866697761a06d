//! Linux: the freedesktop Secret Service (GNOME Keyring, KWallet) over D-Bus, pure Rust.

use std::sync::Arc;

use keyring_core::CredentialStore;

pub const NAME: &str = "Secret Service";

pub fn store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(zbus_secret_service_keyring_store::Store::new()?)
}
