//! The database: one `sqlx` Any pool over SQLite or PostgreSQL, chosen by the URL, with the
//! migrations for that backend applied on connect. Queries use `$N` placeholders, which both
//! backends read. SQLite runs in WAL mode with `synchronous=FULL`, so an acknowledged write
//! survives a power cut.

use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, bail};
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

    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).with_context(|| format!("cannot create {}", dir.display()))
}
