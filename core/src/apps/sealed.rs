//! What only an app, or only the profile, can open: HPKE (RFC 9180) with DHKEM(P-256,
//! HKDF-SHA256), HKDF-SHA256 and AES-256-GCM, through the `hpke` crate.
//!
//! A **share** is what a grant lets an app read ([`ShareContents`]: the scoped items, the
//! profile's URL and the key appends are sealed to), sealed by the person's device to the app's
//! encryption key and signed with the profile's key ([`ProfileKey`]): the profile server stores
//! and serves it but can neither open it nor pass off one of its own making, since the app
//! checks the signature with the key `requestGrant` answered its page. The share's grant and
//! version are bound into the seal and the signature, so a share served for another grant, or
//! an older one served as newer, is refused.
//!
//! An **append** is an item an app adds to the profile ([`AppendContents`]), signed by the app
//! and sealed by it to the profile's encryption key (in the share), bound to its grant and
//! category; only the person's devices open it, and they check the app's signature with the key
//! the app's registration published (which the device fetched itself) and the item against the
//! category's definition before it joins the profile. The signature is inside the seal: the
//! profile's encryption key is in every share, so sealing alone would not say who wrote the
//! item, and the profile server, which never sees the item, can neither forge one nor alter
//! one; it can only serve the same sealed bytes again, which make the same item.
//!
//! Randomness comes in as an RNG the caller gives (`profile-core` draws none of its own).

use std::collections::BTreeMap;

use base64ct::{Base64UrlUnpadded, Encoding};

use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::DhP256HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use hpke::rand_core::{self, CryptoRng};

use super::{GrantId, Sealed, SealedShare};
use crate::category::Category;
use crate::ecdsa::Signature;
use crate::public::ProfileKey;
use crate::server_api::Bytes;
use crate::{PublicJwk, Secret32};

type Suite = DhP256HkdfSha256;

pub use super::{MAX_APPEND_BYTES, MAX_SHARE_BYTES};

const SHARE_INFO: &[u8] = b"personal-profile share v1";
const APPEND_INFO: &[u8] = b"personal-profile append v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealedError {
    #[error("not a usable P-256 encryption key")]
    Key,
    #[error("the share's signature is not the profile's")]
    Signature,
    #[error("the item's signature is not the app's")]
    AppSignature,
    #[error("it does not open with this key (sealed to another, or altered)")]
    Open,
    #[error("it was sealed for another {0}")]
    Mismatch(&'static str),
    #[error("{0} bytes; at most {1}")]
    TooLarge(usize, usize),
    #[error("malformed: {0}")]
    Malformed(String),
}

/// A P-256 public key data is sealed to (an app's `encryptionKey`, the profile's).
#[derive(Clone)]
pub struct EncryptionKey(<Suite as Kem>::PublicKey);

impl EncryptionKey {
    pub fn from_jwk(jwk: &PublicJwk) -> Result<Self, SealedError> {
        let key = jwk.to_key().map_err(|_| SealedError::Key)?;
        <Suite as Kem>::PublicKey::from_bytes(key.as_sec1()).map(Self).map_err(|_| SealedError::Key)
    }

    pub fn to_jwk(&self) -> PublicJwk {
        // SEC1 uncompressed: 0x04, then x and y.
        let bytes = self.0.to_bytes();
        let coordinate = |part: &[u8]| Base64UrlUnpadded::encode_string(part);
        PublicJwk { kty: "EC".into(), crv: "P-256".into(), x: coordinate(&bytes[1..33]), y: coordinate(&bytes[33..65]) }
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptionKey({:?})", self.to_jwk().x)
    }
}

/// The private half: an app's, or the profile's ([`profile_decryption_key`]).
pub struct DecryptionKey {
    private: <Suite as Kem>::PrivateKey,
    public: EncryptionKey,
}

impl DecryptionKey {
    /// The key pair HPKE derives from 32 secret bytes (`DeriveKeyPair`, RFC 9180 §7.1.3):
    /// the same bytes always make the same key.
    pub fn from_secret(secret: &Secret32) -> Self {
        let (private, public) = Suite::derive_keypair(secret.expose());
        Self { private, public: EncryptionKey(public) }
    }

