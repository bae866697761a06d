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
use axum::response::{IntoResponse, Response};
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
    let subjects = crate::throttle::subjects(client, Some(&session.user));
    let checked = state
        .db
        .attempt(&subjects, async { Ok(check_proof(state, &session.user, None, proof).await?.then_some(()).ok_or(())) })
        .await?;
    if checked.is_err() {
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
    /// The data key wrapped under the new passphrase's key-encryption key: the same data key,
    /// or with `rotate` the new one.
    wrapped_key: Bytes,
    /// Leave the user's other devices signed in (they are signed out by default).
    #[serde(default)]
    keep_devices: bool,
    /// Replace the data key too.
    #[serde(default)]
    rotate: Option<Rotation>,
}

/// A new data key, with the vault sealed under it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rotation {
    /// The vault's current counter; the new blob is stored as `counter + 1`, exactly like a
    /// vault write.
    counter: i64,
    /// The vault sealed for `counter + 1` under the new data key.
    blob: Bytes,
    /// The new data key wrapped under the paper key's key-encryption key: required when the
    /// user has a paper key, refused otherwise.
    #[serde(default)]
    paper_wrapped_key: Option<Bytes>,
}

/// What a passphrase change stores, in one transaction.
struct NewPassphrase<'a> {
    user: &'a str,
    /// The device making the change, which stays signed in.
    device: &'a str,
    kdf_json: String,
    auth_hash: String,
    wrapped_key: &'a [u8],
    keep_devices: bool,
    rotate: Option<&'a Rotation>,
}

/// What a passphrase change did, or why it changed nothing.
enum Changed {
    Done {
        revoked: Vec<String>,
        counter: Option<i64>,
    },
    /// The rotation was based on a stale counter: this is the current one.
    Conflict(i64),
    /// The rotation's paper-key wrapping does not match whether there is a paper key.
    PaperMismatch {
        has_paper: bool,
    },
}

impl crate::db::Db {
    /// Sets the new passphrase; with a rotation, stores the vault under the new data key as
    /// the next counter and re-wraps the paper key's copy; unless told to keep them, signs
    /// every other device of the user out. All or nothing.
    async fn change_passphrase(&self, change: &NewPassphrase<'_>) -> anyhow::Result<Changed> {
        let mut tx = self.pool.begin().await?;
        let mut counter = None;
        if let Some(rotate) = change.rotate {
            let has_paper = sqlx::query("SELECT 1 FROM credentials WHERE user_id = $1 AND kind = 'paper'")
                .bind(change.user)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            match &rotate.paper_wrapped_key {
                Some(wrapped) if has_paper => {
                    sqlx::query("UPDATE credentials SET wrapped_key = $1 WHERE user_id = $2 AND kind = 'paper'")
                        .bind(&wrapped.0)
                        .bind(change.user)
                        .execute(&mut *tx)
                        .await?;
                }
                None if !has_paper => {}
                _ => return Ok(Changed::PaperMismatch { has_paper }),
            }
            let written = sqlx::query(
                "UPDATE vaults SET counter = counter + 1, blob = $1, updated_at = $2 \
                 WHERE user_id = $3 AND counter = $4 RETURNING counter",
            )
            .bind(&rotate.blob.0)
            .bind(crate::now())
            .bind(change.user)
            .bind(rotate.counter)
            .fetch_optional(&mut *tx)
            .await?;
            match written {
                Some(row) => counter = Some(row.try_get::<i64, _>(0)?),
                None => {
                    let current = sqlx::query("SELECT counter FROM vaults WHERE user_id = $1")
                        .bind(change.user)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get(0)?;
                    return Ok(Changed::Conflict(current));
                }
            }
        }
        sqlx::query("UPDATE users SET kdf = $1, auth_hash = $2 WHERE id = $3")
            .bind(&change.kdf_json)
            .bind(&change.auth_hash)
            .bind(change.user)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE credentials SET wrapped_key = $1 WHERE user_id = $2 AND kind = 'passphrase'")
            .bind(change.wrapped_key)
            .bind(change.user)
            .execute(&mut *tx)
            .await?;
        let mut revoked = Vec::new();
        if !change.keep_devices {
            let rows = sqlx::query(
                "UPDATE devices SET revoked_at = $1 WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL RETURNING id",
            )
            .bind(crate::now())
            .bind(change.user)
            .bind(change.device)
            .fetch_all(&mut *tx)
            .await?;
            revoked = rows.iter().map(|row| row.try_get::<String, _>(0)).collect::<Result<_, _>>()?;
            // Spent tokens stay, so a copy presented later is still recognised as reuse.
            sqlx::query(
                "DELETE FROM refresh_tokens WHERE used_at IS NULL AND device_id IN \
                 (SELECT id FROM devices WHERE user_id = $1 AND id <> $2)",
            )
            .bind(change.user)
            .bind(change.device)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Changed::Done { revoked, counter })
    }
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
    let auth_hash = state.hashes.hash(request.auth_key).await?;
    let change = NewPassphrase {
        user: &session.user,
        device: &session.device,
        kdf_json: serde_json::to_string(&request.kdf)?,
        auth_hash,
        wrapped_key: &request.wrapped_key.0,
        keep_devices: request.keep_devices,
        rotate: request.rotate.as_ref(),
    };
    let (revoked, counter) = match state.db.change_passphrase(&change).await? {
        Changed::Done { revoked, counter } => (revoked, counter),
        Changed::Conflict(current) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("the vault is at counter {current}: read it, seal it under the new key, and try again"),
            )
            .with("counter", current));
        }
        Changed::PaperMismatch { has_paper: true } => {
            return Err(ApiError::invalid(
                "this profile has a paper key: rotate.paperWrappedKey must carry the new data key wrapped under it",
            ));
        }
        Changed::PaperMismatch { has_paper: false } => {
            return Err(ApiError::invalid("this profile has no paper key: leave rotate.paperWrappedKey out"));
        }
    };
    for device in &revoked {
        state.events.publish(&state.db, &Event::device_revoked(&session.user, device)).await?;
    }
    tracing::info!(
        device = %session.device,
        signed_out = revoked.len(),
        rotated = counter.is_some(),
        "the passphrase was changed"
    );
    Ok(match counter {
        Some(counter) => {
            state.events.publish(&state.db, &Event::vault_changed(&session.user, counter)).await?;
            Json(json!({ "counter": counter })).into_response()
        }
        None => StatusCode::NO_CONTENT.into_response(),
    })
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
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
