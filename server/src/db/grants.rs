//! `grants`: each grant a person gave an app, as one of their devices registered it: what the
//! server enforces (scopes, the app's signing key, revocation), the share sealed to the app
//! (JSON of `profile_core::apps::SealedShare`, which the server cannot open), the app's webhook,
//! and what it did (last read, last append, how many appends, how many wait).
//!
//! Revoking a grant and storing a newer share queue the app's event (a row of
//! `webhook_deliveries`) in the same transaction, so an event is never lost between the two.
//! Revoking also drops the grant's deliveries still waiting, so its webhook hears nothing it
//! had not heard but `grant-revoked`.

use profile_core::PublicJwk;
use profile_core::apps::{AppEvent, GrantId, Scope, SealedShare};
use profile_core::server_api::{GrantInfo, GrantRegistration, ShareNotify};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Db;

const COLUMNS: &str = "id, origin, app_id, name, scopes, created_at, last_read_at, last_append_at, appended, \
                       share_version, revoked_at, webhook, share_note";

/// How a registration went.
#[derive(Debug)]
pub enum Registered {
    Done(Box<GrantInfo>),
    /// The grant id is taken (by this profile or another).
    Taken,
    /// The profile holds its most grants already.
    Full,
}

/// A grant as an app's signed request is checked against.
#[derive(Debug, Clone)]
pub struct AppGrantRecord {
    pub id: GrantId,
    pub user: String,
    pub app_id: profile_core::AppId,
    /// The profile is locked down.
    pub profile_locked: bool,
    /// The whole server is locked down.
    pub site_locked: bool,
    pub scopes: Vec<Scope>,
    pub app_key: PublicJwk,
    pub share_version: u64,
    pub revoked: bool,
}

/// What a change to a grant's share or standing found.
#[derive(Debug, PartialEq, Eq)]
pub enum GrantChange {
    /// Done; the app's webhook, when it has one, got the event queued.
    Done { webhook: bool },
    /// No such grant of this profile.
    NotFound,
    /// Revoked already.
    Revoked,
    /// The share held is at this version, not older than the one sent.
    Stale(u64),
}

fn info(row: &AnyRow) -> anyhow::Result<GrantInfo> {
    let text = |i: usize| row.try_get::<String, _>(i);
    Ok(GrantInfo {
        grant_id: GrantId::try_from(text(0)?).map_err(anyhow::Error::msg)?,
        origin: profile_core::Origin::parse(&text(1)?)?,
        app_id: profile_core::AppId::try_from(text(2)?).map_err(anyhow::Error::msg)?,
        name: profile_core::apps::AppName::try_from(text(3)?).map_err(anyhow::Error::msg)?,
        scopes: serde_json::from_str(&text(4)?)?,
        created_at: row.try_get(5)?,
        last_read_at: row.try_get(6)?,
        last_append_at: row.try_get(7)?,
        appended: u64::try_from(row.try_get::<i64, _>(8)?)?,
        share_version: u64::try_from(row.try_get::<i64, _>(9)?)?,
        revoked_at: row.try_get(10)?,
        webhook: row.try_get(11)?,
        share_note: row.try_get(12)?,
        peer_grant: None,
    })
}

