//! The native backend: `ring`. Its `UnparsedPublicKey` is the point's bytes; `verify` checks
//! the point is on the curve, hashes the message and checks `r` and `s` in range and the
//! signature, all in constant-time-where-it-matters assembly.

use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

pub(super) const NAME: &str = "ring";

pub(super) fn verify(
    point: &[u8; super::POINT_BYTES],
    message: &[u8],
    signature: &[u8; super::SIGNATURE_BYTES],
) -> bool {
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(message, signature).is_ok()
}
