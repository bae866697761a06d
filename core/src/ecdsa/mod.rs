//! ECDSA P-256 / SHA-256 verification: one check, [`PublicKey::verify`], over one of two
//! backends chosen by target.
//!
//! - native builds (the profile server, `profile-rp`, the host): `ring`, whose P-256 is about
//!   ten times faster than RustCrypto's, and which the workspace already builds for rustls;
//! - `wasm32` (the extension, which signs but never verifies): RustCrypto's `p256`, pure Rust,
//!   which keeps `ring`'s C and assembly out of the module.
//!
//! Each backend is one file with one function, `verify(point, message, signature) -> bool`,
//! over plain bytes; everything above it (key and signature parsing, the assertion's bindings)
//! is shared. The tests run both backends on every native build, against each other and
//! against Wycheproof's ECDSA P-256 / SHA-256 (IEEE P1363) vectors.

#[cfg(any(test, target_arch = "wasm32"))]
mod with_p256;
#[cfg(not(target_arch = "wasm32"))]
mod with_ring;

#[cfg(target_arch = "wasm32")]
use self::with_p256 as backend;
#[cfg(not(target_arch = "wasm32"))]
use self::with_ring as backend;

use base64ct::{Base64UrlUnpadded, Encoding};

/// The backend this build verifies with: `"ring"` or `"p256"`.
pub const BACKEND: &str = backend::NAME;

/// Bytes in an uncompressed SEC1 point: `0x04 ‖ x ‖ y`.
pub const POINT_BYTES: usize = 65;
/// Bytes in a fixed-size (IEEE P1363, WebCrypto) signature: `r ‖ s`.
pub const SIGNATURE_BYTES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EcdsaError {
    #[error("not a P-256 public key")]
    Key,
    #[error("not a 64-byte r‖s signature")]
    SignatureForm,
    #[error("signature does not verify")]
    Signature,
}

/// A P-256 public key: an uncompressed point checked to be on the curve when it was made.
/// Cheap to copy and to keep: verification reads the bytes as they are.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; POINT_BYTES]);

impl PublicKey {
    /// From an uncompressed SEC1 point (65 bytes, `0x04 ‖ x ‖ y`) on the curve.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, EcdsaError> {
        let point: [u8; POINT_BYTES] = bytes.try_into().map_err(|_| EcdsaError::Key)?;
        if point[0] != 4 || p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).is_err() {
            return Err(EcdsaError::Key);
        }
        Ok(Self(point))
    }

    /// From the affine coordinates `x` and `y`, 32 big-endian bytes each (a JWK's).
    pub fn from_coordinates(x: &[u8; 32], y: &[u8; 32]) -> Result<Self, EcdsaError> {
        let mut point = [4u8; POINT_BYTES];
        point[1..33].copy_from_slice(x);
        point[33..].copy_from_slice(y);
        Self::from_sec1(&point)
    }

    /// The uncompressed SEC1 point.
    pub fn as_sec1(&self) -> &[u8; POINT_BYTES] {
        &self.0
    }

    /// Checks an ECDSA P-256 signature over SHA-256 of `message`.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), EcdsaError> {
        if backend::verify(&self.0, message, &signature.0) { Ok(()) } else { Err(EcdsaError::Signature) }
    }
}

impl From<&p256::ecdsa::VerifyingKey> for PublicKey {
    fn from(key: &p256::ecdsa::VerifyingKey) -> Self {
        let mut point = [0u8; POINT_BYTES];
        point.copy_from_slice(key.to_sec1_point(false).as_bytes());
        Self(point)
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", Base64UrlUnpadded::encode_string(&self.0))
    }
}

/// An ECDSA P-256 signature in the fixed-size form WebCrypto and JWS use: `r ‖ s`, 32 bytes
/// each. Whether `r` and `s` are in range is the verifier's to say.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; SIGNATURE_BYTES]);

impl Signature {
    pub fn from_slice(bytes: &[u8]) -> Result<Self, EcdsaError> {
        bytes.try_into().map(Self).map_err(|_| EcdsaError::SignatureForm)
    }

    /// From unpadded base64url (a JWS signature, an assertion's `signature`), without
    /// allocating.
    pub fn from_base64url(text: &str) -> Result<Self, EcdsaError> {
        let mut bytes = [0u8; SIGNATURE_BYTES];
        match Base64UrlUnpadded::decode(text, &mut bytes) {
            Ok(decoded) if decoded.len() == SIGNATURE_BYTES => Ok(Self(bytes)),
            _ => Err(EcdsaError::SignatureForm),
        }
    }

