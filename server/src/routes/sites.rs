//! Site-to-server requests, signed with the key a site publishes in its registration
//! (`ORIGIN/.well-known/personal-profile`, member `publicKey`, a P-256 JWK), which
//! [`crate::services::site_keys`] fetches.
//!
//! `POST /api/v1/sites/account-check` with the JSON body `{origin, accountGuid, issuedAt}` and
//! the header `Personal-Profile-Signature`: base64url of the ES256 signature (`r‖s`) over the
//! exact body bytes. The answer is `{"valid": true|false}`: whether a person on this server
//! holds that account at that origin and is not locked down. Nothing else is revealed.
//!
//! **What is fetched.** For every fresh, signed request the server fetches the origin's
//! registration (or uses the one it remembers), whether or not anyone here has an account at
//! that origin, and only then looks the account up: the work, and so the answer's timing, is
//! the same either way. The fetch is a GET of that one path, with a short timeout, no redirects,
//! no proxy and a size cap, and it connects only to globally routable addresses: every address
//! the origin's name resolves to is checked as it is connected to (`OutwardOnly`, ureq's
//! resolver seam), so neither an address literal in any spelling (`[::ffff:127.0.0.1]`) nor a
//! name that resolves inward reaches this machine or its network. `sites_on_loopback`
//! (development) allows loopback addresses as well. Keys are remembered for a few minutes; a
//! signature the remembered key does not verify makes the server fetch the key again, at most
//! every 30 seconds per site, so a site that rotates its key is answered at once. A bad, stale
//! or unverifiable request gets one answer, `401 bad_signature`, and counts against the
//! caller's address in the throttle, which bounds how many fetches one address can cause.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use profile_core::ecdsa::{PublicKey, Signature};
use profile_core::server_api::{AccountCheck, AccountCheckAnswer, ApiErrorCode, SIGNATURE_HEADER};

use crate::http::{ApiError, AppState, ClientAddr};
use crate::services::site_keys::{KEY_TTL, REFETCH_AFTER};

/// How far `issuedAt` may be from the server's clock.
const MAX_SKEW_SECS: i64 = 300;

/// Answers a site's signed question about one of its accounts.
pub async fn account_check(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<AccountCheckAnswer>, ApiError> {
    let check: AccountCheck = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ApiErrorCode::InvalidRequest, e.to_string()))?;
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| Signature::from_base64url(text.trim()).ok());
    let fresh = check.issued_at.abs_diff(crate::now()) <= MAX_SKEW_SECS.unsigned_abs();
    let verified = state
        .db
        .attempt::<_, _, ApiError>(&crate::throttle::subjects(client, None), async {
            // Fetched for every fresh, signed request, known origin or not: nothing here
            // depends on whether anyone has an account at the origin.
            let Some(signature) = signature.filter(|_| fresh) else { return Ok(Err(())) };
            let verifies = |key: Option<PublicKey>| key.is_some_and(|key| key.verify(&body, &signature).is_ok());
            // A site that rotated its key is fetched again, but not at every bad signature.
            let verified = verifies(state.site_keys.get(&check.origin, KEY_TTL).await?)
                || verifies(state.site_keys.get(&check.origin, REFETCH_AFTER).await?);
            Ok(if verified { Ok(()) } else { Err(()) })
        })
        .await?;
    if verified.is_err() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ApiErrorCode::BadSignature,
            format!(
                "sign the exact body with the key in your /.well-known/personal-profile, put it in \
                 {}, and send the current time as issuedAt",
                SIGNATURE_HEADER.to_ascii_lowercase()
            ),
        ));
    }
    let valid = state.db.account_is_held(&check.origin, &check.account_guid).await?;
    Ok(Json(AccountCheckAnswer { valid: valid && !state.db.site_locked_down().await? }))
}
