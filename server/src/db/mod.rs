//! The database: one `sqlx` Any pool over SQLite or PostgreSQL, chosen by the URL, with the
//! migrations for that backend applied on connect. Queries use `$N` placeholders, which both
//! backends read. SQLite runs in WAL mode with `synchronous=FULL`, so an acknowledged write
//! survives a power cut.
//!
//! All the server's SQL is here, grouped by table: each file adds the methods on [`Db`] that
//! read or write its table (a statement that spans tables sits with the table it is about).
//! Nothing above this folder holds a query.

use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, bail};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

mod accounts;
mod app_nonces;
mod appends;
mod auth_failures;
mod credentials;
mod devices;
mod dump;
mod email_links;
mod events;
mod grants;
mod links;
mod public_parts;
mod refresh_tokens;
mod site;
mod tenants;
mod tickets;
mod users;
mod vault_items;
mod vaults;
mod webhook_deliveries;

pub use appends::Appended;
pub use auth_failures::Claims;
pub use credentials::{NewPassphrase, PassphraseChanged, StoredCredentials};
pub use devices::Standing;
pub use dump::{AccountDump, AppendDump, CredentialDump, GrantDump, ItemDump, USER_DUMP_FORMAT, UserDump, VaultDump};
pub use email_links::{LINK_TTL_SECS, RESEND_AFTER_SECS};
pub use events::listen;
pub use grants::{AppGrantRecord, GrantChange, Registered};
pub use public_parts::PublicProfile;
pub use refresh_tokens::REFRESH_TTL_SECS;
pub use tickets::TicketRefused;
pub use users::{NewUser, UserSummary};
pub use vault_items::{BatchOutcome, ItemLimits};
pub use vaults::{StoredVault, VaultHead};
pub use webhook_deliveries::Delivery;

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

    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// How addresses are stored and looked up: trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub(crate) fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).with_context(|| format!("cannot create {}", dir.display()))
}
