//! What the host keeps about its profile server (sealed with the rest of the state): the
//! tokens, the vault's data key and counter, the newest version seen, and the registry's
//! outbox.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use profile_core::apps::GrantId;
use profile_core::apps::links::Token;
use profile_core::vault::{SeenHead, VAULT_FORMAT, VaultContents, Watermark};
use profile_core::wire::SyncHalt;
use profile_core::{AccountGuid, Bearer, ErrorCode, Origin, PublicJwk, Secret32, WireError};
use serde::{Deserialize, Serialize};

use super::now;

/// Most registry news kept waiting for the server; past it the oldest logins (the least
/// telling) make room.
const MAX_OUTBOX: usize = 1_000;

/// What the host keeps about its profile server (sealed with the rest of the state).
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerLink {
    pub api_base: String,
    pub profile_id: String,
    pub profile_url: String,
    /// This device's pairing on the server (its record there); not a pairwise device id.
    #[serde(alias = "deviceId")]
    pub pairing_id: String,
    pub access_token: Bearer,
    pub access_expires_at: u64,
    pub refresh_token: Bearer,
    /// The vault's data key; `None` after pairing with a ticket, until the passphrase opens it.
    pub data_key: Option<Secret32>,
    /// The vault counter the local state last agreed with the server at…
    pub counter: u64,
    /// …and the contents at that counter: the common base for three-way merges.
    pub base: VaultContents,
    /// Local changes not yet on the server.
    pub dirty: bool,
    /// The newest vault version seen from this server: an older one is refused.
    #[serde(default)]
    pub seen: Watermark,
    /// Set when the server offered an older vault: nothing more is synced with it.
    #[serde(default)]
    pub halted: Option<SyncHalt>,
    /// What the accounts registry has still to hear, oldest first.
    #[serde(default)]
    pub outbox: Vec<RegistryNews>,
    /// The vault is kept as items on the server (the blob was moved over).
    #[serde(default)]
    pub items_moved: bool,
    /// The blob was replaced with a note that it moved, which hosts from before refuse.
    #[serde(default)]
    pub blob_retired: bool,
    /// The item change sequence read up to: the server never offers a lower one.
    #[serde(default)]
    pub seq: u64,
    /// Each server item this device knows, by its opaque id: the entry it holds and its version.
    #[serde(default)]
    pub versions: Versions,
    /// The public part's fields as last published by this device (`None`: nothing).
    #[serde(default)]
    pub published: Option<serde_json::Value>,
    /// The x coordinate of the key it was signed with.
    #[serde(default)]
    pub published_key: Option<String>,
    /// Each app's share as this device last sealed or saw it: its version and a digest of
    /// what it held, so a sync seals it again only when what the app may read changed.
    #[serde(default)]
    pub shares: BTreeMap<GrantId, ShareSeen>,
    /// Connection tickets this device issued, until redeemed or expired.
    #[serde(default)]
    pub tickets: Vec<IssuedTicket>,
    /// Where each linked profile's API is (its profile document's `apiBase`), by profile URL:
    /// read once, and again only after a call there failed.
    #[serde(default)]
    pub peer_apis: BTreeMap<String, String>,
    /// Grants this device gave back for a redeemed ticket whose confirmation has not reached
    /// the redeemer's server yet: sent again at each sync until it does.
    #[serde(default)]
    pub unconfirmed_links: std::collections::BTreeSet<GrantId>,
}

/// A connection ticket this device issued: how to find it (its token's hash) and what
/// authenticates its redemption (on this device only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedTicket {
    pub token_hash: String,
    pub mac_key: Token,
    pub expires_at: u64,
}

/// A share's version and a digest of its contents (keyed by the profile's secret, of the
/// categories' JSON and the keys it was sealed with).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareSeen {
    pub version: u64,
    pub digest: String,
    /// When the app last read it, as the server last said (Unix seconds).
    #[serde(default)]
    pub read_at: Option<i64>,
    /// A digest of what it held of the categories the app subscribed to: a share sealed again
    /// tells the app only when that changed.
    #[serde(default)]
    pub told: Option<String>,
}

impl ShareSeen {
    /// What the profile server keeps with the share for the person's other devices:
    /// `digest.told`.
    pub fn note(&self) -> String {
        format!("{}.{}", self.digest, self.told.as_deref().unwrap_or_default())
    }

    /// A note another device left with version `version` of the share; `None` for one that is
    /// not a note's shape (the server serves it).
    pub fn from_note(note: &str, version: u64, read_at: Option<i64>) -> Option<Self> {
        if !profile_core::server_api::is_share_note(note) {
            return None;
        }
        let (digest, told) = note.split_once('.')?;
        let told = (!told.is_empty()).then(|| told.to_owned());
        Some(Self { version, digest: digest.to_owned(), read_at, told })
    }
}

