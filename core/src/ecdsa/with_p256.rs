//! The `wasm32` backend: RustCrypto's `p256`, pure Rust. Native builds compile it only for the
//! tests, which hold it to the same vectors as `ring`.

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(super) const NAME: &str = "p256";

pub(super) fn verify(
    point: &[u8; super::POINT_BYTES],
    message: &[u8],
    signature: &[u8; super::SIGNATURE_BYTES],
) -> bool {
    let Ok(key) = VerifyingKey::from_sec1_bytes(point) else { return false };
    let Ok(signature) = Signature::from_slice(signature) else { return false };
    key.verify(message, &signature).is_ok()
}
