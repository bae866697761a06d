//! Windows: the Credential Manager (DPAPI-protected, per user).

use std::sync::Arc;

use keyring_core::CredentialStore;

pub const NAME: &str = "Credential Manager";

pub fn store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(windows_native_keyring_store::Store::new()?)
}
