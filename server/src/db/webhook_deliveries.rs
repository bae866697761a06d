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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{DEFAULT_TENANT, GrantChange, NewUser};

    const USER: &str = "u1";

    /// A database holding one user and one live grant of theirs, with a webhook.
    async fn db_with_grant() -> (tempfile::TempDir, Db, GrantId) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/p.db", dir.path().display())).await.unwrap();
        let user = NewUser {
            id: USER.into(),
            tenant_id: db.ensure_tenant(DEFAULT_TENANT).await.unwrap(),
            email: "a@example.org".into(),
            kdf_json: "{}".into(),
            auth_hash: "x".into(),
            wrapped_key: vec![],
            vault: vec![],
        };
        db.create_user(&user).await.unwrap();
        let grant = GrantId::from_bytes([7; 16]);
        sqlx::query(
            "INSERT INTO grants (id, user_id, origin, app_id, name, scopes, app_key, share, share_version, \
             created_at, webhook) VALUES ($1, $2, 'https://till.example', 'till', 'Till', '[]', '{}', '{}', 1, 0, \
             'https://hooks.example/x')",
        )
        .bind(grant.as_str())
        .bind(USER)
        .execute(&db.pool)
        .await
        .unwrap();
        (dir, db, grant)
    }

    fn event(grant: &GrantId, kind: AppEventKind) -> AppEvent {
        AppEvent { id: crate::new_id().unwrap(), grant_id: grant.clone(), occurred_at: 1, kind }
    }

    async fn queue(db: &Db, event: &AppEvent) {
        let mut tx = db.pool.begin().await.unwrap();
        enqueue(&mut tx, "https://hooks.example/x", event).await.unwrap();
        tx.commit().await.unwrap();
    }

    async fn claim(db: &Db) -> Vec<AppEventKind> {
        let claimed = db.claim_deliveries(crate::now_ms(), 60_000, 10).await.unwrap();
        claimed.iter().map(|d| serde_json::from_str::<AppEvent>(&d.body).unwrap().kind).collect()
    }

    #[tokio::test]
    async fn a_revocation_drops_what_waits_and_grant_revoked_waits_for_what_is_on_its_way() {
        let (_dir, db, grant) = db_with_grant().await;
        for version in [2, 3] {
            queue(&db, &event(&grant, AppEventKind::ShareUpdated { version })).await;
        }
        let on_its_way = db.claim_deliveries(crate::now_ms(), 60_000, 10).await.unwrap();
        let kinds: Vec<_> = on_its_way.iter().map(|d| (d.revokes(), d.body.contains("\"version\":2"))).collect();
        assert_eq!(kinds, [(false, true)], "a grant's deliveries one at a time, the first queued first");

        let revoked = event(&grant, AppEventKind::GrantRevoked {});
        assert_eq!(db.revoke_grant(USER, &revoked).await.unwrap(), GrantChange::Done { webhook: true });
        assert_eq!(claim(&db).await, [], "grant-revoked waits for the delivery on its way");
        db.delivered(on_its_way[0].n).await.unwrap();
        assert_eq!(claim(&db).await, [AppEventKind::GrantRevoked {}], "version 3, waiting, was dropped");
        assert_eq!(claim(&db).await, []);
    }
}
