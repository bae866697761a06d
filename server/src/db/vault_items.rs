//! `vault_items`: a user's sealed items, each with its version and the `seq` of the batch that
//! wrote it, and the user's change sequence and item totals on their `vaults` row.
//!
//! A batch is one transaction that starts by raising the user's `seq` (`UPDATE vaults … SET
//! seq = seq + 1`): that row's lock serializes the batches of one user on both backends (on
//! SQLite the first write takes the database's write lock; on PostgreSQL the row lock), so
//! everything the batch reads after it is the latest committed, and seqs are handed out in
//! commit order. A batch that is refused rolls back, its seq included. Reads take one snapshot
//! (SQLite's read transaction; PostgreSQL's `REPEATABLE READ`), so the `seq` they answer and
//! the items they list agree. Every statement finds its rows by the primary key or in
//! `vault_items_by_seq` (`user_id, seq, id`): a batch costs the same whatever the user keeps.

use std::collections::HashMap;

use futures_util::TryStreamExt;
use profile_core::server_api::{
    Bytes, ItemBatch, ItemChange, ItemChanges, ItemId, ItemVersion, ItemsQuery, ItemsWritten,
};
use sqlx::Row;

use super::{Backend, Db};

/// What a user may keep in vault items (the server's settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemLimits {
    /// Live items (not tombstones).
    pub items: i64,
    /// Bytes of the live items' blobs, together.
    pub bytes: i64,
    /// Tombstones (removed items, kept so they never come back).
    pub tombstones: i64,
}

/// What a batch did.
#[derive(Debug)]
pub enum BatchOutcome {
    /// Stored, as `written`; the vault's counter is `counter` (for the push event).
    Written { written: ItemsWritten, counter: i64 },
    /// Nothing stored: these items are not at the versions the batch was based on; each with
    /// its stored version, in the batch's order.
    Conflicts(Vec<ItemVersion>),
    /// Nothing stored: the batch would take the user past a limit, said in words.
    OverLimit(String),
}

/// How many ids one `IN (…)` lists, and rows one `INSERT` writes: far below both backends'
/// limits on parameters.
const CHUNK: usize = 200;

/// A user's item totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Totals {
    items: i64,
    bytes: i64,
    tombstones: i64,
}

