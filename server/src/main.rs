//! `profile-server`: `serve` runs the HTTP API; `admin …` manages tenants and users.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use profile_core::Passphrase;
use profile_server::admin;
use profile_server::config::{Overrides, Settings};
use profile_server::db::{DEFAULT_TENANT, Db};
use profile_server::http::AppState;
use profile_server::keys::MasterKey;
use profile_server::profile_url;
use profile_server::routes::router;

#[derive(Debug, Parser)]
#[command(name = "profile-server", version, about = "Personal Profile's profile server")]
struct Cli {
    /// A TOML settings file; `PROFILE_SERVER__*` variables and flags override it.
    #[arg(long, global = true, env = "PROFILE_SERVER_CONFIG")]
    config: Option<PathBuf>,
    /// `sqlite://PATH` (the default: a file under the data dir) or `postgres://…`.
    #[arg(long, global = true)]
    database: Option<String>,
    /// The URL this server is reached at (profile URLs start with it), when behind a proxy.
    #[arg(long, global = true)]
    public_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API; migrations are applied on start.
    Serve {
        /// Address to listen on (default 127.0.0.1:8450).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Manage tenants and users.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Debug, Subcommand)]
enum Admin {
    /// Create a tenant.
    CreateTenant { name: String },
    /// Create a user; reads the passphrase from stdin and prints the profile URL.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
    },
    /// List users (of one tenant, or all).
    ListUsers {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Print a one-time device ticket for a user: it pairs one device, expires within 10
    /// minutes, and is spent at its first use whether that use succeeds or not.
    IssueTicket {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
        /// How long it stays valid (at most 10 minutes).
        #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
        ttl: std::time::Duration,
    },
    /// Lock a user, or the whole site, down (no logins, nothing served); `--lift` undoes it.
    Lockdown {
        #[arg(long, conflicts_with = "site", required_unless_present = "site")]
        email: Option<String>,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
        #[arg(long)]
        site: bool,
        #[arg(long)]
        lift: bool,
    },
    /// Write a user as JSON to stdout, still encrypted (for backup or a move).
    DumpUser {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
    },
    /// Read a `dump-user` JSON from stdin into a tenant.
    LoadUser {
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
    },
}

/// The longest a device ticket may live.
const MAX_TICKET_TTL: std::time::Duration = std::time::Duration::from_secs(600);

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PROFILE_SERVER_LOG").unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout)]
async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut overrides = Overrides { database: cli.database, public_url: cli.public_url, ..Overrides::default() };
    if let Command::Serve { listen, tls_cert, tls_key } = &cli.command {
        (overrides.listen, overrides.tls_cert, overrides.tls_key) = (*listen, tls_cert.clone(), tls_key.clone());
    }
    let settings = Settings::load(cli.config.as_deref(), &overrides).map_err(|e| anyhow::anyhow!("{e}"))?;
    let db = Db::connect(&settings.database).await?;
    match cli.command {
        Command::Serve { .. } => {
            let listener = tokio::net::TcpListener::bind(settings.listen)
                .await
                .with_context(|| format!("cannot listen on {}", settings.listen))?;
            let tls = match (&settings.tls_cert, &settings.tls_key) {
                (Some(cert), Some(key)) => Some(tls_config(cert, key).await?),
                _ => None,
            };
            let master_key = settings.master_key_file.as_deref().context("no master key file set")?;
            let master = MasterKey::load_or_create(master_key)?;
            let metrics_listen = settings.metrics_listen;
            let state = AppState::new(db.clone(), settings, &master).await?;
            if let Some(addr) = metrics_listen {
                let metrics = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} for metrics"))?;
                tracing::info!(metrics = %metrics.local_addr()?, "serving metrics apart");
                let app = profile_server::routes::metrics::router(state.metrics.clone());
                tokio::spawn(async move {
                    if let Err(e) = axum::serve(metrics, app).with_graceful_shutdown(shutdown()).await {
                        tracing::error!("the metrics listener failed: {e}");
                    }
                });
            }
            let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
            tracing::info!(listen = %listener.local_addr()?, database = ?db.backend, tls = tls.is_some(), "serving");
            match tls {
                None => axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?,
                Some(config) => {
                    let handle = axum_server::Handle::new();
                    let stopper = handle.clone();
                    tokio::spawn(async move {
                        shutdown().await;
                        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
                    });
                    axum_server::from_tcp_rustls(listener.into_std()?, config)?.handle(handle).serve(app).await?;
                }
            }
        }
        Command::Admin(Admin::CreateTenant { name }) => {
            db.create_tenant(&name).await?;
            println!("{name}");
        }
        Command::Admin(Admin::CreateUser { email, tenant }) => {
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input).context("cannot read the passphrase from stdin")?;
            let passphrase = Passphrase::new(input.trim_end_matches(['\r', '\n']).to_owned());
            input.clear();
            println!("{}", admin::create_user(&db, &settings.public_url, &tenant, &email, &passphrase).await?);
        }
        Command::Admin(Admin::IssueTicket { email, tenant, ttl }) => {
            anyhow::ensure!(!ttl.is_zero() && ttl <= MAX_TICKET_TTL, "a ticket lives at most 10 minutes");
            let user = find_user(&db, &tenant, &email).await?;
            println!("{}", db.issue_ticket(&user, ttl.as_secs() as i64).await?);
        }
        Command::Admin(Admin::Lockdown { email, tenant, site, lift }) => match email {
            Some(email) if !site => {
                let user = find_user(&db, &tenant, &email).await?;
                db.set_user_lockdown(&user, !lift).await?;
                if lift {
                    // Lifting also ends a lockout after too many failed logins.
                    db.clear_failures(&user).await?;
                }
                println!("{email}: {}", if lift { "lockdown lifted" } else { "locked down" });
            }
            _ => {
                db.set_site_lockdown(!lift).await?;
                println!("site: {}", if lift { "lockdown lifted" } else { "locked down" });
            }
        },
        Command::Admin(Admin::DumpUser { email, tenant }) => {
            let user = find_user(&db, &tenant, &email).await?;
            let dump = db.dump_user(&user).await?.context("the user vanished")?;
            println!("{}", serde_json::to_string_pretty(&dump)?);
        }
        Command::Admin(Admin::LoadUser { tenant }) => {
            let tenant_id = db.tenant_id(&tenant).await?.with_context(|| format!("no tenant `{tenant}`"))?;
            let dump: profile_server::db::UserDump =
                serde_json::from_reader(std::io::stdin().lock()).context("stdin is not a dump-user JSON")?;
            db.load_user(&tenant_id, &dump).await?;
            println!("{}", profile_url(&settings.public_url, &dump.id));
        }
        Command::Admin(Admin::ListUsers { tenant }) => {
            for user in db.list_users(tenant.as_deref()).await? {
                let state = if user.locked { "locked" } else { "active" };
                println!("{}  {}  {}  {}", user.tenant, user.email, profile_url(&settings.public_url, &user.id), state);
            }
        }
    }
    Ok(())
}

/// The certificate and key for HTTPS, on rustls with the ring provider.
async fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<axum_server::tls_rustls::RustlsConfig> {
    profile_server::install_crypto_provider();
    axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
        .await
        .with_context(|| format!("cannot use {} and {} for TLS", cert.display(), key.display()))
}

async fn find_user(db: &Db, tenant: &str, email: &str) -> anyhow::Result<String> {
    db.user_id(tenant, email).await?.with_context(|| format!("no user {email} in tenant `{tenant}`"))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            term.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}
