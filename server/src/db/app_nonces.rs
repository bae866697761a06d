//! `app_nonces`: the nonce of every signed app request, spent once. The primary key makes a
//! second use fail in the database itself, so a replay is refused whichever server instance it
//! reaches. Each is kept until well after its stamp could still be fresh, then pruned.

use super::Db;

impl Db {
    /// Spends `nonce` for `grant` until `expires_at`; false when it was spent before.
    pub async fn spend_nonce(&self, grant: &str, nonce: &str, expires_at: i64) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "INSERT INTO app_nonces (grant_id, nonce, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (grant_id, nonce) DO NOTHING",
        )
        .bind(grant)
        .bind(nonce)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets the nonces that expired before `now`; how many.
    pub async fn prune_nonces(&self, now: i64) -> anyhow::Result<u64> {
        let done = sqlx::query("DELETE FROM app_nonces WHERE expires_at < $1").bind(now).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }
}
