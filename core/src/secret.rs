//! Key material that redacts its `Debug` and zeroizes on drop.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// 32 bytes of secret key material (a master key, a device secret, a private scalar).
///
/// `Debug` prints `Secret32(..)`; the bytes are wiped when the value is dropped. It serializes
/// as base64url only because sealed state must hold it: never serialize one anywhere else.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct Secret32([u8; 32]);

impl Secret32 {
    /// Wraps fresh random bytes; callers bring the randomness (the core does no I/O).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Copies a slice of exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret32(..)")
    }
}

impl Serialize for Secret32 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = Base64UrlUnpadded::encode_string(&self.0);
        let result = serializer.serialize_str(&text);
        text.zeroize();
        result
    }
}

impl<'de> Deserialize<'de> for Secret32 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut text = String::deserialize(deserializer)?;
        let mut bytes = [0u8; 32];
        let decoded = Base64UrlUnpadded::decode(text.as_bytes(), &mut bytes).map(<[u8]>::len);
        text.zeroize();
        match decoded {
            Ok(32) => Ok(Self(bytes)),
            _ => {
                bytes.zeroize();
                Err(serde::de::Error::custom("expected 32 bytes of base64url key material"))
            }
        }
    }
}

/// A passphrase as typed by the person: redacted `Debug`, wiped on drop. It serializes only so
/// the extension can carry it to the host in a native message.
#[derive(Clone, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Passphrase(String);

impl Passphrase {
    pub fn new(text: String) -> Self {
        Self(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

/// A bearer value — a one-time ticket, a refresh or access token, an email-link token: whoever
/// holds it may use it. Redacted in `Debug`, wiped on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bearer(String);

impl Bearer {
    pub fn new(text: String) -> Self {
        Self(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Bearer {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_and_serde_round_trips() {
        let secret = Secret32::from_bytes([7; 32]);
        assert_eq!(format!("{secret:?}"), "Secret32(..)");
        let json = serde_json::to_string(&secret).unwrap();
        let back: Secret32 = serde_json::from_str(&json).unwrap();
        assert_eq!(back, secret);
        assert!(serde_json::from_str::<Secret32>("\"AAAA\"").is_err());
        let bearer: Bearer = serde_json::from_str("\"ticket-123\"").unwrap();
        assert_eq!((format!("{bearer:?}"), bearer.expose()), ("Bearer(..)".to_owned(), "ticket-123"));
        assert_eq!(format!("{:?}", Passphrase::new("hunter2 hunter2".into())), "Passphrase(..)");
    }
}
