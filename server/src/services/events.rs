//! The event bus: what devices are told on their push sockets ([`crate::routes::push`]) and
//! what apps are told on their event sockets ([`crate::routes::apps`]).
//!
//! On SQLite (one instance) events go through an in-process broadcast. On PostgreSQL every
//! event goes through `NOTIFY` and each instance `LISTEN`s, so devices and apps connected to
//! different instances behind a load balancer hear the same events, whichever instance made
//! them. Events are not stored here (an app's webhook has its own queue, in the database).
//!
//! Every app socket of an instance reads one bus of [`BUFFER`] events, each socket keeping the
//! events of its grant ([`AppFeed`]). A burst of more than that (one person's change reaching
//! a thousand apps, or many people's at once) leaves a socket behind whatever its own grant
//! did, and the bus drops the events it had not read. An app's events say no more than its
//! grant's state, which the database holds: revoked or not, and its share's version. So a
//! socket that fell behind stays open and catches up from it: it sends `grant-revoked` (and
//! closes) when the grant was revoked, else `share-updated` with the share's version unless
//! it told that version already; either made then, with an id of its own. It closes only when
//! it cannot read the grant. A socket never tells a share version twice, or an older one after
//! a newer.
//!
//! One grant holds at most [`MAX_APP_SOCKETS`] event sockets on an instance; each socket holds
//! its place until it closes, and the next is refused (`429`). The count is each instance's:
//! behind a load balancer a grant may hold that many on each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use profile_core::apps::{AppEvent, AppEventKind, GrantId};
use profile_core::server_api::PushEvent;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::db::{Backend, Db, VaultHead};

const CHANNEL: &str = "profile_events";
/// Events each bus holds for the sockets that have not read them yet.
const BUFFER: usize = 1024;
/// Event sockets one grant may hold open on one instance at once.
pub const MAX_APP_SOCKETS: usize = 4;

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
    /// How many event sockets each grant holds open on this instance.
    app_sockets: Arc<Mutex<HashMap<GrantId, usize>>>,
}

impl Events {
    /// On PostgreSQL, also starts listening for the events every instance publishes.
    pub async fn start(db: &Db, url: &str) -> anyhow::Result<Self> {
        let (local, _) = broadcast::channel(BUFFER);
        let (apps, _) = broadcast::channel(BUFFER);
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
        Ok(Self { local, apps, via_postgres, app_sockets: Arc::default() })
    }

