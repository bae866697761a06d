//! The OS keystore holds exactly one secret per data dir: the 256-bit master key that seals
//! everything else. One file per OS builds the keyring-core store; the rest is shared.

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
    /// The keystore went away mid-call; [`OsKeystore`] asks again before it gives up.
    #[error("the OS keystore ({NAME}) dropped the call: {0}")]
    Dropped(String),
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
///
/// Each operation connects, does its one thing and disconnects, one process of this user at a
/// time (a lock file in `XDG_RUNTIME_DIR`, where the session has one). GNOME Keyring (42 to at
/// least 50) aborts when clients connect and disconnect at once: its client table is written
/// from two threads, and a stress run of eight concurrent `profile-host status` loops brought it
/// down. A crashed keyring comes back locked and takes every app's secrets with it, so the host
/// never takes part in such a burst. A process touches the keystore once (the store keeps the
/// key), so the wait is short.
#[derive(Debug, Default)]
pub struct OsKeystore;

/// Retries of a dropped call pause 50 ms, then twice as long each time, up to this (3.15 s in
/// all).
const RETRY_PAUSE_LIMIT: std::time::Duration = std::time::Duration::from_millis(3200);

/// How long an operation waits for another process's before it goes ahead regardless (a
/// keystore asking the person to unlock it may hold the lock that long).
const SESSION_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

impl OsKeystore {
    /// Connects once to prove the keystore answers (for `doctor`).
    pub fn check() -> Result<(), KeystoreError> {
        Self::session(|_| Ok(()))
    }

    /// Runs `op` on a fresh connection, again (after a pause) when the keystore dropped the
    /// call: a keystore that crashed is restarted by its supervisor (systemd on a desktop), and
    /// `op` is idempotent (a load, or the save of one key).
    fn session<T>(op: impl Fn(&CredentialStore) -> Result<T, KeystoreError>) -> Result<T, KeystoreError> {
        let mut pause = std::time::Duration::from_millis(50);
        loop {
            let result = {
                let _turn = session_lock();
                os::store().map_err(KeystoreError::from).and_then(|store| op(store.as_ref()))
            };
            match result {
                Err(KeystoreError::Dropped(reason)) if pause < RETRY_PAUSE_LIMIT => {
                    tracing::warn!("the keystore dropped a call ({reason}); asking again in {pause:?}");
                    std::thread::sleep(pause);
                    pause *= 2;
                }
                Err(KeystoreError::Dropped(reason)) => return Err(KeystoreError::Unavailable(reason)),
                other => return other,
            }
        }
    }

    fn entry(store: &CredentialStore, name: &str) -> Result<Entry, KeystoreError> {
        Ok(store.build(SERVICE, name, None)?)
    }
}

/// Waits for this user's turn at the keystore; `None` when the session has no runtime dir or the
/// wait ran out (the operation then goes ahead unserialized).
fn session_lock() -> Option<std::fs::File> {
    let dir = std::env::var_os("XDG_RUNTIME_DIR")?;
    let path = std::path::Path::new(&dir).join("personal-profile-keystore.lock");
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path).ok()?;
    let deadline = std::time::Instant::now() + SESSION_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Some(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err(_) => {
                tracing::warn!("going ahead without the keystore lock {}", path.display());
                return None;
            }
        }
    }
}

impl Keystore for OsKeystore {
    fn load(&self, name: &str) -> Result<Option<Secret32>, KeystoreError> {
        Self::session(|store| Self::load_from(store, name))
    }

    fn save(&self, name: &str, key: &Secret32) -> Result<(), KeystoreError> {
        Self::session(|store| Ok(Self::entry(store, name)?.set_secret(key.expose())?))
    }
}

impl OsKeystore {
    fn load_from(store: &CredentialStore, name: &str) -> Result<Option<Secret32>, KeystoreError> {
        match Self::entry(store, name)?.get_secret() {
            Ok(mut bytes) => {
                let key = Secret32::from_slice(&bytes);
                zeroize::Zeroize::zeroize(&mut bytes);
                key.map(Some).ok_or_else(|| KeystoreError::Malformed(name.to_owned()))
            }
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

impl From<keyring_core::Error> for KeystoreError {
    fn from(error: keyring_core::Error) -> Self {
        let reason = describe(&error);
        // The service went away mid-call, or is being restarted and has no owner yet.
        let dropped = ["NoReply", "ServiceUnknown", "disconnected", "result not returned"];
        if dropped.iter().any(|sign| reason.contains(sign)) { Self::Dropped(reason) } else { Self::Unavailable(reason) }
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
