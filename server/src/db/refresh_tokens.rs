//! `refresh_tokens`: the rotating refresh tokens of each device; only their hash is stored,
//! and a spent one is kept so that it is recognised if it comes back.

use sqlx::Row;

use super::Db;
use crate::secret_hash;

/// How long an unused refresh token stays valid.
pub const REFRESH_TTL_SECS: i64 = 30 * 24 * 3600;

impl Db {
    /// A fresh refresh token for `device_id`; only its hash is stored.
    pub async fn issue_refresh(&self, device_id: &str) -> anyhow::Result<String> {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let token = Base64UrlUnpadded::encode_string(&crate::random::<32>()?);
        let now = crate::now();
        sqlx::query("INSERT INTO refresh_tokens (hash, device_id, expires_at) VALUES ($1, $2, $3)")
            .bind(secret_hash(&token))
            .bind(device_id)
            .bind(now + REFRESH_TTL_SECS)
            .execute(&self.pool)
            .await?;
        sqlx::query("UPDATE devices SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(device_id)
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// Spends a refresh token. `Ok(Some(device))` when it was live; `Ok(None)` when unknown or
    /// expired; `Err(device)` when it had been spent before (the caller revokes the device).
    pub async fn spend_refresh(&self, token: &str) -> anyhow::Result<Result<Option<String>, String>> {
        let hash = secret_hash(token);
        let now = crate::now();
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING device_id",
        )
        .bind(now)
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = spent {
            return Ok(Ok(Some(row.try_get(0)?)));
        }
        let reused = sqlx::query("SELECT device_id FROM refresh_tokens WHERE hash = $1 AND used_at IS NOT NULL")
            .bind(&hash)
            .fetch_optional(&self.pool)
            .await?;
        match reused {
            Some(row) => Ok(Err(row.try_get(0)?)),
            None => Ok(Ok(None)),
        }
    }

    /// Whether `token` is a live refresh token of a device whose profile is locked down: it is
    /// then left unspent, so the device carries on once the lockdown is lifted.
    pub async fn refresh_held_by_locked_profile(&self, token: &str) -> anyhow::Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM refresh_tokens r JOIN devices d ON d.id = r.device_id \
             JOIN users u ON u.id = d.user_id \
             WHERE r.hash = $1 AND r.used_at IS NULL AND d.revoked_at IS NULL AND u.locked_at IS NOT NULL",
        )
        .bind(secret_hash(token))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }
}