    pub fn public(&self) -> &EncryptionKey {
        &self.public
    }
}

impl std::fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DecryptionKey(public: {:?}, ..)", self.public)
    }
}

/// The profile's encryption key, made from the same secret as its signing key (the public
/// part's key, kept in the vault) through HKDF-SHA256, so every device of the profile holds it.
pub fn profile_decryption_key(profile_secret: &Secret32) -> DecryptionKey {
    DecryptionKey::from_secret(&crate::vault::expand(
        profile_secret.expose(),
        b"personal-profile/profile-encryption-key/v1",
    ))
}

/// A keyed digest of `parts` for a share note (`server_api::ShareNotify::note`): HMAC-SHA256
/// under a key made from the profile's secret, base64url. Every device of the profile makes the
/// same one for the same parts; the server, which stores it, can neither make one nor test a
/// guess of what a share holds against it.
pub fn share_digest(profile_secret: &Secret32, parts: &[&[u8]]) -> String {
    use hmac::{KeyInit, Mac};
    let key = crate::vault::expand(profile_secret.expose(), b"personal-profile/share-note-key/v1");
    let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(key.expose()) else {
        unreachable!("HMAC takes a key of any length")
    };
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    Base64UrlUnpadded::encode_string(&mac.finalize().into_bytes())
}

fn seal(
    to: &EncryptionKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<Sealed, SealedError> {
    let (enc, ciphertext) = hpke::single_shot_seal_with_rng::<AesGcm256, HkdfSha256, Suite>(
        &OpModeS::Base,
        &to.0,
        info,
        plaintext,
        aad,
        rng,
    )
    .map_err(|e| SealedError::Malformed(e.to_string()))?;
    Ok(Sealed { enc: Bytes(enc.to_bytes().to_vec()), ciphertext: Bytes(ciphertext) })
}

fn open(with: &DecryptionKey, info: &[u8], aad: &[u8], sealed: &Sealed, max: usize) -> Result<Vec<u8>, SealedError> {
    if sealed.ciphertext.0.len() > max + 16 {
        return Err(SealedError::TooLarge(sealed.ciphertext.0.len(), max));
    }
    let enc = <Suite as Kem>::EncappedKey::from_bytes(&sealed.enc.0).map_err(|_| SealedError::Open)?;
    hpke::single_shot_open::<AesGcm256, HkdfSha256, Suite>(
        &OpModeR::Base,
        &with.private,
        &enc,
        info,
        &sealed.ciphertext.0,
        aad,
    )
    .map_err(|_| SealedError::Open)
}

/// What a share holds, as the app reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShareContents {
    pub grant_id: GrantId,
    pub version: u64,
    pub profile_url: String,
    /// When the device sealed it (Unix seconds).
    pub issued_at: u64,
    /// The profile's encryption key: appends are sealed to it.
    pub encryption_key: PublicJwk,
    /// The items of each category the app may read, with only the fields its scope names:
    /// `{id, fields, updatedAt}` for items, the address as saved for addresses. Empty for a
    /// grant without `read`.
    pub categories: BTreeMap<Category, Vec<Value>>,
}

/// What the profile's signature covers: the grant, the version and digests of the sealed
/// bytes, as one line of text each.
pub fn share_signed_bytes(grant_id: &GrantId, version: u64, sealed: &Sealed) -> Vec<u8> {
    let digest = |bytes: &[u8]| Base64UrlUnpadded::encode_string(&Sha256::digest(bytes));
    format!("profile.share v1\n{grant_id}\n{version}\n{}\n{}", digest(&sealed.enc.0), digest(&sealed.ciphertext.0))
        .into_bytes()
}

fn share_aad(grant_id: &GrantId, version: u64) -> Vec<u8> {
    format!("{grant_id}\n{version}").into_bytes()
}

