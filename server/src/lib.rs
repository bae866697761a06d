#![doc = include_str!("../README.md")]
//!
//! `profile-server`: each person's profile, end-to-end encrypted, for one person or many
//! tenants, on SQLite (embedded, the default) or PostgreSQL.
//!
//! Layers, each importing only those below it:
//!
//! - [`routes`]: one file per resource of the HTTP API, and the router;
//! - [`http`]: the plumbing every route uses: the app state, the one error type and its
//!   response, the JSON body, client-address and session extractors;
//! - [`services`]: what the routes share beside the database: the event bus (devices' pushes,
//!   apps' events), the mailer, sites' published keys (fetched), apps' webhooks and their
//!   delivery worker, both reaching out only to public addresses, and the metrics;
//! - [`keys`]: the master key, the server signing key and the access tokens it signs;
//!   [`admin`]: what `profile-server admin …` does;
//! - [`db`]: the database (one `sqlx` pool for either backend), its migrations and every
//!   query, grouped by table;
//! - [`throttle`]: the policy in front of every credential check, and the bound on Argon2id
//!   work; [`config`]: settings layered from defaults, a TOML file, `PROFILE_SERVER__*`
//!   variables and the command line.
//!
//! The HTTP contract itself (paths and bodies) is `profile_core::server_api`, shared with the
//! clients.

pub mod admin;
pub mod config;
pub mod db;
pub mod http;
pub mod keys;
pub mod routes;
pub mod services;
pub mod throttle;

/// Makes ring rustls's process-wide crypto provider (for HTTPS and for SMTP over TLS).
/// Installing fails only when a provider is installed already, which is then the one used.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
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

/// SHA-256 of a bearer secret (ticket, refresh token, email-link token), as stored.
pub fn secret_hash(secret: &str) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    use sha2::Digest;
    Base64UrlUnpadded::encode_string(&sha2::Sha256::digest(secret.as_bytes()))
}

/// Where a user's public profile document is served.
pub fn profile_url(public_url: &str, user_id: &str) -> String {
    format!("{public_url}{}", profile_core::server_api::path::profile(user_id))
}
