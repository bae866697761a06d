//! Settings: built-in defaults, then a TOML file (`--config`), then `PROFILE_SERVER__*`
//! environment variables (`PROFILE_SERVER__LISTEN=0.0.0.0:8443`), then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://…`; empty means `sqlite://DATA_DIR/profile.db`.
    pub database: String,
    /// Where the SQLite file lives by default.
    pub data_dir: PathBuf,
    /// The URL people and sites reach this server at (profile URLs start with it); empty
    /// means `http://LISTEN`.
    pub public_url: String,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Serve HTTPS with this certificate chain (PEM)…
    pub tls_cert: Option<PathBuf>,
    /// …and this private key (PEM). Both or neither; without them, serve plain HTTP behind a
    /// TLS-terminating reverse proxy.
    pub tls_key: Option<PathBuf>,
    /// The master key file (64 hex digits, mode 0600), which seals the site's signing key in
    /// the database; made on first start when missing. Default `DATA_DIR/master.key`.
    /// Instances sharing a database need the same file.
    pub master_key_file: Option<PathBuf>,
    /// The SMTP relay for verification and recovery email: `smtp://host:25` (plain, for a
    /// local relay), `smtp://user:pass@host:587?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host:465`. Without one, email is off and its endpoints say so.
    pub smtp_url: Option<Confidential>,
    /// The sender of that email.
    pub mail_from: String,
    /// Answer sites on loopback origins (`http://localhost:…`) too, fetching their
    /// registrations from this machine: for development and the demo only, since anyone could
    /// otherwise point the server at its own loopback services. Off (the default), a site's
    /// registration is fetched only from globally routable addresses, checked on every address
    /// its name resolves to as it is connected to; on, loopback addresses (127.0.0.0/8, ::1)
    /// are allowed as well, and nothing else is: private, link-local, shared and other special
    /// ranges stay refused either way.
    pub sites_on_loopback: bool,
    /// How many Argon2id checks and hashes (logins, passphrase changes) may run at once; a
    /// request that finds them all taken is answered `503 busy` with a `Retry-After` at once.
    /// Each holds 19 MiB while it runs. 0 (the default) means one per CPU.
    pub hash_concurrency: usize,
    /// How often each push socket is pinged and its device's standing checked again (a socket
    /// closes when its device is signed out or locked down, and when its access token expires).
    pub push_check_secs: u64,
    /// Serve `/metrics` on this address of its own (for a scraper on an internal network),
    /// and nothing else there. Unset (the default): not served apart.
    pub metrics_listen: Option<SocketAddr>,
    /// Serve `/metrics` on the API's listener too, to requests carrying
    /// `Authorization: Bearer TOKEN` with this token (compared in constant time). Unset (the
    /// default): `/metrics` is not served on the API's listener at all.
    pub metrics_token: Option<Confidential>,
    /// Reverse proxies (addresses or CIDR blocks, `["10.0.0.0/8", "::1"]`) whose
    /// `X-Forwarded-For` is believed: a request from one of them is counted, in the
    /// per-address throttle, against the address its proxies heard it from. Empty (the
    /// default): every request is counted against its peer address, and the header is ignored.
    #[serde(deserialize_with = "networks")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Live vault items a user may keep; a batch that would go past it is answered `413`.
    pub max_items_per_user: i64,
    /// Bytes the blobs of a user's live vault items may take together; past it, `413`.
    pub max_item_bytes_per_user: i64,
    /// Removed vault items (tombstones) remembered per user. They are kept so a removed item
    /// never comes back, and cost about 150 bytes each; a batch that would remember more is
    /// answered `413` until the operator raises this.
    pub max_tombstones_per_user: i64,
    /// Grants a profile may hold, revoked ones included until room is needed (then those revoked
    /// longest ago, more than `webhook_give_up_secs` ago, are forgotten); at most
    /// `profile_core::server_api::MAX_GRANTS`, the default.
    pub max_grants_per_user: usize,
    /// Appends that may wait for the person's devices, per grant; past it an app's append is
    /// answered `429`. At most `profile_core::server_api::MAX_PENDING_APPENDS`, the default.
    pub max_pending_appends: usize,
    /// The wait before a failed webhook delivery is tried again, doubling with each failure up
    /// to `webhook_max_retry_secs`, until `webhook_give_up_secs` after the event.
    pub webhook_retry_secs: u64,
    pub webhook_max_retry_secs: u64,
    /// After this long a delivery still failing is given up (kept as dead, counted in the
    /// metrics).
    pub webhook_give_up_secs: u64,
    /// Webhook deliveries under way at once, per server instance.
    pub webhook_concurrency: usize,
}