/// Seals `contents` to the app's key and signs it with the profile's.
pub fn seal_share(
    profile: &ProfileKey,
    app: &EncryptionKey,
    contents: &ShareContents,
    rng: &mut impl CryptoRng,
) -> Result<SealedShare, SealedError> {
    let plaintext = serde_json::to_vec(contents).map_err(|e| SealedError::Malformed(e.to_string()))?;
    if plaintext.len() > MAX_SHARE_BYTES {
        return Err(SealedError::TooLarge(plaintext.len(), MAX_SHARE_BYTES));
    }
    let sealed = seal(app, SHARE_INFO, &share_aad(&contents.grant_id, contents.version), &plaintext, rng)?;
    let signature = profile.sign(&share_signed_bytes(&contents.grant_id, contents.version, &sealed));
    Ok(SealedShare { version: contents.version, sealed, signature: Base64UrlUnpadded::encode_string(&signature) })
}

/// Opens a share of `grant_id` the app read: checks the profile's signature (with the key
/// `requestGrant` answered), opens it with the app's key, and checks it names this grant and
/// version.
pub fn open_share(
    app: &DecryptionKey,
    profile_key: &PublicJwk,
    grant_id: &GrantId,
    share: &SealedShare,
) -> Result<ShareContents, SealedError> {
    let key = profile_key.to_key().map_err(|_| SealedError::Key)?;
    let signature = Signature::from_base64url(&share.signature).map_err(|_| SealedError::Signature)?;
    key.verify(&share_signed_bytes(grant_id, share.version, &share.sealed), &signature)
        .map_err(|_| SealedError::Signature)?;
    let plaintext = open(app, SHARE_INFO, &share_aad(grant_id, share.version), &share.sealed, MAX_SHARE_BYTES)?;
    let contents: ShareContents =
        serde_json::from_slice(&plaintext).map_err(|e| SealedError::Malformed(e.to_string()))?;
    if &contents.grant_id != grant_id {
        return Err(SealedError::Mismatch("grant"));
    }
    if contents.version != share.version {
        return Err(SealedError::Mismatch("version"));
    }
    Ok(contents)
}

/// An item an app adds to the profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppendContents {
    pub grant_id: GrantId,
    pub category: Category,
    pub fields: Map<String, Value>,
    /// When the app made it (Unix seconds, the app's clock).
    pub made_at: u64,
}

fn append_aad(grant_id: &GrantId, category: Category) -> Vec<u8> {
    format!("{grant_id}\n{category}").into_bytes()
}

/// What the app's signature of an append covers: its grant and category, then the item's JSON
/// bytes as sealed.
pub fn append_signed_bytes(grant_id: &GrantId, category: Category, item: &[u8]) -> Vec<u8> {
    let mut bytes = format!("profile.append v1\n{grant_id}\n{category}\n").into_bytes();
    bytes.extend_from_slice(item);
    bytes
}

/// The bytes of the app's ES256 signature (`r‖s`) at the start of an append's plaintext.
const APPEND_SIGNATURE_BYTES: usize = 64;

/// Signs an item with the app's key (`sign`: ES256 over the bytes given, `r‖s`) and seals it
/// to the profile's encryption key (from the share), for `grant_id` and its category. The
/// plaintext is the signature followed by the item's JSON.
pub fn seal_append(
    profile: &EncryptionKey,
    contents: &AppendContents,
    sign: impl FnOnce(&[u8]) -> [u8; APPEND_SIGNATURE_BYTES],
    rng: &mut impl CryptoRng,
) -> Result<Sealed, SealedError> {
    let item = serde_json::to_vec(contents).map_err(|e| SealedError::Malformed(e.to_string()))?;
    let size = APPEND_SIGNATURE_BYTES + item.len();
    if size > MAX_APPEND_BYTES {
        return Err(SealedError::TooLarge(size, MAX_APPEND_BYTES));
    }
    let mut plaintext = sign(&append_signed_bytes(&contents.grant_id, contents.category, &item)).to_vec();
    plaintext.extend_from_slice(&item);
    seal(profile, APPEND_INFO, &append_aad(&contents.grant_id, contents.category), &plaintext, rng)
}

