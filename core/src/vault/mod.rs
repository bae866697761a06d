//! The vault's keys, as the client (the host) handles them; the profile server only ever sees
//! the auth key's hash, wrapped data keys and sealed vault blobs.
//!
//! ```text
//! passphrase ──Argon2id(KdfParams)──▶ root ──HKDF-SHA256──▶ auth key  (proves the passphrase to the server)
//!                                                     └──▶ KEK       (wraps the data key; never leaves the client)
//! paper key (32 random bytes) ─────────HKDF-SHA256──────▶ KEK       (a second wrap of the same data key)
//! data key (32 random bytes) ──AES-256-GCM, bound to user and counter──▶ vault blob
//! a key (32 random bytes) ──AES-256-GCM, bound to user, item id and version──▶ vault item
//! ```
//!
//! The client pins the Argon2id parameters: it refuses any below the OWASP floor and any so
//! large that a hostile server could use them to exhaust the device ([`KdfParams::check`]).
//! A vault blob is bound to its user and write counter, so the server cannot replay an old
//! blob as a newer version, nor one user's blob as another's.

use std::collections::BTreeMap;

use argon2::{Algorithm, Argon2, Params, Version};
use base64ct::{Base64UrlUnpadded, Encoding};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::seal::{self, Purpose, SealError};
use crate::{Passphrase, Secret32};

mod contents;
pub mod entries;
pub mod items;

pub use contents::{
    AccountRecord, AppGrantRecord, ContentsError, PeerLink, PublicChoice, VAULT_FORMAT, VaultContents, merge,
};
pub use items::{Items, Kept, Slot};

/// Shortest passphrase accepted anywhere (host lock, profile server).
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// OWASP's Argon2id minimums, as (memory KiB, iterations) pairs of equal strength, one lane.
pub const OWASP_FLOOR: [(u32, u32); 5] = [(47_104, 1), (19_456, 2), (12_288, 3), (9_216, 4), (7_168, 5)];
/// Ceilings a client accepts from a server: enough for any sane choice, not a denial of service.
pub const MAX_M_COST_KIB: u32 = 1 << 20;
pub const MAX_T_COST: u32 = 16;
pub const MAX_P_COST: u32 = 16;
const SALT_BYTES: std::ops::RangeInclusive<usize> = 16..=64;

const DATA_KEY: Purpose = Purpose { name: "data-key", version: 1 };
/// Vault blobs are sealed as version 2 since the address book: a host from before it cannot
/// open them, so it cannot write its older format over a book it would not understand. Blobs of
/// version 1 still open.
const VAULT: Purpose = Purpose { name: "vault", version: 2 };
const VAULT_BEFORE_BOOKS: Purpose = Purpose { name: "vault", version: 1 };
const ITEM: Purpose = Purpose { name: "vault-item", version: 1 };

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("key-derivation parameters refused: {0}")]
    Params(String),
    #[error("cannot unwrap the data key: wrong passphrase or paper key, or tampered data")]
    Unwrap,
    #[error("cannot open the vault: wrong key, or a blob that is not this user's at this counter")]
    Open,
    #[error("cannot open a vault item: wrong key, or a blob that is not this user's item at this version")]
    OpenItem,
    #[error("not a paper key: expected 64 hex digits (dashes and spaces are ignored)")]
    PaperKey,
}

/// Argon2id parameters, stored per user by the server and checked by the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost: u32,
    pub t_cost: u32,
    pub p_cost: u32,
    /// base64url, 16 to 64 bytes.
    pub salt: String,
}

impl KdfParams {
    /// What a new credential gets: OWASP's second pair (19 MiB, 2 passes, 1 lane).
    pub fn recommended(salt: [u8; 16]) -> Self {
        Self { m_cost: 19_456, t_cost: 2, p_cost: 1, salt: Base64UrlUnpadded::encode_string(&salt) }
    }

