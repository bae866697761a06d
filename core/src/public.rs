//! The public part of a profile: the fields a person chose to publish at their profile URL,
//! signed by their devices with the profile's own key ([`ProfileKey`]), so the profile server
//! stores and serves it but cannot change it.
//!
//! Like an assertion, a [`PublicPart`] carries the exact bytes that were signed (`payload`,
//! base64url of UTF-8 JSON, [`PublicPayload`]) and an ECDSA P-256 / SHA-256 signature in the
//! 64-byte `r‖s` form, with the public key that made it as a JWK. [`verify_public`] checks the
//! signature through [`crate::ecdsa`], the one signature check, and that the payload names the
//! profile URL the document was fetched from, so a part copied to another profile does not
//! verify.
//!
//! What the signature proves is that whoever holds `key` published these fields for this
//! profile URL. That the key is the profile's own is for the reader to know: a site keeps the
//! key it saw first (or learned elsewhere) and refuses a part under another one, and keeps the
//! newest `issuedAt` it saw to refuse an older part served again.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use p256::ecdsa::SigningKey;
use p256::ecdsa::signature::Signer;
use serde::{Deserialize, Serialize};

use crate::ecdsa::Signature;
use crate::{PublicJwk, Secret32};

/// The largest payload (the signed JSON, before base64url) published or accepted, in bytes.
pub const MAX_PUBLIC_PAYLOAD: usize = 16 * 1024;

/// The published part of a profile, as the profile document carries it (`public`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublicPart {
    /// The P-256 key that signed it.
    pub key: PublicJwk,
    /// base64url of the exact UTF-8 JSON bytes signed, a [`PublicPayload`].
    pub payload: String,
    /// base64url of the 64-byte `r‖s` ECDSA P-256 / SHA-256 signature over those bytes.
    pub signature: String,
}

/// What a public part says: `{"type": "profile.public", "profileUrl", "issuedAt", "fields"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublicPayload {
    #[serde(rename = "type")]
    pub kind: PublicType,
    /// The profile URL it is published at.
    pub profile_url: String,
    /// When it was signed (Unix seconds).
    pub issued_at: u64,
    pub fields: PublicFields,
}

/// The payload's `type`: `profile.public`, so a public part's signature never passes for an
/// assertion's or the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PublicType {
    #[serde(rename = "profile.public")]
    Public,
}

/// The published fields: an open JSON object, so a newer device may publish fields an older
/// reader passes over. Known members: `displayName` (a string), `language` (a BCP 47 tag),
/// `vehicles` (an array). Bounded by [`MAX_PUBLIC_PAYLOAD`] as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PublicFields(pub serde_json::Map<String, serde_json::Value>);

impl PublicFields {
    /// `displayName`, when it is a string.
    pub fn display_name(&self) -> Option<&str> {
        self.0.get("displayName").and_then(serde_json::Value::as_str)
    }

    /// `language`, when it is a string.
    pub fn language(&self) -> Option<&str> {
        self.0.get("language").and_then(serde_json::Value::as_str)
    }

    /// `vehicles`, when it is an array.
    pub fn vehicles(&self) -> Option<&[serde_json::Value]> {
        self.0.get("vehicles").and_then(serde_json::Value::as_array).map(Vec::as_slice)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicError {
    #[error("malformed public part: {0}")]
    Malformed(String),
    #[error("the public part's payload is {0} bytes; at most {MAX_PUBLIC_PAYLOAD} are published")]
    TooLarge(usize),
    #[error("the public part's key is not a usable P-256 public key")]
    Key,
    #[error("the public part's signature does not verify")]
    Signature,
    #[error("the public part was published for another profile URL ({0})")]
    ProfileUrl(String),
}

/// The profile's own signing key, which signs its public part. Parsing a key costs as much as a
/// signature, so callers keep the parsed key.
#[derive(Clone)]
pub struct ProfileKey(SigningKey);

impl ProfileKey {
    /// Builds a key from 32 random bytes; `None` for the (astronomically rare) bytes that are
    /// not a valid scalar, in which case the caller draws again.
    pub fn from_secret(secret: &Secret32) -> Option<Self> {
        SigningKey::from_slice(secret.expose()).ok().map(Self)
    }

    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk::from_key(self.0.verifying_key())
    }

    /// The ES256 signature (`r‖s`) of `bytes`.
    pub fn sign(&self, bytes: &[u8]) -> [u8; 64] {
        let signature: p256::ecdsa::Signature = self.0.sign(bytes);
        signature.to_bytes().into()
    }
}

impl fmt::Debug for ProfileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProfileKey(..)")
    }
}

