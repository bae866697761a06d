//! `site`: server-wide values: the lockdown of the whole server and its sealed signing key.

use sqlx::Row;

use super::Db;

impl Db {
    /// Locks the whole site down, or lifts it.
    pub async fn set_site_lockdown(&self, on: bool) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM site WHERE key = 'lockdown'").execute(&mut *tx).await?;
        if on {
            sqlx::query("INSERT INTO site (key, value) VALUES ('lockdown', $1)")
                .bind(crate::now().to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A site-wide value (such as the sealed signing key).
    pub async fn site_value(&self, key: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM site WHERE key = $1").bind(key).fetch_optional(&self.pool).await?;
        row.map(|r| r.try_get::<String, _>(0)).transpose().map_err(Into::into)
    }

    /// Stores a site-wide value unless one is there already; true when this call stored it.
    pub async fn insert_site_value(&self, key: &str, value: &str) -> anyhow::Result<bool> {
        let done = sqlx::query("INSERT INTO site (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn site_locked_down(&self) -> anyhow::Result<bool> {
        Ok(sqlx::query("SELECT value FROM site WHERE key = 'lockdown'").fetch_optional(&self.pool).await?.is_some())
    }
}
