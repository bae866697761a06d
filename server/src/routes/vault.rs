//! The vault: one end-to-end encrypted blob per user with a write counter.
//!
//! A write names the counter it was based on; the server stores it as the next counter only
//! when that is still the current one, in one conditional `UPDATE`, and otherwise answers
//! `409 conflict` with the current counter, so two devices writing at once never overwrite
//! each other silently. The server cannot open a vault, wrap or unwrap a key, or tell one
//! vault's contents from another's: it checks only that a blob has the sealed format.

use axum::Json;
use axum::extract::State;
use profile_core::server_api::{Vault, VaultWrite, VaultWritten};

use crate::http::{ApiError, AppState, Body, MAX_VAULT_BYTES, Session, check_sealed};
use crate::services::events::Event;

/// The vault, its KDF parameters and the wrapped data keys.
pub async fn read(State(state): State<AppState>, session: Session) -> Result<Json<Vault>, ApiError> {
    let vault = state.db.vault(&session.user).await?;
    let credentials = state.db.wrapped_keys(&session.user).await?;
    Ok(Json(Vault {
        profile_id: session.user,
        counter: vault.counter,
        blob: vault.blob,
        kdf: serde_json::from_str(&vault.kdf)?,
        credentials,
    }))
}

/// Stores the next version of the vault, or answers 409 with the current counter.
pub async fn write(
    State(state): State<AppState>,
    session: Session,
    Body(request): Body<VaultWrite>,
) -> Result<Json<VaultWritten>, ApiError> {
    check_sealed("blob", &request.blob.0, MAX_VAULT_BYTES)?;
    match state.db.write_vault(&session.user, request.counter, &request.blob.0).await? {
        Ok(head) => {
            state.events.publish(&state.db, &Event::vault_changed(&session.user, head)).await?;
            Ok(Json(VaultWritten { counter: head.counter }))
        }
        Err(current) => Err(ApiError::conflict(
            current,
            format!("the vault is at counter {current}, not {}: read it, merge, and write again", request.counter),
        )),
    }
}
