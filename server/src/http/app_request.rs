//! An app's signed request: the stamp in `Personal-Profile-App` (base64url of the exact JSON
//! bytes signed, `profile_core::apps::AppStamp`) and its ES256 signature in
//! `Personal-Profile-Signature`, checked against the key the grant was registered with (the
//! key the person's device saw in the app's registration; the server never fetches it).
//!
//! In order: the client's address must not be waiting in the throttle; the stamp names a grant
//! here (one not held, never made or revoked and forgotten, is `403 grant_revoked`, not
//! counted: there is no key to check and nothing to guess), its signature verifies with that
//! grant's key, and it names this very request (method, path with query, SHA-256 of the body)
//! at a time within `MAX_STAMP_SKEW` of the server's clock; the grant has requests left on this
//! instance (`429 rate_limited` otherwise, see [`crate::throttle::GrantRate`]); its nonce was
//! never spent (spent now, in the database, so a replay is refused by whichever instance it
//! reaches). Every other failure there is one answer, `401 bad_signature`, counted against the
//! client's address. Then a revoked grant is `403 grant_revoked`, a locked-down profile `403
//! locked_down` and a locked-down server `503 locked_down`. What the grant allows is the
//! handler's to check.

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
            Checked::TooMany(secs) => Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ApiErrorCode::RateLimited,
                "this grant made more requests than it may for now; wait and try again",
            )
            .retry_after(secs)),
            Checked::Good(grant) => Self::live(grant, body),
            // Never made, or revoked and forgotten since: nothing to check a signature with,
            // and nothing to guess; an app told its grant is gone stops, as when revoked.
            Checked::Unknown => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ApiErrorCode::GrantRevoked,
                "this grant was revoked (or never made here)",
            )),
            Checked::Bad => {
                // Counted against the address; a refusal to count is the same answer.
                let _ = state.db.claim(&subjects).await?;
                Err(bad_signature())
            }
        }
    }
}

impl AppRequest {
    /// A well-signed request of `grant`, refused when the grant or the profile cannot serve it.
    fn live(grant: AppGrantRecord, body: Bytes) -> Result<Self, ApiError> {
        if grant.revoked {
            return Err(ApiError::grant_revoked());
        }
        if grant.site_locked {
            return Err(ApiError::locked_down());
        }
        if grant.profile_locked {
            return Err(ApiError::profile_locked());
        }
        Ok(Self { grant, body })
    }
}

/// What the signature, stamp, rate and nonce checks found.
enum Checked {
    Good(AppGrantRecord),
    /// Well signed, but the grant's requests are spent for now: wait this many seconds.
    TooMany(i64),
    /// A stamp of a grant this server does not hold.
    Unknown,
    Bad,
}

/// The grant of a well-signed, fresh stamp of this request, within the grant's rate, whose nonce
/// was never spent (and is spent now).
async fn check(
    state: &AppState,
    stamp: Option<String>,
    signature: Option<String>,
    method: &str,
    path: &str,
    body: &[u8],
) -> anyhow::Result<Checked> {
    let (Some(stamp), Some(signature)) = (stamp, signature) else { return Ok(Checked::Bad) };
    let Ok((signed, stamp)) = AppStamp::from_header(&stamp) else { return Ok(Checked::Bad) };
    let Ok(signature) = Signature::from_base64url(signature.trim()) else { return Ok(Checked::Bad) };
    let Some(grant) = state.db.app_grant(&stamp.grant_id).await? else { return Ok(Checked::Unknown) };
    let Ok(key) = grant.app_key.to_key() else { return Ok(Checked::Bad) };
    let now = crate::now();
    if key.verify(&signed, &signature).is_err()
        || stamp.matches(method, path, body, u64::try_from(now).unwrap_or(0)).is_err()
    {
        return Ok(Checked::Bad);
    }
    if let Err(secs) = state.app_rate.take(grant.id.as_str()) {
        return Ok(Checked::TooMany(secs));
    }
    // Kept until the stamp is stale whichever way the clocks differ, and longer.
    let expires_at = i64::try_from(stamp.issued_at).unwrap_or(i64::MAX).saturating_add(2 * MAX_STAMP_SKEW as i64);
    let expires_at = expires_at.max(now + 2 * MAX_STAMP_SKEW as i64);
    if !state.db.spend_nonce(grant.id.as_str(), &stamp.nonce, expires_at).await? {
        return Ok(Checked::Bad);
    }
    Ok(Checked::Good(grant))
}