    /// Refuses parameters below the OWASP floor or above the client's ceilings.
    pub fn check(&self) -> Result<Vec<u8>, VaultError> {
        let weak = !OWASP_FLOOR.iter().any(|&(m, t)| self.m_cost >= m && self.t_cost >= t);
        if weak || self.p_cost == 0 {
            return Err(VaultError::Params(format!(
                "m={} KiB, t={}, p={} is below the OWASP floor for Argon2id",
                self.m_cost, self.t_cost, self.p_cost
            )));
        }
        if self.m_cost > MAX_M_COST_KIB || self.t_cost > MAX_T_COST || self.p_cost > MAX_P_COST {
            return Err(VaultError::Params(format!(
                "m={} KiB, t={}, p={} is above what this client will compute",
                self.m_cost, self.t_cost, self.p_cost
            )));
        }
        let salt = Base64UrlUnpadded::decode_vec(&self.salt)
            .map_err(|_| VaultError::Params("the salt is not base64url".into()))?;
        if !SALT_BYTES.contains(&salt.len()) {
            return Err(VaultError::Params(format!("a salt of {} bytes; 16 to 64 are accepted", salt.len())));
        }
        Ok(salt)
    }
}

/// What a passphrase gives the client. Both redact their `Debug` and zeroize on drop.
#[derive(Debug)]
pub struct PassphraseKeys {
    /// Sent to the server, which keeps only a slow hash of it.
    pub auth_key: Secret32,
    /// Wraps the data key; never sent anywhere.
    pub kek: Secret32,
}

/// Derives the auth key and the key-encryption key from a passphrase (slow by design).
pub fn derive(passphrase: &Passphrase, params: &KdfParams) -> Result<PassphraseKeys, VaultError> {
    let salt = params.check()?;
    let argon = Params::new(params.m_cost, params.t_cost, params.p_cost, Some(32))
        .map_err(|e| VaultError::Params(e.to_string()))?;
    let mut root = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, argon)
        .hash_password_into(passphrase.expose().as_bytes(), &salt, root.as_mut())
        .map_err(|e| VaultError::Params(e.to_string()))?;
    Ok(PassphraseKeys {
        auth_key: expand(root.as_ref(), b"personal-profile/auth-key/v1"),
        kek: expand(root.as_ref(), b"personal-profile/kek/v1"),
    })
}

pub(crate) fn expand(root: &[u8], info: &[u8]) -> Secret32 {
    let mut out = [0u8; 32];
    // HKDF-SHA256 can expand up to 8160 bytes; 32 always succeeds.
    let _ = Hkdf::<Sha256>::new(None, root).expand(info, &mut out);
    let secret = Secret32::from_bytes(out);
    zeroize::Zeroize::zeroize(&mut out);
    secret
}

/// A recovery key printed for the person: 32 random bytes as 64 hex digits in groups of four.
pub struct PaperKey(Secret32);

impl PaperKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Secret32::from_bytes(bytes))
    }

    /// Reads a typed paper key; dashes, spaces and case do not matter.
    pub fn parse(text: &str) -> Result<Self, VaultError> {
        let digits: Zeroizing<String> =
            Zeroizing::new(text.chars().filter(|c| !matches!(c, '-' | ' ')).map(|c| c.to_ascii_lowercase()).collect());
        let mut bytes = [0u8; 32];
        let decoded = base16ct::lower::decode(digits.as_bytes(), &mut bytes).map_err(|_| VaultError::PaperKey)?;
        if decoded.len() != 32 {
            return Err(VaultError::PaperKey);
        }
        let key = Self::from_bytes(bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        Ok(key)
    }

    /// The key as the person writes it down: `3f2a-91c0-…` (16 groups).
    pub fn display(&self) -> Zeroizing<String> {
        let hex = Zeroizing::new(base16ct::lower::encode_string(self.0.expose()));
        let groups: Vec<&str> = hex.as_bytes().chunks(4).filter_map(|g| std::str::from_utf8(g).ok()).collect();
        Zeroizing::new(groups.join("-"))
    }

    /// The key-encryption key it stands for.
    pub fn kek(&self) -> Secret32 {
        expand(self.0.expose(), b"personal-profile/paper-kek/v1")
    }

    /// What proves the paper key to the server (which keeps a hash of it), as the passphrase's
    /// auth key does; it cannot unwrap anything.
    pub fn auth_key(&self) -> Secret32 {
        expand(self.0.expose(), b"personal-profile/paper-auth/v1")
    }
}

impl std::fmt::Debug for PaperKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PaperKey(..)")
    }
}

/// Wraps the data key under a key-encryption key (one wrap per credential).
pub fn wrap(kek: &Secret32, data_key: &Secret32, nonce: [u8; 12]) -> Vec<u8> {
    seal::seal(kek, DATA_KEY, nonce, data_key.expose())
}

