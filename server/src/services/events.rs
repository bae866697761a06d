//! The event bus: what devices are told on their push sockets ([`crate::routes::push`]) and
//! what apps are told on their event sockets ([`crate::routes::apps`]).
//!
//! On SQLite (one instance) events go through an in-process broadcast. On PostgreSQL every
//! event goes through `NOTIFY` and each instance `LISTEN`s, so devices and apps connected to
//! different instances behind a load balancer hear the same events, whichever instance made
//! them. Events are not stored here (an app's webhook has its own queue, in the database).

use std::time::Duration;

use profile_core::apps::AppEvent;
use profile_core::server_api::PushEvent;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::db::{Backend, Db, VaultHead};

const CHANNEL: &str = "profile_events";

/// An event for one user's devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub user: String,
    pub body: PushEvent,
}

impl Event {
    pub fn vault_changed(user: &str, head: VaultHead) -> Self {
        Self { user: user.into(), body: PushEvent::VaultChanged { counter: head.counter, seq: head.seq } }
    }

    pub fn account_added(user: &str, origin: &profile_core::Origin) -> Self {
        Self { user: user.into(), body: PushEvent::AccountAdded { origin: origin.as_str().into() } }
    }

    pub fn device_revoked(user: &str, device: &str) -> Self {
        Self { user: user.into(), body: PushEvent::DeviceRevoked { pairing_id: device.into() } }
    }

    pub fn append_received(user: &str, grant: &profile_core::apps::GrantId) -> Self {
        Self { user: user.into(), body: PushEvent::AppendReceived { grant_id: grant.to_string() } }
    }

    /// A connection ticket was redeemed, or a linked profile named the grant it gave back.
    pub fn link_requested(user: &str) -> Self {
        Self { user: user.into(), body: PushEvent::LinkRequested {} }
    }
}

/// What one notification carries: an event for a user's devices, or for an app.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "to", content = "event", rename_all = "camelCase")]
enum Notice {
    Devices(Event),
    App(AppEvent),
}

/// Where events are published and heard.
#[derive(Debug, Clone)]
pub struct Events {
    local: broadcast::Sender<Event>,
    apps: broadcast::Sender<AppEvent>,
    via_postgres: bool,
}

impl Events {
    /// On PostgreSQL, also starts listening for the events every instance publishes.
    pub async fn start(db: &Db, url: &str) -> anyhow::Result<Self> {
        let (local, _) = broadcast::channel(1024);
        let (apps, _) = broadcast::channel(1024);
        let via_postgres = db.backend == Backend::Postgres;
        if via_postgres {
            let mut listener = crate::db::listen(url, CHANNEL).await?;
            let (sender, to_apps) = (local.clone(), apps.clone());
            tokio::spawn(async move {
                loop {
                    // `recv` reconnects by itself after a lost connection; events in the gap are
                    // lost, and devices resync when their sockets reconnect.
                    match listener.recv().await {
                        Ok(notification) => match serde_json::from_str::<Notice>(notification.payload()) {
                            Ok(notice) => hear(&sender, &to_apps, notice),
                            Err(e) => tracing::warn!("ignoring a malformed {CHANNEL} notification: {e}"),
                        },
                        Err(e) => {
                            tracing::warn!("LISTEN {CHANNEL}: {e}; retrying");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            });
        }
        Ok(Self { local, apps, via_postgres })
    }

    /// Every event published from now on, for one socket to filter.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.local.subscribe()
    }

    pub async fn publish(&self, db: &Db, event: &Event) -> anyhow::Result<()> {
        self.send(db, Notice::Devices(event.clone())).await
    }

    /// Every app event published from now on, for one app's socket to filter.
    pub fn subscribe_apps(&self) -> broadcast::Receiver<AppEvent> {
        self.apps.subscribe()
    }

    pub async fn publish_app(&self, db: &Db, event: &AppEvent) -> anyhow::Result<()> {
        self.send(db, Notice::App(event.clone())).await
    }

    async fn send(&self, db: &Db, notice: Notice) -> anyhow::Result<()> {
        if self.via_postgres {
            db.notify(CHANNEL, &serde_json::to_string(&notice)?).await?;
        } else {
            hear(&self.local, &self.apps, notice);
        }
        Ok(())
    }
}

/// Hands what was published to this instance's sockets; none listening is not an error.
fn hear(devices: &broadcast::Sender<Event>, apps: &broadcast::Sender<AppEvent>, notice: Notice) {
    match notice {
        Notice::Devices(event) => {
            let _ = devices.send(event);
        }
        Notice::App(event) => {
            let _ = apps.send(event);
        }
    }
}
