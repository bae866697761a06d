//! `devices`: each device a user logged in, and whether it is signed out.

use profile_core::server_api::DeviceInfo;
use sqlx::Row;

use super::Db;

/// What a device may do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Served, for this user.
    Live(String),
    /// Its profile is locked down: refused until the lockdown is lifted, but not signed out.
    ProfileLocked(String),
    /// The whole server is locked down.
    SiteLocked,
    /// Revoked, or never existed.
    SignedOut,
}

impl Db {
    pub async fn create_device(&self, user_id: &str, name: &str) -> anyhow::Result<String> {
        let id = crate::new_id()?;
        let now = crate::now();
        sqlx::query("INSERT INTO devices (id, user_id, name, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $4)")
            .bind(&id)
            .bind(user_id)
            .bind(name)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    /// The user's devices, newest first; `current` marks `device_id`.
    pub async fn devices(&self, user_id: &str, device_id: &str) -> anyhow::Result<Vec<DeviceInfo>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, last_seen_at, revoked_at FROM devices WHERE user_id = $1 \
             ORDER BY created_at DESC, id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                Ok(DeviceInfo {
                    current: id == device_id,
                    id,
                    name: r.try_get(1)?,
                    created_at: r.try_get(2)?,
                    last_seen_at: r.try_get(3)?,
                    revoked_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Revokes a device of `user_id` and all its refresh tokens; false when there is no such
    /// live device.
    pub async fn revoke_device(&self, user_id: &str, device_id: &str) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done =
            sqlx::query("UPDATE devices SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(crate::now())
                .bind(device_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        sqlx::query("DELETE FROM refresh_tokens WHERE device_id = $1 AND used_at IS NULL")
            .bind(device_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done == 1)
    }

    /// What `device_id` may do now, in one query: the server's lockdown, the device's owner,
    /// and the owner's lockdown.
    pub async fn standing(&self, device_id: &str) -> anyhow::Result<Standing> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM site WHERE key = 'lockdown'), u.id, u.locked_at \
             FROM (SELECT 1) one \
             LEFT JOIN devices d ON d.id = $1 AND d.revoked_at IS NULL \
             LEFT JOIN users u ON u.id = d.user_id",
        )
        .bind(device_id)
        .fetch_one(&self.pool)
        .await?;
        let site_locked = row.try_get::<i64, _>(0)? > 0;
        let owner: Option<String> = row.try_get(1)?;
        let locked_at: Option<i64> = row.try_get(2)?;
        Ok(match (site_locked, owner) {
            (true, _) => Standing::SiteLocked,
            (false, Some(user)) if locked_at.is_some() => Standing::ProfileLocked(user),
            (false, Some(user)) => Standing::Live(user),
            (false, None) => Standing::SignedOut,
        })
    }

    /// The owner of a live device whose user may be served.
    pub async fn device_owner(&self, device_id: &str) -> anyhow::Result<Option<String>> {
        Ok(match self.standing(device_id).await? {
            Standing::Live(user) => Some(user),
            _ => None,
        })
    }
}
