//! A profile's devices: listed, and signed out.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use profile_core::server_api::DeviceList;

use crate::http::{ApiError, AppState, Session};
use crate::services::events::Event;

/// The user's devices, newest first.
pub async fn list(State(state): State<AppState>, session: Session) -> Result<Json<DeviceList>, ApiError> {
    Ok(Json(DeviceList { devices: state.db.devices(&session.user, &session.device).await? }))
}

/// Signs a device out: its tokens stop working and its push socket closes.
pub async fn revoke(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.db.revoke_device(&session.user, &id).await? {
        return Err(ApiError::not_found("device"));
    }
    state.events.publish(&state.db, &Event::device_revoked(&session.user, &id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
