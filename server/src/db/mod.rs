//! The database: one `sqlx` Any pool over SQLite or PostgreSQL, chosen by the URL, with the
//! migrations for that backend applied on connect. Queries use `$N` placeholders, which both
//! backends read. SQLite runs in WAL mode with `synchronous=FULL`, so an acknowledged write
//! survives a power cut.

use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, bail};
use base64ct::Encoding;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Row};

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// The tenant single-server mode uses.
pub const DEFAULT_TENANT: &str = "default";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl FromStr for Backend {
    type Err = anyhow::Error;

    fn from_str(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            bail!("unsupported database URL (expected sqlite://PATH or postgres://…)")
        }
    }
}

#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

/// A user as `list-users` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    pub id: String,
    pub tenant: String,
    pub email: String,
    pub locked: bool,
    pub created_at: i64,
}

/// Everything a new user starts with, made by the client side (see `admin::create_user`).
#[derive(Debug)]
pub struct NewUser {
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    pub kdf_json: String,
    pub auth_hash: String,
    pub wrapped_key: Vec<u8>,
    pub vault: Vec<u8>,
}

impl Db {
    /// Connects, creating the SQLite file (and its directory) when missing, and migrates.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        install_default_drivers();
        let backend: Backend = url.parse()?;
        let mut url = url.to_owned();
        if backend == Backend::Sqlite {
            let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or_default();
            if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
                create_private_dir(dir)?;
            }
            if !url.contains("mode=") {
                url.push_str(if url.contains('?') { "&mode=rwc" } else { "?mode=rwc" });
            }
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .with_context(|| format!("cannot open the {backend:?} database"))?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
        };
        migrator.run(&pool).await.context("cannot apply the database migrations")?;
        let db = Self { pool, backend };
        db.ensure_tenant(DEFAULT_TENANT).await?;
        Ok(db)
    }

    /// The tenant's id, creating it when missing.
    pub async fn ensure_tenant(&self, name: &str) -> anyhow::Result<String> {
        if let Some(id) = self.tenant_id(name).await? {
            return Ok(id);
        }
        self.create_tenant(name).await
    }

    pub async fn create_tenant(&self, name: &str) -> anyhow::Result<String> {
        let id = crate::new_id()?;
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(name)
            .bind(crate::now())
            .execute(&self.pool)
            .await
            .with_context(|| format!("cannot create tenant `{name}` (does it exist already?)"))?;
        Ok(id)
    }

    pub async fn tenant_id(&self, name: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("SELECT id FROM tenants WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
        row.map(|r| r.try_get::<String, _>(0)).transpose().map_err(Into::into)
    }

    /// Creates the user, their passphrase credential and their first vault in one transaction.
    pub async fn create_user(&self, user: &NewUser) -> anyhow::Result<()> {
        let now = crate::now();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, tenant_id, email, kdf, auth_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&user.id)
        .bind(&user.tenant_id)
        .bind(&user.email)
        .bind(&user.kdf_json)
        .bind(&user.auth_hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("cannot create {} (is the address taken in this tenant?)", user.email))?;
        sqlx::query(
            "INSERT INTO credentials (id, user_id, kind, wrapped_key, created_at) VALUES ($1, $2, 'passphrase', $3, $4)",
        )
        .bind(crate::new_id()?)
        .bind(&user.id)
        .bind(&user.wrapped_key)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO vaults (user_id, counter, blob, updated_at) VALUES ($1, 1, $2, $3)")
            .bind(&user.id)
            .bind(&user.vault)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_users(&self, tenant: Option<&str>) -> anyhow::Result<Vec<UserSummary>> {
        let rows = sqlx::query(
            "SELECT u.id, t.name, u.email, u.locked_at, u.created_at FROM users u JOIN tenants t ON t.id = u.tenant_id \
             WHERE $1 = '' OR t.name = $1 ORDER BY t.name, u.email",
        )
        .bind(tenant.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(UserSummary {
                    id: r.try_get(0)?,
                    tenant: r.try_get(1)?,
                    email: r.try_get(2)?,
                    locked: r.try_get::<Option<i64>, _>(3)?.is_some(),
                    created_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Whether the user exists and is not locked down.
    pub async fn user_is_active(&self, id: &str) -> anyhow::Result<Option<bool>> {
        let row = sqlx::query("SELECT locked_at FROM users WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        row.map(|r| r.try_get::<Option<i64>, _>(0).map(|locked_at| locked_at.is_none())).transpose().map_err(Into::into)
    }

    pub async fn user_id(&self, tenant: &str, email: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query(
            "SELECT u.id FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE t.name = $1 AND u.email = $2",
        )
        .bind(tenant)
        .bind(normalize_email(email))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.try_get::<String, _>(0)).transpose().map_err(Into::into)
    }

    /// Makes a one-time ticket for `user_id` that expires `ttl_secs` from now; only its hash
    /// is stored. Returns the ticket.
    pub async fn issue_ticket(&self, user_id: &str, ttl_secs: i64) -> anyhow::Result<String> {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let ticket = Base64UrlUnpadded::encode_string(&crate::random::<32>()?);
        let now = crate::now();
        sqlx::query("INSERT INTO tickets (hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)")
            .bind(crate::keys::secret_hash(&ticket))
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
        .bind(crate::keys::secret_hash(ticket))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(Err(TicketRefused)) };
        let (user_id, expires_at): (String, i64) = (row.try_get(0)?, row.try_get(1)?);
        Ok(if now < expires_at { Ok(user_id) } else { Err(TicketRefused) })
    }

    /// Locks a user down (no login, no service) or lifts it.
    pub async fn set_user_lockdown(&self, user_id: &str, on: bool) -> anyhow::Result<()> {
        sqlx::query("UPDATE users SET locked_at = $1 WHERE id = $2")
            .bind(on.then(crate::now))
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Locks the whole site down, or lifts it.
    pub async fn set_site_lockdown(&self, on: bool) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM site WHERE key = 'lockdown'").execute(&mut *tx).await?;
        if on {
            sqlx::query("INSERT INTO site (key, value) VALUES ('lockdown', $1)")
                .bind(crate::now().to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A site-wide value (such as the sealed signing key).
    pub async fn site_value(&self, key: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM site WHERE key = $1").bind(key).fetch_optional(&self.pool).await?;
        row.map(|r| r.try_get::<String, _>(0)).transpose().map_err(Into::into)
    }

    /// Stores a site-wide value unless one is there already; true when this call stored it.
    pub async fn insert_site_value(&self, key: &str, value: &str) -> anyhow::Result<bool> {
        let done = sqlx::query("INSERT INTO site (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn site_locked_down(&self) -> anyhow::Result<bool> {
        Ok(sqlx::query("SELECT value FROM site WHERE key = 'lockdown'").fetch_optional(&self.pool).await?.is_some())
    }

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
            crate::accounts::COLUMNS
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
        let vault = sqlx::query("SELECT counter, blob, updated_at FROM vaults WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
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
            },
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
        sqlx::query("INSERT INTO vaults (user_id, counter, blob, updated_at) VALUES ($1, $2, $3, $4)")
            .bind(&dump.id)
            .bind(dump.vault.counter)
            .bind(&dump.vault.blob.0)
            .bind(dump.vault.updated_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// How addresses are stored and looked up: trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A ticket was unknown, already used, or expired (one answer for all three).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the ticket is unknown, used or expired")]
pub struct TicketRefused;

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
}

/// Bytes as base64url in JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl serde::Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64ct::Base64UrlUnpadded::encode_string(&self.0))
    }
}

impl<'de> serde::Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        base64ct::Base64UrlUnpadded::decode_vec(&text).map(Bytes).map_err(serde::de::Error::custom)
    }
}

pub(crate) fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).with_context(|| format!("cannot create {}", dir.display()))
}
