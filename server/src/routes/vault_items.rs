//! Vault items: the vault as many sealed items, each changed on its own, beside the one sealed
//! blob of [`super::vault`] (which keeps the key material).
//!
//! A batch names, for each item it puts or removes, the version it was based on; the server
//! stores the whole batch or nothing, and on any stale version answers `409` with every
//! conflicting item and its current version, so no change is ever overwritten unseen. Every
//! batch raises the user's `seq` by one and stamps its items with it; devices read what changed
//! since the last seq they saw, in pages, and hear `vault-changed` with the new seq. A removal
//! leaves a tombstone, which is read like any change and is never dropped. The server checks
//! only that each blob has the sealed format and is at most [`MAX_ITEM_BYTES`], and bounds
//! what a user keeps (`max_items_per_user`, `max_item_bytes_per_user`,
//! `max_tombstones_per_user`).

use axum::Json;
use axum::extract::State;
use profile_core::server_api::{
    ItemBatch, ItemChanges, ItemId, ItemsQuery, ItemsWritten, MAX_ITEM_BYTES, MAX_ITEMS_BY_ID, MAX_ITEMS_PAGE,
    MAX_PAGE_BYTES,
};

use crate::db::{BatchOutcome, VaultHead};
use crate::http::{ApiError, AppState, Body, QueryParams, Session, check_sealed};
use crate::services::events::Event;

/// Stores a batch whole, or answers 409 with its conflicts (413 past a bound).
pub async fn write(
    State(state): State<AppState>,
    session: Session,
    Body(batch): Body<ItemBatch>,
) -> Result<Json<ItemsWritten>, ApiError> {
    batch.check().map_err(|e| ApiError::invalid(e.to_string()))?;
    for put in &batch.puts {
        check_sealed(&format!("the blob of item {}", put.id), &put.blob.0, MAX_ITEM_BYTES)?;
    }
    match state.db.write_items(&session.user, &batch, &state.settings.item_limits()).await? {
        BatchOutcome::Written { written, counter } => {
            let head = VaultHead { counter, seq: written.seq };
            // The batch is stored: a push that fails is logged, not answered as a failure (the
            // writer would send it again and meet its own versions). Devices that missed it read
            // on from their seq when their socket reconnects.
            if let Err(e) = state.events.publish(&state.db, &Event::vault_changed(&session.user, head)).await {
                tracing::warn!("vault-changed for seq {} was not published: {e:#}", head.seq);
            }
            Ok(Json(written))
        }
        BatchOutcome::Conflicts(conflicts) => Err(ApiError::item_conflicts(conflicts)),
        BatchOutcome::OverLimit(words) => Err(ApiError::too_large(words)),
    }
}

/// The items changed after `?since=SEQ[&after=ID]`, a page at a time (`limit`, at most
/// [`MAX_ITEMS_PAGE`], and about [`MAX_PAGE_BYTES`]).
pub async fn read(
    State(state): State<AppState>,
    session: Session,
    QueryParams(query): QueryParams<ItemsQuery>,
) -> Result<Json<ItemChanges>, ApiError> {
    if let Some(ids) = &query.ids {
        let ids = ids
            .split(',')
            .map(|id| ItemId::try_from(id.to_owned()).map_err(ApiError::invalid))
            .collect::<Result<Vec<_>, _>>()?;
        if ids.len() > MAX_ITEMS_BY_ID {
            return Err(ApiError::invalid(format!("at most {MAX_ITEMS_BY_ID} items are read by id at once")));
        }
        return Ok(Json(state.db.items_by_id(&session.user, &ids).await?));
    }
    if query.since < 0 {
        return Err(ApiError::invalid("since cannot be negative"));
    }
    let limit = match query.limit {
        Some(0) => return Err(ApiError::invalid("limit must be at least 1")),
        Some(limit) => limit.min(MAX_ITEMS_PAGE),
        None => MAX_ITEMS_PAGE,
    };
    Ok(Json(state.db.item_changes(&session.user, &query, limit, MAX_PAGE_BYTES).await?))
}
