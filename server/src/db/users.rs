//! `users`: who has a profile here, their address, passphrase hash and lockdown.

use anyhow::Context;
use sqlx::Row;

use super::{Db, normalize_email};

/// A user as `list-users` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    pub id: String,
    pub tenant: String,
    pub email: String,
    pub locked: bool,
    pub created_at: i64,
}

/// Everything a new user starts with, made by the client side (see `admin::create_user`).
#[derive(Debug)]
pub struct NewUser {
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    pub kdf_json: String,
    pub auth_hash: String,
    pub wrapped_key: Vec<u8>,
    pub vault: Vec<u8>,
}

impl Db {
    /// Creates the user, their passphrase credential and their first vault in one transaction.
    pub async fn create_user(&self, user: &NewUser) -> anyhow::Result<()> {
        let now = crate::now();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, tenant_id, email, kdf, auth_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&user.id)
        .bind(&user.tenant_id)
        .bind(&user.email)
        .bind(&user.kdf_json)
        .bind(&user.auth_hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("cannot create {} (is the address taken in this tenant?)", user.email))?;
        sqlx::query(
            "INSERT INTO credentials (id, user_id, kind, wrapped_key, created_at) VALUES ($1, $2, 'passphrase', $3, $4)",
        )
        .bind(crate::new_id()?)
        .bind(&user.id)
        .bind(&user.wrapped_key)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO vaults (user_id, counter, blob, updated_at) VALUES ($1, 1, $2, $3)")
            .bind(&user.id)
            .bind(&user.vault)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_users(&self, tenant: Option<&str>) -> anyhow::Result<Vec<UserSummary>> {
        let rows = sqlx::query(
            "SELECT u.id, t.name, u.email, u.locked_at, u.created_at FROM users u JOIN tenants t ON t.id = u.tenant_id \
             WHERE $1 = '' OR t.name = $1 ORDER BY t.name, u.email",
        )
        .bind(tenant.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(UserSummary {
                    id: r.try_get(0)?,
                    tenant: r.try_get(1)?,
                    email: r.try_get(2)?,
                    locked: r.try_get::<Option<i64>, _>(3)?.is_some(),
                    created_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Whether the user exists and is not locked down.
    pub async fn user_is_active(&self, id: &str) -> anyhow::Result<Option<bool>> {
        let row = sqlx::query("SELECT locked_at FROM users WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        row.map(|r| r.try_get::<Option<i64>, _>(0).map(|locked_at| locked_at.is_none())).transpose().map_err(Into::into)
    }

    pub async fn user_id(&self, tenant: &str, email: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query(
            "SELECT u.id FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE t.name = $1 AND u.email = $2",
        )
        .bind(tenant)
        .bind(normalize_email(email))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.try_get::<String, _>(0)).transpose().map_err(Into::into)
    }

    /// Locks a user down (no login, no service) or lifts it.
    pub async fn set_user_lockdown(&self, user_id: &str, on: bool) -> anyhow::Result<()> {
        sqlx::query("UPDATE users SET locked_at = $1 WHERE id = $2")
            .bind(on.then(crate::now))
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl Db {
    /// The user's address.
    pub async fn email_of(&self, user_id: &str) -> anyhow::Result<String> {
        let row = sqlx::query("SELECT email FROM users WHERE id = $1").bind(user_id).fetch_one(&self.pool).await?;
        Ok(row.try_get(0)?)
    }

    /// Whether `user_id` exists with this (normalized) address.
    pub async fn has_email(&self, user_id: &str, email: &str) -> anyhow::Result<bool> {
        let row = sqlx::query("SELECT 1 FROM users WHERE id = $1 AND email = $2")
            .bind(user_id)
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Records that the user confirmed their address.
    pub async fn set_email_verified(&self, user_id: &str) -> anyhow::Result<()> {
        sqlx::query("UPDATE users SET email_verified_at = $1 WHERE id = $2")
            .bind(crate::now())
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
