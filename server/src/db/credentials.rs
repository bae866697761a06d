//! `credentials`: what holds a wrapped copy of each user's data key (the passphrase, the
//! paper key), with the paper key's verifier; and the passphrase change, which rewrites them
//! with the user's row, and with a rotation the vault, in one transaction.

use profile_core::server_api::{CredentialKind, Rotation, WrappedKey};
use sqlx::Row;

use super::{Db, VaultHead};

/// What a credential check compares against.
#[derive(Debug)]
pub struct StoredCredentials {
    pub email: String,
    /// The Argon2id PHC hash of the passphrase's auth key.
    pub auth_hash: String,
    /// The KDF parameters, as JSON.
    pub kdf: String,
    pub paper_verifier: Option<String>,
}

/// What a passphrase change stores, in one transaction.
#[derive(Debug)]
pub struct NewPassphrase<'a> {
    pub user: &'a str,
    /// The device making the change, which stays signed in.
    pub device: &'a str,
    pub kdf_json: String,
    pub auth_hash: String,
    pub wrapped_key: &'a [u8],
    pub keep_devices: bool,
    pub rotate: Option<&'a Rotation>,
}

/// What a passphrase change did, or why it changed nothing.
#[derive(Debug)]
pub enum PassphraseChanged {
    Done {
        revoked: Vec<String>,
        /// Where the vault stands after a rotation.
        rotated: Option<VaultHead>,
    },
    /// The rotation was based on a stale counter: this is the current one.
    Conflict(i64),
    /// The rotation's paper-key wrapping does not match whether there is a paper key.
    PaperMismatch { has_paper: bool },
}

impl Db {
    /// The user's email, passphrase hash, KDF parameters and paper-key verifier.
    pub async fn credentials_of(&self, user_id: &str) -> anyhow::Result<Option<StoredCredentials>> {
        let row = sqlx::query(
            "SELECT u.email, u.auth_hash, u.kdf, c.verifier FROM users u \
             LEFT JOIN credentials c ON c.user_id = u.id AND c.kind = 'paper' WHERE u.id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(StoredCredentials {
                email: r.try_get(0)?,
                auth_hash: r.try_get(1)?,
                kdf: r.try_get(2)?,
                paper_verifier: r.try_get(3)?,
            })
        })
        .transpose()
    }

    /// The data key as each of the user's credentials wraps it, by kind.
    pub async fn wrapped_keys(&self, user_id: &str) -> anyhow::Result<Vec<WrappedKey>> {
        sqlx::query("SELECT kind, wrapped_key FROM credentials WHERE user_id = $1 ORDER BY kind")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| {
                Ok(WrappedKey {
                    kind: r.try_get::<String, _>(0)?.parse().map_err(anyhow::Error::msg)?,
                    wrapped_key: profile_core::server_api::Bytes(r.try_get(1)?),
                })
            })
            .collect()
    }

    /// Sets or replaces the user's paper key: its wrapping of the data key and its verifier.
    pub async fn set_paper_key(&self, user_id: &str, wrapped_key: &[u8], verifier: &str) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM credentials WHERE user_id = $1 AND kind = $2")
            .bind(user_id)
            .bind(CredentialKind::Paper.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO credentials (id, user_id, kind, wrapped_key, verifier, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(crate::new_id()?)
        .bind(user_id)
        .bind(CredentialKind::Paper.as_str())
        .bind(wrapped_key)
        .bind(verifier)
        .bind(crate::now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets the new passphrase; with a rotation, stores the vault under the new data key as
    /// the next counter and re-wraps the paper key's copy; unless told to keep them, signs
    /// every other device of the user out. All or nothing.
    pub async fn change_passphrase(&self, change: &NewPassphrase<'_>) -> anyhow::Result<PassphraseChanged> {
        let mut tx = self.pool.begin().await?;
        let mut rotated = None;
        if let Some(rotate) = change.rotate {
            let has_paper = sqlx::query("SELECT 1 FROM credentials WHERE user_id = $1 AND kind = 'paper'")
                .bind(change.user)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            match &rotate.paper_wrapped_key {
                Some(wrapped) if has_paper => {
                    sqlx::query("UPDATE credentials SET wrapped_key = $1 WHERE user_id = $2 AND kind = 'paper'")
                        .bind(&wrapped.0)
                        .bind(change.user)
                        .execute(&mut *tx)
                        .await?;
                }
                None if !has_paper => {}
                _ => return Ok(PassphraseChanged::PaperMismatch { has_paper }),
            }
            let written = sqlx::query(
                "UPDATE vaults SET counter = counter + 1, blob = $1, updated_at = $2 \
                 WHERE user_id = $3 AND counter = $4 RETURNING counter, seq",
            )
            .bind(&rotate.blob.0)
            .bind(crate::now())
            .bind(change.user)
            .bind(rotate.counter)
            .fetch_optional(&mut *tx)
            .await?;
            match written {
                Some(row) => rotated = Some(VaultHead { counter: row.try_get(0)?, seq: row.try_get(1)? }),
                None => {
                    let current = sqlx::query("SELECT counter FROM vaults WHERE user_id = $1")
                        .bind(change.user)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get(0)?;
                    return Ok(PassphraseChanged::Conflict(current));
                }
            }
        }
        sqlx::query("UPDATE users SET kdf = $1, auth_hash = $2 WHERE id = $3")
            .bind(&change.kdf_json)
            .bind(&change.auth_hash)
            .bind(change.user)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE credentials SET wrapped_key = $1 WHERE user_id = $2 AND kind = 'passphrase'")
            .bind(change.wrapped_key)
            .bind(change.user)
            .execute(&mut *tx)
            .await?;
        let mut revoked = Vec::new();
        if !change.keep_devices {
            let rows = sqlx::query(
                "UPDATE devices SET revoked_at = $1 WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL RETURNING id",
            )
            .bind(crate::now())
            .bind(change.user)
            .bind(change.device)
            .fetch_all(&mut *tx)
            .await?;
            revoked = rows.iter().map(|row| row.try_get::<String, _>(0)).collect::<Result<_, _>>()?;
            // Spent tokens stay, so a copy presented later is still recognised as reuse.
            sqlx::query(
                "DELETE FROM refresh_tokens WHERE used_at IS NULL AND device_id IN \
                 (SELECT id FROM devices WHERE user_id = $1 AND id <> $2)",
            )
            .bind(change.user)
            .bind(change.device)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(PassphraseChanged::Done { revoked, rotated })
    }
}
