//! The accounts registry: per user and site origin, the account the person holds there (its
//! `accountGuid`, the site's app id, the login public key, what the site may get without
//! asking, and dates). A lookup by origin also returns the person's other accounts with the
//! same app, so a device can offer the login the person already has.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use profile_core::Origin;
use profile_core::server_api::{Account, AccountList, AccountRef, AccountRegistration, AccountsQuery};

use crate::http::{ApiError, AppState, Body, Session};
use crate::services::events::Event;

/// All the person's accounts, or the one at `?origin=` and those with the same app.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(lookup): Query<AccountsQuery>,
) -> Result<Json<AccountList>, ApiError> {
    let Some(origin) = lookup.origin else {
        return Ok(Json(AccountList { accounts: state.db.accounts(&session.user).await?, same_app: None }));
    };
    let origin = Origin::parse(&origin).map_err(|e| ApiError::invalid(format!("origin: {e}")))?;
    let found = state.db.account_at(&session.user, &origin).await?;
    let same_app = match found.as_ref().and_then(|a| a.app_id.as_ref()) {
        Some(app_id) => state.db.accounts_with_app(&session.user, app_id, &origin).await?,
        None => Vec::new(),
    };
    Ok(Json(AccountList { accounts: found.into_iter().collect(), same_app: Some(same_app) }))
}

/// Records (or replaces) the account at an origin and tells the person's other devices.
pub async fn register(
    State(state): State<AppState>,
    session: Session,
    Body(request): Body<AccountRegistration>,
) -> Result<Json<Account>, ApiError> {
    if !request.origin.is_web() {
        return Err(ApiError::invalid("origin must be an https origin (or http on loopback)"));
    }
    request.public_key.to_key().map_err(|e| ApiError::invalid(format!("publicKey: {e}")))?;
    let stored = state.db.register_account(&session.user, &request).await?;
    state.events.publish(&state.db, &Event::account_added(&session.user, &stored.origin)).await?;
    Ok(Json(stored))
}

/// Forgets the account the person removed from their profile (404 when there is none, which a
/// device takes as done).
pub async fn remove(
    State(state): State<AppState>,
    session: Session,
    Query(removal): Query<AccountRef>,
) -> Result<StatusCode, ApiError> {
    if !state.db.remove_account(&session.user, &removal).await? {
        return Err(ApiError::not_found("account"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Records the time of a login (a device tells it after signing the assertion).
pub async fn logged_in(
    State(state): State<AppState>,
    session: Session,
    Body(request): Body<AccountRef>,
) -> Result<StatusCode, ApiError> {
    if !state.db.record_account_login(&session.user, &request).await? {
        return Err(ApiError::not_found("account"));
    }
    Ok(StatusCode::NO_CONTENT)
}
