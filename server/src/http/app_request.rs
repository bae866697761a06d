//! An app's signed request: the stamp in `Personal-Profile-App` (base64url of the exact JSON
//! bytes signed, `profile_core::apps::AppStamp`) and its ES256 signature in
//! `Personal-Profile-Signature`, checked against the key the grant was registered with (the
//! key the person's device saw in the app's registration; the server never fetches it).
//!
//! In order: the client's address must not be waiting in the throttle; the stamp names a grant
//! here, its signature verifies with that grant's key, and it names this very request (method,
//! path with query, SHA-256 of the body) at a time within `MAX_STAMP_SKEW` of the server's
//! clock; its nonce was never spent (spent now, in the database, so a replay is refused by
//! whichever instance it reaches). Every failure there is one answer, `401 bad_signature`,
//! counted against the client's address. Then a revoked grant is `403 grant_revoked`, a
//! locked-down profile `403 locked_down` and a locked-down server `503 locked_down`. What the grant allows is the handler's to check.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use profile_core::apps::{AppStamp, MAX_STAMP_SKEW, STAMP_HEADER};
use profile_core::ecdsa::Signature;
use profile_core::server_api::{ApiErrorCode, SIGNATURE_HEADER};

use super::{ApiError, AppState, ClientAddr};
use crate::db::AppGrantRecord;

/// A request an app signed for a live grant, with its body.
#[derive(Debug)]
pub struct AppRequest {
    pub grant: AppGrantRecord,
    pub body: Bytes,
}

fn bad_signature() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ApiErrorCode::BadSignature,
        format!(
            "sign a fresh {} stamp of this exact request (method, path and query, body digest, the current time, a new \
             nonce) with the key your grant was given for, and send it with its signature in {}",
            STAMP_HEADER.to_ascii_lowercase(),
            SIGNATURE_HEADER.to_ascii_lowercase()
        ),
    )
}

impl FromRequest<AppState> for AppRequest {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = request.into_parts();
        let ClientAddr(client) = ClientAddr::from_request_parts(&mut parts, state).await?;
        let subjects = crate::throttle::subjects(client, None);
        state.db.waiting(&subjects).await??;
        let header = |name: &str| parts.headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
        let (stamp, signature) = (header(STAMP_HEADER), header(SIGNATURE_HEADER));
        let method = parts.method.as_str().to_owned();
        let path = parts.uri.path_and_query().map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|rejection| ApiError::new(rejection.status(), ApiErrorCode::TooLarge, rejection.body_text()))?;
        match check(state, stamp, signature, &method, &path, &body).await? {
            Some(grant) if grant.revoked => {
                Err(ApiError::new(StatusCode::FORBIDDEN, ApiErrorCode::GrantRevoked, "this grant was revoked"))
            }
            Some(grant) if grant.site_locked => Err(ApiError::locked_down()),
            Some(grant) if grant.profile_locked => Err(ApiError::profile_locked()),
            Some(grant) => Ok(Self { grant, body }),
            None => {
                // Counted against the address; a refusal to count is the same answer.
                let _ = state.db.claim(&subjects).await?;
                Err(bad_signature())
            }
        }
    }
}

/// The grant of a well-signed, fresh, first-seen stamp of this request; `None` otherwise.
async fn check(
    state: &AppState,
    stamp: Option<String>,
    signature: Option<String>,
    method: &str,
    path: &str,
    body: &[u8],
) -> anyhow::Result<Option<AppGrantRecord>> {
    let (Some(stamp), Some(signature)) = (stamp, signature) else { return Ok(None) };
    let Ok((signed, stamp)) = AppStamp::from_header(&stamp) else { return Ok(None) };
    let Ok(signature) = Signature::from_base64url(signature.trim()) else { return Ok(None) };
    let Some(grant) = state.db.app_grant(&stamp.grant_id).await? else { return Ok(None) };
    let Ok(key) = grant.app_key.to_key() else { return Ok(None) };
    let now = crate::now();
    if key.verify(&signed, &signature).is_err()
        || stamp.matches(method, path, body, u64::try_from(now).unwrap_or(0)).is_err()
    {
        return Ok(None);
    }
    // Kept until the stamp is stale whichever way the clocks differ, and longer.
    let expires_at = i64::try_from(stamp.issued_at).unwrap_or(i64::MAX).saturating_add(2 * MAX_STAMP_SKEW as i64);
    let expires_at = expires_at.max(now + 2 * MAX_STAMP_SKEW as i64);
    if !state.db.spend_nonce(grant.id.as_str(), &stamp.nonce, expires_at).await? {
        return Ok(None);
    }
    Ok(Some(grant))
}
