//! The credentials that each hold the data key wrapped: the passphrase (and its change, which
//! can rotate the data key) and the paper key. Every change is proved by a credential held
//! now, checked like a login.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use profile_core::server_api::{CurrentProof, PaperKeySet, PassphraseChange, VaultWritten};

use crate::db::{NewPassphrase, PassphraseChanged};
use crate::http::{
    ApiError, AppState, Body, ClientAddr, MAX_VAULT_BYTES, Session, WRAPPED_KEY_BYTES, check_sealed, check_wrapped_key,
};
use crate::services::credentials::{Proof, check_proof, paper_verifier};
use crate::services::events::Event;

/// Checks the proof, throttled like a login.
async fn require_proof(
    state: &AppState,
    session: &Session,
    client: std::net::IpAddr,
    proof: CurrentProof,
) -> Result<(), ApiError> {
    let proof = match (proof.current_auth_key, proof.paper_auth) {
        (Some(key), None) => Proof::AuthKey(key),
        (None, Some(key)) => Proof::PaperAuth(key),
        _ => return Err(ApiError::invalid("give exactly one of currentAuthKey and paperAuth")),
    };
    let subjects = crate::throttle::subjects(client, Some(&session.user));
    let checked = state
        .db
        .attempt(&subjects, async {
            let matches = check_proof(&state.db, &state.hashes, &state.keys, &session.user, None, proof).await??;
            Ok::<_, ApiError>(matches.then_some(()).ok_or(()))
        })
        .await?;
    if checked.is_err() {
        return Err(ApiError::auth_failed());
    }
    state.db.clear_failures(&session.user).await?;
    Ok(())
}

/// Sets a new passphrase (proved by the current one or the paper key): new KDF parameters, a
/// hash of the new auth key, and the data key re-wrapped. Every other device of the user is
/// signed out (told on its push socket) unless `keepDevices` is true. With `rotate`, the data
/// key is replaced too: the vault is stored under the new key as the next counter (a stale
/// counter gets `409 conflict`, changing nothing), and the answer is `200 {"counter"}`;
/// otherwise the vault is untouched and the answer is 204.
pub async fn change_passphrase(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    session: Session,
    Body(request): Body<PassphraseChange>,
) -> Result<Response, ApiError> {
    request.kdf.check().map_err(|e| ApiError::invalid(e.to_string()))?;
    check_wrapped_key(&request.wrapped_key.0)?;
    if let Some(rotate) = &request.rotate {
        if request.keep_devices {
            return Err(ApiError::invalid(
                "rotate signs the other devices out (they hold the old data key): it cannot keepDevices",
            ));
        }
        check_sealed("rotate.blob", &rotate.blob.0, MAX_VAULT_BYTES)?;
        if let Some(wrapped) = &rotate.paper_wrapped_key {
            check_wrapped_key(&wrapped.0).map_err(|_| {
                ApiError::invalid(format!("rotate.paperWrappedKey must be a sealed key of {WRAPPED_KEY_BYTES} bytes"))
            })?;
        }
    }
    require_proof(&state, &session, client, request.proof).await?;
    let auth_hash = state.hashes.hash(request.auth_key).await??;
    let change = NewPassphrase {
        user: &session.user,
        device: &session.device,
        kdf_json: serde_json::to_string(&request.kdf)?,
        auth_hash,
        wrapped_key: &request.wrapped_key.0,
        keep_devices: request.keep_devices,
        rotate: request.rotate.as_ref(),
    };
    let (revoked, rotated) = match state.db.change_passphrase(&change).await? {
        PassphraseChanged::Done { revoked, rotated } => (revoked, rotated),
        PassphraseChanged::Conflict(current) => {
            return Err(ApiError::conflict(
                current,
                format!("the vault is at counter {current}: read it, seal it under the new key, and try again"),
            ));
        }
        PassphraseChanged::PaperMismatch { has_paper: true } => {
            return Err(ApiError::invalid(
                "this profile has a paper key: rotate.paperWrappedKey must carry the new data key wrapped under it",
            ));
        }
        PassphraseChanged::PaperMismatch { has_paper: false } => {
            return Err(ApiError::invalid("this profile has no paper key: leave rotate.paperWrappedKey out"));
        }
    };
    for device in &revoked {
        state.events.publish(&state.db, &Event::device_revoked(&session.user, device)).await?;
    }
    tracing::info!(
        device = %session.device,
        signed_out = revoked.len(),
        rotated = rotated.is_some(),
        "the passphrase was changed"
    );
    Ok(match rotated {
        Some(head) => {
            state.events.publish(&state.db, &Event::vault_changed(&session.user, head)).await?;
            Json(VaultWritten { counter: head.counter }).into_response()
        }
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Sets (or replaces) the paper key.
pub async fn set_paper_key(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    session: Session,
    Body(request): Body<PaperKeySet>,
) -> Result<StatusCode, ApiError> {
    check_wrapped_key(&request.wrapped_key.0)?;
    require_proof(&state, &session, client, request.proof).await?;
    state.db.set_paper_key(&session.user, &request.wrapped_key.0, &paper_verifier(&request.new_paper_auth)).await?;
    Ok(StatusCode::NO_CONTENT)
}