/// CIDR blocks, or bare addresses (a block of one).
fn networks<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| serde::de::Error::custom(format!("{item:?} is neither an IP address nor a CIDR block")))
        })
        .collect()
}

/// A setting that may carry a password: `Debug` does not print it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Confidential(pub String);

impl std::fmt::Debug for Confidential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Confidential(..)")
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8450)),
            database: String::new(),
            data_dir: default_data_dir(),
            public_url: String::new(),
            max_body_bytes: 1 << 20,
            tls_cert: None,
            tls_key: None,
            master_key_file: None,
            smtp_url: None,
            mail_from: "Personal Profile <profile@localhost>".into(),
            sites_on_loopback: false,
            hash_concurrency: 0,
            push_check_secs: 30,
            trusted_proxies: Vec::new(),
            metrics_listen: None,
            metrics_token: None,
            max_items_per_user: 200_000,
            max_item_bytes_per_user: 512 << 20,
            max_tombstones_per_user: 1_000_000,
            max_grants_per_user: profile_core::server_api::MAX_GRANTS,
            max_pending_appends: profile_core::server_api::MAX_PENDING_APPENDS,
            webhook_retry_secs: 5,
            webhook_max_retry_secs: 3600,
            webhook_give_up_secs: 86_400,
            webhook_concurrency: 64,
        }
    }
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("profile-server")
}

impl Settings {
    /// What a user may keep in vault items.
    pub fn item_limits(&self) -> crate::db::ItemLimits {
        crate::db::ItemLimits {
            items: self.max_items_per_user,
            bytes: self.max_item_bytes_per_user,
            tombstones: self.max_tombstones_per_user,
        }
    }

    /// Layers the defaults, `file` (when given), the environment and `overrides` (the
    /// command line's flags, only those set).
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed("PROFILE_SERVER__").split("__")).merge(Serialized::defaults(overrides));
        let mut settings: Settings = figment.extract().map_err(Box::new)?;
        if settings.database.is_empty() {
            settings.database = format!("sqlite://{}", settings.data_dir.join("profile.db").display());
        }
        if settings.max_items_per_user < 0
            || settings.max_item_bytes_per_user < 0
            || settings.max_tombstones_per_user < 0
        {
            return Err(Box::new(figment::Error::from("the vault item limits cannot be negative".to_owned())));
        }
        if settings.max_grants_per_user > profile_core::server_api::MAX_GRANTS
            || settings.max_pending_appends > profile_core::server_api::MAX_PENDING_APPENDS
        {
            return Err(Box::new(figment::Error::from(format!(
                "max_grants_per_user is at most {} and max_pending_appends at most {}",
                profile_core::server_api::MAX_GRANTS,
                profile_core::server_api::MAX_PENDING_APPENDS
            ))));
        }
        if settings.webhook_retry_secs == 0
            || settings.webhook_max_retry_secs < settings.webhook_retry_secs
            || settings.webhook_concurrency == 0
        {
            return Err(Box::new(figment::Error::from(
                "webhook_retry_secs and webhook_concurrency are at least 1, and webhook_max_retry_secs at least webhook_retry_secs"
                    .to_owned(),
            )));
        }
        if settings.push_check_secs == 0 {
            return Err(Box::new(figment::Error::from("push_check_secs must be at least 1".to_owned())));
        }
        if settings.metrics_token.as_ref().is_some_and(|token| token.0.len() < 16) {
            return Err(Box::new(figment::Error::from("metrics_token needs at least 16 characters".to_owned())));
        }
        if settings.tls_cert.is_some() != settings.tls_key.is_some() {
            return Err(Box::new(figment::Error::from(
                "tls_cert and tls_key go together: give both or neither".to_owned(),
            )));
        }
        if settings.public_url.is_empty() {
            let scheme = if settings.tls_cert.is_some() { "https" } else { "http" };
            settings.public_url = format!("{scheme}://{}", settings.listen);
        }
        settings.public_url = settings.public_url.trim_end_matches('/').to_owned();
        if settings.master_key_file.is_none() {
            settings.master_key_file = Some(settings.data_dir.join("master.key"));
        }
        Ok(settings)
    }
}