impl Db {
    /// Registers a grant with its first share, unless its id is taken or the profile holds
    /// `max` grants already. Revoked grants count until room is needed: then those revoked
    /// longest ago, before `forget_revoked_before` (Unix seconds: once their apps had the time
    /// to hear of it), are forgotten, with all that is left of them.
    pub async fn register_grant(
        &self,
        user: &str,
        grant: &GrantRegistration,
        max: usize,
        forget_revoked_before: i64,
    ) -> anyhow::Result<Registered> {
        let mut tx = self.pool.begin().await?;
        // One profile's registrations one at a time (its `vaults` row), so the count holds.
        sqlx::query("UPDATE vaults SET seq = seq WHERE user_id = $1").bind(user).execute(&mut *tx).await?;
        let held: i64 = sqlx::query("SELECT COUNT(*) FROM grants WHERE user_id = $1")
            .bind(user)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let over = held - i64::try_from(max)? + 1;
        if over > 0 {
            let forgettable: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM grants WHERE user_id = $1 AND revoked_at IS NOT NULL AND revoked_at < $2 \
                 ORDER BY revoked_at, id LIMIT $3",
            )
            .bind(user)
            .bind(forget_revoked_before)
            .bind(over)
            .fetch_all(&mut *tx)
            .await?;
            if i64::try_from(forgettable.len())? < over {
                return Ok(Registered::Full);
            }
            for id in &forgettable {
                for table in ["appends", "grant_peers", "webhook_deliveries", "app_nonces", "grants"] {
                    let column = if table == "grants" { "id" } else { "grant_id" };
                    sqlx::query(&format!("DELETE FROM {table} WHERE {column} = $1")).bind(id).execute(&mut *tx).await?;
                }
            }
        }
        let inserted = sqlx::query(&format!(
            "INSERT INTO grants (id, user_id, origin, app_id, name, scopes, app_key, share, share_version, created_at, \
             share_note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING \
             RETURNING {COLUMNS}"
        ))
        .bind(grant.grant_id.as_str())
        .bind(user)
        .bind(grant.origin.as_str())
        .bind(grant.app_id.as_str())
        .bind(grant.name.as_str())
        .bind(serde_json::to_string(&grant.scopes)?)
        .bind(serde_json::to_string(&grant.app_key)?)
        .bind(serde_json::to_string(&grant.share)?)
        .bind(i64::try_from(grant.share.version)?)
        .bind(crate::now())
        .bind(grant.share_note.as_deref())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = inserted else { return Ok(Registered::Taken) };
        let info = info(&row)?;
        tx.commit().await?;
        Ok(Registered::Done(Box::new(info)))
    }

    /// The profile's grants, newest first.
    pub async fn grants(&self, user: &str) -> anyhow::Result<Vec<GrantInfo>> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM grants WHERE user_id = $1 ORDER BY created_at DESC, id"))
            .bind(user)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(info)
            .collect()
    }

    /// The grant an app's request names, with its profile's and the server's lockdowns.
    pub async fn app_grant(&self, id: &GrantId) -> anyhow::Result<Option<AppGrantRecord>> {
        let row = sqlx::query(
            "SELECT g.user_id, u.locked_at, g.scopes, g.app_key, g.share_version, g.revoked_at, \
             (SELECT COUNT(*) FROM site WHERE key = 'lockdown'), g.app_id \
             FROM grants g JOIN users u ON u.id = g.user_id WHERE g.id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(AppGrantRecord {
            id: id.clone(),
            user: row.try_get(0)?,
            profile_locked: row.try_get::<Option<i64>, _>(1)?.is_some(),
            scopes: serde_json::from_str(&row.try_get::<String, _>(2)?)?,
            app_key: serde_json::from_str(&row.try_get::<String, _>(3)?)?,
            share_version: u64::try_from(row.try_get::<i64, _>(4)?)?,
            revoked: row.try_get::<Option<i64>, _>(5)?.is_some(),
            site_locked: row.try_get::<i64, _>(6)? > 0,
            app_id: profile_core::AppId::try_from(row.try_get::<String, _>(7)?).map_err(anyhow::Error::msg)?,
        }))
    }

    /// Revokes a grant of `user`: its share is deleted, its webhook deliveries that wait are
    /// dropped, and `event` (`grant-revoked`) queued for its webhook. Revoking a revoked grant
    /// changes nothing.
    pub async fn revoke_grant(&self, user: &str, event: &AppEvent) -> anyhow::Result<GrantChange> {
        let mut tx = self.pool.begin().await?;
        let revoked = sqlx::query(
            "UPDATE grants SET revoked_at = $1, share = NULL WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL \
             RETURNING webhook",
        )
        .bind(i64::try_from(event.occurred_at)?)
        .bind(event.grant_id.as_str())
        .bind(user)
        .fetch_optional(&mut *tx)
        .await?;
        if revoked.is_some() {
            super::webhook_deliveries::drop_waiting(&mut tx, &event.grant_id, crate::now_ms()).await?;
        }
        self.queue_event(tx, revoked, user, event, true).await
    }

    /// Stores a newer share of a live grant of `user` and, when `notify`, queues `event`
    /// (`share-updated`) for its webhook.
    pub async fn put_share(
        &self,
        user: &str,
        share: &SealedShare,
        said: &ShareNotify,
        event: &AppEvent,
    ) -> anyhow::Result<GrantChange> {
        let mut tx = self.pool.begin().await?;
        let stored = sqlx::query(
            "UPDATE grants SET share = $1, share_version = $2, share_note = $5 \
             WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL AND share_version < $2 RETURNING webhook",
        )
        .bind(serde_json::to_string(share)?)
        .bind(i64::try_from(share.version)?)
        .bind(event.grant_id.as_str())
        .bind(user)
        .bind(said.note.as_deref())
        .fetch_optional(&mut *tx)
        .await?;
        self.queue_event(tx, stored, user, event, said.notify).await
    }

    /// Ends a change of a grant: when `changed` (its row's `webhook`) says it happened, queues
    /// `event` for the webhook (when `notify`) and commits; otherwise says why nothing changed.
    async fn queue_event(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Any>,
        changed: Option<AnyRow>,
        user: &str,
        event: &AppEvent,
        notify: bool,
    ) -> anyhow::Result<GrantChange> {
        let Some(row) = changed else {
            drop(tx);
            return self.why_unchanged(user, &event.grant_id).await;
        };
        let webhook: Option<String> = row.try_get(0)?;
        if let Some(url) = webhook.as_ref().filter(|_| notify) {
            super::webhook_deliveries::enqueue(&mut tx, url, event).await?;
        }
        tx.commit().await?;
        Ok(GrantChange::Done { webhook: webhook.is_some() })
    }

    async fn why_unchanged(&self, user: &str, grant: &GrantId) -> anyhow::Result<GrantChange> {
        let row = sqlx::query("SELECT revoked_at, share_version FROM grants WHERE id = $1 AND user_id = $2")
            .bind(grant.as_str())
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            None => GrantChange::NotFound,
            Some(row) if row.try_get::<Option<i64>, _>(0)?.is_some() => GrantChange::Revoked,
            Some(row) => GrantChange::Stale(u64::try_from(row.try_get::<i64, _>(1)?)?),
        })
    }

    /// The share of a live grant, read by its app (recorded as its last read); `None` once
    /// revoked.
    pub async fn read_share(&self, grant: &GrantId) -> anyhow::Result<Option<SealedShare>> {
        let row = sqlx::query(
            "UPDATE grants SET last_read_at = $1 WHERE id = $2 AND revoked_at IS NULL AND share IS NOT NULL \
             RETURNING share",
        )
        .bind(crate::now())
        .bind(grant.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| anyhow::Ok(serde_json::from_str(&row.try_get::<String, _>(0)?)?)).transpose()
    }

    /// Sets (or with `None` removes) a live grant's webhook; false once revoked.
    pub async fn set_webhook(&self, grant: &GrantId, url: Option<&str>) -> anyhow::Result<bool> {
        let done = sqlx::query("UPDATE grants SET webhook = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(url)
            .bind(grant.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether the grant was revoked (or is gone).
    pub async fn grant_revoked(&self, grant: &GrantId) -> anyhow::Result<bool> {
        let row = sqlx::query("SELECT revoked_at FROM grants WHERE id = $1")
            .bind(grant.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<Option<i64>, _>(0)?.is_some(),
            None => true,
        })
    }
}
