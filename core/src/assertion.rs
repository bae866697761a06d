//! Sign-up and login assertions: what the host signs and what a site verifies.
//!
//! `clientData` is the exact UTF-8 JSON that was signed, carried base64url-encoded so no
//! re-serialization can change it; the signature is ECDSA P-256 / SHA-256 in the 64-byte `r‖s`
//! form WebCrypto uses. [`verify`] is the one verifier: the host's tests and `profile-rp` both
//! call it, and it checks the signature through [`crate::ecdsa`] (`ring` natively, `p256` in
//! WASM).

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::ecdsa::{PublicKey, Signature};
use crate::{DeviceId, Origin, Secret32};

/// Which ceremony an assertion belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AssertionType {
    #[serde(rename = "profile.signup")]
    SignUp,
    #[serde(rename = "profile.login")]
    Login,
}

/// A site's single-use challenge: base64url of 16 to 256 random bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Challenge(String);

/// Fewest random bytes a challenge must carry.
pub const MIN_CHALLENGE_BYTES: usize = 16;
const MAX_CHALLENGE_BYTES: usize = 256;

impl TryFrom<String> for Challenge {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let bytes =
            Base64UrlUnpadded::decode_vec(&text).map_err(|_| "challenge must be unpadded base64url".to_owned())?;
        if !(MIN_CHALLENGE_BYTES..=MAX_CHALLENGE_BYTES).contains(&bytes.len()) {
            return Err(format!(
                "challenge must carry {MIN_CHALLENGE_BYTES} to {MAX_CHALLENGE_BYTES} bytes, not {}",
                bytes.len()
            ));
        }
        Ok(Self(text))
    }
}

impl From<Challenge> for String {
    fn from(challenge: Challenge) -> Self {
        challenge.0
    }
}

