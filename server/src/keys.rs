//! The server's own keys and the access tokens it signs.
//!
//! - The **master key** (256 random bits) lives in a file the operator keeps, by default
//!   `DATA_DIR/master.key`, made on first start with mode 0600. It never enters the database,
//!   so a database dump or backup holds nothing that signs. Instances that share a database
//!   share this file.
//! - The **server signing key** ([`ServerSigningKey`], ECDSA P-256) is made on the first start
//!   against a database and kept there sealed under the master key (AES-256-GCM), so every
//!   instance signs with the same key. Its public half is served at `/.well-known/jwks.json`
//!   and in profile documents. (A *site's* key is another thing: the key a site publishes in its
//!   registration, which [`crate::services::site_keys`] fetches.)
//! - **Access tokens** are compact JWS (JWT) signed ES256 by the server signing key: `iss` (the public
//!   URL), `aud` ([`AUDIENCE`]), `sub` (user), `dev` (device), `iat`, `exp` (at most
//!   [`ACCESS_TTL_SECS`] later). Verification accepts exactly one header algorithm, `ES256`, and
//!   the server signing key's `kid`, then checks the signature, `iss`, `aud`, `exp` and `iat`.
//!
//! The JWT is written here on `p256` 0.14 rather than with `jsonwebtoken`: that crate's
//! RustCrypto backend is built on the previous generation of these crates (p256 0.13,
//! signature 2), which would put a second copy of the whole ECDSA stack into the build, and
//! it parses the key at every signature. The format needs a fixed header, two base64url
//! segments and one signature.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use base64ct::{Base64UrlUnpadded, Encoding};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use profile_core::ecdsa::PublicKey;
use profile_core::seal::{self, Purpose};
use profile_core::server_api::ServerJwk;
use profile_core::{PublicJwk, Secret32};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::Db;

/// The `aud` of access tokens for this API.
pub const AUDIENCE: &str = "personal-profile-api";
/// How long an access token lives.
pub const ACCESS_TTL_SECS: i64 = 600;
/// Clock skew tolerated on `iat`.
const SKEW_SECS: i64 = 60;

/// What seals the server signing key in the database. The name is stored in every sealed copy
/// (its associated data), so it keeps the key's old name.
const SIGNING_KEY: Purpose = Purpose { name: "server/site-key", version: 1 };

/// The key in the operator's master-key file. `Debug` is redacted.
#[derive(Debug)]
pub struct MasterKey(Secret32);

impl MasterKey {
    /// Reads the file (64 hex digits), or creates it with mode 0600 when it does not exist.
    /// A file others can read is refused, as `ssh` refuses such a private key.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(path)?.permissions().mode();
                    if mode & 0o077 != 0 {
                        bail!("{} is readable by others (mode {:o}); chmod 600 it", path.display(), mode & 0o777);
                    }
                }
                let mut bytes = [0u8; 32];
                match base16ct::mixed::decode(text.trim().as_bytes(), &mut bytes) {
                    Ok(decoded) if decoded.len() == 32 => Ok(Self(Secret32::from_bytes(bytes))),
                    _ => bail!("{} does not hold a master key (64 hex digits)", path.display()),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Secret32::from_bytes(crate::random()?);
                let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                crate::db::create_private_dir(dir)?;
                // Written whole under a name of its own, then linked into place: the link fails
                // when another instance starting at the same time got there first, and then its
                // key (complete, since it too was linked whole) is the one.
                let fresh = dir.join(format!(".master.key.{}", crate::new_id()?));
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&fresh).with_context(|| format!("cannot create {}", fresh.display()))?;
                let hex = zeroize::Zeroizing::new(base16ct::lower::encode_string(key.expose()));
                file.write_all(hex.as_bytes())?;
                file.write_all(b"\n")?;
                file.sync_all()?;
                let linked = std::fs::hard_link(&fresh, path);
                let _ = std::fs::remove_file(&fresh);
                match linked {
                    Ok(()) => {
                        tracing::info!(path = %path.display(), "created the master key; back it up with the database");
                        Ok(Self(key))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load_or_create(path),
                    Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
                }
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// A key for one purpose, derived from the master key (HKDF-SHA256).
    pub fn derive(&self, label: &str) -> Secret32 {
        let mut out = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's output limit: expanding cannot fail.
        let _ = hkdf::Hkdf::<Sha256>::new(None, self.0.expose())
            .expand(format!("personal-profile/server/{label}").as_bytes(), &mut out);
        Secret32::from_bytes(out)
    }
}

