//! PostgreSQL's `NOTIFY`/`LISTEN`, which carries push events between instances. No table.

use super::Db;

impl Db {
    /// `NOTIFY channel, payload` (PostgreSQL only).
    pub async fn notify(&self, channel: &str, payload: &str) -> anyhow::Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(payload).execute(&self.pool).await?;
        Ok(())
    }
}

/// A connection of its own to the PostgreSQL at `url` that `LISTEN`s on `channel`.
pub async fn listen(url: &str, channel: &str) -> anyhow::Result<sqlx::postgres::PgListener> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(channel).await?;
    Ok(listener)
}
