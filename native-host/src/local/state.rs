//! What the host keeps, sealed under the master key: the device secret, addresses, site
//! accounts with their login keys, remembered grants, and the optional passphrase lock.

use std::collections::BTreeMap;
use std::fmt;

pub use profile_core::vault::AccountRecord;
use profile_core::vault::{self, KdfParams, VaultContents, VaultError, Watermark};
use profile_core::wire::Grant;
use profile_core::{AccountGuid, Address, AddressKind, Origin, Passphrase, Secret32};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// The state's format version; bound into the seal's associated data as well.
pub const STATE_VERSION: u16 = 1;

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalState {
    pub version: u16,
    /// Keys the pairwise device ids.
    pub device_secret: Secret32,
    #[serde(default)]
    pub addresses: BTreeMap<AddressKind, Address>,
    /// When each address was last saved (Unix seconds); the vault's merge orders edits by it.
    #[serde(default)]
    pub address_saved_at: BTreeMap<AddressKind, u64>,
    #[serde(default)]
    pub accounts: Vec<AccountRecord>,
    #[serde(default)]
    pub grants: Vec<Grant>,
    #[serde(default)]
    pub lock: Option<PassphraseLock>,
    /// Set by `lock`; page requests answer `locked` until `unlock`.
    #[serde(default)]
    pub locked: bool,
    /// When the session `unlock` opened ends (Unix seconds).
    #[serde(default)]
    pub unlocked_until: Option<u64>,
    /// Lock after this many seconds without a request (0: never).
    #[serde(default = "default_auto_lock")]
    pub auto_lock_secs: u64,
    #[serde(default)]
    pub profile_url: Option<String>,
    /// The profile server this host is paired with, its tokens and the vault's data key.
    #[serde(default)]
    pub server: Option<crate::local::link::ServerLink>,
    /// The newest vault version seen of each profile this host was paired with (by profile
    /// URL): kept when the pairing ends, so pairing again never silently accepts an older one.
    #[serde(default)]
    pub vault_history: BTreeMap<String, Watermark>,
}

impl LocalState {
    pub fn new(device_secret: Secret32) -> Self {
        Self {
            version: STATE_VERSION,
            device_secret,
            addresses: BTreeMap::new(),
            address_saved_at: BTreeMap::new(),
            accounts: Vec::new(),
            grants: Vec::new(),
            lock: None,
            locked: false,
            unlocked_until: None,
            auto_lock_secs: default_auto_lock(),
            profile_url: None,
            server: None,
            vault_history: BTreeMap::new(),
        }
    }

    /// Saves one of the person's addresses, noting when.
    pub fn save_address(&mut self, kind: AddressKind, address: Address, now: u64) {
        self.addresses.insert(kind, address);
        self.address_saved_at.insert(kind, now);
    }

    /// What of this state the vault holds.
    pub fn vault_contents(&self) -> VaultContents {
        VaultContents {
            addresses: self.addresses.clone(),
            address_saved_at: self.address_saved_at.clone(),
            accounts: self.accounts.clone(),
        }
    }

    /// Takes what a vault (or a merge) holds in place of this state's.
    pub fn take_vault_contents(&mut self, contents: VaultContents) {
        self.addresses = contents.addresses;
        self.address_saved_at = contents.address_saved_at;
        self.accounts = contents.accounts;
    }

    pub fn account(&self, origin: &Origin, guid: &AccountGuid) -> Option<&AccountRecord> {
        self.accounts.iter().find(|a| &a.origin == origin && &a.account_guid == guid)
    }

    /// The named account of `origin`, or its most recently used one: the one `login` uses.
    pub fn login_account(&self, origin: &Origin, guid: Option<&AccountGuid>) -> Option<&AccountRecord> {
        self.login_index(origin, guid).map(|i| &self.accounts[i])
    }

    pub fn login_account_mut(&mut self, origin: &Origin, guid: Option<&AccountGuid>) -> Option<&mut AccountRecord> {
        self.login_index(origin, guid).map(|i| &mut self.accounts[i])
    }

    fn login_index(&self, origin: &Origin, guid: Option<&AccountGuid>) -> Option<usize> {
        (self.accounts.iter().enumerate())
            .filter(|(_, a)| &a.origin == origin && guid.is_none_or(|g| &a.account_guid == g))
            .max_by_key(|(_, a)| (a.last_used_at, a.created_at))
            .map(|(i, _)| i)
    }
}

/// How long an unlock lasts at most.
pub const SESSION_SECS: u64 = 12 * 3600;
/// The idle time after which a passphrase-locked profile locks itself, unless configured.
pub const DEFAULT_AUTO_LOCK_SECS: u64 = 15 * 60;

fn default_auto_lock() -> u64 {
    DEFAULT_AUTO_LOCK_SECS
}