/// Command-line flags that override the other layers when given.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("server.toml", "listen = \"127.0.0.1:9000\"\nmax_body_bytes = 4096\n")?;
            jail.set_env("PROFILE_SERVER__PUBLIC_URL", "https://profiles.example/");
            let settings = Settings::load(Some(Path::new("server.toml")), &Overrides::default()).unwrap();
            assert_eq!(settings.listen, "127.0.0.1:9000".parse().unwrap());
            assert_eq!(settings.max_body_bytes, 4096);
            assert_eq!(settings.public_url, "https://profiles.example");
            assert!(settings.database.starts_with("sqlite://") && settings.database.ends_with("profile.db"));

            let flags = Overrides { listen: Some("127.0.0.1:9001".parse().unwrap()), ..Default::default() };
            let settings = Settings::load(Some(Path::new("server.toml")), &flags).unwrap();
            assert_eq!(settings.listen.port(), 9001, "a flag beats the file");

            jail.create_file("bad.toml", "listen = \"127.0.0.1:9000\"\nlisten_typo = 1\n")?;
            let error = Settings::load(Some(Path::new("bad.toml")), &Overrides::default()).unwrap_err();
            assert!(error.to_string().contains("listen_typo"), "{error}");

            jail.set_env("PROFILE_SERVER__TRUSTED_PROXIES", r#"["10.0.0.0/8", "192.0.2.1"]"#);
            let settings = Settings::load(None, &Overrides::default()).unwrap();
            assert_eq!(settings.trusted_proxies, ["10.0.0.0/8".parse().unwrap(), "192.0.2.1/32".parse().unwrap()]);
            assert_eq!(settings.item_limits().items, 200_000);
            jail.set_env("PROFILE_SERVER__MAX_ITEMS_PER_USER", "10");
            assert_eq!(Settings::load(None, &Overrides::default()).unwrap().item_limits().items, 10);
            jail.set_env("PROFILE_SERVER__MAX_ITEMS_PER_USER", "-1");
            assert!(Settings::load(None, &Overrides::default()).is_err());
            jail.set_env("PROFILE_SERVER__MAX_ITEMS_PER_USER", "10");
            jail.set_env("PROFILE_SERVER__MAX_GRANTS_PER_USER", "1001");
            assert!(Settings::load(None, &Overrides::default()).is_err(), "past the contract's bound");
            jail.set_env("PROFILE_SERVER__MAX_GRANTS_PER_USER", "10");
            jail.set_env("PROFILE_SERVER__WEBHOOK_RETRY_SECS", "0");
            assert!(Settings::load(None, &Overrides::default()).is_err());
            jail.set_env("PROFILE_SERVER__WEBHOOK_RETRY_SECS", "1");
            assert_eq!(Settings::load(None, &Overrides::default()).unwrap().max_grants_per_user, 10);
            jail.set_env("PROFILE_SERVER__TRUSTED_PROXIES", r#"["proxy.example"]"#);
            let error = Settings::load(None, &Overrides::default()).unwrap_err();
            assert!(error.to_string().contains("proxy.example"), "{error}");
            Ok(())
        });
    }
}
