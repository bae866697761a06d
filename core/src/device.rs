//! Pairwise device ids: the same site always sees the same id from this device, and ids that
//! two sites see cannot be linked.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{Origin, Secret32};

/// A site's view of this device: base64url of HMAC-SHA256(device secret, origin).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(String);

impl DeviceId {
    /// Derives the id `origin` sees from the per-device secret.
    pub fn derive(device_secret: &Secret32, origin: &Origin) -> Self {
        // A 32-byte key is always a valid HMAC key; the fallback only satisfies the type.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(device_secret.expose())
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
        mac.update(b"personal-profile device-id v1\0");
        mac.update(origin.as_str().as_bytes());
        Self(Base64UrlUnpadded::encode_string(&mac.finalize().into_bytes()))
    }

    /// Accepts an id received from elsewhere (43 base64url characters).
    pub fn parse(text: &str) -> Option<Self> {
        let valid = text.len() == 43 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({})", self.0)
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_per_site_and_different_across_sites_and_devices() {
        let secret = Secret32::from_bytes([1; 32]);
        let shop = Origin::parse("https://shop.example").unwrap();
        let news = Origin::parse("https://news.example").unwrap();
        let a = DeviceId::derive(&secret, &shop);
        assert_eq!(a, DeviceId::derive(&secret, &shop));
        assert_ne!(a, DeviceId::derive(&secret, &news));
        assert_ne!(a, DeviceId::derive(&Secret32::from_bytes([2; 32]), &shop));
        assert_eq!(DeviceId::parse(a.as_str()), Some(a));
    }
}
