//! `profile-rp`: what a site's server needs to accept Personal Profile sign-ups and logins, and
//! what an app's server needs to use the grants people give it.
//!
//! A page calls `window.profile.signUp({challenge, accountGuid})` or
//! `window.profile.login({challenge})`; the person confirms in their browser; the page posts the
//! answer to the site's server, which checks it here. [`RelyingParty`] issues challenges
//! (32 random bytes, single use, valid [`CHALLENGE_TTL`]) and verifies answers with
//! `profile-core`'s one verifier: the assertion's type, the site's exact origin, the challenge,
//! the account, the P-256 signature, its age, and a counter that must rise at every login. It
//! keeps accounts (their public keys and counters) through the small [`AccountStore`] trait;
//! [`MemoryStore`] is the in-memory one.
//!
//! ```no_run
//! use profile_rp::{MemoryStore, RelyingParty};
//! use profile_rp::wire::{LoginResult, SignUpResult};
//!
//! # async fn example(sign_up: SignUpResult, login: LoginResult) -> Result<(), profile_rp::RpError> {
//! let rp = RelyingParty::new("https://shop.example".parse()?, MemoryStore::default());
//!
//! // Sign-up: give the page a challenge (remember it with the visitor's session)…
//! let challenge = rp.challenge()?;
//! // …the page calls signUp({challenge, accountGuid}) and posts the answer back:
//! let account = rp.verify_sign_up(&challenge, &sign_up).await?;
//! println!("welcome, {}", account.account_guid);
//!
//! // Login, the same way:
//! let challenge = rp.challenge()?;
//! let account = rp.verify_login(&challenge, &login).await?;
//! println!("logged in as {} (login #{})", account.account_guid, account.counter);
//! # Ok(())
//! # }
//! ```
//!
//! Every refusal is an [`RpError`] saying what was wrong; none of them is worth a retry with the
//! same answer, which a site should treat as an attack or a stale page.
//!
//! [`SiteKey`] is the site's own key: publish [`SiteKey::registration`] at
//! `/.well-known/personal-profile` (the consent window shows its name beside your origin) and
//! sign questions to people's profile servers with [`SiteKey::account_check`]. [`public`] reads
//! what a person published at their profile URL (`public::PublicFetcher::fetch_public`), checked
//! against that URL and their key. The README has the page's side; `examples/shop.rs` is a
//! complete site on axum.
//!
//! [`apps`] is an app's server side: the keys it publishes (one to sign with, one what people
//! grant it is sealed to), a client per grant (its share, appends, webhook and event socket, each
//! request signed) and the webhook verifier; `examples/till.rs` and `examples/delivery.rs` are
//! complete apps.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use profile_core::wire;
pub use profile_core::{
    AccountGuid, AssertionError, AssertionType, Challenge, DeviceId, Origin, OriginError, PublicJwk, Secret32,
};
use serde::{Deserialize, Serialize};

pub mod apps;
mod outward;
pub mod public;

/// Random bytes in a challenge.
pub const CHALLENGE_BYTES: usize = 32;
/// How long a challenge may be answered.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(300);
/// Most challenges outstanding at once; the oldest are dropped beyond it.
const MAX_OUTSTANDING: usize = 100_000;

