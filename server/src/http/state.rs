//! What every handler is given.

use std::sync::Arc;

use crate::config::Settings;
use crate::db::Db;
use crate::keys::{MasterKey, ServerKeys};
use crate::services::events::Events;
use crate::services::mailer::Mailer;
use crate::services::metrics::Metrics;
use crate::services::site_keys::SiteKeys;
use crate::services::webhooks::Webhooks;
use crate::throttle::{GrantRate, SlowHashes};

#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    pub keys: Arc<ServerKeys>,
    pub events: Events,
    pub mailer: Mailer,
    /// Sites' published keys, fetched for their signed requests.
    pub site_keys: Arc<SiteKeys>,
    /// The bound on Argon2id runs at once.
    pub hashes: SlowHashes,
    /// Wakes this instance's webhook delivery worker.
    pub webhooks: Webhooks,
    /// Each grant's requests on this instance.
    pub app_rate: Arc<GrantRate>,
}

impl AppState {
    /// Loads the keys and starts the event bus and the webhook delivery worker.
    pub async fn new(db: Db, settings: Settings, master: &MasterKey) -> anyhow::Result<Self> {
        let keys = Arc::new(ServerKeys::load(&db, master).await?);
        let metrics = Arc::<Metrics>::default();
        let webhooks = Webhooks::start(db.clone(), keys.signing.clone(), &settings, metrics.clone());
        let events = Events::start(&db, &settings.database).await?;
        let mailer = Mailer::new(&settings)?;
        let site_keys = Arc::new(SiteKeys::new(settings.sites_on_loopback));
        let hashes = SlowHashes::new(settings.hash_concurrency);
        let app_rate = Arc::default();
        Ok(Self { db, settings, metrics, keys, events, mailer, site_keys, hashes, webhooks, app_rate })
    }
}
