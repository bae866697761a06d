//! `public_parts`: the public part of each profile that published one, as its devices signed
//! it (JSON of `profile_core::public::PublicPart`), stored verbatim.

use profile_core::public::PublicPart;
use sqlx::Row;

use super::Db;

/// What the profile document of a user is made of, beside the server's own values.
#[derive(Debug)]
pub struct PublicProfile {
    /// Not locked down.
    pub active: bool,
    pub public: Option<PublicPart>,
}

impl Db {
    /// The user's lockdown and public part, in one query; `None` for no such user.
    pub async fn public_profile(&self, id: &str) -> anyhow::Result<Option<PublicProfile>> {
        let row = sqlx::query(
            "SELECT u.locked_at, p.part FROM users u LEFT JOIN public_parts p ON p.user_id = u.id WHERE u.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let public = row.try_get::<Option<String>, _>(1)?.map(|part| serde_json::from_str(&part)).transpose()?;
        Ok(Some(PublicProfile { active: row.try_get::<Option<i64>, _>(0)?.is_none(), public }))
    }

    /// Publishes `part` (checked by the caller) in place of the user's last one.
    pub async fn set_public_part(&self, user: &str, part: &PublicPart) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO public_parts (user_id, part, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET part = excluded.part, updated_at = excluded.updated_at",
        )
        .bind(user)
        .bind(serde_json::to_string(part)?)
        .bind(crate::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Publishes nothing for the user any more.
    pub async fn remove_public_part(&self, user: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM public_parts WHERE user_id = $1").bind(user).execute(&self.pool).await?;
        Ok(())
    }
}