/// Signs `fields` for publication at `profile_url`, as of `issued_at` (Unix seconds, from the
/// caller's clock). Refused when the payload would pass [`MAX_PUBLIC_PAYLOAD`].
pub fn sign_public(
    key: &ProfileKey,
    profile_url: &str,
    issued_at: u64,
    fields: &PublicFields,
) -> Result<PublicPart, PublicError> {
    let payload =
        PublicPayload { kind: PublicType::Public, profile_url: profile_url.into(), issued_at, fields: fields.clone() };
    let bytes = serde_json::to_vec(&payload).map_err(|e| PublicError::Malformed(e.to_string()))?;
    if bytes.len() > MAX_PUBLIC_PAYLOAD {
        return Err(PublicError::TooLarge(bytes.len()));
    }
    let signature: p256::ecdsa::Signature = key.0.sign(&bytes);
    Ok(PublicPart {
        key: key.public_jwk(),
        payload: Base64UrlUnpadded::encode_string(&bytes),
        signature: Base64UrlUnpadded::encode_string(&signature.to_bytes()),
    })
}

/// Checks the part's size, its signature under its own key and that it was published for
/// `expected_profile_url` (compared exactly: the URL the document was fetched from); returns
/// what it says.
pub fn verify_public(part: &PublicPart, expected_profile_url: &str) -> Result<PublicPayload, PublicError> {
    // Refused before decoding: base64url carries 3 bytes in 4 characters.
    if part.payload.len() > (MAX_PUBLIC_PAYLOAD * 4).div_ceil(3) {
        return Err(PublicError::TooLarge(part.payload.len() * 3 / 4));
    }
    let bytes = Base64UrlUnpadded::decode_vec(&part.payload)
        .map_err(|_| PublicError::Malformed("payload is not base64url".into()))?;
    if bytes.len() > MAX_PUBLIC_PAYLOAD {
        return Err(PublicError::TooLarge(bytes.len()));
    }
    let signature = Signature::from_base64url(&part.signature)
        .map_err(|_| PublicError::Malformed("signature is not 64 bytes of base64url".into()))?;
    let key = part.key.to_key().map_err(|_| PublicError::Key)?;
    key.verify(&bytes, &signature).map_err(|_| PublicError::Signature)?;
    let payload: PublicPayload = serde_json::from_slice(&bytes).map_err(|e| PublicError::Malformed(e.to_string()))?;
    if payload.profile_url != expected_profile_url {
        return Err(PublicError::ProfileUrl(payload.profile_url));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const URL: &str = "https://profiles.example/u/ada";

    fn key(byte: u8) -> ProfileKey {
        ProfileKey::from_secret(&Secret32::from_bytes([byte; 32])).unwrap()
    }

    fn fields() -> PublicFields {
        serde_json::from_value(json!({"displayName": "Ada", "language": "en-GB", "vehicles": [{"make": "Zoe"}]}))
            .unwrap()
    }

    #[test]
    fn a_signed_part_verifies_and_says_what_was_signed() {
        let part = sign_public(&key(1), URL, 1_700_000_000, &fields()).unwrap();
        let payload = verify_public(&part, URL).unwrap();
        assert_eq!((payload.profile_url.as_str(), payload.issued_at), (URL, 1_700_000_000));
        assert_eq!(payload.fields, fields());
        assert_eq!((payload.fields.display_name(), payload.fields.language()), (Some("Ada"), Some("en-GB")));
        assert_eq!(payload.fields.vehicles().map(<[_]>::len), Some(1));
        let signed: serde_json::Value =
            serde_json::from_slice(&Base64UrlUnpadded::decode_vec(&part.payload).unwrap()).unwrap();
        assert_eq!(signed["type"], "profile.public");
        assert_eq!(signed["profileUrl"], URL);
        assert_eq!(Base64UrlUnpadded::decode_vec(&part.signature).unwrap().len(), 64);
        let wire = serde_json::to_value(&part).unwrap();
        assert_eq!(wire.as_object().unwrap().keys().collect::<Vec<_>>(), ["key", "payload", "signature"]);
    }

    #[test]
    fn every_tampered_byte_of_the_payload_fails() {
        let part = sign_public(&key(1), URL, 1_700_000_000, &fields()).unwrap();
        let bytes = Base64UrlUnpadded::decode_vec(&part.payload).unwrap();
        for index in 0..bytes.len() {
            let mut tampered = bytes.clone();
            tampered[index] ^= 0x01;
            let forged = PublicPart { payload: Base64UrlUnpadded::encode_string(&tampered), ..part.clone() };
            assert_eq!(verify_public(&forged, URL), Err(PublicError::Signature), "byte {index}");
        }
        let mut signature = Base64UrlUnpadded::decode_vec(&part.signature).unwrap();
        signature[10] ^= 0x80;
        let forged = PublicPart { signature: Base64UrlUnpadded::encode_string(&signature), ..part.clone() };
        assert_eq!(verify_public(&forged, URL), Err(PublicError::Signature));
    }

    #[test]
    fn another_key_another_url_or_another_type_fails() {
        let part = sign_public(&key(1), URL, 1, &fields()).unwrap();
        let swapped = PublicPart { key: key(2).public_jwk(), ..part.clone() };
        assert_eq!(verify_public(&swapped, URL), Err(PublicError::Signature), "the key that signed is the key");
        let elsewhere = "https://profiles.example/u/eve";
        assert_eq!(verify_public(&part, elsewhere), Err(PublicError::ProfileUrl(URL.into())));
        let other = sign_public(&key(1), elsewhere, 1, &fields()).unwrap();
        assert!(matches!(verify_public(&other, URL), Err(PublicError::ProfileUrl(_))));

        // A signature by the same key over something that is not a public part.
        let login = json!({"type": "profile.login", "profileUrl": URL, "issuedAt": 1, "fields": {}}).to_string();
        let signature: p256::ecdsa::Signature = key(1).0.sign(login.as_bytes());
        let forged = PublicPart {
            key: key(1).public_jwk(),
            payload: Base64UrlUnpadded::encode_string(login.as_bytes()),
            signature: Base64UrlUnpadded::encode_string(&signature.to_bytes()),
        };
        assert!(matches!(verify_public(&forged, URL), Err(PublicError::Malformed(_))));
        let bad_key = PublicPart { key: PublicJwk { x: "AA".into(), ..part.key.clone() }, ..part.clone() };
        assert_eq!(verify_public(&bad_key, URL), Err(PublicError::Key));
        let short = PublicPart { signature: "AAAA".into(), ..part };
        assert!(matches!(verify_public(&short, URL), Err(PublicError::Malformed(_))));
    }

    #[test]
    fn payloads_are_bounded_both_ways() {
        let mut big = PublicFields::default();
        big.0.insert("displayName".into(), json!("x".repeat(MAX_PUBLIC_PAYLOAD)));
        assert!(matches!(sign_public(&key(1), URL, 1, &big), Err(PublicError::TooLarge(_))));
        // Signed anyway, by hand: the verifier refuses it before checking anything.
        let bytes =
            serde_json::to_vec(&json!({"type": "profile.public", "profileUrl": URL, "issuedAt": 1, "fields": big}))
                .unwrap();
        let signature: p256::ecdsa::Signature = key(1).0.sign(&bytes);
        let part = PublicPart {
            key: key(1).public_jwk(),
            payload: Base64UrlUnpadded::encode_string(&bytes),
            signature: Base64UrlUnpadded::encode_string(&signature.to_bytes()),
        };
        assert!(matches!(verify_public(&part, URL), Err(PublicError::TooLarge(_))));
        assert_eq!(format!("{:?}", key(1)), "ProfileKey(..)");
    }
}
