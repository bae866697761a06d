//! The public part of a profile: fields the person chose to publish in their profile document
//! (`GET /u/{id}`, [`super::public`]), signed by their devices with the profile's own key. The
//! server checks the signature, that it names this user's profile URL and its size, and stores
//! it verbatim; it cannot change what it says. Nothing is published until a device puts one.

use axum::extract::State;
use axum::http::StatusCode;
use profile_core::public::{PublicError, PublicPart, verify_public};

use crate::http::{ApiError, AppState, Body, Session};

/// How far in the future a part's `issuedAt` may be (clock skew).
const MAX_SKEW_SECS: i64 = 300;

/// Publishes the part in place of the last one.
pub async fn put(
    State(state): State<AppState>,
    session: Session,
    Body(part): Body<PublicPart>,
) -> Result<StatusCode, ApiError> {
    let profile_url = crate::profile_url(&state.settings.public_url, &session.user);
    let payload = verify_public(&part, &profile_url).map_err(|e| match e {
        PublicError::TooLarge(_) => ApiError::too_large(e.to_string()),
        _ => ApiError::invalid(e.to_string()),
    })?;
    if i64::try_from(payload.issued_at).unwrap_or(i64::MAX) > crate::now() + MAX_SKEW_SECS {
        return Err(ApiError::invalid("the public part's issuedAt is in the future: check the device's clock"));
    }
    state.db.set_public_part(&session.user, &part).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Publishes nothing any more.
pub async fn remove(State(state): State<AppState>, session: Session) -> Result<StatusCode, ApiError> {
    state.db.remove_public_part(&session.user).await?;
    Ok(StatusCode::NO_CONTENT)
}