pub fn unwrap(kek: &Secret32, wrapped: &[u8]) -> Result<Secret32, VaultError> {
    let bytes = seal::open(kek, DATA_KEY, wrapped).map_err(|_| VaultError::Unwrap)?;
    Secret32::from_slice(&bytes).ok_or(VaultError::Unwrap)
}

fn vault_context(user: &str, counter: u64) -> Vec<u8> {
    format!("{user}\0{counter}").into_bytes()
}

/// Seals the vault's contents as version `counter` of `user`'s vault.
pub fn seal_vault(data_key: &Secret32, user: &str, counter: u64, nonce: [u8; 12], contents: &[u8]) -> Vec<u8> {
    seal::seal_bound(data_key, VAULT, &vault_context(user, counter), nonce, contents)
}

/// Opens `user`'s vault blob that the server says is version `counter`.
pub fn open_vault(
    data_key: &Secret32,
    user: &str,
    counter: u64,
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let context = vault_context(user, counter);
    seal::open_bound(data_key, VAULT, &context, blob)
        .or_else(|_| seal::open_bound(data_key, VAULT_BEFORE_BOOKS, &context, blob))
        .map_err(|e| match e {
            SealError::Format | SealError::Decrypt => VaultError::Open,
        })
}

fn item_context(user: &str, item: &str, version: u64) -> Vec<u8> {
    format!("{user}\0{item}\0{version}").into_bytes()
}

/// Seals a vault item's contents as version `version` of `user`'s item `item` (the id the
/// server knows it by, `server_api::ItemId`): a batch writing on top of version `v` seals for
/// `v + 1`. So bound, the server cannot pass one item off as another, another user's, or an
/// older version as a newer one.
pub fn seal_item(key: &Secret32, user: &str, item: &str, version: u64, nonce: [u8; 12], contents: &[u8]) -> Vec<u8> {
    seal::seal_bound(key, ITEM, &item_context(user, item, version), nonce, contents)
}

/// Opens `user`'s item `item` that the server says is at `version`.
pub fn open_item(
    key: &Secret32,
    user: &str,
    item: &str,
    version: u64,
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    seal::open_bound(key, ITEM, &item_context(user, item, version), blob).map_err(|_| VaultError::OpenItem)
}

/// The newest vault version a device has seen: the counter, and a SHA-256 of the sealed blob
/// at that counter. Sealing binds a blob to its counter, so a server cannot pass an old blob off
/// as a newer version; the watermark stops the rest, a server offering an older version
/// outright (restored from a backup, or rolled back on purpose) or another blob at a counter
/// already seen (a fork). Either would silently undo what the person saved since.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Watermark {
    pub counter: u64,
    /// base64url SHA-256 of the blob at `counter`; absent when not known (an older state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The highest item change sequence seen (the vault kept as items).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seq: u64,
    /// Each device's head entry seen, by its server id: the newest version and its blob's
    /// digest. A device's head rises with every batch it writes, so a server that dropped any
    /// device's writes shows one of them older, or forked.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub heads: BTreeMap<String, SeenHead>,
}

/// A device's head entry as seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeenHead {
    pub version: u64,
    pub digest: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A server offered a vault older than one seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server offered vault version {offered} after version {seen} had been seen")]
pub struct Rollback {
    pub seen: u64,
    pub offered: u64,
}

fn digest(blob: &[u8]) -> String {
    use sha2::Digest;
    Base64UrlUnpadded::encode_string(&Sha256::digest(blob))
}

impl Watermark {
    /// Checks an offered version: a lower counter than seen, or the counter seen with another
    /// blob, is a rollback.
    pub fn check(&self, counter: u64, blob: &[u8]) -> Result<(), Rollback> {
        let forked = counter == self.counter && self.digest.as_ref().is_some_and(|seen| *seen != digest(blob));
        if counter < self.counter || forked {
            return Err(Rollback { seen: self.counter, offered: counter });
        }
        Ok(())
    }