/// Opens an append the profile server holds for `grant_id` in `category` (as it says): only the
/// profile's key opens it, only as sealed for that grant and category, and only signed by the
/// app's key (`app_key`, as its registration published it when the person granted it). The item
/// itself is the caller's to check against the category's definition.
pub fn open_append(
    profile: &DecryptionKey,
    app_key: &PublicJwk,
    grant_id: &GrantId,
    category: Category,
    sealed: &Sealed,
) -> Result<AppendContents, SealedError> {
    let plaintext = open(profile, APPEND_INFO, &append_aad(grant_id, category), sealed, MAX_APPEND_BYTES)?;
    let Some((signature, item)) = plaintext.split_at_checked(APPEND_SIGNATURE_BYTES) else {
        return Err(SealedError::Malformed("no signature".into()));
    };
    let key = app_key.to_key().map_err(|_| SealedError::Key)?;
    let signature = Signature::from_slice(signature).map_err(|_| SealedError::AppSignature)?;
    key.verify(&append_signed_bytes(grant_id, category, item), &signature).map_err(|_| SealedError::AppSignature)?;
    let contents: AppendContents = serde_json::from_slice(item).map_err(|e| SealedError::Malformed(e.to_string()))?;
    if &contents.grant_id != grant_id {
        return Err(SealedError::Mismatch("grant"));
    }
    if contents.category != category {
        return Err(SealedError::Mismatch("category"));
    }
    Ok(contents)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A deterministic RNG for tests only.
    struct Counter(u8);

    impl hpke::rand_core::TryRng for Counter {
        type Error = std::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            let mut b = [0; 4];
            self.try_fill_bytes(&mut b)?;
            Ok(u32::from_le_bytes(b))
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            let mut b = [0; 8];
            self.try_fill_bytes(&mut b)?;
            Ok(u64::from_le_bytes(b))
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Self::Error> {
            for byte in dest {
                self.0 = self.0.wrapping_add(1);
                *byte = self.0;
            }
            Ok(())
        }
    }
    impl hpke::rand_core::TryCryptoRng for Counter {}

    fn secret(byte: u8) -> Secret32 {
        Secret32::from_bytes([byte; 32])
    }

    fn contents(grant: &GrantId, version: u64, profile: &DecryptionKey) -> ShareContents {
        ShareContents {
            grant_id: grant.clone(),
            version,
            profile_url: "https://profiles.example/u/ada".into(),
            issued_at: 1_700_000_000,
            encryption_key: profile.public().to_jwk(),
            categories: BTreeMap::from([(
                Category::Receipts,
                vec![json!({"id": "r1", "fields": {"merchant": "Corner"}})],
            )]),
        }
    }

    #[test]
    fn a_share_opens_only_with_the_apps_key_and_only_as_the_profile_signed_it() {
        let profile = ProfileKey::from_secret(&secret(1)).unwrap();
        let profile_enc = profile_decryption_key(&secret(1));
        let app = DecryptionKey::from_secret(&secret(2));
        let other_app = DecryptionKey::from_secret(&secret(3));
        let grant = GrantId::from_bytes([9; 16]);
        let written = contents(&grant, 4, &profile_enc);
        let share = seal_share(&profile, app.public(), &written, &mut Counter(0)).unwrap();
        let key = profile.public_jwk();
        assert_eq!(open_share(&app, &key, &grant, &share).unwrap(), written);
        assert_eq!(open_share(&other_app, &key, &grant, &share), Err(SealedError::Open), "another app's key");
        let other_grant = GrantId::from_bytes([8; 16]);
        assert_eq!(open_share(&app, &key, &other_grant, &share), Err(SealedError::Signature), "another grant");
        let mut older = share.clone();
        older.version = 3;
        assert_eq!(open_share(&app, &key, &grant, &older), Err(SealedError::Signature), "another version");
        // A share the server made itself, sealed to the app and signed by a key of its own.
        let forger = ProfileKey::from_secret(&secret(5)).unwrap();
        let forged = seal_share(&forger, app.public(), &written, &mut Counter(7)).unwrap();
        assert_eq!(open_share(&app, &key, &grant, &forged), Err(SealedError::Signature));
        // Re-signed bytes of another sealing cannot be spliced in.
        let mut spliced = share.clone();
        spliced.sealed.ciphertext = forged.sealed.ciphertext.clone();
        assert_eq!(open_share(&app, &key, &grant, &spliced), Err(SealedError::Signature));
        assert_eq!(EncryptionKey::from_jwk(&app.public().to_jwk()).unwrap().to_jwk(), app.public().to_jwk());
    }

    #[test]
    fn an_append_opens_only_for_the_profile_and_its_grant_and_category() {
        let profile = profile_decryption_key(&secret(1));
        assert_eq!(profile.public().to_jwk(), profile_decryption_key(&secret(1)).public().to_jwk(), "derived alike");
        let grant = GrantId::from_bytes([9; 16]);
        let item = AppendContents {
            grant_id: grant.clone(),
            category: Category::Receipts,
            fields: json!({"merchant": "Corner", "date": "2026-11-30"}).as_object().unwrap().clone(),
            made_at: 1,
        };
        // The app's signing key (a P-256 key like the profile's).
        let app = ProfileKey::from_secret(&secret(6)).unwrap();
        let app_key = app.public_jwk();
        let sealed = seal_append(profile.public(), &item, |bytes| app.sign(bytes), &mut Counter(0)).unwrap();
        assert_eq!(open_append(&profile, &app_key, &grant, Category::Receipts, &sealed).unwrap(), item);
        assert_eq!(
            open_append(&profile, &app_key, &grant, Category::Medical, &sealed),
            Err(SealedError::Open),
            "another category"
        );
        let other = GrantId::from_bytes([1; 16]);
        assert_eq!(
            open_append(&profile, &app_key, &other, Category::Receipts, &sealed),
            Err(SealedError::Open),
            "another grant"
        );
        let stranger = DecryptionKey::from_secret(&secret(4));
        assert_eq!(open_append(&stranger, &app_key, &grant, Category::Receipts, &sealed), Err(SealedError::Open));
        // Anyone holding a share holds the profile's encryption key and can seal to it, but only
        // the app signs as the app: an item sealed by another app, or by the profile server's
        // operator who read a share, is refused.
        let forger = ProfileKey::from_secret(&secret(7)).unwrap();
        let forged = seal_append(profile.public(), &item, |bytes| forger.sign(bytes), &mut Counter(3)).unwrap();
        assert_eq!(
            open_append(&profile, &app_key, &grant, Category::Receipts, &forged),
            Err(SealedError::AppSignature)
        );
        let unsigned = serde_json::to_vec(&item).unwrap();
        let aad = append_aad(&grant, Category::Receipts);
        let unsigned = seal(profile.public(), APPEND_INFO, &aad, &unsigned, &mut Counter(4)).unwrap();
        assert!(open_append(&profile, &app_key, &grant, Category::Receipts, &unsigned).is_err(), "no signature");
        let short = seal(profile.public(), APPEND_INFO, &aad, b"{}", &mut Counter(5)).unwrap();
        assert!(matches!(
            open_append(&profile, &app_key, &grant, Category::Receipts, &short),
            Err(SealedError::Malformed(_))
        ));
        let mut huge = item.clone();
        huge.fields.insert("note".into(), json!("x".repeat(MAX_APPEND_BYTES)));
        let too_large = seal_append(profile.public(), &huge, |bytes| app.sign(bytes), &mut Counter(0));
        assert!(matches!(too_large, Err(SealedError::TooLarge(..))));
        let garbage = Sealed { enc: Bytes(vec![4; 65]), ciphertext: Bytes(vec![0; 40]) };
        assert_eq!(open_append(&profile, &app_key, &grant, Category::Receipts, &garbage), Err(SealedError::Open));
    }
}