/// The server's own signing key: it signs access tokens, and its public half is the server's
/// JWK.
#[derive(Clone)]
pub struct ServerSigningKey {
    signing: SigningKey,
    public: PublicKey,
    kid: String,
}

impl std::fmt::Debug for ServerSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl ServerSigningKey {
    fn from_secret(secret: &Secret32) -> Option<Self> {
        let signing = SigningKey::from_slice(secret.expose()).ok()?;
        let public = PublicKey::from(signing.verifying_key());
        let digest = Sha256::digest(public.as_sec1());
        Some(Self { signing, public, kid: Base64UrlUnpadded::encode_string(&digest[..12]) })
    }

    /// The database's signing key, made and stored (sealed) on the first start. When two
    /// instances start at once, the first insert wins and both use it.
    pub async fn load_or_create(db: &Db, master: &MasterKey) -> anyhow::Result<Self> {
        // The label of the sealing key stays as it was when this was called the site key.
        let sealing = master.derive("site-key-seal");
        if db.site_value("signing_key").await?.is_none() {
            let secret = loop {
                let secret = Secret32::from_bytes(crate::random()?);
                if Self::from_secret(&secret).is_some() {
                    break secret;
                }
            };
            let sealed = seal::seal(&sealing, SIGNING_KEY, crate::random()?, secret.expose());
            if db.insert_site_value("signing_key", &Base64UrlUnpadded::encode_string(&sealed)).await? {
                tracing::info!("established the server's signing key");
            }
        }
        let stored = db.site_value("signing_key").await?.context("the server signing key vanished")?;
        let sealed =
            Base64UrlUnpadded::decode_vec(&stored).context("the stored server signing key is not base64url")?;
        let secret = seal::open(&sealing, SIGNING_KEY, &sealed)
            .ok()
            .and_then(|bytes| Secret32::from_slice(&bytes))
            .context("cannot open the server signing key: this is not the master key it was sealed with")?;
        Self::from_secret(&secret).context("the stored server signing key is not a P-256 key")
    }

    /// The public key as a JWK with its `kid`, `alg` and `use`.
    pub fn jwk(&self) -> ServerJwk {
        ServerJwk { key: PublicJwk::from(&self.public), kid: self.kid.clone(), alg: "ES256".into(), use_: "sig".into() }
    }

