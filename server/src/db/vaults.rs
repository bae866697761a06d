//! `vaults`: one sealed blob per user with its write counter. A write is a compare-and-set on
//! the counter, in one conditional `UPDATE`. The row also holds the user's vault-item change
//! sequence and item totals, which [`super::vault_items`] keeps.

use profile_core::server_api::Bytes;
use sqlx::Row;

use super::Db;

/// A user's vault as stored, with the KDF parameters (JSON) from their row.
#[derive(Debug)]
pub struct StoredVault {
    pub counter: i64,
    pub blob: Bytes,
    pub kdf: String,
}

/// Where a user's vault stands: its counter, and the seq of its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VaultHead {
    pub counter: i64,
    pub seq: i64,
}

impl Db {
    pub async fn vault(&self, user_id: &str) -> anyhow::Result<StoredVault> {
        let row = sqlx::query(
            "SELECT v.counter, v.blob, u.kdf FROM vaults v JOIN users u ON u.id = v.user_id WHERE v.user_id = $1",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(StoredVault { counter: row.try_get(0)?, blob: Bytes(row.try_get(1)?), kdf: row.try_get(2)? })
    }

    /// Stores `blob` as the version after `base` when `base` is still the current counter:
    /// `Ok(where the vault stands now)`, else `Err(current counter)`.
    pub async fn write_vault(&self, user_id: &str, base: i64, blob: &[u8]) -> anyhow::Result<Result<VaultHead, i64>> {
        let written = sqlx::query(
            "UPDATE vaults SET counter = counter + 1, blob = $1, updated_at = $2 WHERE user_id = $3 AND counter = $4 \
             RETURNING counter, seq",
        )
        .bind(blob)
        .bind(crate::now())
        .bind(user_id)
        .bind(base)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = written {
            return Ok(Ok(VaultHead { counter: row.try_get(0)?, seq: row.try_get(1)? }));
        }
        let current: i64 = sqlx::query("SELECT counter FROM vaults WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(Err(current))
    }
}
