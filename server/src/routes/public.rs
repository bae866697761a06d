//! What anyone may read: liveness, a user's public profile document, and the server's public
//! signing key.

use axum::Json;
use axum::extract::{Path, State};
use profile_core::server_api::{Health, Jwks, ProfileDocument};

use crate::http::{ApiError, AppState};

pub async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.db.ping().await?;
    Ok(Json(Health { status: "ok".into(), database: format!("{:?}", state.db.backend).to_lowercase() }))
}

/// The server's public signing key, for anyone checking what this server signed.
pub async fn jwks(State(state): State<AppState>) -> Json<Jwks> {
    Json(Jwks { keys: vec![state.keys.signing.jwk()] })
}

/// A user's public profile document: what `getProfileUrl` points sites at, with the public
/// part the person published, verbatim ([`super::public_part`]).
pub async fn profile_document(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProfileDocument>, ApiError> {
    if state.db.site_locked_down().await? {
        return Err(ApiError::locked_down());
    }
    match state.db.public_profile(&id).await? {
        Some(profile) if profile.active => Ok(Json(ProfileDocument {
            profile_url: crate::profile_url(&state.settings.public_url, &id),
            profile_id: id,
            api_base: state.settings.public_url.clone(),
            keys: vec![state.keys.signing.jwk()],
            public: profile.public,
        })),
        _ => Err(ApiError::not_found("profile")),
    }
}
