//! The push channel: one WebSocket per device (`GET /api/v1/push` with its access token), on
//! which the server sends `vault-changed`, `account-added` and `device-revoked` events for the
//! device's profile, as JSON text messages (`{"type": "vault-changed", "counter": 8}`).
//!
//! Events come from the bus in [`crate::services::events`] (in-process on SQLite, `NOTIFY` on
//! PostgreSQL). When a socket falls behind, it gets `{"type": "resync"}`, and the device reads the vault again; it should do the same whenever it
//! reconnects, since events are not stored.
//!
//! A socket lives no longer than the access token that opened it: it closes when the token
//! expires (the device reconnects with a fresh one), and, checked every `push_check_secs`, when
//! the device is signed out or its profile or the whole server is locked down. The server closes
//! with a Close frame giving the reason and ends the connection once the device answers it (or
//! after [`CLOSE_HANDSHAKE`]), as RFC 6455 asks, so the device reads the reason rather than a
//! reset.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use profile_core::server_api::PushEvent;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::db::Standing;
use crate::http::{AppState, Session};
use crate::services::events::Event;

/// How long the server waits for a device's Close frame after sending its own.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(10);

/// Upgrades an authenticated request to the device's push socket.
pub async fn socket(State(state): State<AppState>, session: Session, upgrade: WebSocketUpgrade) -> Response {
    let events = state.events.subscribe();
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
                        if send(&mut socket, &PushEvent::Resync).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if send(&mut socket, &body).await.is_err() {
                    return;
                }
                if matches!(&body, PushEvent::DeviceRevoked { pairing_id } if *pairing_id == session.device) {
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
    close(socket, reason).await;
}

/// Closes a socket the server ends, with a Close frame giving `reason`, and ends the
/// connection once the other end answers it (or after [`CLOSE_HANDSHAKE`]).
pub(super) async fn close(mut socket: WebSocket, reason: &str) {
    let frame = CloseFrame { code: close_code::POLICY, reason: reason.into() };
    if socket.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    // Finish the closing handshake before the connection ends: read (and drop) what the device
    // still sends, such as its answers to earlier pings, until its own Close frame. Ending the
    // connection at once would answer those with a reset, which the device could meet before it
    // reads the Close frame, losing the reason (and what was sent before it). A device that
    // never answers is dropped anyway.
    let _ = tokio::time::timeout(CLOSE_HANDSHAKE, async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

async fn send(socket: &mut WebSocket, body: &impl Serialize) -> Result<(), axum::Error> {
    let text = serde_json::to_string(body).unwrap_or_default();
    socket.send(Message::Text(text.into())).await
}