impl Db {
    /// Stores a checked batch (`ItemBatch::check`) all together, or nothing.
    pub async fn write_items(
        &self,
        user: &str,
        batch: &ItemBatch,
        limits: &ItemLimits,
    ) -> anyhow::Result<BatchOutcome> {
        let mut tx = self.pool.begin().await?;
        let head = sqlx::query(
            "UPDATE vaults SET seq = seq + 1 WHERE user_id = $1 \
             RETURNING seq, counter, item_count, item_bytes, tombstones",
        )
        .bind(user)
        .fetch_one(&mut *tx)
        .await?;
        let (seq, counter): (i64, i64) = (head.try_get(0)?, head.try_get(1)?);
        let before = Totals { items: head.try_get(2)?, bytes: head.try_get(3)?, tombstones: head.try_get(4)? };

        // What is stored of each item the batch names: its version and its blob's length
        // (`None`: a tombstone). An item never written is not there.
        let ids: Vec<&ItemId> = batch.operations().map(|(id, _, _)| id).collect();
        let mut stored: HashMap<String, (i64, Option<i64>)> = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let list = (0..chunk.len()).map(|n| format!("${}", n + 2)).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT id, version, CAST(length(blob) AS BIGINT) FROM vault_items WHERE user_id = $1 AND id IN ({list})"
            );
            let mut query = sqlx::query(&sql).bind(user);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&mut *tx).await? {
                stored.insert(row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?));
            }
        }

        let mut conflicts = Vec::new();
        let mut after = before;
        for (id, base, blob) in batch.operations() {
            let current = stored.get(id.as_str()).copied();
            let version = current.map_or(0, |(version, _)| version);
            if version != base {
                conflicts.push(ItemVersion { id: id.clone(), version });
            }
            match current {
                Some((_, Some(length))) => {
                    after.items -= 1;
                    after.bytes -= length;
                }
                Some((_, None)) => after.tombstones -= 1,
                None => {}
            }
            match blob {
                Some(blob) => {
                    after.items += 1;
                    after.bytes += i64::try_from(blob.0.len())?;
                }
                None => after.tombstones += 1,
            }
        }
        if !conflicts.is_empty() {
            tx.rollback().await?;
            return Ok(BatchOutcome::Conflicts(conflicts));
        }
        if let Some(refusal) = over_limit(before, after, limits) {
            tx.rollback().await?;
            return Ok(BatchOutcome::OverLimit(refusal));
        }

        let now = crate::now();
        let operations: Vec<_> = batch.operations().collect();
        for chunk in operations.chunks(CHUNK) {
            // $1 user, $2 seq, $3 now; then id, version and blob per row.
            let rows = (0..chunk.len())
                .map(|n| format!("($1, ${}, ${}, $2, ${}, $3)", 4 + 3 * n, 5 + 3 * n, 6 + 3 * n))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO vault_items (user_id, id, version, seq, blob, updated_at) VALUES {rows} \
                 ON CONFLICT (user_id, id) DO UPDATE SET version = excluded.version, seq = excluded.seq, \
                 blob = excluded.blob, updated_at = excluded.updated_at"
            );
            let mut query = sqlx::query(&sql).bind(user).bind(seq).bind(now);
            for (id, base, blob) in chunk {
                query = query.bind(id.as_str()).bind(base + 1).bind(blob.map(|b| b.0.as_slice()));
            }
            query.execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE vaults SET item_count = $1, item_bytes = $2, tombstones = $3 WHERE user_id = $4")
            .bind(after.items)
            .bind(after.bytes)
            .bind(after.tombstones)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let versions =
            operations.iter().map(|(id, base, _)| ItemVersion { id: (*id).clone(), version: base + 1 }).collect();
        Ok(BatchOutcome::Written { written: ItemsWritten { seq, versions }, counter })
    }

    /// The user's current seq and the items after `query`'s position in `(seq, id)` order: at
    /// most `limit`, and no more than about `max_bytes` of JSON (at least one item when there is
    /// one).
    pub async fn item_changes(
        &self,
        user: &str,
        query: &ItemsQuery,
        limit: u32,
        max_bytes: usize,
    ) -> anyhow::Result<ItemChanges> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await?;
        }
        let seq: i64 = sqlx::query("SELECT seq FROM vaults WHERE user_id = $1")
            .bind(user)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let (mut items, mut more, mut bytes) = (Vec::new(), false, 0usize);
        {
            // One row past the limit says whether there is more.
            let (position, after) = match &query.after {
                Some(after) => ("(seq, id) > ($3, $4)", Some(after.as_str())),
                None => ("seq > $3", None),
            };
            let sql = format!(
                "SELECT id, version, seq, blob FROM vault_items WHERE user_id = $1 AND {position} \
                 ORDER BY seq, id LIMIT $2"
            );
            let mut statement = sqlx::query(&sql).bind(user).bind(i64::from(limit) + 1).bind(query.since);
            if let Some(after) = after {
                statement = statement.bind(after);
            }
            let mut rows = statement.fetch(&mut *tx);
            while let Some(row) = rows.try_next().await? {
                let id: String = row.try_get(0)?;
                let blob: Option<Vec<u8>> = row.try_get(3)?;
                // The item's JSON: its blob in base64url, its id and about 60 bytes of the rest.
                let size = id.len() + blob.as_ref().map_or(0, |b| b.len().div_ceil(3) * 4) + 64;
                if items.len() == limit as usize || (!items.is_empty() && bytes + size > max_bytes) {
                    more = true;
                    break;
                }
                bytes += size;
                let id = ItemId::try_from(id).map_err(anyhow::Error::msg)?;
                items.push(ItemChange { id, version: row.try_get(1)?, seq: row.try_get(2)?, blob: blob.map(Bytes) });
            }
        }
        tx.commit().await?;
        Ok(ItemChanges { seq, items, more })
    }
}

impl Db {
    /// The user's current seq and the named items as stored now (those that exist).
    pub async fn items_by_id(&self, user: &str, ids: &[ItemId]) -> anyhow::Result<ItemChanges> {
        let mut tx = self.pool.begin().await?;
        let seq: i64 = sqlx::query("SELECT seq FROM vaults WHERE user_id = $1")
            .bind(user)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let mut items = Vec::with_capacity(ids.len());
        if !ids.is_empty() {
            let wanted: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT id, version, seq, blob FROM vault_items WHERE user_id = $1 AND id IN ({}) ORDER BY id",
                wanted.join(", ")
            );
            let mut statement = sqlx::query(&sql).bind(user);
            for id in ids {
                statement = statement.bind(id.as_str());
            }
            for row in statement.fetch_all(&mut *tx).await? {
                let id = ItemId::try_from(row.try_get::<String, _>(0)?).map_err(anyhow::Error::msg)?;
                let blob: Option<Vec<u8>> = row.try_get(3)?;
                items.push(ItemChange { id, version: row.try_get(1)?, seq: row.try_get(2)?, blob: blob.map(Bytes) });
            }
        }
        tx.commit().await?;
        Ok(ItemChanges { seq, items, more: false })
    }
}

/// Why `after` may not be kept, when it may not: a batch is refused only for taking a total
/// up and past its limit, so one that removes or shrinks is taken even above a lowered limit.
fn over_limit(before: Totals, after: Totals, limits: &ItemLimits) -> Option<String> {
    if after.items > limits.items && after.items > before.items {
        return Some(format!(
            "this profile would keep {} items; at most {} are kept: remove some first",
            after.items, limits.items
        ));
    }
    if after.bytes > limits.bytes && after.bytes > before.bytes {
        return Some(format!(
            "this profile's items would take {} bytes; at most {} are kept: remove some first",
            after.bytes, limits.bytes
        ));
    }
    if after.tombstones > limits.tombstones && after.tombstones > before.tombstones {
        return Some(format!(
            "this profile would remember {} removed items; at most {} are remembered: ask the server's operator",
            after.tombstones, limits.tombstones
        ));
    }
    None
}
