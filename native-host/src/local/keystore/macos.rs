//! macOS: the login Keychain.

use std::sync::Arc;

use keyring_core::CredentialStore;

pub const NAME: &str = "Keychain";

pub fn store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(apple_native_keyring_store::keychain::Store::new()?)
}