impl Challenge {
    /// Encodes bytes the caller drew from a CSPRNG.
    pub fn from_random(bytes: &[u8]) -> Result<Self, String> {
        Self::try_from(Base64UrlUnpadded::encode_string(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A site's id for the person's account: 1 to 128 characters of `A-Z a-z 0-9 . _ ~ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountGuid(String);

impl TryFrom<String> for AccountGuid {
    type Error = &'static str;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b"._~-".contains(&b);
        if (1..=128).contains(&text.len()) && text.bytes().all(allowed) {
            Ok(Self(text))
        } else {
            Err("accountGuid must be 1 to 128 characters of A-Z a-z 0-9 . _ ~ -")
        }
    }
}

impl From<AccountGuid> for String {
    fn from(guid: AccountGuid) -> Self {
        guid.0
    }
}

impl AccountGuid {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountGuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an assertion says; serialized field by field into the signed bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientData {
    #[serde(rename = "type")]
    pub kind: AssertionType,
    pub origin: Origin,
    pub challenge: Challenge,
    pub account_guid: AccountGuid,
    pub device_id: DeviceId,
    pub counter: u64,
    /// Unix seconds.
    pub issued_at: u64,
}

/// `{clientData, signature}`, both base64url.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assertion {
    pub client_data: String,
    pub signature: String,
}

/// A P-256 public key as a JWK (`{"kty":"EC","crv":"P-256","x":…,"y":…}`), which WebCrypto
/// imports directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
}

impl PublicJwk {
    pub fn from_key(key: &VerifyingKey) -> Self {
        Self::from(&PublicKey::from(key))
    }

    /// The key the verifier takes; refused unless it is a P-256 point on the curve.
    pub fn to_key(&self) -> Result<PublicKey, AssertionError> {
        if self.kty != "EC" || self.crv != "P-256" {
            return Err(AssertionError::Key);
        }
        let coordinate = |text: &str| -> Result<[u8; 32], AssertionError> {
            let mut out = [0u8; 32];
            match Base64UrlUnpadded::decode(text, &mut out) {
                Ok(decoded) if decoded.len() == 32 => Ok(out),
                _ => Err(AssertionError::Key),
            }
        };
        PublicKey::from_coordinates(&coordinate(&self.x)?, &coordinate(&self.y)?).map_err(|_| AssertionError::Key)
    }
}

impl From<&PublicKey> for PublicJwk {
    fn from(key: &PublicKey) -> Self {
        let bytes = key.as_sec1();
        Self {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: Base64UrlUnpadded::encode_string(&bytes[1..33]),
            y: Base64UrlUnpadded::encode_string(&bytes[33..65]),
        }
    }
}

/// A per-origin, per-account login key. Parsing a key costs as much as a signature, so callers
/// keep parsed keys.
#[derive(Clone)]
pub struct LoginKey(SigningKey);

impl LoginKey {
    /// Builds a key from 32 random bytes; `None` for the (astronomically rare) bytes that are
    /// not a valid scalar, in which case the caller draws again.
    pub fn from_secret(secret: &Secret32) -> Option<Self> {
        SigningKey::from_slice(secret.expose()).ok().map(Self)
    }

    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk::from_key(self.0.verifying_key())
    }

    /// Serializes `data` and signs exactly those bytes.
    pub fn sign(&self, data: &ClientData) -> Assertion {
        // ClientData holds only strings and integers: serialization cannot fail.
        let bytes = serde_json::to_vec(data).unwrap_or_default();
        let signature: p256::ecdsa::Signature = self.0.sign(&bytes);
        Assertion {
            client_data: Base64UrlUnpadded::encode_string(&bytes),
            signature: Base64UrlUnpadded::encode_string(&signature.to_bytes()),
        }
    }
}

impl fmt::Debug for LoginKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginKey(..)")
    }
}

/// What the verifier holds the assertion to.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub kind: AssertionType,
    pub origin: &'a Origin,
    pub challenge: &'a Challenge,
    pub account_guid: &'a AccountGuid,
    /// The highest counter accepted before for this key; `None` at sign-up.
    pub last_counter: Option<u64>,
    /// Unix seconds now, from the caller's clock.
    pub now: u64,
    /// Oldest accepted `issuedAt`, as seconds before `now`.
    pub max_age: u64,
}

/// Clock skew tolerated for an `issuedAt` in the future.
pub const MAX_SKEW_SECS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    #[error("malformed assertion: {0}")]
    Malformed(String),
    #[error("not a usable P-256 public key")]
    Key,
    #[error("signature does not verify")]
    Signature,
    #[error("assertion is of the wrong type")]
    Type,
    #[error("assertion was made for another origin")]
    Origin,
    #[error("assertion answers another challenge")]
    Challenge,
    #[error("assertion names another account")]
    Account,
    #[error("counter {got} did not rise above {last}")]
    Counter { got: u64, last: u64 },
    #[error("assertion is expired or from the future")]
    Stale,
}

/// Checks signature, type, origin, challenge, account, counter and age; returns what was
/// asserted.
pub fn verify(key: &PublicKey, assertion: &Assertion, expected: &Expected<'_>) -> Result<ClientData, AssertionError> {
    let bytes = Base64UrlUnpadded::decode_vec(&assertion.client_data)
        .map_err(|_| AssertionError::Malformed("clientData is not base64url".into()))?;
    let signature = Signature::from_base64url(&assertion.signature)
        .map_err(|_| AssertionError::Malformed("signature is not 64 bytes of base64url".into()))?;
    key.verify(&bytes, &signature).map_err(|_| AssertionError::Signature)?;
    let data: ClientData = serde_json::from_slice(&bytes).map_err(|e| AssertionError::Malformed(e.to_string()))?;
    if data.kind != expected.kind {
        return Err(AssertionError::Type);
    }
    if &data.origin != expected.origin {
        return Err(AssertionError::Origin);
    }
    if &data.challenge != expected.challenge {
        return Err(AssertionError::Challenge);
    }
    if &data.account_guid != expected.account_guid {
        return Err(AssertionError::Account);
    }
    if let Some(last) = expected.last_counter
        && data.counter <= last
    {
        return Err(AssertionError::Counter { got: data.counter, last });
    }
    let oldest = expected.now.saturating_sub(expected.max_age);
    if data.issued_at < oldest || data.issued_at > expected.now.saturating_add(MAX_SKEW_SECS) {
        return Err(AssertionError::Stale);
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixture {
        key: LoginKey,
        origin: Origin,
        challenge: Challenge,
        guid: AccountGuid,
    }

    impl Fixture {
        fn new() -> Self {
            Self {
                key: LoginKey::from_secret(&Secret32::from_bytes([5; 32])).unwrap(),
                origin: Origin::parse("https://shop.example").unwrap(),
                challenge: Challenge::from_random(&[1; 16]).unwrap(),
                guid: AccountGuid::try_from("acct-42".to_owned()).unwrap(),
            }
        }

        fn data(&self, counter: u64) -> ClientData {
            ClientData {
                kind: AssertionType::Login,
                origin: self.origin.clone(),
                challenge: self.challenge.clone(),
                account_guid: self.guid.clone(),
                device_id: DeviceId::derive(&Secret32::from_bytes([2; 32]), &self.origin),
                counter,
                issued_at: 1_000,
            }
        }

        fn expected(&self, last_counter: Option<u64>) -> Expected<'_> {
            Expected {
                kind: AssertionType::Login,
                origin: &self.origin,
                challenge: &self.challenge,
                account_guid: &self.guid,
                last_counter,
                now: 1_010,
                max_age: 300,
            }
        }
    }

    #[test]
    fn a_signed_assertion_verifies_through_its_jwk() {
        let f = Fixture::new();
        let assertion = f.key.sign(&f.data(3));
        let key = f.key.public_jwk().to_key().unwrap();
        assert_eq!(verify(&key, &assertion, &f.expected(Some(2))).unwrap(), f.data(3));
        assert_eq!(Base64UrlUnpadded::decode_vec(&assertion.signature).unwrap().len(), 64);
    }

    #[test]
    fn every_binding_is_checked() {
        let f = Fixture::new();
        let key = f.key.public_jwk().to_key().unwrap();
        let assertion = f.key.sign(&f.data(3));
        let other_origin = Origin::parse("https://shop.example.evil").unwrap();
        let other_challenge = Challenge::from_random(&[2; 16]).unwrap();
        let other_guid = AccountGuid::try_from("acct-43".to_owned()).unwrap();
        let base = f.expected(Some(2));
        let cases = [
            (Expected { origin: &other_origin, ..base }, AssertionError::Origin),
            (Expected { challenge: &other_challenge, ..base }, AssertionError::Challenge),
            (Expected { account_guid: &other_guid, ..base }, AssertionError::Account),
            (Expected { kind: AssertionType::SignUp, ..base }, AssertionError::Type),
            (Expected { last_counter: Some(3), ..base }, AssertionError::Counter { got: 3, last: 3 }),
            (Expected { now: 2_000, ..base }, AssertionError::Stale),
            (Expected { now: 100, ..base }, AssertionError::Stale),
        ];
        for (expected, error) in cases {
            assert_eq!(verify(&key, &assertion, &expected), Err(error));
        }
    }

    #[test]
    fn tampering_and_foreign_keys_fail() {
        let f = Fixture::new();
        let key = f.key.public_jwk().to_key().unwrap();
        let mut assertion = f.key.sign(&f.data(3));
        let forged = serde_json::to_vec(&f.data(9)).unwrap();
        let original = assertion.client_data.clone();
        assertion.client_data = Base64UrlUnpadded::encode_string(&forged);
        assert_eq!(verify(&key, &assertion, &f.expected(None)), Err(AssertionError::Signature));
        assertion.client_data = original;

        let stranger = LoginKey::from_secret(&Secret32::from_bytes([6; 32])).unwrap();
        let stranger_key = stranger.public_jwk().to_key().unwrap();
        assert_eq!(verify(&stranger_key, &assertion, &f.expected(None)), Err(AssertionError::Signature));
        assertion.signature = "AAAA".into();
        assert!(matches!(verify(&key, &assertion, &f.expected(None)), Err(AssertionError::Malformed(_))));
    }

    #[test]
    fn challenges_and_guids_are_parsed() {
        assert!(Challenge::from_random(&[0; 15]).is_err());
        assert!(Challenge::try_from("not base64!".to_owned()).is_err());
        assert!(AccountGuid::try_from(String::new()).is_err());
        assert!(AccountGuid::try_from("a b".to_owned()).is_err());
        let bad_jwk = PublicJwk { kty: "EC".into(), crv: "P-256".into(), x: "AA".into(), y: "AA".into() };
        assert_eq!(bad_jwk.to_key(), Err(AssertionError::Key));
    }
}
