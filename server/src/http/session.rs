//! A device's session: the bearer access token on every request, then a live device of an
//! active user.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::db::Standing;

/// A request made with a valid access token of a live device.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub device: String,
    /// When the access token expires (Unix seconds).
    pub expires_at: i64,
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("send `Authorization: Bearer ACCESS_TOKEN`"))?;
        let keys = &state.keys;
        let claims = (keys.verified.verify(&keys.signing, &state.settings.public_url, token.trim(), crate::now()))
            .map_err(|e| ApiError::unauthorized(e.to_string()))?;
        // One query per request: the server's lockdown, the device's owner and the owner's lockdown.
        match state.db.standing(&claims.dev).await? {
            Standing::Live(user) if user == claims.sub => Ok(Self { user, device: claims.dev, expires_at: claims.exp }),
            Standing::ProfileLocked(user) if user == claims.sub => Err(ApiError::profile_locked()),
            Standing::SiteLocked => Err(ApiError::locked_down()),
            _ => Err(ApiError::unauthorized("this device was signed out")),
        }
    }
}
