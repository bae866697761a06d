//! Linked profiles (`profile_core::apps::links`), as this server takes part: it keeps the hash
//! of each connection ticket its people's devices issue (`POST /api/v1/links/tickets`), spends a
//! ticket at its first redemption whatever follows (`POST /api/v1/links/redeem`, from anyone
//! holding it: a wrong or spent one counts against the caller's address like a wrong
//! passphrase), and holds the redemption for the issuer's devices (`GET
//! /api/v1/links/requests`), which alone can check its MAC. When the issuer's device grants its
//! card back it tells the redeemer's server which grant that is (`PUT /api/v1/app/link`, signed
//! as an app signs, with the key of the grant the redeemer gave it); the grant list then carries
//! it as `peerGrant`. The server reads none of what the two profiles share.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use profile_core::apps::links::{LINK_APP_ID, LinkConfirm, LinkRedeem, MAX_PROFILE_URL, TICKET_TTL, card_scopes};
use profile_core::server_api::{ApiErrorCode, AppendsDone, LinkRequestList, LinkTicketSet};

use super::grants::APPENDS_PAGE;
use crate::http::{ApiError, AppRequest, AppState, Body, ClientAddr, Session};
use crate::services::events::Event;
use crate::throttle::subjects;

/// Keeps a ticket's token hash until it expires (at most ten minutes from now): `201`.
pub async fn issue(
    State(state): State<AppState>,
    session: Session,
    Body(ticket): Body<LinkTicketSet>,
) -> Result<StatusCode, ApiError> {
    let now = crate::now();
    let latest = now + i64::try_from(TICKET_TTL).unwrap_or(600) + 30;
    if ticket.expires_at <= now || ticket.expires_at > latest {
        return Err(ApiError::invalid("a ticket expires within ten minutes"));
    }
    if ticket.token_hash.len() != 43
        || !ticket.token_hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::invalid("tokenHash is base64url of a SHA-256"));
    }
    state.db.add_link_ticket(&session.user, &ticket.token_hash, ticket.expires_at).await?;
    Ok(StatusCode::CREATED)
}

/// Redeems a ticket: spent whatever follows; a good one's redemption waits for the issuer's
/// devices (`202`). Unknown, spent and expired tickets are one answer, `404`.
pub async fn redeem(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Body(redeem): Body<LinkRedeem>,
) -> Result<StatusCode, ApiError> {
    let token_hash = redeem.token.hash();
    let spent = state
        .db
        .attempt::<_, _, ApiError>(&subjects(client, None), async {
            Ok(state.db.spend_link_ticket(&token_hash).await?.ok_or(()))
        })
        .await?;
    let Ok(user) = spent else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ApiErrorCode::NotFound,
            "no such connection ticket: it was used already, has expired, or was never issued",
        ));
    };
    if redeem.profile_url.len() > MAX_PROFILE_URL || !redeem.profile_url.starts_with("http") {
        return Err(ApiError::invalid("profileUrl is not a profile URL"));
    }
    for key in [&redeem.signing_key, &redeem.encryption_key] {
        key.to_key().map_err(|_| ApiError::invalid("a key is not a P-256 public key"))?;
    }
    if !state.db.add_link_request(&user, &token_hash, &redeem).await? {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ApiErrorCode::RateLimited,
            "too many connection requests wait for this profile's devices",
        ));
    }
    if let Err(e) = state.events.publish(&state.db, &Event::link_requested(&user)).await {
        tracing::warn!("link-requested was not published: {e:#}");
    }
    Ok(StatusCode::ACCEPTED)
}

/// The redemptions waiting for the person's devices.
pub async fn requests(State(state): State<AppState>, session: Session) -> Result<Json<LinkRequestList>, ApiError> {
    Ok(Json(LinkRequestList { requests: state.db.link_requests(&session.user).await? }))
}

/// Forgets redemptions a device completed or refused: `204`.
pub async fn requests_done(
    State(state): State<AppState>,
    session: Session,
    Body(done): Body<AppendsDone>,
) -> Result<StatusCode, ApiError> {
    if done.ids.len() > APPENDS_PAGE {
        return Err(ApiError::invalid(format!("at most {APPENDS_PAGE} requests are done at once")));
    }
    state.db.link_requests_done(&session.user, &done.ids).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A linked profile names the grant it gave back (signed for the grant it was given): `204`;
/// the person's devices hear of it. It says it again when its card changed or it cut the link,
/// so the person's devices read the card, or find it gone, at once.
/// Only a linked profile's card grant may: any other app is `403 outside_grant`.
pub async fn confirm(State(state): State<AppState>, request: AppRequest) -> Result<StatusCode, ApiError> {
    if request.grant.app_id.as_str() != LINK_APP_ID || request.grant.scopes != card_scopes() {
        return Err(super::apps::outside_grant("only a linked profile's grant confirms a link".into()));
    }
    let confirm: LinkConfirm = serde_json::from_slice(&request.body)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ApiErrorCode::InvalidRequest, e.to_string()))?;
    if confirm.profile_url.len() > MAX_PROFILE_URL {
        return Err(ApiError::invalid("profileUrl is too long"));
    }
    if let Some(user) = state.db.set_grant_peer(&request.grant.id, &confirm).await?
        && let Err(e) = state.events.publish(&state.db, &Event::link_requested(&user)).await
    {
        tracing::warn!("link-requested was not published: {e:#}");
    }
    Ok(StatusCode::NO_CONTENT)
}
