//! The push channel: one WebSocket per device (`GET /api/v1/push` with its access token), on
//! which the server sends `vault-changed`, `account-added` and `device-revoked` events for the
//! device's profile, as JSON text messages (`{"type": "vault-changed", "counter": 8}`).
//!
//! On SQLite (one instance) events go through an in-process broadcast. On PostgreSQL every
//! event goes through `NOTIFY` and each instance `LISTEN`s, so devices connected to different
//! instances behind a load balancer hear the same events. When a socket falls behind, it gets
//! `{"type": "resync"}`, and the device reads the vault again; it should do the same whenever it
//! reconnects, since events are not stored.
//!
//! A socket lives no longer than the access token that opened it: it closes when the token
//! expires (the device reconnects with a fresh one), and, checked every `push_check_secs`, when
//! the device is signed out or its profile or the site is locked down.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::api::AppState;
use crate::auth::{Session, Standing};
use crate::db::{Backend, Db};

const CHANNEL: &str = "profile_events";

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
    upgrade.max_message_size(4096).on_upgrade(move |socket| serve(socket, state, session, events))
}

async fn serve(mut socket: WebSocket, state: AppState, session: Session, mut events: broadcast::Receiver<Event>) {
    let mut check = tokio::time::interval(Duration::from_secs(state.settings.push_check_secs));
    check.tick().await;
    let lifetime = u64::try_from(session.expires_at - crate::now()).unwrap_or(0);
    let expiry = tokio::time::sleep(Duration::from_secs(lifetime));
    tokio::pin!(expiry);
    let reason = loop {
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
                if send(&mut socket, &body).await.is_err() {
                    return;
                }
                if matches!(&body, EventBody::DeviceRevoked { device_id } if *device_id == session.device) {
                    break "this device was signed out";
                }
            }
            message = socket.recv() => match message {
                None | Some(Err(_) | Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
            () = &mut expiry => break "the access token expired; reconnect with a fresh one",
            _ = check.tick() => {
                match state.db.standing(&session.device).await {
                    Ok(Standing::Live(user)) if user == session.user => {}
                    Ok(_) => break "this device was signed out or its profile locked down",
                    // The database is unreachable for now: keep the socket, check again next time.
                    Err(e) => tracing::warn!("push socket: cannot check the device: {e:#}"),
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    };
    let frame = CloseFrame { code: close_code::POLICY, reason: reason.into() };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

async fn send(socket: &mut WebSocket, body: &impl Serialize) -> Result<(), axum::Error> {
    let text = serde_json::to_string(body).unwrap_or_default();
    socket.send(Message::Text(text.into())).await
}
