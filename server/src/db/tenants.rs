//! `tenants`: the tenants users belong to (single-server mode uses [`super::DEFAULT_TENANT`]).

use anyhow::Context;
use sqlx::Row;

use super::Db;

impl Db {
    /// The tenant's id, creating it when missing.
    pub async fn ensure_tenant(&self, name: &str) -> anyhow::Result<String> {
        if let Some(id) = self.tenant_id(name).await? {
            return Ok(id);
        }
        self.create_tenant(name).await
    }

    pub async fn create_tenant(&self, name: &str) -> anyhow::Result<String> {
        let id = crate::new_id()?;
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(name)
            .bind(crate::now())
            .execute(&self.pool)
            .await
            .with_context(|| format!("cannot create tenant `{name}` (does it exist already?)"))?;
        Ok(id)
    }

    pub async fn tenant_id(&self, name: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("SELECT id FROM tenants WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
        row.map(|r| r.try_get::<String, _>(0)).transpose().map_err(Into::into)
    }
}
