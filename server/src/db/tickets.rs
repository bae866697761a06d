//! `tickets`: one-time device tickets the operator issues; only their hash is stored.

use sqlx::Row;

use super::Db;

impl Db {
    /// Makes a one-time ticket for `user_id` that expires `ttl_secs` from now; only its hash
    /// is stored. Returns the ticket.
    pub async fn issue_ticket(&self, user_id: &str, ttl_secs: i64) -> anyhow::Result<String> {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let ticket = Base64UrlUnpadded::encode_string(&crate::random::<32>()?);
        let now = crate::now();
        sqlx::query("INSERT INTO tickets (hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)")
            .bind(crate::secret_hash(&ticket))
            .bind(user_id)
            .bind(now + ttl_secs)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(ticket)
    }

    /// Spends a ticket: the first use marks it used whatever follows, and only an unexpired,
    /// unused ticket yields its user.
    pub async fn redeem_ticket(&self, ticket: &str) -> anyhow::Result<Result<String, TicketRefused>> {
        let now = crate::now();
        let row = sqlx::query(
            "UPDATE tickets SET used_at = $1 WHERE hash = $2 AND used_at IS NULL RETURNING user_id, expires_at",
        )
        .bind(now)
        .bind(crate::secret_hash(ticket))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(Err(TicketRefused)) };
        let (user_id, expires_at): (String, i64) = (row.try_get(0)?, row.try_get(1)?);
        Ok(if now < expires_at { Ok(user_id) } else { Err(TicketRefused) })
    }
}

/// A ticket was unknown, already used, or expired (one answer for all three).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the ticket is unknown, used or expired")]
pub struct TicketRefused;
