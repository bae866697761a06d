//! Sealing: AES-256-GCM with a random 96-bit nonce and associated data that names what is
//! sealed and its format version, so a blob sealed for one purpose never opens as another.
//!
//! Layout: `b"PPS1"` ‖ nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes). The caller brings the
//! nonce from a CSPRNG (the core does no I/O); never reuse one under the same key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

use crate::Secret32;

const MAGIC: &[u8; 4] = b"PPS1";
/// Bytes a sealed blob adds to its plaintext.
pub const OVERHEAD: usize = MAGIC.len() + 12 + 16;

/// What a blob holds and in which format version; bound into the AEAD as associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purpose {
    pub name: &'static str,
    pub version: u16,
}

impl Purpose {
    /// The associated data: the purpose, then `context` (who and which version the blob
    /// belongs to, e.g. a user id and write counter) after a NUL no purpose name contains.
    fn aad(self, context: &[u8]) -> Vec<u8> {
        let mut aad = format!("personal-profile:{}:v{}", self.name, self.version).into_bytes();
        if !context.is_empty() {
            aad.push(0);
            aad.extend_from_slice(context);
        }
        aad
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("not a sealed blob (bad header or too short)")]
    Format,
    #[error("cannot decrypt: wrong key, wrong purpose or tampered data")]
    Decrypt,
}

/// Whether `blob` has a sealed blob's header and room for its nonce and tag (what someone
/// without the key can check).
pub fn looks_sealed(blob: &[u8]) -> bool {
    blob.len() >= OVERHEAD && blob.starts_with(MAGIC)
}

pub fn seal(key: &Secret32, purpose: Purpose, nonce: [u8; 12], plaintext: &[u8]) -> Vec<u8> {
    seal_bound(key, purpose, &[], nonce, plaintext)
}

pub fn open(key: &Secret32, purpose: Purpose, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
    open_bound(key, purpose, &[], blob)
}

/// Seals with `context` bound in as well: the blob opens only with the same context.
pub fn seal_bound(key: &Secret32, purpose: Purpose, context: &[u8], nonce: [u8; 12], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.expose().into());
    let payload = Payload { msg: plaintext, aad: &purpose.aad(context) };
    // Encryption fails only for plaintexts beyond GCM's 64 GiB limit, far above any caller's.
    let sealed = cipher.encrypt(&Nonce::from(nonce), payload).unwrap_or_default();
    let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

pub fn open_bound(
    key: &Secret32,
    purpose: Purpose,
    context: &[u8],
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    if !looks_sealed(blob) {
        return Err(SealError::Format);
    }
    let nonce: [u8; 12] = blob[4..16].try_into().map_err(|_| SealError::Format)?;
    let cipher = Aes256Gcm::new(key.expose().into());
    let payload = Payload { msg: &blob[16..], aad: &purpose.aad(context) };
    cipher.decrypt(&Nonce::from(nonce), payload).map(Zeroizing::new).map_err(|_| SealError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: Purpose = Purpose { name: "state", version: 1 };

    #[test]
    fn round_trips_and_refuses_wrong_key_purpose_version_or_tampering() {
        let key = Secret32::from_bytes([9; 32]);
        let blob = seal(&key, STATE, [3; 12], b"hello");
        assert_eq!(blob.len(), OVERHEAD + 5);
        assert_eq!(open(&key, STATE, &blob).unwrap().as_slice(), b"hello");
        assert!(!blob.windows(5).any(|w| w == b"hello"));

        let other = Secret32::from_bytes([8; 32]);
        assert_eq!(open(&other, STATE, &blob), Err(SealError::Decrypt));
        assert_eq!(open(&key, Purpose { name: "ledger", version: 1 }, &blob), Err(SealError::Decrypt));
        assert_eq!(open(&key, Purpose { name: "state", version: 2 }, &blob), Err(SealError::Decrypt));
        let mut tampered = blob.clone();
        tampered[20] ^= 1;
        assert_eq!(open(&key, STATE, &tampered), Err(SealError::Decrypt));
        assert_eq!(open(&key, STATE, &blob[..10]), Err(SealError::Format));
    }
}
