#![doc = include_str!("../README.md")]
//!
//! `profile-server`: each person's profile, end-to-end encrypted, for one person or many
//! tenants, on SQLite (embedded, the default) or PostgreSQL.
//!
//! - [`config`]: settings layered from defaults, a TOML file, `PROFILE_SERVER__*` variables
//!   and the command line;
//! - [`db`]: the database (one `sqlx` pool for either backend), its migrations and queries;
//! - [`admin`]: what `profile-server admin …` does;
//! - [`keys`]: the master key, the site's signing key and the access tokens it signs;
//! - [`api`]: the HTTP API, with [`auth`] (device login, tokens, devices), [`throttle`] (the
//!   count in front of every credential check, and the bound on Argon2id work),
//!   [`vaults`] (the vault and its credentials), [`accounts`] (the accounts registry) and
//!   [`push`] (the push channel), [`email`] (verification and recovery links) and [`sites`]
//!   (sites' signed questions about their accounts);
//! - [`metrics`]: request counts and latencies at `/metrics`, on their own listener or behind a
//!   token.

pub mod accounts;
pub mod admin;
pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod email;
pub mod keys;
pub mod metrics;
pub mod push;
pub mod sites;
pub mod throttle;
pub mod vaults;

/// Makes ring rustls's process-wide crypto provider (for HTTPS and for SMTP over TLS).
/// Installing fails only when a provider is installed already, which is then the one used.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// `n` bytes from the OS's CSPRNG.
pub fn random<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("the OS random source failed: {e}"))?;
    Ok(bytes)
}

/// A fresh random id, base64url (128 bits).
pub fn new_id() -> anyhow::Result<String> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Ok(Base64UrlUnpadded::encode_string(&random::<16>()?))
}