    /// Its key id, as in the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// An ES256 signature (`r‖s`) over `message`: how the server signs what it sends apps
    /// (their webhooks), checked with its JWKS key.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let signature: Signature = self.signing.sign(message);
        signature.to_bytes().into()
    }

    /// Signs an access token for `user` on `device`, valid [`ACCESS_TTL_SECS`] from `now`.
    pub fn issue_access(&self, issuer: &str, user: &str, device: &str, now: i64) -> String {
        let header = Header { alg: "ES256".into(), typ: Some("JWT".into()), kid: Some(self.kid.clone()) };
        let claims = AccessClaims {
            iss: issuer.into(),
            aud: AUDIENCE.into(),
            sub: user.into(),
            dev: device.into(),
            iat: now,
            exp: now + ACCESS_TTL_SECS,
        };
        // Both hold only strings and integers: serialization cannot fail.
        let mut token = Base64UrlUnpadded::encode_string(&serde_json::to_vec(&header).unwrap_or_default());
        token.push('.');
        token.push_str(&Base64UrlUnpadded::encode_string(&serde_json::to_vec(&claims).unwrap_or_default()));
        let signature: Signature = self.signing.sign(token.as_bytes());
        token.push('.');
        token.push_str(&Base64UrlUnpadded::encode_string(&signature.to_bytes()));
        token
    }

    /// Checks an access token: header (`ES256` and this key's `kid`, nothing else), signature,
    /// issuer, audience and times.
    pub fn verify_access(&self, issuer: &str, token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let signed = &token[..header.len() + 1 + claims.len()];
        let header: Header = decode_segment(header)?;
        if header.alg != "ES256" || header.kid.as_deref() != Some(&self.kid) {
            return Err(TokenError::Algorithm);
        }
        let signature = profile_core::ecdsa::Signature::from_base64url(signature).map_err(|_| TokenError::Malformed)?;
        self.public.verify(signed.as_bytes(), &signature).map_err(|_| TokenError::Signature)?;
        let claims: AccessClaims = decode_segment(claims)?;
        if claims.iss != issuer || claims.aud != AUDIENCE {
            return Err(TokenError::Audience);
        }
        if now >= claims.exp || claims.iat > now + SKEW_SECS || claims.exp - claims.iat > ACCESS_TTL_SECS {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

fn decode_segment<T: for<'de> Deserialize<'de>>(segment: &str) -> Result<T, TokenError> {
    let bytes = Base64UrlUnpadded::decode_vec(segment).map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
}

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The device id.
    pub dev: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a well-formed access token")]
    Malformed,
    #[error("the token's algorithm or key is not this server's")]
    Algorithm,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token is for another issuer or audience")]
    Audience,
    #[error("the access token has expired")]
    Expired,
}

/// Access tokens already verified, so a device's repeated requests cost one signature check
/// per token rather than one per request. Bounded: emptied when full. A cached token is still
/// checked for expiry on every use.
#[derive(Debug, Default)]
pub struct VerifiedTokens(std::sync::Mutex<std::collections::HashMap<[u8; 32], AccessClaims>>);

/// Most tokens kept.
const MAX_VERIFIED_TOKENS: usize = 65_536;

impl VerifiedTokens {
    /// [`ServerSigningKey::verify_access`], remembered.
    pub fn verify(
        &self,
        signing: &ServerSigningKey,
        issuer: &str,
        token: &str,
        now: i64,
    ) -> Result<AccessClaims, TokenError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self.0.lock().unwrap_or_else(|p| p.into_inner()).get(&digest).cloned();
        if let Some(claims) = cached {
            return if now < claims.exp { Ok(claims) } else { Err(TokenError::Expired) };
        }
        let claims = signing.verify_access(issuer, token, now)?;
        let mut verified = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= MAX_VERIFIED_TOKENS {
            verified.clear();
        }
        verified.insert(digest, claims.clone());
        Ok(claims)
    }
}

/// What the server signs and checks with.
#[derive(Debug)]
pub struct ServerKeys {
    pub signing: ServerSigningKey,
    /// Makes the stand-in KDF parameters `prelogin` answers for unknown accounts.
    pub decoy_salt: Secret32,
    /// A hash of nothing, checked against when the account is unknown, so that a wrong
    /// address costs the same time as a wrong passphrase.
    pub decoy_hash: String,
    pub verified: VerifiedTokens,
}

