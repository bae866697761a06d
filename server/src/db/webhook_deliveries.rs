//! `webhook_deliveries`: the queue of apps' webhook events, one row per event and webhook,
//! kept in the database so an event outlives the process that made it.
//!
//! A delivery worker claims the rows that are due for a lease (`locked_until_ms`), counting the
//! attempt as it claims; on PostgreSQL the claim skips rows another instance is claiming at the
//! same moment (`FOR UPDATE SKIP LOCKED`), and on SQLite the database's one writer does the
//! same. A leased row is claimed again only once its lease ran out (its worker died), so a
//! webhook may hear an event twice (its id says so) but no two workers send a row at once.

use profile_core::apps::AppEvent;
use sqlx::Row;

use super::{Backend, Db};

/// A delivery claimed by a worker.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub n: i64,
    pub event_id: String,
    pub url: String,
    pub body: String,
    /// Attempts made, this one included.
    pub attempts: i64,
    /// When the event happened (Unix seconds).
    pub created_at: i64,
}

/// Queues `event` for `url`, in the transaction that made it happen.
pub(super) async fn enqueue(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    url: &str,
    event: &AppEvent,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (event_id, grant_id, url, body, created_at, next_attempt_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&event.id)
    .bind(event.grant_id.as_str())
    .bind(url)
    .bind(serde_json::to_string(event)?)
    .bind(i64::try_from(event.occurred_at)?)
    .bind(crate::now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Db {
    /// Claims up to `limit` due deliveries for `lease_ms`, counting an attempt for each.
    pub async fn claim_deliveries(&self, now_ms: i64, lease_ms: i64, limit: usize) -> anyhow::Result<Vec<Delivery>> {
        let skip_locked = if self.backend == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        sqlx::query(&format!(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, locked_until_ms = $2 WHERE n IN (\
             SELECT n FROM webhook_deliveries WHERE delivered_at IS NULL AND dead_at IS NULL \
             AND next_attempt_ms <= $1 AND (locked_until_ms IS NULL OR locked_until_ms <= $1) \
             ORDER BY next_attempt_ms LIMIT $3{skip_locked}) \
             RETURNING n, event_id, url, body, attempts, created_at"
        ))
        .bind(now_ms)
        .bind(now_ms + lease_ms)
        .bind(i64::try_from(limit)?)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            Ok(Delivery {
                n: r.try_get(0)?,
                event_id: r.try_get(1)?,
                url: r.try_get(2)?,
                body: r.try_get(3)?,
                attempts: r.try_get(4)?,
                created_at: r.try_get(5)?,
            })
        })
        .collect()
    }

    /// The webhook took it (2xx).
    pub async fn delivered(&self, n: i64) -> anyhow::Result<()> {
        sqlx::query("UPDATE webhook_deliveries SET delivered_at = $1, locked_until_ms = NULL WHERE n = $2")
            .bind(crate::now())
            .bind(n)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// It failed: tried again at `next_attempt_ms`.
    pub async fn retry_delivery(&self, n: i64, next_attempt_ms: i64) -> anyhow::Result<()> {
        sqlx::query("UPDATE webhook_deliveries SET next_attempt_ms = $1, locked_until_ms = NULL WHERE n = $2")
            .bind(next_attempt_ms)
            .bind(n)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Given up on: kept, marked dead, never tried again.
    pub async fn give_up_delivery(&self, n: i64) -> anyhow::Result<()> {
        sqlx::query("UPDATE webhook_deliveries SET dead_at = $1, locked_until_ms = NULL WHERE n = $2")
            .bind(crate::now())
            .bind(n)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets deliveries done before `delivered_before`, and dead ones given up before
    /// `dead_before`; how many.
    pub async fn prune_deliveries(&self, delivered_before: i64, dead_before: i64) -> anyhow::Result<u64> {
        let done = sqlx::query("DELETE FROM webhook_deliveries WHERE delivered_at < $1 OR dead_at < $2")
            .bind(delivered_before)
            .bind(dead_before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
