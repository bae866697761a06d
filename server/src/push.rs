//! The push channel: one WebSocket per device (`GET /api/v1/push` with its access token), on
//! which the server sends `vault-changed`, `account-added` and `device-revoked` events for the
//! device's profile, as JSON text messages (`{"type": "vault-changed", "counter": 8}`).
//!
//! On SQLite (one instance) events go through an in-process broadcast. On PostgreSQL every
//! event goes through `NOTIFY` and each instance `LISTEN`s, so devices connected to different
//! instances behind a load balancer hear the same events. When a socket falls behind, it gets
//! `{"type": "resync"}`, and the device reads the vault again; it should do the same whenever it
//! reconnects, since events are not stored.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::api::AppState;
use crate::auth::Session;
use crate::db::{Backend, Db};

const CHANNEL: &str = "profile_events";
const PING_EVERY: Duration = Duration::from_secs(30);

/// An event for one user's devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub user: String,
    pub body: EventBody,
}

/// What a device is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum EventBody {
    VaultChanged { counter: i64 },
    AccountAdded { origin: String },
    DeviceRevoked { device_id: String },
}

impl Event {
    pub fn vault_changed(user: &str, counter: i64) -> Self {
        Self { user: user.into(), body: EventBody::VaultChanged { counter } }
    }

    pub fn account_added(user: &str, origin: &profile_core::Origin) -> Self {
        Self { user: user.into(), body: EventBody::AccountAdded { origin: origin.as_str().into() } }
    }

    pub fn device_revoked(user: &str, device: &str) -> Self {
        Self { user: user.into(), body: EventBody::DeviceRevoked { device_id: device.into() } }
    }
}

/// Where events are published and heard.
#[derive(Debug, Clone)]
pub struct Events {
    local: broadcast::Sender<Event>,
    via_postgres: bool,
}

impl Events {
    /// On PostgreSQL, also starts listening for the events every instance publishes.
    pub async fn start(db: &Db, url: &str) -> anyhow::Result<Self> {
        let (local, _) = broadcast::channel(1024);
        let via_postgres = db.backend == Backend::Postgres;
        if via_postgres {
            let mut listener = sqlx::postgres::PgListener::connect(url).await?;
            listener.listen(CHANNEL).await?;
            let sender = local.clone();
            tokio::spawn(async move {
                loop {
                    // `recv` reconnects by itself after a lost connection; events in the gap are
                    // lost, and devices resync when their sockets reconnect.
                    match listener.recv().await {
                        Ok(notification) => match serde_json::from_str::<Event>(notification.payload()) {
                            Ok(event) => {
                                let _ = sender.send(event);
                            }
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
        Ok(Self { local, via_postgres })
    }

    pub async fn publish(&self, db: &Db, event: &Event) -> anyhow::Result<()> {
        if self.via_postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(serde_json::to_string(event)?)
                .execute(&db.pool)
                .await?;
        } else {
            // No socket listening is not an error.
            let _ = self.local.send(event.clone());
        }
        Ok(())
    }
}

/// Upgrades an authenticated request to the device's push socket.
pub async fn socket(State(state): State<AppState>, session: Session, upgrade: WebSocketUpgrade) -> Response {
    let events = state.events.local.subscribe();
    // Devices send nothing but control frames: keep their messages small.
    upgrade.max_message_size(4096).on_upgrade(move |socket| serve(socket, session, events))
}

async fn serve(mut socket: WebSocket, session: Session, mut events: broadcast::Receiver<Event>) {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            event = events.recv() => {
                let body = match event {
                    Ok(event) if event.user == session.user => event.body,
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if send(&mut socket, &serde_json::json!({"type": "resync"})).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let revoked = matches!(&body, EventBody::DeviceRevoked { device_id } if *device_id == session.device);
                if send(&mut socket, &body).await.is_err() || revoked {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
            }
            message = socket.recv() => match message {
                None | Some(Err(_) | Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn send(socket: &mut WebSocket, body: &impl Serialize) -> Result<(), axum::Error> {
    let text = serde_json::to_string(body).unwrap_or_default();
    socket.send(Message::Text(text.into())).await
}