    pub fn to_bytes(&self) -> [u8; SIGNATURE_BYTES] {
        self.0
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({})", Base64UrlUnpadded::encode_string(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;
    use wycheproof::TestResult;
    use wycheproof::ecdsa::{TestName, TestSet};

    use super::*;

    fn signing_key(byte: u8) -> SigningKey {
        SigningKey::from_slice(&[byte; 32]).unwrap()
    }

    /// Both backends, as the seam calls them.
    fn both(key: &PublicKey, message: &[u8], signature: &[u8; SIGNATURE_BYTES]) -> (bool, bool) {
        (with_ring::verify(&key.0, message, signature), with_p256::verify(&key.0, message, signature))
    }

    /// Every test of Wycheproof's ECDSA P-256 / SHA-256 set in the fixed-size (P1363) form, on
    /// both backends: valid signatures verify, invalid ones do not, and the backends agree.
    #[test]
    fn both_backends_pass_wycheproof_p256_sha256_p1363() {
        let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).unwrap();
        let (mut valid, mut invalid, mut refused_form) = (0, 0, 0);
        for group in &set.test_groups {
            let key = PublicKey::from_sec1(&group.key.key).expect("every Wycheproof key is on the curve");
            for test in &group.tests {
                let expected = match test.result {
                    TestResult::Valid => true,
                    TestResult::Invalid => false,
                    TestResult::Acceptable => continue,
                };
                let Ok(signature) = Signature::from_slice(&test.sig) else {
                    assert!(!expected, "test {}: a valid signature of {} bytes", test.tc_id, test.sig.len());
                    refused_form += 1;
                    continue;
                };
                let (ring, p256) = both(&key, &test.msg, &signature.0);
                assert_eq!((ring, p256), (expected, expected), "test {} ({})", test.tc_id, test.comment);
                assert_eq!(key.verify(&test.msg, &signature).is_ok(), expected, "the seam, test {}", test.tc_id);
                if expected {
                    valid += 1;
                } else {
                    invalid += 1;
                }
            }
        }
        assert_eq!(valid + invalid + refused_form, set.number_of_tests, "no test skipped");
        assert!(valid >= 150 && invalid + refused_form >= 80, "{valid} valid, {invalid} + {refused_form} invalid");
    }

    /// Signatures made here (RustCrypto signs), good and spoiled, verify alike on both backends.
    #[test]
    fn backends_agree_on_signatures_made_here() {
        for byte in 1..=8u8 {
            let signer = signing_key(byte);
            let key = PublicKey::from(signer.verifying_key());
            let message = vec![byte; usize::from(byte) * 37];
            let signature: p256::ecdsa::Signature = signer.sign(&message);
            let good = signature.to_bytes();
            let mut good_bytes = [0u8; SIGNATURE_BYTES];
            good_bytes.copy_from_slice(&good);
            assert_eq!(both(&key, &message, &good_bytes), (true, true));
            for flip in [0, 31, 32, 63] {
                let mut bad = good_bytes;
                bad[flip] ^= 1;
                assert_eq!(both(&key, &message, &bad), (false, false), "flipped byte {flip}");
            }
            assert_eq!(both(&key, b"another message", &good_bytes), (false, false));
            let stranger = PublicKey::from(signing_key(byte + 100).verifying_key());
            assert_eq!(both(&stranger, &message, &good_bytes), (false, false));
        }
    }

    #[test]
    fn keys_and_signatures_are_parsed() {
        let key = PublicKey::from(signing_key(3).verifying_key());
        assert_eq!(PublicKey::from_sec1(key.as_sec1()), Ok(key));
        let mut off_curve = *key.as_sec1();
        off_curve[64] ^= 1;
        assert_eq!(PublicKey::from_sec1(&off_curve), Err(EcdsaError::Key));
        assert_eq!(PublicKey::from_sec1(&key.as_sec1()[..64]), Err(EcdsaError::Key));
        let compressed = signing_key(3).verifying_key().to_sec1_point(true);
        assert_eq!(PublicKey::from_sec1(compressed.as_bytes()), Err(EcdsaError::Key), "uncompressed only");
        assert_eq!(PublicKey::from_sec1(&[0u8; POINT_BYTES]), Err(EcdsaError::Key));
        let mut x = [0u8; 32];
        x.copy_from_slice(&key.as_sec1()[1..33]);
        let mut y = [0u8; 32];
        y.copy_from_slice(&key.as_sec1()[33..]);
        assert_eq!(PublicKey::from_coordinates(&x, &y), Ok(key));

        assert!(Signature::from_base64url(&Base64UrlUnpadded::encode_string(&[7; 64])).is_ok());
        for wrong in [&[7u8; 63][..], &[7; 65], &[]] {
            let text = Base64UrlUnpadded::encode_string(wrong);
            assert_eq!(Signature::from_base64url(&text), Err(EcdsaError::SignatureForm), "{} bytes", wrong.len());
            assert_eq!(Signature::from_slice(wrong), Err(EcdsaError::SignatureForm));
        }
        assert_eq!(Signature::from_base64url("not base64!"), Err(EcdsaError::SignatureForm));
    }
}
