//! What apps ask of the profile server, each request signed for its grant
//! ([`AppRequest`]) and each refused outside it (`403 outside_grant`): the grant as enforced,
//! its share (still sealed to the app), appends (sealed to the profile) to a category whose
//! scope has `append`, and its events, by webhook or on a WebSocket, with `subscribe`.
//!
//! **Appends** are checked for shape and size only (HPKE's encapsulated key, at most
//! `MAX_APPEND_BYTES` sealed), bounded per grant while they wait (`max_pending_appends`, then
//! `429`), counted and stamped on the grant, and announced to the person's devices on their
//! push sockets (`append-received`), which take them in.
//!
//! **Webhooks** are `https` URLs (or `http` on loopback with `sites_on_loopback`), at most
//! `MAX_WEBHOOK_URL` bytes, without credentials; an address literal that is not public is
//! refused here, and every name is checked again at each delivery
//! ([`crate::services::outward`]).
//!
//! **The event socket** sends each of the grant's events as a JSON text message, from
//! whichever instance made it ([`crate::services::events`]); it is not a queue (the webhook
//! is): an app that reconnects reads its grant and share again. A socket left behind by a
//! burst of events catches up from the grant's state instead of closing. When the grant is
//! revoked it sends `grant-revoked` and closes; a revocation whose event it missed closes it
//! within two checks (`push_check_secs`). A grant holds at most [`MAX_APP_SOCKETS`] sockets
//! on an instance at once; the next is `429 rate_limited`.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use profile_core::apps::{Action, AppEvent, AppEventKind, MAX_APPEND_BYTES};
use profile_core::server_api::{ApiErrorCode, AppGrant, AppendAccepted, AppendRequest, MAX_WEBHOOK_URL, WebhookSet};

use crate::db::{AppGrantRecord, Appended};
use crate::http::{ApiError, AppRequest, AppState, check_hpke};
use crate::services::events::{AppFeed, Event, Heard, MAX_APP_SOCKETS};

/// The grant as the server enforces it.
pub async fn grant(State(state): State<AppState>, request: AppRequest) -> Json<AppGrant> {
    let grant = request.grant;
    Json(AppGrant {
        profile_url: crate::profile_url(&state.settings.public_url, &grant.user),
        grant_id: grant.id,
        scopes: grant.scopes,
        share_version: grant.share_version,
    })
}

/// The share, still sealed to the app; recorded as its last read.
pub async fn share(State(state): State<AppState>, request: AppRequest) -> Result<Response, ApiError> {
    match state.db.read_share(&request.grant.id).await? {
        Some(share) => Ok(Json(share).into_response()),
        None => Err(ApiError::grant_revoked()),
    }
}

/// An item for a category the grant may append to, sealed to the profile: `201` with its id.
pub async fn append(
    State(state): State<AppState>,
    request: AppRequest,
) -> Result<(StatusCode, Json<AppendAccepted>), ApiError> {
    let asked: AppendRequest = serde_json::from_slice(&request.body)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ApiErrorCode::InvalidRequest, e.to_string()))?;
    let grant = &request.grant;
    if !grant.scopes.iter().any(|scope| scope.category == asked.category && scope.may(Action::Append)) {
        return Err(outside_grant(format!("this grant may not append to {}", asked.category)));
    }
    check_hpke("the item", &asked.sealed, MAX_APPEND_BYTES)?;
    match state.db.add_append(&grant.id, asked.category, &asked.sealed, state.settings.max_pending_appends).await? {
        Appended::Stored { user, id } => {
            // Stored: the devices that miss this read the waiting appends when they reconnect.
            if let Err(e) = state.events.publish(&state.db, &Event::append_received(&user, &grant.id)).await {
                tracing::warn!("append-received was not published: {e:#}");
            }
            Ok((StatusCode::CREATED, Json(AppendAccepted { id })))
        }
        Appended::Full => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ApiErrorCode::RateLimited,
            format!(
                "{} of this grant's appends wait for the person's devices; try again once they took them in",
                state.settings.max_pending_appends
            ),
        )),
        Appended::Revoked => Err(ApiError::grant_revoked()),
    }
}

