//! `email_links`: the links mailed to verify an address or recover a profile; only their
//! hash is stored, bound to the user, the purpose and the address.

use base64ct::{Base64UrlUnpadded, Encoding};
use sqlx::Row;

use super::Db;
use crate::secret_hash;

/// How long a link stays valid.
pub const LINK_TTL_SECS: i64 = 600;
/// At most one mail per user and purpose in this many seconds.
pub const RESEND_AFTER_SECS: i64 = 60;

impl Db {
    /// A new link for `user_id`, unless one for the same purpose went out in the last minute.
    pub async fn create_email_link(&self, user_id: &str, purpose: &str, email: &str) -> anyhow::Result<Option<String>> {
        let now = crate::now();
        let recent = sqlx::query("SELECT 1 FROM email_links WHERE user_id = $1 AND purpose = $2 AND created_at > $3")
            .bind(user_id)
            .bind(purpose)
            .bind(now - RESEND_AFTER_SECS)
            .fetch_optional(&self.pool)
            .await?;
        if recent.is_some() {
            return Ok(None);
        }
        let token = Base64UrlUnpadded::encode_string(&crate::random::<32>()?);
        sqlx::query(
            "INSERT INTO email_links (hash, user_id, purpose, email, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(secret_hash(&token))
        .bind(user_id)
        .bind(purpose)
        .bind(email)
        .bind(now + LINK_TTL_SECS)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(Some(token))
    }

    /// What a link is for, when it is live (nothing is spent).
    pub async fn peek_email_link(&self, token: &str) -> anyhow::Result<Option<String>> {
        let row =
            sqlx::query("SELECT purpose FROM email_links WHERE hash = $1 AND used_at IS NULL AND expires_at > $2")
                .bind(secret_hash(token))
                .bind(crate::now())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| r.try_get::<String, _>(0)).transpose().map_err(Into::into)
    }

    /// Spends a link: `(user, purpose)` when it was live and the user's address is still the
    /// one it went to.
    pub async fn redeem_email_link(&self, token: &str) -> anyhow::Result<Option<(String, String)>> {
        let now = crate::now();
        let row = sqlx::query(
            "UPDATE email_links SET used_at = $1 WHERE hash = $2 AND used_at IS NULL RETURNING user_id, purpose, email, expires_at",
        )
        .bind(now)
        .bind(secret_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let (user, purpose, email, expires_at): (String, String, String, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        let current =
            sqlx::query("SELECT email FROM users WHERE id = $1").bind(&user).fetch_optional(&self.pool).await?;
        let still_theirs = current.map(|r| r.try_get::<String, _>(0)).transpose()?.is_some_and(|e| e == email);
        Ok((now < expires_at && still_theirs).then_some((user, purpose)))
    }
}
