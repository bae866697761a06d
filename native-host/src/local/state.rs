//! What the host keeps, sealed under the master key: the device secret, the address book, site
//! accounts with their login keys, remembered grants, and the optional passphrase lock.

use std::collections::BTreeMap;
use std::fmt;

use profile_core::apps::GrantId;
use profile_core::disclosure::Profile;
pub use profile_core::vault::AccountRecord;
use profile_core::vault::{self, AppGrantRecord, Items, KdfParams, PublicChoice, VaultContents, VaultError, Watermark};
use profile_core::wire::{Following, Grant};
use profile_core::{
    AccountGuid, Address, AddressBook, AddressKind, Category, DeviceId, Item, ItemId, Origin, Passphrase, Secret32,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// The state's format: 1 kept one address per kind, 2 the address book, 3 adds the other
/// categories' items and the public part, 4 the profiles contacts follow (and the state as one
/// log of frames), 5 the grants given to apps. A host reads
/// every format up to its own, upgrading on reading, and refuses a newer one
/// ([`crate::local::store::StoreError::Newer`]) rather than write over what it does not know.
pub const STATE_VERSION: u16 = 5;

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalState {
    pub version: u16,
    /// Keys the pairwise device ids.
    pub device_secret: Secret32,
    #[serde(default)]
    pub address_book: AddressBook,
    /// Format 1's addresses, one per kind, and when each was saved: read, then moved into the
    /// book by [`LocalState::upgrade`]; never written.
    #[serde(default, rename = "addresses", skip_serializing)]
    legacy_addresses: BTreeMap<AddressKind, Address>,
    #[serde(default, rename = "addressSavedAt", skip_serializing)]
    legacy_saved_at: BTreeMap<AddressKind, u64>,
    #[serde(default)]
    pub accounts: Vec<AccountRecord>,
    /// Every other category's items (identity, receipts, medical events, …).
    #[serde(default)]
    pub items: Items,
    /// What the public part of the profile publishes, and its signing key.
    #[serde(default)]
    pub public: PublicChoice,
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// The grants the person gave apps (kept in the vault: every device keeps their shares).
    #[serde(default)]
    pub app_grants: BTreeMap<GrantId, AppGrantRecord>,
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
    /// What this device last read at the profile URL each contact follows, by the contact's
    /// id (`remote::follow`): kept per device, beside the card, never synced.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub follows: BTreeMap<String, Following>,
}

/// The profile as one site sees it (its pairwise device id, its account): what a page call or
/// an app's share is computed from.
#[derive(Debug)]
pub struct SiteView<'a> {
    pub state: &'a LocalState,
    pub origin: &'a Origin,
}

impl Profile for SiteView<'_> {
    fn profile_url(&self) -> Option<&str> {
        self.state.profile_url.as_deref()
    }
    fn device_id(&self) -> String {
        DeviceId::derive(&self.state.device_secret, self.origin).to_string()
    }
    fn address(&self, kind: AddressKind) -> Option<&Address> {
        self.state.address_book.default_of(kind).map(|saved| &saved.address)
    }
    fn login_account(&self, named: Option<&AccountGuid>) -> Option<&AccountGuid> {
        self.state.login_account(self.origin, named).map(|a| &a.account_guid)
    }
    fn identity(&self) -> Option<&Item> {
        self.state.items.get(Category::Identity, &ItemId::single())
    }
    fn items(&self, category: Category) -> Vec<&Item> {
        self.state.items.list(category, None)
    }
    fn now(&self) -> u64 {
        crate::local::store::now()
    }
}

impl LocalState {
    pub fn new(device_secret: Secret32) -> Self {
        Self {
            version: STATE_VERSION,
            device_secret,
            address_book: AddressBook::default(),
            legacy_addresses: BTreeMap::new(),
            legacy_saved_at: BTreeMap::new(),
            accounts: Vec::new(),
            items: Items::default(),
            public: PublicChoice::default(),
            grants: Vec::new(),
            app_grants: BTreeMap::new(),
            lock: None,
            locked: false,
            unlocked_until: None,
            auto_lock_secs: default_auto_lock(),
            profile_url: None,
            server: None,
            vault_history: BTreeMap::new(),
            follows: BTreeMap::new(),
        }
    }

    /// Brings a state read from an earlier format to this one: format 1's addresses become
    /// labelled addresses of the book, each its kind's default (the link's cached vault upgrades
    /// as it is read).
    pub fn upgrade(&mut self) {
        let legacy = std::mem::take(&mut self.legacy_addresses);
        let saved_at = std::mem::take(&mut self.legacy_saved_at);
        if !legacy.is_empty() && self.address_book.is_empty() {
            self.address_book = AddressBook::upgraded(legacy, &saved_at);
        }
        self.version = STATE_VERSION;
    }

    /// What of this state the vault holds.
    pub fn vault_contents(&self) -> VaultContents {
        let mut contents = VaultContents::new(self.address_book.clone(), self.accounts.clone())
            .with_items(self.items.clone(), self.public.clone());
        contents.app_grants = self.app_grants.clone();
        contents
    }

    /// Takes what a vault (or a merge) holds in place of this state's.
    pub fn take_vault_contents(&mut self, contents: VaultContents) {
        self.address_book = contents.address_book;
        self.accounts = contents.accounts;
        self.items = contents.items;
        self.public = contents.public;
        self.app_grants = contents.app_grants;
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
            let seq = kept.seq.max(seen.seq);
            if seen.counter >= kept.counter {
                *kept = seen;
            }
            kept.seq = seq;
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
            .field("address_book", &self.address_book)
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

    #[test]
    fn a_state_written_before_address_books_upgrades_without_loss() {
        // Written by the host before address books (tests/fixtures, made with that code).
        let json = include_bytes!("../../tests/fixtures/state-v1.json");
        let mut state: LocalState = serde_json::from_slice(json).unwrap();
        assert_eq!(state.version, 1);
        state.upgrade();
        assert_eq!(state.version, STATE_VERSION);
        let book = &state.address_book;
        assert_eq!(book.len(), 2);
        let shipping = book.default_of(AddressKind::Shipping).unwrap();
        assert_eq!((shipping.id.as_str(), shipping.label.as_str()), ("shipping", "Shipping"));
        assert_eq!(shipping.address.organization.as_deref(), Some("Analytical Engines Ltd"));
        assert_eq!(book.default_of(AddressKind::Billing).unwrap().address.city.as_deref(), Some("Paris"));
        assert_eq!(state.accounts.len(), 1);
        // The link's cached vault (the merge base) upgrades the same way, to the same ids.
        let link = state.server.as_ref().unwrap();
        assert_eq!(link.base.address_book, state.address_book);
        // Written again: the new format only, which reads back the same.
        let written = serde_json::to_value(&state).unwrap();
        assert!(written.get("addresses").is_none() && written["addressBook"]["addresses"].is_array());
        let again: LocalState = serde_json::from_value(written).unwrap();
        assert_eq!(again.address_book, state.address_book);
    }
}
