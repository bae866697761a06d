//! Any other OS: no keystore, so the host refuses to store secrets and says so.

use std::sync::Arc;

use keyring_core::CredentialStore;

pub const NAME: &str = "none on this OS";

pub fn store() -> keyring_core::Result<Arc<CredentialStore>> {
    Err(keyring_core::Error::NotSupportedByStore("no OS keystore is supported on this system".into()))
}