impl ServerKeys {
    pub async fn load(db: &Db, master: &MasterKey) -> anyhow::Result<Self> {
        Ok(Self {
            signing: ServerSigningKey::load_or_create(db, master).await?,
            decoy_salt: master.derive("decoy-salt"),
            decoy_hash: tokio::task::spawn_blocking(|| crate::throttle::argon2_hash(&crate::random::<32>()?)).await??,
            verified: VerifiedTokens::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> ServerSigningKey {
        ServerSigningKey::from_secret(&Secret32::from_bytes([byte; 32])).unwrap()
    }

    #[test]
    fn access_tokens_verify_only_as_issued() {
        let (signing_key, iss) = (key(7), "https://p.example");
        let token = signing_key.issue_access(iss, "user-1", "dev-1", 1_000);
        let claims = signing_key.verify_access(iss, &token, 1_000 + ACCESS_TTL_SECS - 1).unwrap();
        assert_eq!((claims.sub.as_str(), claims.dev.as_str(), claims.aud.as_str()), ("user-1", "dev-1", AUDIENCE));

        assert_eq!(signing_key.verify_access(iss, &token, 1_000 + ACCESS_TTL_SECS), Err(TokenError::Expired));
        assert_eq!(signing_key.verify_access("https://other.example", &token, 1_001), Err(TokenError::Audience));
        assert_eq!(key(8).verify_access(iss, &token, 1_001), Err(TokenError::Algorithm), "another key's kid");

        let [header, claims, signature]: [&str; 3] = token.split('.').collect::<Vec<_>>().try_into().unwrap();
        let forge = |header: &serde_json::Value, claims: &str, signature: &str| {
            format!("{}.{claims}.{signature}", Base64UrlUnpadded::encode_string(header.to_string().as_bytes()))
        };
        let none = serde_json::json!({"alg": "none", "kid": signing_key.kid});
        assert_eq!(signing_key.verify_access(iss, &forge(&none, claims, ""), 1_001), Err(TokenError::Algorithm));
        let hs256 = serde_json::json!({"alg": "HS256", "kid": signing_key.kid});
        assert_eq!(
            signing_key.verify_access(iss, &forge(&hs256, claims, signature), 1_001),
            Err(TokenError::Algorithm)
        );

        let mut longer: AccessClaims = serde_json::from_slice(&Base64UrlUnpadded::decode_vec(claims).unwrap()).unwrap();
        longer.exp += 3600;
        let longer = Base64UrlUnpadded::encode_string(&serde_json::to_vec(&longer).unwrap());
        assert_eq!(
            signing_key.verify_access(iss, &format!("{header}.{longer}.{signature}"), 1_001),
            Err(TokenError::Signature)
        );
        for junk in ["", "a.b", "a.b.c.d", "%%%.%%%.%%%"] {
            assert_eq!(signing_key.verify_access(iss, junk, 1_001), Err(TokenError::Malformed), "{junk}");
        }
        assert!(!format!("{signing_key:?}").contains(&format!("{:?}", signing_key.signing.to_bytes())));
    }

    #[test]
    fn remembered_tokens_still_expire_and_forgeries_are_not_remembered() {
        let (signing_key, iss, verified) = (key(7), "https://p.example", VerifiedTokens::default());
        let token = signing_key.issue_access(iss, "user-1", "dev-1", 1_000);
        assert_eq!(verified.verify(&signing_key, iss, &token, 1_001).unwrap().sub, "user-1");
        assert_eq!(verified.verify(&signing_key, iss, &token, 1_002).unwrap().dev, "dev-1", "from the cache");
        assert_eq!(verified.verify(&signing_key, iss, &token, 1_000 + ACCESS_TTL_SECS), Err(TokenError::Expired));
        let forged = format!("{}x", &token[..token.len() - 1]);
        assert!(verified.verify(&signing_key, iss, &forged, 1_001).is_err());
        assert!(verified.verify(&signing_key, iss, &forged, 1_001).is_err(), "a failure is not remembered");
    }

    #[test]
    fn the_master_key_file_is_made_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/master.key");
        let made = MasterKey::load_or_create(&path).unwrap();
        let read = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(made.derive("x"), read.derive("x"));
        assert_ne!(made.derive("x"), made.derive("y"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let error = MasterKey::load_or_create(&path).unwrap_err();
            assert!(error.to_string().contains("readable by others"), "{error}");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::write(&path, "not hex").unwrap();
        assert!(MasterKey::load_or_create(&path).unwrap_err().to_string().contains("does not hold"));
    }

    /// Instances started at once on one data dir (a stress run saw one exit with "File exists"):
    /// one makes the key, every one of them uses it.
    #[test]
    fn instances_starting_at_once_share_one_master_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("master.key");
            let made: Vec<_> = std::thread::scope(|scope| {
                let starts: Vec<_> = (0..8).map(|_| scope.spawn(|| MasterKey::load_or_create(&path))).collect();
                starts.into_iter().map(|start| start.join().unwrap()).collect()
            });
            let first = made[0].as_ref().unwrap().derive("x");
            for key in &made {
                assert_eq!(key.as_ref().map(|key| key.derive("x")).unwrap(), first);
            }
        }
    }
}
