//! `webhook_deliveries`: the queue of apps' webhook events, one row per event and webhook,
//! kept in the database so an event outlives the process that made it.
//!
//! A delivery worker claims the rows that are due for a lease (`locked_until_ms`), counting the
//! attempt as it claims; on PostgreSQL the claim skips rows another instance is claiming at the
//! same moment (`FOR UPDATE SKIP LOCKED`), and on SQLite the database's one writer does the
//! same. A leased row is claimed again only once its lease ran out (its worker died), so a
//! webhook may hear an event twice (its id says so) but no two workers send a row at once.
//!
//! A grant's deliveries go one at a time: a row is claimed only while no other row of its grant
//! is leased and none queued before it is due as well. Revoking a grant deletes its rows that
//! wait (neither delivered, dead nor leased) in the revocation's transaction, before
//! `grant-revoked` is queued; a row leased then is its worker's to finish, and `grant-revoked`
//! waits for it. Nothing but `grant-revoked` is sent for a revoked grant: the worker checks at
//! each send, and drops the row instead.

use profile_core::apps::{AppEvent, AppEventKind, GrantId};
use sqlx::Row;

use super::{Backend, Db};

/// A delivery claimed by a worker.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub n: i64,
    pub event_id: String,
    pub grant_id: GrantId,
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

/// Deletes the deliveries of `grant` that wait (neither delivered, dead nor leased at
/// `now_ms`), in the transaction that revokes it.
pub(super) async fn drop_waiting(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    grant: &GrantId,
    now_ms: i64,
) -> anyhow::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM webhook_deliveries WHERE grant_id = $1 AND delivered_at IS NULL AND dead_at IS NULL \
         AND (locked_until_ms IS NULL OR locked_until_ms <= $2)",
    )
    .bind(grant.as_str())
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

impl Delivery {
    /// Whether it tells the app its grant was revoked: the one event a revoked grant's webhook
    /// is still sent.
    pub fn revokes(&self) -> bool {
        serde_json::from_str::<AppEvent>(&self.body).is_ok_and(|event| event.kind == AppEventKind::GrantRevoked {})
    }
}

impl Db {
    /// Claims up to `limit` due deliveries for `lease_ms`, counting an attempt for each; at most
    /// one of a grant, the first queued of those due, and none while another of it is leased.
    pub async fn claim_deliveries(&self, now_ms: i64, lease_ms: i64, limit: usize) -> anyhow::Result<Vec<Delivery>> {
        let skip_locked = if self.backend == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        sqlx::query(&format!(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, locked_until_ms = $2 WHERE n IN (\
             SELECT n FROM webhook_deliveries d WHERE delivered_at IS NULL AND dead_at IS NULL \
             AND next_attempt_ms <= $1 AND (locked_until_ms IS NULL OR locked_until_ms <= $1) \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.grant_id = d.grant_id AND e.n <> d.n \
             AND e.delivered_at IS NULL AND e.dead_at IS NULL \
             AND (e.locked_until_ms > $1 OR (e.n < d.n AND e.next_attempt_ms <= $1))) \
             ORDER BY next_attempt_ms LIMIT $3{skip_locked}) \
             RETURNING n, event_id, grant_id, url, body, attempts, created_at"
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
                grant_id: GrantId::try_from(r.try_get::<String, _>(2)?).map_err(anyhow::Error::msg)?,
                url: r.try_get(3)?,
                body: r.try_get(4)?,
                attempts: r.try_get(5)?,
                created_at: r.try_get(6)?,
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

    /// Not to be sent (its grant was revoked after it was claimed): forgotten.
    pub async fn drop_delivery(&self, n: i64) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM webhook_deliveries WHERE n = $1").bind(n).execute(&self.pool).await?;
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
