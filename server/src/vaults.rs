//! The vault API: one end-to-end encrypted blob per user with a write counter, and the
//! credentials (passphrase, paper key) that each hold the data key wrapped.
//!
//! A write names the counter it was based on; the server stores it as the next counter only
//! when that is still the current one, in one conditional `UPDATE`, and otherwise answers
//! `409 conflict` with the current counter, so two devices writing at once never overwrite
//! each other silently. The server cannot open a vault, wrap or unwrap a key, or tell one
//! vault's contents from another's: it checks only that a blob has the sealed format.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use profile_core::Secret32;
use profile_core::vault::KdfParams;
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;

use crate::api::{ApiError, AppState, Body, ClientAddr};
use crate::auth::{Proof, Session, check_proof, paper_verifier};
use crate::db::Bytes;
use crate::push::Event;

/// The largest sealed vault accepted.
pub const MAX_VAULT_BYTES: usize = 256 * 1024;
/// A wrapped data key: the sealed header, nonce and tag around 32 bytes.
const WRAPPED_KEY_BYTES: usize = profile_core::seal::OVERHEAD + 32;

fn check_sealed(what: &str, blob: &[u8], max: usize) -> Result<(), ApiError> {
    if !profile_core::seal::looks_sealed(blob) {
        return Err(ApiError::invalid(format!("{what} is not a sealed blob")));
    }
    if blob.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("{what} is {} bytes; at most {max} are kept", blob.len()),
        ));
    }
    Ok(())
}

fn check_wrapped_key(wrapped: &[u8]) -> Result<(), ApiError> {
    check_sealed("wrappedKey", wrapped, WRAPPED_KEY_BYTES)?;
    if wrapped.len() != WRAPPED_KEY_BYTES {
        return Err(ApiError::invalid(format!("wrappedKey must be {WRAPPED_KEY_BYTES} bytes")));
    }
    Ok(())
}

/// The vault, its KDF parameters and the wrapped data keys.
pub async fn read(State(state): State<AppState>, session: Session) -> Result<Json<serde_json::Value>, ApiError> {
    let vault = sqlx::query(
        "SELECT v.counter, v.blob, u.kdf FROM vaults v JOIN users u ON u.id = v.user_id WHERE v.user_id = $1",
    )
    .bind(&session.user)
    .fetch_one(&state.db.pool)
    .await?;
    let credentials = sqlx::query("SELECT kind, wrapped_key FROM credentials WHERE user_id = $1 ORDER BY kind")
        .bind(&session.user)
        .fetch_all(&state.db.pool)
        .await?
        .into_iter()
        .map(|r| Ok(json!({"kind": r.try_get::<String, _>(0)?, "wrappedKey": Bytes(r.try_get(1)?)})))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let kdf: KdfParams = serde_json::from_str(&vault.try_get::<String, _>(2)?)?;
    Ok(Json(json!({
        "profileId": session.user,
        "counter": vault.try_get::<i64, _>(0)?,
        "blob": Bytes(vault.try_get(1)?),
        "kdf": kdf,
        "credentials": credentials,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteRequest {
    /// The counter the new contents were based on; they are stored as `counter + 1`.
    counter: i64,
    /// Sealed for version `counter + 1` (see `profile_core::vault::seal_vault`).
    blob: Bytes,
}

/// Stores the next version of the vault, or answers 409 with the current counter.
pub async fn write(
    State(state): State<AppState>,
    session: Session,
    Body(request): Body<WriteRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_sealed("blob", &request.blob.0, MAX_VAULT_BYTES)?;
    let written = sqlx::query(
        "UPDATE vaults SET counter = counter + 1, blob = $1, updated_at = $2 WHERE user_id = $3 AND counter = $4 \
         RETURNING counter",
    )
    .bind(&request.blob.0)
    .bind(crate::now())
    .bind(&session.user)
    .bind(request.counter)
    .fetch_optional(&state.db.pool)
    .await?;
    match written {
        Some(row) => {
            let counter: i64 = row.try_get(0)?;
            state.events.publish(&state.db, &Event::vault_changed(&session.user, counter)).await?;
            Ok(Json(json!({ "counter": counter })))
        }
        None => {
            let current: i64 = sqlx::query("SELECT counter FROM vaults WHERE user_id = $1")
                .bind(&session.user)
                .fetch_one(&state.db.pool)
                .await
                .and_then(|row| row.try_get(0))?;
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("the vault is at counter {current}, not {}: read it, merge, and write again", request.counter),
            )
            .with("counter", current))
        }
    }
}

/// Proof of a credential the person holds now, for changing one.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CurrentProof {
    #[serde(default)]
    current_auth_key: Option<Secret32>,
    #[serde(default)]
    paper_auth: Option<Secret32>,
}

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
    let subjects = crate::auth::subjects(client, Some(&session.user));
    state.db.throttle(&subjects).await?.map_err(crate::auth::rate_limited)?;
    if !check_proof(state, &session.user, None, proof).await? {
        state.db.record_failure(&subjects).await?;
        return Err(crate::auth::auth_failed());
    }
    state.db.clear_failures(&session.user).await?;
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PassphraseChange {
    #[serde(flatten)]
    proof: CurrentProof,
    kdf: KdfParams,
    auth_key: Secret32,
    /// The same data key, wrapped under the new passphrase's key-encryption key.
    wrapped_key: Bytes,
}

/// Sets a new passphrase (proved by the current one or the paper key): new KDF parameters, a
/// hash of the new auth key, and the data key re-wrapped. The vault itself is untouched.
pub async fn change_passphrase(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    session: Session,
    Body(request): Body<PassphraseChange>,
) -> Result<StatusCode, ApiError> {
    request.kdf.check().map_err(|e| ApiError::invalid(e.to_string()))?;
    check_wrapped_key(&request.wrapped_key.0)?;
    require_proof(&state, &session, client, request.proof).await?;
    let auth_hash = crate::auth::slow_hash(request.auth_key.expose().to_vec()).await?;
    let mut tx = state.db.pool.begin().await?;
    sqlx::query("UPDATE users SET kdf = $1, auth_hash = $2 WHERE id = $3")
        .bind(serde_json::to_string(&request.kdf)?)
        .bind(auth_hash)
        .bind(&session.user)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE credentials SET wrapped_key = $1 WHERE user_id = $2 AND kind = 'passphrase'")
        .bind(&request.wrapped_key.0)
        .bind(&session.user)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(device = %session.device, "the passphrase was changed");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaperKeySet {
    #[serde(flatten)]
    proof: CurrentProof,
    /// The auth key the new paper key derives.
    new_paper_auth: Secret32,
    /// The data key wrapped under the new paper key's key-encryption key.
    wrapped_key: Bytes,
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
    let mut tx = state.db.pool.begin().await?;
    sqlx::query("DELETE FROM credentials WHERE user_id = $1 AND kind = 'paper'")
        .bind(&session.user)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO credentials (id, user_id, kind, wrapped_key, verifier, created_at) VALUES ($1, $2, 'paper', $3, $4, $5)",
    )
    .bind(crate::new_id()?)
    .bind(&session.user)
    .bind(&request.wrapped_key.0)
    .bind(paper_verifier(&request.new_paper_auth))
    .bind(crate::now())
    .execute(&mut *tx)
    .await
    ?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
