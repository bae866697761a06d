//! `appends`: items apps appended, sealed to the profile's key, waiting for the person's
//! devices to take them in (or refuse them) and say they are done. Each grant's waiting appends
//! are counted on its `grants` row (`pending`), raised and checked in the statement that
//! admits an append, so the bound holds however many arrive at once.

use profile_core::apps::{GrantId, Sealed};
use profile_core::category::Category;
use profile_core::server_api::{Bytes, PendingAppend};
use sqlx::Row;

use super::Db;

/// How an append went.
#[derive(Debug, PartialEq, Eq)]
pub enum Appended {
    /// Stored, for this user, with this id.
    Stored { user: String, id: String },
    /// The grant has its most appends waiting.
    Full,
    /// The grant was revoked meanwhile.
    Revoked,
}

impl Db {
    /// Stores an append of `grant` unless `max` of its appends wait already; counts it and
    /// stamps the grant's last append.
    pub async fn add_append(
        &self,
        grant: &GrantId,
        category: Category,
        sealed: &Sealed,
        max: usize,
    ) -> anyhow::Result<Appended> {
        let now = crate::now();
        let mut tx = self.pool.begin().await?;
        let admitted = sqlx::query(
            "UPDATE grants SET pending = pending + 1, appended = appended + 1, last_append_at = $1 \
             WHERE id = $2 AND revoked_at IS NULL AND pending < $3 RETURNING user_id",
        )
        .bind(now)
        .bind(grant.as_str())
        .bind(i64::try_from(max)?)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = admitted else {
            drop(tx);
            return Ok(if self.grant_revoked(grant).await? { Appended::Revoked } else { Appended::Full });
        };
        let user: String = row.try_get(0)?;
        let id = crate::new_id()?;
        sqlx::query(
            "INSERT INTO appends (id, user_id, grant_id, category, enc, ciphertext, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(&user)
        .bind(grant.as_str())
        .bind(category.as_str())
        .bind(&sealed.enc.0)
        .bind(&sealed.ciphertext.0)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Appended::Stored { user, id })
    }

    /// The user's waiting appends, oldest first, at most `limit`.
    pub async fn appends(&self, user: &str, limit: usize) -> anyhow::Result<Vec<PendingAppend>> {
        sqlx::query(
            "SELECT id, grant_id, category, enc, ciphertext, received_at FROM appends WHERE user_id = $1 \
             ORDER BY n LIMIT $2",
        )
        .bind(user)
        .bind(i64::try_from(limit)?)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            Ok(PendingAppend {
                id: r.try_get(0)?,
                grant_id: GrantId::try_from(r.try_get::<String, _>(1)?).map_err(anyhow::Error::msg)?,
                category: serde_json::from_value(serde_json::Value::String(r.try_get(2)?))?,
                sealed: Sealed { enc: Bytes(r.try_get(3)?), ciphertext: Bytes(r.try_get(4)?) },
                received_at: r.try_get(5)?,
            })
        })
        .collect()
    }

    /// Deletes those of `ids` that are the user's appends (taken in or refused by a device),
    /// and counts them off their grants; how many it deleted.
    pub async fn appends_done(&self, user: &str, ids: &[String]) -> anyhow::Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut deleted = 0;
        for id in ids {
            let row = sqlx::query("DELETE FROM appends WHERE id = $1 AND user_id = $2 RETURNING grant_id")
                .bind(id)
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = row {
                sqlx::query("UPDATE grants SET pending = pending - 1 WHERE id = $1")
                    .bind(row.try_get::<String, _>(0)?)
                    .execute(&mut *tx)
                    .await?;
                deleted += 1;
            }
        }
        tx.commit().await?;
        Ok(deleted)
    }
}