/// The versions of the server's items this device knows, by their opaque ids: shared between
/// the copies of the state a process holds (ten thousand of them cost a pointer to copy), and
/// copied only when one copy changes them while another holds them too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Versions(Arc<BTreeMap<String, KnownItem>>);

impl Versions {
    /// Whether `self` and `other` are one copy (so nothing differs).
    pub fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::ops::Deref for Versions {
    type Target = BTreeMap<String, KnownItem>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Versions {
    /// A change: copied first when another copy of the state holds them too.
    fn deref_mut(&mut self) -> &mut Self::Target {
        Arc::make_mut(&mut self.0)
    }
}

/// A vault item as this device last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownItem {
    /// The entry's key (`i:receipts:ID`); empty for a removal of one this device never held.
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "v")]
    pub version: u64,
    /// A digest of its sealed blob (empty for a removal): another at the same version is a fork.
    #[serde(rename = "d", default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
}

/// News for the profile server's accounts registry.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum RegistryNews {
    /// A new account, with its login public key.
    #[serde(rename_all = "camelCase")]
    SignedUp {
        origin: Origin,
        account_guid: AccountGuid,
        #[serde(default)]
        app_id: Option<String>,
        public_key: PublicJwk,
        #[serde(default)]
        permissions: Vec<String>,
    },
    /// A login, for the account's `lastLoginAt`.
    #[serde(rename_all = "camelCase")]
    LoggedIn { origin: Origin, account_guid: AccountGuid },
    /// The person removed the account.
    #[serde(rename_all = "camelCase")]
    Removed { origin: Origin, account_guid: AccountGuid },
}

impl fmt::Debug for RegistryNews {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, origin) = match self {
            Self::SignedUp { origin, .. } => ("SignedUp", origin),
            Self::LoggedIn { origin, .. } => ("LoggedIn", origin),
            Self::Removed { origin, .. } => ("Removed", origin),
        };
        write!(f, "{kind}({origin})")
    }
}

impl RegistryNews {
    fn account(&self) -> (&Origin, &AccountGuid) {
        match self {
            Self::SignedUp { origin, account_guid, .. }
            | Self::LoggedIn { origin, account_guid }
            | Self::Removed { origin, account_guid } => (origin, account_guid),
        }
    }
}

impl ServerLink {
    /// The newest vault version seen from this server: the watermark, and never less than the
    /// counter agreed on (a link saved before watermarks were kept has only that).
    pub fn newest_seen(&self) -> Watermark {
        let mut seen = if self.seen.counter >= self.counter {
            self.seen.clone()
        } else {
            Watermark { counter: self.counter, digest: None, ..self.seen.clone() }
        };
        seen.seq = seen.seq.max(self.seq);
        for (id, known) in self.versions.iter().filter(|(_, k)| k.key.starts_with("h:")) {
            let head = seen.heads.entry(id.clone()).or_default();
            if known.version >= head.version {
                *head = SeenHead { version: known.version, digest: known.digest.clone() };
            }
        }
        seen
    }

    /// Halts syncing: the server offered an item change sequence, or an item version, older than
    /// one seen (or another at one seen).
    pub(crate) fn halt_items(&mut self, seen: u64, offered: u64) -> WireError {
        let halt = SyncHalt { seen_counter: seen, offered_counter: offered, at: now(), newer_format: None };
        tracing::error!("{}", halt.explain());
        let error = WireError::new(ErrorCode::ServerUnreachable, halt.explain());
        self.halted = Some(halt);
        error
    }

    /// Checks a vault version the server offers against the newest one seen: an older one halts
    /// syncing with this server (recorded in the link, which the caller saves) and is an error.
    pub(crate) fn check_offer(&mut self, counter: u64, blob: &[u8]) -> Result<(), WireError> {
        let Err(rollback) = self.newest_seen().check(counter, blob) else { return Ok(()) };
        let halt =
            SyncHalt { seen_counter: rollback.seen, offered_counter: rollback.offered, at: now(), newer_format: None };
        tracing::error!("{}", halt.explain());
        let error = WireError::new(ErrorCode::ServerUnreachable, halt.explain());
        self.halted = Some(halt);
        Err(error)
    }

    /// Records a version this device has opened (or written): only then does it count as seen.
    pub(crate) fn saw(&mut self, counter: u64, blob: &[u8]) {
        self.seen = self.newest_seen();
        self.seen.advance(counter, blob);
    }

    /// Stops syncing with a server whose vault was written by a newer version, in a format this
    /// host does not read: nothing is written over it (recorded in the link, which the caller
    /// saves). The error says so.
    pub(crate) fn refuse_newer(&mut self, found: u16) -> WireError {
        let halt = SyncHalt {
            seen_counter: self.counter,
            offered_counter: self.counter,
            at: now(),
            newer_format: Some(found),
        };
        tracing::error!("{}", halt.explain());
        let error = WireError::new(ErrorCode::ServerUnreachable, halt.explain());
        self.halted = Some(halt);
        error
    }

