//! What `dump-user` writes and `load-user` reads: a user's rows in every table, still
//! encrypted.

use anyhow::Context;
use profile_core::public::PublicPart;
use profile_core::server_api::{Bytes, ItemId};
use sqlx::Row;

use super::Db;

impl Db {
    /// Everything stored for a user, as `dump-user` writes it: still encrypted.
    pub async fn dump_user(&self, user_id: &str) -> anyhow::Result<Option<UserDump>> {
        let Some(user) =
            sqlx::query("SELECT id, email, kdf, auth_hash, locked_at, created_at FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(None);
        };
        let credentials = sqlx::query(
            "SELECT id, kind, wrapped_key, verifier, created_at FROM credentials WHERE user_id = $1 ORDER BY created_at, id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            Ok(CredentialDump {
                id: r.try_get(0)?,
                kind: r.try_get(1)?,
                wrapped_key: Bytes(r.try_get(2)?),
                verifier: r.try_get(3)?,
                created_at: r.try_get(4)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
        let accounts = sqlx::query(&format!(
            "SELECT {} FROM accounts WHERE user_id = $1 ORDER BY origin",
            super::accounts::COLUMNS
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            Ok(AccountDump {
                origin: r.try_get(0)?,
                account_guid: r.try_get(1)?,
                app_id: r.try_get(2)?,
                public_key: serde_json::from_str(&r.try_get::<String, _>(3)?)?,
                permissions: serde_json::from_str(&r.try_get::<String, _>(4)?)?,
                created_at: r.try_get(5)?,
                last_login_at: r.try_get(6)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
        let vault = sqlx::query("SELECT counter, blob, updated_at, seq FROM vaults WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        let items = sqlx::query(
            "SELECT id, version, seq, blob, updated_at FROM vault_items WHERE user_id = $1 ORDER BY seq, id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            Ok(ItemDump {
                id: ItemId::try_from(r.try_get::<String, _>(0)?).map_err(anyhow::Error::msg)?,
                version: r.try_get(1)?,
                seq: r.try_get(2)?,
                blob: r.try_get::<Option<Vec<u8>>, _>(3)?.map(Bytes),
                updated_at: r.try_get(4)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
        let public = sqlx::query("SELECT part FROM public_parts WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| anyhow::Ok(serde_json::from_str(&r.try_get::<String, _>(0)?)?))
            .transpose()?;
        let grants = sqlx::query(
            "SELECT g.id, g.origin, g.app_id, g.name, g.scopes, g.app_key, g.share, g.share_version, g.webhook, \
             g.appended, g.created_at, g.last_read_at, g.last_append_at, g.revoked_at, g.share_note, p.peer \
             FROM grants g LEFT JOIN grant_peers p ON p.grant_id = g.id WHERE g.user_id = $1 \
             ORDER BY g.created_at, g.id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            let json = |i: usize| anyhow::Ok(serde_json::from_str::<serde_json::Value>(&r.try_get::<String, _>(i)?)?);
            Ok(GrantDump {
                id: r.try_get(0)?,
                origin: r.try_get(1)?,
                app_id: r.try_get(2)?,
                name: r.try_get(3)?,
                scopes: json(4)?,
                app_key: json(5)?,
                share: r.try_get::<Option<String>, _>(6)?.map(|s| serde_json::from_str(&s)).transpose()?,
                share_version: r.try_get(7)?,
                webhook: r.try_get(8)?,
                appended: r.try_get(9)?,
                created_at: r.try_get(10)?,
                last_read_at: r.try_get(11)?,
                last_append_at: r.try_get(12)?,
                revoked_at: r.try_get(13)?,
                share_note: r.try_get(14)?,
                peer: r.try_get::<Option<String>, _>(15)?.map(|s| serde_json::from_str(&s)).transpose()?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
        let appends = sqlx::query(
            "SELECT id, grant_id, category, enc, ciphertext, received_at FROM appends WHERE user_id = $1 ORDER BY n",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            Ok(AppendDump {
                id: r.try_get(0)?,
                grant_id: r.try_get(1)?,
                category: r.try_get(2)?,
                enc: Bytes(r.try_get(3)?),
                ciphertext: Bytes(r.try_get(4)?),
                received_at: r.try_get(5)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Some(UserDump {
            format: USER_DUMP_FORMAT.to_owned(),
            id: user.try_get(0)?,
            email: user.try_get(1)?,
            kdf: serde_json::from_str(&user.try_get::<String, _>(2)?)?,
            auth_hash: user.try_get(3)?,
            locked_at: user.try_get(4)?,
            created_at: user.try_get(5)?,
            credentials,
            accounts,
            vault: VaultDump {
                counter: vault.try_get(0)?,
                blob: Bytes(vault.try_get(1)?),
                updated_at: vault.try_get(2)?,
                seq: vault.try_get(3)?,
            },
            items,
            public,
            grants,
            appends,
        }))
    }

    /// Restores a dumped user into `tenant_id`, all or nothing.
    pub async fn load_user(&self, tenant_id: &str, dump: &UserDump) -> anyhow::Result<()> {
        anyhow::ensure!(dump.format == USER_DUMP_FORMAT, "not a {USER_DUMP_FORMAT} dump");
        dump.kdf.check().map_err(|e| anyhow::anyhow!("the dump's {e}"))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, tenant_id, email, kdf, auth_hash, locked_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&dump.id)
        .bind(tenant_id)
        .bind(&dump.email)
        .bind(serde_json::to_string(&dump.kdf)?)
        .bind(&dump.auth_hash)
        .bind(dump.locked_at)
        .bind(dump.created_at)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("cannot load {} (is the id or the address taken?)", dump.email))?;
        for credential in &dump.credentials {
            sqlx::query(
                "INSERT INTO credentials (id, user_id, kind, wrapped_key, verifier, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&credential.id)
            .bind(&dump.id)
            .bind(&credential.kind)
            .bind(&credential.wrapped_key.0)
            .bind(&credential.verifier)
            .bind(credential.created_at)
            .execute(&mut *tx)
            .await
            .context("cannot load a credential")?;
        }
        for account in &dump.accounts {
            sqlx::query(
                "INSERT INTO accounts (user_id, origin, account_guid, app_id, public_key, permissions, created_at, \
                 last_login_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&dump.id)
            .bind(&account.origin)
            .bind(&account.account_guid)
            .bind(&account.app_id)
            .bind(serde_json::to_string(&account.public_key)?)
            .bind(serde_json::to_string(&account.permissions)?)
            .bind(account.created_at)
            .bind(account.last_login_at)
            .execute(&mut *tx)
            .await
            .context("cannot load an account")?;
        }
        // The totals the bounds are checked against, counted from the items; the seq no lower
        // than any item's, so the next batch's seq is above them all.
        let (mut count, mut bytes, mut tombstones, mut seq) = (0i64, 0i64, 0i64, dump.vault.seq);
        for item in &dump.items {
            match &item.blob {
                Some(blob) => (count, bytes) = (count + 1, bytes + i64::try_from(blob.0.len())?),
                None => tombstones += 1,
            }
            seq = seq.max(item.seq);
        }
        sqlx::query(
            "INSERT INTO vaults (user_id, counter, blob, updated_at, seq, item_count, item_bytes, tombstones) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&dump.id)
        .bind(dump.vault.counter)
        .bind(&dump.vault.blob.0)
        .bind(dump.vault.updated_at)
        .bind(seq)
        .bind(count)
        .bind(bytes)
        .bind(tombstones)
        .execute(&mut *tx)
        .await?;
        for item in &dump.items {
            sqlx::query(
                "INSERT INTO vault_items (user_id, id, version, seq, blob, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&dump.id)
            .bind(item.id.as_str())
            .bind(item.version)
            .bind(item.seq)
            .bind(item.blob.as_ref().map(|b| b.0.as_slice()))
            .bind(item.updated_at)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("cannot load item {}", item.id))?;
        }
        if let Some(part) = &dump.public {
            sqlx::query("INSERT INTO public_parts (user_id, part, updated_at) VALUES ($1, $2, $3)")
                .bind(&dump.id)
                .bind(serde_json::to_string(part)?)
                .bind(dump.created_at)
                .execute(&mut *tx)
                .await?;
        }
        for grant in &dump.grants {
            let pending = dump.appends.iter().filter(|a| a.grant_id == grant.id).count();
            sqlx::query(
                "INSERT INTO grants (id, user_id, origin, app_id, name, scopes, app_key, share, share_version, webhook, \
                 pending, appended, created_at, last_read_at, last_append_at, revoked_at, share_note) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            )
            .bind(&grant.id)
            .bind(&dump.id)
            .bind(&grant.origin)
            .bind(&grant.app_id)
            .bind(&grant.name)
            .bind(grant.scopes.to_string())
            .bind(grant.app_key.to_string())
            .bind(grant.share.as_ref().map(ToString::to_string))
            .bind(grant.share_version)
            .bind(&grant.webhook)
            .bind(i64::try_from(pending)?)
            .bind(grant.appended)
            .bind(grant.created_at)
            .bind(grant.last_read_at)
            .bind(grant.last_append_at)
            .bind(grant.revoked_at)
            .bind(&grant.share_note)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("cannot load grant {} (is its id taken?)", grant.id))?;
            if let Some(peer) = &grant.peer {
                sqlx::query("INSERT INTO grant_peers (grant_id, peer) VALUES ($1, $2)")
                    .bind(&grant.id)
                    .bind(peer.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for append in &dump.appends {
            sqlx::query(
                "INSERT INTO appends (id, user_id, grant_id, category, enc, ciphertext, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&append.id)
            .bind(&dump.id)
            .bind(&append.grant_id)
            .bind(&append.category)
            .bind(&append.enc.0)
            .bind(&append.ciphertext.0)
            .bind(append.received_at)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("cannot load append {}", append.id))?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The format tag of [`UserDump`].
pub const USER_DUMP_FORMAT: &str = "personal-profile.user.v1";

/// A user as `dump-user` writes it and `load-user` reads it: the tenant is chosen on load.
/// Nothing in it is readable without the user's passphrase or paper key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserDump {
    pub format: String,
    pub id: String,
    pub email: String,
    pub kdf: profile_core::vault::KdfParams,
    pub auth_hash: String,
    pub locked_at: Option<i64>,
    pub created_at: i64,
    pub credentials: Vec<CredentialDump>,
    /// The accounts registry (absent from dumps made before it existed).
    #[serde(default)]
    pub accounts: Vec<AccountDump>,
    pub vault: VaultDump,
    /// The vault's items, tombstones included, in `(seq, id)` order (absent from dumps made
    /// before them).
    #[serde(default)]
    pub items: Vec<ItemDump>,
    /// The public part of the profile, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<PublicPart>,
    /// The grants the person gave apps, revoked ones included (absent from dumps made before
    /// them). Spent nonces and webhook deliveries are not a profile's and are not dumped.
    #[serde(default)]
    pub grants: Vec<GrantDump>,
    /// Appends waiting for the person's devices, oldest first.
    #[serde(default)]
    pub appends: Vec<AppendDump>,
}

/// A grant as stored; its share still sealed to the app.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantDump {
    pub id: String,
    pub origin: String,
    pub app_id: String,
    pub name: String,
    pub scopes: serde_json::Value,
    pub app_key: serde_json::Value,
    pub share: Option<serde_json::Value>,
    pub share_version: i64,
    pub webhook: Option<String>,
    pub appended: i64,
    pub created_at: i64,
    pub last_read_at: Option<i64>,
    pub last_append_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The sealing device's note on the share (keyed digests, opaque here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_note: Option<String>,
    /// For a linked profile's grant: the grant it gave back (`LinkConfirm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<serde_json::Value>,
}

/// An append waiting for the person's devices, still sealed to the profile.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppendDump {
    pub id: String,
    pub grant_id: String,
    pub category: String,
    pub enc: Bytes,
    pub ciphertext: Bytes,
    pub received_at: i64,
}

/// One vault item as stored; without a blob, a tombstone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ItemDump {
    pub id: ItemId,
    pub version: i64,
    pub seq: i64,
    pub blob: Option<Bytes>,
    pub updated_at: i64,
}

/// One entry of the accounts registry, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountDump {
    pub origin: String,
    pub account_guid: String,
    pub app_id: Option<String>,
    pub public_key: serde_json::Value,
    pub permissions: serde_json::Value,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialDump {
    pub id: String,
    pub kind: String,
    pub wrapped_key: Bytes,
    /// A paper key's verifier (absent for the passphrase, whose hash is the user's `authHash`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultDump {
    pub counter: i64,
    pub blob: Bytes,
    pub updated_at: i64,
    /// The items' change sequence (absent from dumps made before items).
    #[serde(default)]
    pub seq: i64,
}