impl LocalState {
    /// Forgets the profile server (unpaired, or signed out there); what it cached stays, and so
    /// does the newest vault version seen of that profile.
    pub fn forget_server(&mut self) {
        if let Some(link) = self.server.take() {
            let seen = link.newest_seen();
            let kept = self.vault_history.entry(link.profile_url.clone()).or_default();
            if seen.counter >= kept.counter {
                *kept = seen;
            }
        }
        self.profile_url = None;
    }

    /// Whether an open session has run out: its time is up, or nothing was asked for
    /// `auto_lock_secs` since `last_active`. Only a profile with a passphrase locks.
    pub fn session_over(&self, now: u64, last_active: u64) -> bool {
        if self.lock.is_none() || self.locked {
            return false;
        }
        let expired = self.unlocked_until.is_some_and(|until| now >= until);
        let idle = self.auto_lock_secs > 0 && now.saturating_sub(last_active) >= self.auto_lock_secs;
        expired || idle
    }
}

impl fmt::Debug for LocalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalState")
            .field("version", &self.version)
            .field("addresses", &self.addresses.keys().collect::<Vec<_>>())
            .field("accounts", &self.accounts.len())
            .field("grants", &self.grants.len())
            .field("locked", &self.locked)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// A passphrase verifier: the auth key the passphrase derives (profile-core's `vault::derive`:
/// Argon2id, then HKDF), with its parameters pinned here.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PassphraseLock {
    pub kdf: KdfParams,
    pub verifier: Secret32,
    /// Consecutive wrong passphrases, and when the last one came (Unix seconds).
    #[serde(default)]
    pub failures: u32,
    #[serde(default)]
    pub last_failure_at: u64,
}

pub use profile_core::vault::MIN_PASSPHRASE_CHARS;
/// Wrong passphrases allowed before each further try must wait, doubling up to an hour.
const FREE_FAILURES: u32 = 5;
/// The first wait after the free failures.
const FIRST_WAIT_SECS: u64 = 30;
/// The longest wait.
const MAX_WAIT_SECS: u64 = 3600;

impl PassphraseLock {
    pub fn create(passphrase: &Passphrase, salt: [u8; 16]) -> Result<Self, VaultError> {
        let kdf = KdfParams::recommended(salt);
        let verifier = vault::derive(passphrase, &kdf)?.auth_key;
        Ok(Self { kdf, verifier, failures: 0, last_failure_at: 0 })
    }

    pub fn matches(&self, passphrase: &Passphrase) -> bool {
        vault::derive(passphrase, &self.kdf)
            .is_ok_and(|keys| bool::from(keys.auth_key.expose().ct_eq(self.verifier.expose())))
    }

    /// Seconds the person must still wait before another try, after repeated failures.
    pub fn wait_secs(&self, now: u64) -> u64 {
        if self.failures < FREE_FAILURES {
            return 0;
        }
        let delay = FIRST_WAIT_SECS << (self.failures - FREE_FAILURES).min(12);
        (self.last_failure_at + delay.min(MAX_WAIT_SECS)).saturating_sub(now)
    }
}

impl fmt::Debug for PassphraseLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassphraseLock").field("failures", &self.failures).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_when_their_time_is_up_or_when_idle() {
        let mut state = LocalState::new(Secret32::from_bytes([1; 32]));
        assert!(!state.session_over(u64::MAX, 0), "without a passphrase nothing locks");
        state.lock = Some(PassphraseLock::create(&Passphrase::new("correct horse".into()), [4; 16]).unwrap());
        state.unlocked_until = Some(1_000 + SESSION_SECS);
        assert!(!state.session_over(1_000, 1_000));
        assert!(state.session_over(1_000 + DEFAULT_AUTO_LOCK_SECS, 1_000), "idle");
        assert!(!state.session_over(1_000 + DEFAULT_AUTO_LOCK_SECS, 1_001));
        state.auto_lock_secs = 0;
        assert!(!state.session_over(1_000 + SESSION_SECS - 1, 1_000), "auto-lock off");
        assert!(state.session_over(1_000 + SESSION_SECS, 1_000 + SESSION_SECS), "the session ran out");
        state.locked = true;
        assert!(!state.session_over(u64::MAX, 0), "already locked");
    }

    #[test]
    fn passphrase_lock_verifies_and_backs_off() {
        let lock = PassphraseLock::create(&Passphrase::new("correct horse".into()), [4; 16]).unwrap();
        assert!(lock.matches(&Passphrase::new("correct horse".into())));
        assert!(!lock.matches(&Passphrase::new("correct hors".into())));
        let mut tired = lock.clone();
        tired.failures = 4;
        assert_eq!(tired.wait_secs(100), 0);
        tired.failures = 7;
        tired.last_failure_at = 100;
        assert_eq!(tired.wait_secs(101), 119, "30 s doubled twice, one second gone");
        assert_eq!(tired.wait_secs(220), 0);
        tired.failures = 40;
        assert_eq!(tired.wait_secs(100), 3600, "never more than an hour");
        assert!(!format!("{lock:?}").contains(&lock.kdf.salt));
    }
}