    /// Refuses to talk to a server that offered an older vault (only unpairing still does), or
    /// whose vault this host is too old to read (until it is updated: a halt for a format it now
    /// reads is lifted).
    pub(crate) fn usable(&mut self) -> Result<(), WireError> {
        if self.halted.as_ref().and_then(|h| h.newer_format).is_some_and(|found| found <= VAULT_FORMAT) {
            self.halted = None;
        }
        match &self.halted {
            Some(halt) => Err(WireError::new(ErrorCode::ServerUnreachable, halt.explain())),
            None => Ok(()),
        }
    }

    /// Queues news for the registry: a login replaces an earlier unsent login of the same
    /// account, and the queue stays bounded.
    pub fn tell(&mut self, news: RegistryNews) {
        if matches!(news, RegistryNews::LoggedIn { .. }) {
            self.outbox.retain(|queued| {
                !(matches!(queued, RegistryNews::LoggedIn { .. }) && queued.account() == news.account())
            });
        }
        self.outbox.push(news);
        while self.outbox.len() > MAX_OUTBOX {
            let oldest_login = self.outbox.iter().position(|n| matches!(n, RegistryNews::LoggedIn { .. }));
            self.outbox.remove(oldest_login.unwrap_or(0));
        }
    }
}

impl fmt::Debug for ServerLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerLink")
            .field("api_base", &self.api_base)
            .field("pairing_id", &self.pairing_id)
            .field("counter", &self.counter)
            .field("dirty", &self.dirty)
            .field("halted", &self.halted)
            .field("outbox", &self.outbox)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::local::state::LocalState;

    /// A link as an older host saved it: no watermark, no outbox, no halt.
    fn legacy_link(counter: u64) -> ServerLink {
        serde_json::from_value(json!({
            "apiBase": "https://p.example", "profileId": "p", "profileUrl": "https://p.example/u/p",
            "deviceId": "d", "accessToken": "t", "accessExpiresAt": 0, "refreshToken": "r", "dataKey": null,
            "counter": counter, "base": {}, "dirty": false,
        }))
        .expect("a link saved before the outbox and the watermark existed still reads")
    }

    #[test]
    fn an_offer_older_than_what_was_seen_halts_and_only_opened_versions_count_as_seen() {
        // A link from before watermarks: its agreed counter is the floor.
        let mut link = legacy_link(5);
        assert!(link.check_offer(5, b"whatever it was").is_ok());
        let refused = link.check_offer(3, b"three").unwrap_err();
        assert_eq!(refused.code, ErrorCode::ServerUnreachable);
        let halt = link.halted.clone().expect("halted");
        assert_eq!((halt.seen_counter, halt.offered_counter), (5, 3));
        assert!(link.usable().is_err(), "nothing more is sent to that server");

        // An offer is not yet seen: a server cannot raise the watermark with a blob nobody opened.
        let mut link = legacy_link(5);
        assert!(link.check_offer(900, b"made up").is_ok());
        assert_eq!(link.newest_seen().counter, 5);
        link.saw(6, b"six");
        assert!(link.check_offer(6, b"another six").is_err(), "the same version with other contents");

        // Unpairing keeps what was seen of the profile, for the next pairing.
        let mut state = LocalState::new(Secret32::from_bytes([3; 32]));
        let mut link = legacy_link(2);
        link.saw(7, b"seven");
        state.server = Some(link);
        state.forget_server();
        assert_eq!(state.vault_history["https://p.example/u/p"].counter, 7);
    }

    #[test]
    fn registry_news_wait_in_order_and_stay_bounded() {
        let origin = Origin::parse("https://shop.example").unwrap();
        let guid = profile_core::AccountGuid::try_from("a".to_owned()).unwrap();
        let mut link = legacy_link(0);
        let login = || RegistryNews::LoggedIn { origin: origin.clone(), account_guid: guid.clone() };
        link.tell(RegistryNews::Removed { origin: origin.clone(), account_guid: guid.clone() });
        link.tell(login());
        link.tell(login());
        assert_eq!(link.outbox.len(), 2, "one login of an account waits at a time");
        for _ in 0..MAX_OUTBOX + 10 {
            link.tell(RegistryNews::Removed { origin: origin.clone(), account_guid: guid.clone() });
        }
        assert_eq!(link.outbox.len(), MAX_OUTBOX);
        assert!(!link.outbox.iter().any(|n| matches!(n, RegistryNews::LoggedIn { .. })), "logins go first");
        assert!(!format!("{link:?}").contains("\"t\""));
    }
}