    /// Records a version seen (read from the server, or written by this device). Never goes
    /// back.
    pub fn advance(&mut self, counter: u64, blob: &[u8]) {
        if counter >= self.counter {
            self.counter = counter;
            self.digest = Some(digest(blob));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watermark_refuses_older_and_forked_versions() {
        let mut seen = Watermark::default();
        assert_eq!(seen.check(0, b"anything"), Ok(()), "nothing seen yet");
        seen.advance(5, b"five");
        assert_eq!(seen.check(5, b"five"), Ok(()));
        assert_eq!(seen.check(6, b"six"), Ok(()));
        assert_eq!(seen.check(3, b"three"), Err(Rollback { seen: 5, offered: 3 }));
        assert_eq!(seen.check(5, b"other five"), Err(Rollback { seen: 5, offered: 5 }));
        seen.advance(4, b"four");
        assert_eq!(seen.counter, 5, "never goes back");
        let legacy = Watermark { counter: 5, digest: None, ..Watermark::default() };
        assert_eq!(legacy.check(5, b"whatever"), Ok(()), "no digest known: only the counter is checked");
        assert!(legacy.check(4, b"four").is_err());
    }

    fn pass(text: &str) -> Passphrase {
        Passphrase::new(text.into())
    }

    #[test]
    fn parameters_below_the_owasp_floor_or_above_the_ceilings_are_refused() {
        let good = KdfParams::recommended([7; 16]);
        assert_eq!(good.check().unwrap(), [7; 16]);
        for (m, t) in OWASP_FLOOR {
            assert!(KdfParams { m_cost: m, t_cost: t, ..good.clone() }.check().is_ok(), "{m} KiB, t={t}");
            assert!(KdfParams { m_cost: m - 1, t_cost: t, ..good.clone() }.check().is_err(), "{m} KiB - 1, t={t}");
        }
        let refused = [
            KdfParams { m_cost: 19_455, ..good.clone() },
            KdfParams { m_cost: 4_096, t_cost: 1, ..good.clone() },
            KdfParams { p_cost: 0, ..good.clone() },
            KdfParams { m_cost: MAX_M_COST_KIB + 1, ..good.clone() },
            KdfParams { t_cost: MAX_T_COST + 1, ..good.clone() },
            KdfParams { p_cost: MAX_P_COST + 1, ..good.clone() },
            KdfParams { salt: "c2hvcnQ".into(), ..good.clone() },
            KdfParams { salt: "not base64!".into(), ..good.clone() },
        ];
        for params in refused {
            assert!(matches!(params.check(), Err(VaultError::Params(_))), "{params:?}");
            assert!(derive(&pass("correct horse"), &params).is_err());
        }
    }

    #[test]
    fn the_passphrase_gives_two_independent_keys_and_wraps_survive_a_passphrase_change() {
        let params = KdfParams::recommended([1; 16]);
        let keys = derive(&pass("correct horse battery"), &params).unwrap();
        assert_ne!(keys.auth_key, keys.kek);
        assert_eq!(derive(&pass("correct horse battery"), &params).unwrap().kek, keys.kek, "deterministic");
        let other_salt = derive(&pass("correct horse battery"), &KdfParams::recommended([2; 16])).unwrap();
        assert_ne!(other_salt.auth_key, keys.auth_key);
        assert_eq!(format!("{keys:?}"), "PassphraseKeys { auth_key: Secret32(..), kek: Secret32(..) }");

        let data_key = Secret32::from_bytes([42; 32]);
        let wrapped = wrap(&keys.kek, &data_key, [3; 12]);
        assert_eq!(unwrap(&keys.kek, &wrapped).unwrap(), data_key);
        let wrong = derive(&pass("wrong horse battery"), &params).unwrap();
        assert_eq!(unwrap(&wrong.kek, &wrapped), Err(VaultError::Unwrap));
        assert_eq!(unwrap(&keys.auth_key, &wrapped), Err(VaultError::Unwrap), "the auth key cannot unwrap");

        // A new passphrase re-wraps the same data key: the vault's contents stay readable.
        let blob = seal_vault(&data_key, "user-1", 5, [4; 12], b"{\"addresses\":{}}");
        let new = derive(&pass("a new passphrase"), &KdfParams::recommended([5; 16])).unwrap();
        let rewrapped = wrap(&new.kek, &unwrap(&keys.kek, &wrapped).unwrap(), [6; 12]);
        let data_key_again = unwrap(&new.kek, &rewrapped).unwrap();
        assert_eq!(open_vault(&data_key_again, "user-1", 5, &blob).unwrap().as_slice(), b"{\"addresses\":{}}");
    }

    #[test]
    fn a_paper_key_recovers_the_data_key() {
        let paper = PaperKey::from_bytes([0xab; 32]);
        let shown = paper.display();
        assert_eq!(shown.len(), 64 + 15);
        assert!(shown.starts_with("abab-abab-"));
        let typed = shown.to_uppercase().replace('-', " ");
        assert_eq!(PaperKey::parse(&typed).unwrap().kek(), paper.kek());
        assert_eq!(format!("{paper:?}"), "PaperKey(..)");
        for bad in ["", "abab", &format!("{}zz", &shown[..shown.len() - 2]), &format!("{}-abcd", shown.as_str())] {
            assert_eq!(PaperKey::parse(bad).unwrap_err(), VaultError::PaperKey, "{bad}");
        }
        let data_key = Secret32::from_bytes([9; 32]);
        let wrapped = wrap(&paper.kek(), &data_key, [1; 12]);
        assert_eq!(unwrap(&PaperKey::parse(&shown).unwrap().kek(), &wrapped).unwrap(), data_key);
        assert_ne!(paper.auth_key(), paper.kek());
        assert_eq!(unwrap(&paper.auth_key(), &wrapped), Err(VaultError::Unwrap), "the auth key cannot unwrap");
    }

    #[test]
    fn a_vault_blob_opens_only_as_its_own_user_and_counter() {
        let key = Secret32::from_bytes([8; 32]);
        let blob = seal_vault(&key, "user-1", 7, [2; 12], b"secret street");
        assert!(!blob.windows(6).any(|w| w == b"street"));
        assert_eq!(open_vault(&key, "user-1", 7, &blob).unwrap().as_slice(), b"secret street");
        assert_eq!(open_vault(&key, "user-1", 8, &blob), Err(VaultError::Open), "replayed as a newer version");
        assert_eq!(open_vault(&key, "user-2", 7, &blob), Err(VaultError::Open), "another user's blob");
        assert_eq!(open_vault(&key, "user-1", 7, b"garbage"), Err(VaultError::Open));
        // The NUL separator keeps ("user-1", 17) and ("user-11", 7) apart.
        assert_ne!(vault_context("user-1", 17), vault_context("user-11", 7));
    }

    #[test]
    fn a_vault_item_opens_only_as_its_own_user_id_and_version() {
        let key = Secret32::from_bytes([8; 32]);
        let blob = seal_item(&key, "user-1", "item-a", 3, [2; 12], b"a receipt");
        assert!(crate::seal::looks_sealed(&blob));
        assert_eq!(open_item(&key, "user-1", "item-a", 3, &blob).unwrap().as_slice(), b"a receipt");
        for (user, item, version) in [("user-1", "item-a", 2), ("user-1", "item-b", 3), ("user-2", "item-a", 3)] {
            assert_eq!(
                open_item(&key, user, item, version, &blob),
                Err(VaultError::OpenItem),
                "{user} {item} {version}"
            );
        }
        let as_vault = seal_vault(&key, "user-1", 3, [2; 12], b"a receipt");
        assert_eq!(open_item(&key, "user-1", "item-a", 3, &as_vault), Err(VaultError::OpenItem), "a vault is no item");
        assert_ne!(item_context("user-1", "a", 12), item_context("user-1", "a1", 2));
    }

    #[test]
    fn a_vault_sealed_before_address_books_opens_and_upgrades() {
        // Sealed by the host before address books (tests/fixtures, made with that code).
        let blob = include_bytes!("../../tests/fixtures/vault-v1.sealed");
        let key = Secret32::from_bytes([7; 32]);
        let json = open_vault(&key, "fixture-user", 5, blob).unwrap();
        let contents = VaultContents::from_json(&json).unwrap();
        assert_eq!(contents.address_book.len(), 2);
        assert_eq!(open_vault(&key, "fixture-user", 6, blob), Err(VaultError::Open), "still bound to its counter");
        // What is sealed now opens as the current purpose only.
        let now = seal_vault(&key, "fixture-user", 6, [1; 12], b"{}");
        assert!(seal::open_bound(&key, VAULT_BEFORE_BOOKS, &vault_context("fixture-user", 6), &now).is_err());
        assert_eq!(open_vault(&key, "fixture-user", 6, &now).unwrap().as_slice(), b"{}");
    }
}
