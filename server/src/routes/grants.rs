//! The grants a person gave apps, as their devices see them (each request with the device's
//! access token): registered with the app's first share, listed with what each app did,
//! given newer shares, and revoked; and the items apps appended, waiting for the devices.
//!
//! The server stores each share as it came (sealed to the app, signed by the profile) and each
//! append as it came (sealed to the profile): it checks their shape and size, never their
//! contents, which it cannot open. Only the profile's own grants and appends are ever seen or
//! changed: another profile's grant id is `404`.
//!
//! **Revoking** deletes the share at once, refuses the app's key from then on
//! (`403 grant_revoked`, an append included), drops the events still waiting for its webhook,
//! and queues `grant-revoked` for it and the grant's event sockets: the last the app hears.
//! The grant stays listed, revoked, until room is needed for new ones and its app had the
//! time to hear of it (then it is forgotten, see `register`). Appends the app made before are
//! left waiting here, as the server cannot open them; the person's devices refuse them, as
//! they refuse anything from a grant their vault holds as revoked, note the refusal in the
//! activity, and say they are done, which deletes them.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use profile_core::apps::{AppEvent, AppEventKind, GrantId, MAX_SHARE_BYTES, SealedShare};
use profile_core::server_api::{
    ApiErrorCode, AppendList, AppendsDone, GrantInfo, GrantList, GrantRegistration, ShareNotify,
};

use crate::db::{GrantChange, Registered};
use crate::http::{ApiError, AppState, Body, Session, check_hpke};

/// Appends read at once, at most.
pub const APPENDS_PAGE: usize = 500;

/// Registers a grant with its first share: `201` with the grant as stored.
pub async fn register(
    State(state): State<AppState>,
    session: Session,
    Body(grant): Body<GrantRegistration>,
) -> Result<(StatusCode, Json<GrantInfo>), ApiError> {
    profile_core::apps::check_scopes(&grant.scopes).map_err(ApiError::invalid)?;
    grant.app_key.to_key().map_err(|_| ApiError::invalid("appKey is not a P-256 public key"))?;
    check_share(&grant.share)?;
    check_note(grant.share_note.as_deref())?;
    let forget_revoked_before =
        crate::now().saturating_sub(i64::try_from(state.settings.webhook_give_up_secs).unwrap_or(i64::MAX));
    match state
        .db
        .register_grant(&session.user, &grant, state.settings.max_grants_per_user, forget_revoked_before)
        .await?
    {
        Registered::Done(info) => Ok((StatusCode::CREATED, Json(*info))),
        Registered::Taken => Err(ApiError::new(StatusCode::CONFLICT, ApiErrorCode::Conflict, "this grant id is taken")),
        Registered::Full => Err(ApiError::too_large(format!(
            "this profile holds {} grants, the most it may",
            state.settings.max_grants_per_user
        ))),
    }
}

/// The profile's grants, newest first.
pub async fn list(State(state): State<AppState>, session: Session) -> Result<Json<GrantList>, ApiError> {
    let mut grants = state.db.grants(&session.user).await?;
    let mut peers = state.db.grant_peers(&session.user).await?;
    for grant in &mut grants {
        grant.peer_grant = peers.remove(&grant.grant_id);
    }
    Ok(Json(GrantList { grants }))
}

/// Revokes a grant (`204`, also when it was revoked already).
pub async fn revoke(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let grant = grant_id(id)?;
    let event = event(&grant, AppEventKind::GrantRevoked {})?;
    match state.db.revoke_grant(&session.user, &event).await? {
        GrantChange::Done { webhook } => {
            tell(&state, &event, webhook).await;
            Ok(StatusCode::NO_CONTENT)
        }
        GrantChange::Revoked | GrantChange::Stale(_) => Ok(StatusCode::NO_CONTENT),
        GrantChange::NotFound => Err(ApiError::not_found("grant")),
    }
}

/// Stores a newer share of a live grant (`204`); the app hears `share-updated`, unless the
/// device said `notify=false` (nothing it subscribed to changed). A version not above the one
/// held is `409 conflict` with the held version as `counter`.
pub async fn put_share(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(said): Query<ShareNotify>,
    Body(share): Body<SealedShare>,
) -> Result<StatusCode, ApiError> {
    let grant = grant_id(id)?;
    check_share(&share)?;
    check_note(said.note.as_deref())?;
    let event = event(&grant, AppEventKind::ShareUpdated { version: share.version })?;
    match state.db.put_share(&session.user, &share, &said, &event).await? {
        GrantChange::Done { webhook } => {
            if said.notify {
                tell(&state, &event, webhook).await;
            }
            Ok(StatusCode::NO_CONTENT)
        }
        GrantChange::Stale(held) => Err(ApiError::conflict(
            i64::try_from(held).unwrap_or(i64::MAX),
            format!("the share held is at version {held}; send a newer one"),
        )),
        GrantChange::Revoked => Err(ApiError::grant_revoked()),
        GrantChange::NotFound => Err(ApiError::not_found("grant")),
    }
}

fn check_note(note: Option<&str>) -> Result<(), ApiError> {
    match note {
        Some(note) if !profile_core::server_api::is_share_note(note) => Err(ApiError::invalid(format!(
            "a share note is at most {} characters of base64url and '.'",
            profile_core::server_api::MAX_SHARE_NOTE
        ))),
        _ => Ok(()),
    }
}

/// The appends waiting for the person's devices, oldest first, at most [`APPENDS_PAGE`].
pub async fn appends(State(state): State<AppState>, session: Session) -> Result<Json<AppendList>, ApiError> {
    Ok(Json(AppendList { appends: state.db.appends(&session.user, APPENDS_PAGE).await? }))
}

/// Those appends were taken in (or refused) by a device: deleted (`204`). Ids that are not
/// this profile's waiting appends are passed over.
pub async fn appends_done(
    State(state): State<AppState>,
    session: Session,
    Body(done): Body<AppendsDone>,
) -> Result<StatusCode, ApiError> {
    if done.ids.len() > APPENDS_PAGE {
        return Err(ApiError::invalid(format!("at most {APPENDS_PAGE} appends are done at once")));
    }
    state.db.appends_done(&session.user, &done.ids).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A grant id in a path; one that cannot be a grant's is no grant here.
fn grant_id(id: String) -> Result<GrantId, ApiError> {
    GrantId::try_from(id).map_err(|_| ApiError::not_found("grant"))
}

fn check_share(share: &SealedShare) -> Result<(), ApiError> {
    check_hpke("the share", &share.sealed, MAX_SHARE_BYTES)?;
    profile_core::ecdsa::Signature::from_base64url(&share.signature)
        .map_err(|_| ApiError::invalid("the share's signature is not an ES256 signature (r‖s, base64url)"))?;
    Ok(())
}

/// A new event of `grant`, now.
fn event(grant: &GrantId, kind: AppEventKind) -> anyhow::Result<AppEvent> {
    Ok(AppEvent { id: crate::new_id()?, grant_id: grant.clone(), occurred_at: crate::now().unsigned_abs(), kind })
}

/// Tells the app's event sockets, wherever they are connected, and wakes the webhook worker
/// when the event was queued for a webhook. The change is stored: a failure here is logged, and
/// the webhook still gets the event from the queue.
async fn tell(state: &AppState, event: &AppEvent, webhook: bool) {
    if let Err(e) = state.events.publish_app(&state.db, event).await {
        tracing::warn!(event = %event.id, "an app event was not published to its sockets: {e:#}");
    }
    if webhook {
        state.webhooks.wake();
    }
}