    /// Every event published from now on, for one socket to filter.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.local.subscribe()
    }

    pub async fn publish(&self, db: &Db, event: &Event) -> anyhow::Result<()> {
        self.send(db, Notice::Devices(event.clone())).await
    }

    /// The grant's events published from now on, for one more of its sockets; `None` when it
    /// holds [`MAX_APP_SOCKETS`] on this instance already.
    pub fn subscribe_app(&self, grant: &GrantId) -> Option<AppFeed> {
        let mut held = self.app_sockets.lock().unwrap_or_else(PoisonError::into_inner);
        let count = held.entry(grant.clone()).or_default();
        if *count >= MAX_APP_SOCKETS {
            return None;
        }
        *count += 1;
        Some(AppFeed {
            grant: grant.clone(),
            bus: self.apps.subscribe(),
            told: None,
            sockets: self.app_sockets.clone(),
        })
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

/// What an app's feed heard next.
#[derive(Debug, PartialEq, Eq)]
pub enum Heard {
    /// An event of its grant.
    Event(AppEvent),
    /// The bus dropped events before this feed read them (a burst of more than [`BUFFER`]
    /// events of any grants): what the grant's state says it missed is [`AppFeed::catch_up`].
    Missed,
}

/// One app event socket's events: its grant's, from the bus. Holds one of the grant's
/// [`MAX_APP_SOCKETS`] places on this instance until dropped.
#[derive(Debug)]
pub struct AppFeed {
    grant: GrantId,
    bus: broadcast::Receiver<AppEvent>,
    /// The newest share version this feed handed out.
    told: Option<u64>,
    sockets: Arc<Mutex<HashMap<GrantId, usize>>>,
}

impl AppFeed {
    /// The grant's next event, or that some were missed; `None` once the bus is gone. A
    /// `share-updated` of a version this feed told already (or an older one) is passed over.
    pub async fn next(&mut self) -> Option<Heard> {
        loop {
            match self.bus.recv().await {
                Ok(event) if event.grant_id == self.grant => {
                    if let AppEventKind::ShareUpdated { version } = event.kind {
                        if self.told.is_some_and(|told| version <= told) {
                            continue;
                        }
                        self.told = Some(version);
                    }
                    return Some(Heard::Event(event));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => return Some(Heard::Missed),
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// After [`Heard::Missed`]: what the grant's state says the app missed, as an event made
    /// now (with an id of its own): `grant-revoked` when it is `revoked`, else `share-updated`
    /// with `share_version` unless this feed told that version already; `None` when nothing.
    pub fn catch_up(&mut self, revoked: bool, share_version: u64) -> anyhow::Result<Option<AppEvent>> {
        let kind = if revoked {
            AppEventKind::GrantRevoked {}
        } else if self.told.is_some_and(|told| share_version <= told) {
            return Ok(None);
        } else {
            self.told = Some(share_version);
            AppEventKind::ShareUpdated { version: share_version }
        };
        Ok(Some(AppEvent {
            id: crate::new_id()?,
            grant_id: self.grant.clone(),
            occurred_at: crate::now().unsigned_abs(),
            kind,
        }))
    }
}

impl Drop for AppFeed {
    fn drop(&mut self) {
        let mut held = self.sockets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.grant) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.grant);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bus() -> Events {
        let (local, _) = broadcast::channel(BUFFER);
        let (apps, _) = broadcast::channel(BUFFER);
        Events { local, apps, via_postgres: false, app_sockets: Arc::default() }
    }

    fn published(bus: &Events, grant: &GrantId, kind: AppEventKind) {
        let event = AppEvent { id: format!("{grant}-{kind:?}"), grant_id: grant.clone(), occurred_at: 1, kind };
        hear(&bus.local, &bus.apps, Notice::App(event));
    }

    fn kind(heard: Option<Heard>) -> Option<AppEventKind> {
        match heard {
            Some(Heard::Event(event)) => Some(event.kind),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_feed_behind_a_burst_of_other_apps_events_catches_up_from_the_grants_state() {
        let bus = bus();
        let till = GrantId::from_bytes([1; 16]);
        let mut feed = bus.subscribe_app(&till).unwrap();
        published(&bus, &till, AppEventKind::ShareUpdated { version: 2 });
        // A person's change reaches 1,100 apps at once: more than the bus holds for a socket.
        for n in 0..1100u16 {
            let mut id = [0; 16];
            id[..2].copy_from_slice(&n.to_be_bytes());
            published(&bus, &GrantId::from_bytes(id), AppEventKind::ShareUpdated { version: 2 });
        }
        published(&bus, &till, AppEventKind::ShareUpdated { version: 3 });

        assert_eq!(feed.next().await, Some(Heard::Missed));
        let caught_up = feed.catch_up(false, 3).unwrap().expect("the newest version, told");
        assert_eq!((&caught_up.grant_id, &caught_up.kind), (&till, &AppEventKind::ShareUpdated { version: 3 }));
        // The bus still holds version 3's own event: not told twice.
        let nothing = tokio::time::timeout(Duration::from_millis(50), feed.next()).await;
        assert!(nothing.is_err(), "{nothing:?}");
        published(&bus, &till, AppEventKind::ShareUpdated { version: 4 });
        assert_eq!(kind(feed.next().await), Some(AppEventKind::ShareUpdated { version: 4 }));
        assert_eq!(feed.catch_up(false, 4).unwrap(), None, "nothing new to tell");
        let revoked = feed.catch_up(true, 4).unwrap().expect("a revocation it missed, told");
        assert_eq!(revoked.kind, AppEventKind::GrantRevoked {});
    }

    #[test]
    fn a_grant_holds_at_most_four_sockets_on_an_instance() {
        let bus = bus();
        let (till, other) = (GrantId::from_bytes([1; 16]), GrantId::from_bytes([2; 16]));
        let mut feeds: Vec<AppFeed> = (0..MAX_APP_SOCKETS).map(|_| bus.subscribe_app(&till).unwrap()).collect();
        assert!(bus.subscribe_app(&till).is_none(), "a fifth");
        assert!(bus.subscribe_app(&other).is_some(), "another grant's");
        feeds.pop();
        assert!(bus.subscribe_app(&till).is_some(), "room again once one closed");
    }
}
