//! Linked profiles: `link_tickets` (connection tickets a person's device issued, by the hash of
//! their token, spent at the first redemption whatever follows), `link_requests` (redemptions
//! waiting for the issuing device, which alone can check them) and `grant_peers` (the grant a
//! linked profile gave back, as it said in a request signed for the grant it was given).
//!
//! A redemption is kept whole (`LinkRedeem`, JSON), its token included: the ticket was spent
//! before the redemption is stored, so the token opens nothing any more. (The comment in the
//! migration that made `link_requests` says "without its token"; it is wrong, and stays, as
//! an applied migration is checked by its checksum.)

use std::collections::HashMap;

use profile_core::apps::GrantId;
use profile_core::apps::links::{LinkConfirm, LinkRedeem, LinkRequest};
use sqlx::Row;

use super::Db;

/// Tickets one profile may have outstanding; the oldest go first past it.
pub const MAX_OUTSTANDING_TICKETS: i64 = 20;
/// Redemptions one profile may have waiting for its devices.
pub const MAX_WAITING_REQUESTS: i64 = 100;

impl Db {
    /// Keeps a ticket's token hash until `expires_at`; expired ones of the user go, and past
    /// [`MAX_OUTSTANDING_TICKETS`] the oldest.
    pub async fn add_link_ticket(&self, user: &str, token_hash: &str, expires_at: i64) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM link_tickets WHERE user_id = $1 AND expires_at < $2")
            .bind(user)
            .bind(crate::now())
            .execute(&mut *tx)
            .await?;
        let held: i64 = sqlx::query("SELECT COUNT(*) FROM link_tickets WHERE user_id = $1")
            .bind(user)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if held >= MAX_OUTSTANDING_TICKETS {
            sqlx::query(
                "DELETE FROM link_tickets WHERE token_hash = (SELECT token_hash FROM link_tickets WHERE user_id = $1 \
                 ORDER BY expires_at LIMIT 1)",
            )
            .bind(user)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("INSERT INTO link_tickets (token_hash, user_id, expires_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(user)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Spends a ticket, whatever follows: the user it was issued for, when it was one and had
    /// not expired.
    pub async fn spend_link_ticket(&self, token_hash: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("DELETE FROM link_tickets WHERE token_hash = $1 RETURNING user_id, expires_at")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let expires_at: i64 = row.try_get(1)?;
        Ok((expires_at >= crate::now()).then(|| row.try_get(0)).transpose()?)
    }

    /// Keeps a redemption for the issuer's devices, unless [`MAX_WAITING_REQUESTS`] wait.
    pub async fn add_link_request(&self, user: &str, token_hash: &str, redeem: &LinkRedeem) -> anyhow::Result<bool> {
        let waiting: i64 = sqlx::query("SELECT COUNT(*) FROM link_requests WHERE user_id = $1")
            .bind(user)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        if waiting >= MAX_WAITING_REQUESTS {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO link_requests (id, user_id, token_hash, redeem, received_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(crate::new_id()?)
        .bind(user)
        .bind(token_hash)
        .bind(serde_json::to_string(redeem)?)
        .bind(crate::now())
        .execute(&self.pool)
        .await?;
        Ok(true)
    }

    /// The redemptions waiting for the user's devices, oldest first.
    pub async fn link_requests(&self, user: &str) -> anyhow::Result<Vec<LinkRequest>> {
        sqlx::query("SELECT id, token_hash, redeem, received_at FROM link_requests WHERE user_id = $1 ORDER BY n")
            .bind(user)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| {
                Ok(LinkRequest {
                    id: r.try_get(0)?,
                    token_hash: r.try_get(1)?,
                    redeem: serde_json::from_str(&r.try_get::<String, _>(2)?)?,
                    received_at: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Deletes those of `ids` that are the user's waiting redemptions.
    pub async fn link_requests_done(&self, user: &str, ids: &[String]) -> anyhow::Result<()> {
        for id in ids {
            sqlx::query("DELETE FROM link_requests WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Records the grant a linked profile gave back for `grant` (the one this profile gave it);
    /// the user whose grant it is.
    pub async fn set_grant_peer(&self, grant: &GrantId, peer: &LinkConfirm) -> anyhow::Result<Option<String>> {
        let json = serde_json::to_string(peer)?;
        sqlx::query(
            "INSERT INTO grant_peers (grant_id, peer) VALUES ($1, $2) ON CONFLICT (grant_id) DO UPDATE SET peer = $2",
        )
        .bind(grant.as_str())
        .bind(&json)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT user_id FROM grants WHERE id = $1")
            .bind(grant.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// The grants linked profiles gave back, by the user's grant each answers.
    pub async fn grant_peers(&self, user: &str) -> anyhow::Result<HashMap<GrantId, LinkConfirm>> {
        sqlx::query(
            "SELECT p.grant_id, p.peer FROM grant_peers p JOIN grants g ON g.id = p.grant_id WHERE g.user_id = $1",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            let grant = GrantId::try_from(r.try_get::<String, _>(0)?).map_err(anyhow::Error::msg)?;
            Ok((grant, serde_json::from_str(&r.try_get::<String, _>(1)?)?))
        })
        .collect()
    }
}