/// Why an answer was refused.
#[derive(Debug, thiserror::Error)]
pub enum RpError {
    #[error("the challenge is unknown, answered already, or expired")]
    Challenge,
    #[error(transparent)]
    Assertion(#[from] AssertionError),
    #[error("the answer's device id is not the one its assertion signed")]
    Device,
    #[error("no account {0} here")]
    UnknownAccount(AccountGuid),
    #[error("account {0} exists already")]
    AccountTaken(AccountGuid),
    #[error("this login was accepted already (its counter did not rise)")]
    Replayed,
    #[error("not an origin: {0}")]
    Origin(#[from] OriginError),
    #[error("the system random number generator failed")]
    Random,
    #[error("account store: {0}")]
    Store(Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot read the profile document: {0}")]
    Fetch(String),
    #[error(transparent)]
    Public(#[from] profile_core::public::PublicError),
    #[error("the profile's public part is signed by another key than the one seen before")]
    PublicKeyChanged,
    #[error("the profile's public part (issued at {issued_at}) is older than the one seen before ({seen})")]
    PublicOlder { issued_at: u64, seen: u64 },
}

/// An account as a site keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub account_guid: AccountGuid,
    /// The login key's public half, from sign-up.
    pub public_key: PublicJwk,
    /// The person's device id for this site at sign-up (pairwise: no other site sees it).
    pub device_id: DeviceId,
    /// The person's profile URL, when their host is paired with a profile server.
    pub profile_url: Option<String>,
    /// The counter of the last accepted assertion.
    pub counter: u64,
    /// Unix seconds.
    pub created_at: u64,
}

/// Where a site keeps accounts. Implementations must make [`AccountStore::raise_counter`]
/// atomic (compare and set), so that one login answer is accepted once even when presented
/// twice at the same moment.
pub trait AccountStore: Send + Sync {
    type Error: std::error::Error + Send + Sync + 'static;

    fn find(&self, guid: &AccountGuid) -> impl Future<Output = Result<Option<Account>, Self::Error>> + Send;

    /// Stores a new account; `false` when the guid is taken.
    fn insert(&self, account: Account) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Sets the account's counter to `counter` if that is above the stored one; `false`
    /// otherwise (or when there is no such account).
    fn raise_counter(&self, guid: &AccountGuid, counter: u64)
    -> impl Future<Output = Result<bool, Self::Error>> + Send;
}

/// Accounts in memory (tests, demos, a single process that may forget them).
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<HashMap<AccountGuid, Account>>);

impl AccountStore for MemoryStore {
    type Error = std::convert::Infallible;

    async fn find(&self, guid: &AccountGuid) -> Result<Option<Account>, Self::Error> {
        Ok(self.0.lock().unwrap_or_else(|p| p.into_inner()).get(guid).cloned())
    }

    async fn insert(&self, account: Account) -> Result<bool, Self::Error> {
        let mut accounts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if accounts.contains_key(&account.account_guid) {
            return Ok(false);
        }
        accounts.insert(account.account_guid.clone(), account);
        Ok(true)
    }

    async fn raise_counter(&self, guid: &AccountGuid, counter: u64) -> Result<bool, Self::Error> {
        let mut accounts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match accounts.get_mut(guid) {
            Some(account) if counter > account.counter => {
                account.counter = counter;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Challenges handed out and not yet answered.
#[derive(Debug)]
struct Challenges {
    ttl: Duration,
    issued: Mutex<HashMap<Challenge, Instant>>,
}

impl Challenges {
    fn issue(&self) -> Result<Challenge, RpError> {
        let mut bytes = [0u8; CHALLENGE_BYTES];
        getrandom::fill(&mut bytes).map_err(|_| RpError::Random)?;
        let challenge = Challenge::from_random(&bytes).map_err(|_| RpError::Random)?;
        let now = Instant::now();
        let mut issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        issued.retain(|_, at| now.duration_since(*at) < self.ttl);
        if issued.len() >= MAX_OUTSTANDING
            && let Some(oldest) = issued.iter().min_by_key(|(_, at)| **at).map(|(c, _)| c.clone())
        {
            issued.remove(&oldest);
        }
        issued.insert(challenge.clone(), now);
        Ok(challenge)
    }

    /// Spends a challenge: true once, for one that was issued and has not expired.
    fn take(&self, challenge: &Challenge) -> bool {
        let issued = self.issued.lock().unwrap_or_else(|p| p.into_inner()).remove(challenge);
        issued.is_some_and(|at| at.elapsed() < self.ttl)
    }
}

/// A site's side of Personal Profile: its origin, its challenges and its accounts.
#[derive(Debug)]
pub struct RelyingParty<S> {
    origin: Origin,
    challenges: Challenges,
    store: S,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl<S: AccountStore> RelyingParty<S> {
    /// A relying party for the site at `origin` (exactly as the browser shows it:
    /// `https://shop.example`, with a port when not the default).
    pub fn new(origin: Origin, store: S) -> Self {
        Self::with_challenge_ttl(origin, store, CHALLENGE_TTL)
    }

    /// As [`RelyingParty::new`], with challenges valid for `ttl` (at most [`CHALLENGE_TTL`]).
    pub fn with_challenge_ttl(origin: Origin, store: S, ttl: Duration) -> Self {
        Self { origin, challenges: Challenges { ttl: ttl.min(CHALLENGE_TTL), issued: Mutex::default() }, store }
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// A fresh single-use challenge for the page to pass to `signUp` or `login`.
    pub fn challenge(&self) -> Result<Challenge, RpError> {
        self.challenges.issue()
    }

    /// Checks a `signUp` answer to `challenge` and stores the new account.
    pub async fn verify_sign_up(&self, challenge: &Challenge, answer: &wire::SignUpResult) -> Result<Account, RpError> {
        if !self.challenges.take(challenge) {
            return Err(RpError::Challenge);
        }
        let key = answer.public_key.to_key()?;
        let data = profile_core::verify(
            &key,
            &answer.assertion,
            &self.expected(AssertionType::SignUp, challenge, &answer.account_guid, None),
        )?;
        if data.device_id != answer.device_id {
            return Err(RpError::Device);
        }
        let account = Account {
            account_guid: answer.account_guid.clone(),
            public_key: answer.public_key.clone(),
            device_id: data.device_id,
            profile_url: answer.profile_url.clone(),
            counter: data.counter,
            created_at: now(),
        };
        match self.store.insert(account.clone()).await {
            Ok(true) => Ok(account),
            Ok(false) => Err(RpError::AccountTaken(account.account_guid)),
            Err(e) => Err(RpError::Store(Box::new(e))),
        }
    }

    /// Checks a `login` answer to `challenge` against the stored account and raises its counter.
    pub async fn verify_login(&self, challenge: &Challenge, answer: &wire::LoginResult) -> Result<Account, RpError> {
        if !self.challenges.take(challenge) {
            return Err(RpError::Challenge);
        }
        let guid = &answer.account_guid;
        let mut account = match self.store.find(guid).await {
            Ok(Some(account)) => account,
            Ok(None) => return Err(RpError::UnknownAccount(guid.clone())),
            Err(e) => return Err(RpError::Store(Box::new(e))),
        };
        let key = account.public_key.to_key()?;
        let expected = self.expected(AssertionType::Login, challenge, guid, Some(account.counter));
        let data = profile_core::verify(&key, &answer.assertion, &expected)?;
        match self.store.raise_counter(guid, data.counter).await {
            Ok(true) => {
                account.counter = data.counter;
                Ok(account)
            }
            Ok(false) => Err(RpError::Replayed),
            Err(e) => Err(RpError::Store(Box::new(e))),
        }
    }

    fn expected<'a>(
        &'a self,
        kind: AssertionType,
        challenge: &'a Challenge,
        account_guid: &'a AccountGuid,
        last_counter: Option<u64>,
    ) -> profile_core::Expected<'a> {
        profile_core::Expected {
            kind,
            origin: &self.origin,
            challenge,
            account_guid,
            last_counter,
            now: now(),
            max_age: CHALLENGE_TTL.as_secs(),
        }
    }
}

/// The site's own key, published in its registration (`/.well-known/personal-profile`), with
/// which it signs questions to people's profile servers. Keep its secret like a TLS key.
pub struct SiteKey(p256::ecdsa::SigningKey);

impl std::fmt::Debug for SiteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SiteKey(..)")
    }
}

/// The header a signed site-to-server request carries its signature in.
pub const SIGNATURE_HEADER: &str = "Personal-Profile-Signature";

/// A request body and its signature, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The exact JSON bytes that were signed: send them unchanged.
    pub body: String,
    /// For the [`SIGNATURE_HEADER`] header: base64url of the ES256 signature (`r‖s`).
    pub signature: String,
}

impl SiteKey {
    /// A new random key.
    pub fn generate() -> Result<Self, RpError> {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|_| RpError::Random)?;
            let key = p256::ecdsa::SigningKey::from_slice(&bytes);
            zeroize::Zeroize::zeroize(&mut bytes);
            if let Ok(key) = key {
                return Ok(Self(key));
            }
        }
    }

    /// The key from 32 stored secret bytes; `None` if they are not a P-256 scalar.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        p256::ecdsa::SigningKey::from_slice(bytes).ok().map(Self)
    }

    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk::from_key(self.0.verifying_key())
    }

    /// The site's registration document, for `/.well-known/personal-profile`: what the
    /// consent window shows beside the origin, and the key profile servers check.
    pub fn registration(&self, app_id: &str, name: &str) -> serde_json::Value {
        serde_json::json!({"appId": app_id, "name": name, "publicKey": self.public_jwk()})
    }

    /// Asks a person's profile server (`POST {apiBase}/api/v1/sites/account-check`) whether
    /// `account_guid` at `origin` is still a live account there; the answer is
    /// `{"valid": bool}`.
    pub fn account_check(&self, origin: &Origin, account_guid: &AccountGuid) -> SignedRequest {
        let body = serde_json::json!({"origin": origin, "accountGuid": account_guid, "issuedAt": now()}).to_string();
        let signature = self.sign(body.as_bytes());
        SignedRequest { body, signature }
    }

    /// base64url of the ES256 signature (`r‖s`) over `bytes`, for [`SIGNATURE_HEADER`].
    pub(crate) fn sign(&self, bytes: &[u8]) -> String {
        base64url(&self.sign_bytes(bytes))
    }

    /// The ES256 signature (`r‖s`) over `bytes`.
    pub(crate) fn sign_bytes(&self, bytes: &[u8]) -> [u8; 64] {
        use p256::ecdsa::signature::Signer;
        let signature: p256::ecdsa::Signature = self.0.sign(bytes);
        signature.to_bytes().into()
    }
}

fn base64url(bytes: &[u8]) -> String {
    use base64ct::Encoding;
    base64ct::Base64UrlUnpadded::encode_string(bytes)
}

#[cfg(test)]
mod tests;
