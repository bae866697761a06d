//! Checking a credential a person presents: the auth key their passphrase derives, or the one
//! their paper key derives. Unknown users cost the same work as known ones.

use profile_core::Secret32;
use subtle::ConstantTimeEq;

use crate::db::{Db, normalize_email};
use crate::keys::ServerKeys;
use crate::throttle::{Busy, SlowHashes};

/// What proves a person holds a credential.
#[derive(Debug)]
pub enum Proof {
    AuthKey(Secret32),
    PaperAuth(Secret32),
}

/// How a paper key's auth key is stored and compared.
pub fn paper_verifier(paper_auth: &Secret32) -> String {
    use sha2::Digest;
    <base64ct::Base64UrlUnpadded as base64ct::Encoding>::encode_string(&sha2::Sha256::digest(paper_auth.expose()))
}

/// Whether `proof` (and `email`, when given) are right for `user_id`. Unknown users cost the
/// same work as known ones. An auth key is checked with Argon2id, under [`SlowHashes`]' bound:
/// [`Busy`] when no permit is free. Run it inside a throttled attempt.
pub async fn check_proof(
    db: &Db,
    hashes: &SlowHashes,
    keys: &ServerKeys,
    user_id: &str,
    email: Option<&str>,
    proof: Proof,
) -> anyhow::Result<Result<bool, Busy>> {
    let stored = db.credentials_of(user_id).await?;
    let email_matches = match (&stored, email) {
        (Some(stored), Some(email)) => stored.email == normalize_email(email),
        (Some(_), None) => true,
        (None, _) => false,
    };
    let proof_matches = match proof {
        Proof::AuthKey(auth_key) => {
            let hash = stored.as_ref().map_or(&keys.decoy_hash, |s| &s.auth_hash).clone();
            match hashes.verify(auth_key, hash).await? {
                Ok(matches) => matches,
                Err(busy) => return Ok(Err(busy)),
            }
        }
        Proof::PaperAuth(paper_auth) => {
            let expected = stored.as_ref().and_then(|s| s.paper_verifier.clone());
            let presented = paper_verifier(&paper_auth);
            let against = expected.clone().unwrap_or_else(|| presented.chars().rev().collect());
            bool::from(presented.as_bytes().ct_eq(against.as_bytes())) && expected.is_some()
        }
    };
    Ok(Ok(email_matches && proof_matches))
}
