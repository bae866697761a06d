//! The OS keystore holds exactly one secret per data dir: the 256-bit master key that seals
//! everything else. One file per OS builds the keyring-core store; the rest is shared.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};
use profile_core::Secret32;
use sha2::{Digest, Sha256};

#[cfg_attr(target_os = "linux", path = "linux.rs")]
#[cfg_attr(target_os = "macos", path = "macos.rs")]
#[cfg_attr(target_os = "windows", path = "windows.rs")]
#[cfg_attr(not(any(target_os = "linux", target_os = "macos", target_os = "windows")), path = "other.rs")]
mod os;

/// The keystore's name as people know it ("Secret Service", "Keychain", …).
pub use os::NAME;

/// Where the master key lives. A trait so unit tests of the store can use memory; the binary
/// and every integration test use [`OsKeystore`].
pub trait Keystore: Send + Sync {
    fn load(&self, entry: &str) -> Result<Option<Secret32>, KeystoreError>;
    fn save(&self, entry: &str, key: &Secret32) -> Result<(), KeystoreError>;
}

/// Keystore failures; messages name the keystore and never carry secret bytes.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("the OS keystore ({NAME}) is unreachable or locked: {0}")]
    Unavailable(String),
    #[error("the OS keystore ({NAME}) holds a malformed master key under `{0}`")]
    Malformed(String),
}

/// The service name of every entry.
const SERVICE: &str = "Personal Profile";

/// The entry name for a data dir: two data dirs never share (or clobber) a master key.
pub fn entry_name(data_dir: &std::path::Path) -> String {
    let digest = Sha256::digest(data_dir.to_string_lossy().as_bytes());
    let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("master-key {short}")
}

/// The real OS keystore through the keyring v4 family.
pub struct OsKeystore {
    store: Arc<CredentialStore>,
}

impl std::fmt::Debug for OsKeystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OsKeystore({NAME})")
    }
}

impl OsKeystore {
    pub fn connect() -> Result<Self, KeystoreError> {
        os::store().map(|store| Self { store }).map_err(|e| KeystoreError::Unavailable(describe(&e)))
    }

    fn entry(&self, name: &str) -> Result<Entry, KeystoreError> {
        self.store.build(SERVICE, name, None).map_err(|e| KeystoreError::Unavailable(describe(&e)))
    }
}

impl Keystore for OsKeystore {
    fn load(&self, name: &str) -> Result<Option<Secret32>, KeystoreError> {
        match self.entry(name)?.get_secret() {
            Ok(mut bytes) => {
                let key = Secret32::from_slice(&bytes);
                zeroize::Zeroize::zeroize(&mut bytes);
                key.map(Some).ok_or_else(|| KeystoreError::Malformed(name.to_owned()))
            }
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(KeystoreError::Unavailable(describe(&e))),
        }
    }

    fn save(&self, name: &str, key: &Secret32) -> Result<(), KeystoreError> {
        self.entry(name)?.set_secret(key.expose()).map_err(|e| KeystoreError::Unavailable(describe(&e)))
    }
}

/// Describes a keyring error without the secret bytes some variants carry.
fn describe(error: &keyring_core::Error) -> String {
    use keyring_core::Error as E;
    match error {
        E::BadEncoding(_) | E::BadDataFormat(..) => "the stored entry is not in the expected format".to_owned(),
        E::Ambiguous(entries) => format!("{} entries match one name", entries.len()),
        other => other.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod memory {
    //! An in-memory keystore for unit tests of a single module (never in integration tests).
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    pub struct MemoryKeystore(Mutex<HashMap<String, Secret32>>);

    impl Keystore for MemoryKeystore {
        fn load(&self, entry: &str) -> Result<Option<Secret32>, KeystoreError> {
            Ok(self.0.lock().map_err(|_| KeystoreError::Unavailable("poisoned".into()))?.get(entry).cloned())
        }
        fn save(&self, entry: &str, key: &Secret32) -> Result<(), KeystoreError> {
            self.0.lock().map_err(|_| KeystoreError::Unavailable("poisoned".into()))?.insert(entry.into(), key.clone());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn entry_names_differ_per_data_dir() {
        assert_ne!(entry_name(Path::new("/home/a/.local/share/pp")), entry_name(Path::new("/tmp/x")));
        assert_eq!(entry_name(Path::new("/tmp/x")), entry_name(Path::new("/tmp/x")));
    }
}