/// Sets the grant's webhook (`204`); needs `subscribe` on some scope.
pub async fn set_webhook(State(state): State<AppState>, request: AppRequest) -> Result<StatusCode, ApiError> {
    subscribes(&request.grant)?;
    let asked: WebhookSet = serde_json::from_slice(&request.body)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ApiErrorCode::InvalidRequest, e.to_string()))?;
    check_webhook(&asked.url, state.settings.sites_on_loopback)?;
    if !state.db.set_webhook(&request.grant.id, Some(&asked.url)).await? {
        return Err(ApiError::grant_revoked());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the grant's webhook (`204`). Events already queued are still delivered.
pub async fn remove_webhook(State(state): State<AppState>, request: AppRequest) -> Result<StatusCode, ApiError> {
    if !state.db.set_webhook(&request.grant.id, None).await? {
        return Err(ApiError::grant_revoked());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Upgrades to the grant's event socket; needs `subscribe` on some scope.
pub async fn events(
    State(state): State<AppState>,
    upgrade: WebSocketUpgrade,
    request: AppRequest,
) -> Result<Response, ApiError> {
    subscribes(&request.grant)?;
    let Some(feed) = state.events.subscribe_app(&request.grant.id) else {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ApiErrorCode::RateLimited,
            format!(
                "this grant holds {MAX_APP_SOCKETS} event sockets open on this server, the most it may; close one \
                 first"
            ),
        ));
    };
    // Revoked between the request's check and the subscription: its event may be gone.
    if state.db.grant_revoked(&request.grant.id).await? {
        return Err(ApiError::grant_revoked());
    }
    let grant = request.grant;
    // Apps send nothing but control frames.
    Ok(upgrade.max_message_size(4096).on_upgrade(move |socket| serve(socket, state, grant, feed)))
}

async fn serve(mut socket: WebSocket, state: AppState, grant: AppGrantRecord, mut feed: AppFeed) {
    let mut check = tokio::time::interval(Duration::from_secs(state.settings.push_check_secs));
    check.tick().await;
    // A check can find the grant revoked before its event arrives on the bus: the socket waits
    // one more check for the event before it closes without it.
    let mut found_revoked = false;
    let reason = loop {
        tokio::select! {
            heard = feed.next() => {
                let event = match heard {
                    Some(Heard::Event(event)) => event,
                    Some(Heard::Missed) => match catch_up(&state, &grant, &mut feed).await {
                        Ok(Some(event)) => event,
                        Ok(None) => continue,
                        Err(e) => {
                            tracing::warn!("app event socket: cannot catch up: {e:#}");
                            break "events were missed; read the grant again";
                        }
                    },
                    None => return,
                };
                let text = serde_json::to_string(&event).unwrap_or_default();
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
                if matches!(event.kind, AppEventKind::GrantRevoked {}) {
                    break "the grant was revoked";
                }
            },
            message = socket.recv() => match message {
                None | Some(Err(_) | Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
            _ = check.tick() => {
                match state.db.grant_revoked(&grant.id).await {
                    Ok(true) if found_revoked => break "the grant was revoked",
                    Ok(revoked) => found_revoked = revoked,
                    Err(e) => tracing::warn!("app event socket: cannot check the grant: {e:#}"),
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    };
    super::push::close(socket, reason).await;
}

/// What the grant's state in the database says a socket that missed events missed.
async fn catch_up(state: &AppState, grant: &AppGrantRecord, feed: &mut AppFeed) -> anyhow::Result<Option<AppEvent>> {
    let (revoked, share_version) = match state.db.app_grant(&grant.id).await? {
        Some(now) => (now.revoked, now.share_version),
        None => (true, grant.share_version),
    };
    feed.catch_up(revoked, share_version)
}

pub(super) fn outside_grant(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, ApiErrorCode::OutsideGrant, message)
}

fn subscribes(grant: &AppGrantRecord) -> Result<(), ApiError> {
    if grant.scopes.iter().any(|scope| scope.may(Action::Subscribe)) {
        Ok(())
    } else {
        Err(outside_grant("this grant subscribes to nothing".into()))
    }
}

/// A webhook URL: `https` (or `http` on loopback with `sites_on_loopback`), no credentials,
/// at most [`MAX_WEBHOOK_URL`] bytes, and no address literal that is not public.
fn check_webhook(url: &str, loopback: bool) -> Result<(), ApiError> {
    if url.len() > MAX_WEBHOOK_URL {
        return Err(ApiError::invalid(format!("a webhook URL is at most {MAX_WEBHOOK_URL} bytes")));
    }
    let uri: Uri = url.parse().map_err(|_| ApiError::invalid("the webhook is not a URL"))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(ApiError::invalid("the webhook is not an absolute URL"));
    };
    if authority.as_str().contains('@') {
        return Err(ApiError::invalid("a webhook URL carries no credentials"));
    }
    let host = authority.host().trim_start_matches('[').trim_end_matches(']');
    let literal = host.parse::<std::net::IpAddr>().ok();
    let on_loopback =
        host.eq_ignore_ascii_case("localhost") || literal.is_some_and(|ip| ip.to_canonical().is_loopback());
    match scheme {
        "https" => {}
        "http" if loopback && on_loopback => {}
        _ => {
            return Err(ApiError::invalid(
                "a webhook is an https URL (http only on loopback, with the server's sites_on_loopback)",
            ));
        }
    }
    if literal.is_some_and(|ip| !profile_core::net::may_fetch_from(ip, loopback)) {
        return Err(ApiError::invalid("a webhook goes to a public address only"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_are_https_to_public_addresses() {
        for good in ["https://hooks.example/profile", "https://93.184.216.34:8443/x?y=1"] {
            assert!(check_webhook(good, false).is_ok(), "{good}");
        }
        for bad in [
            "http://hooks.example/profile",
            "https://127.0.0.1/x",
            "https://[::ffff:10.0.0.1]/x",
            "https://[::1]/x",
            "https://user:pass@hooks.example/x",
            "ftp://hooks.example/x",
            "/relative",
            "not a url",
            &format!("https://hooks.example/{}", "x".repeat(MAX_WEBHOOK_URL)),
        ] {
            assert!(check_webhook(bad, false).is_err(), "{bad}");
        }
        assert!(check_webhook("http://127.0.0.1:9000/hook", true).is_ok(), "loopback in development");
        assert!(check_webhook("http://localhost:9000/hook", true).is_ok());
        assert!(check_webhook("http://10.0.0.1/hook", true).is_err(), "private stays refused");
        assert!(check_webhook("http://127.0.0.1:9000/hook", false).is_err());
    }
}
