//! Device login and tokens.
//!
//! A device logs in with the auth key its passphrase derives (`authKey`), the auth key a
//! paper key derives (`paperAuth`), or a one-time `ticket`, and gets a short-lived access
//! token ([`crate::keys`]) and a refresh token. Each use of a refresh token spends it and
//! returns the next; presenting a spent one again means it was copied, so the whole device
//! (its token family) is revoked.
//!
//! Every credential check here goes through the throttle ([`crate::throttle`]): counted before
//! it runs, refunded when it passes, and its Argon2id work bounded.

use axum::Json;
use axum::extract::State;
use profile_core::server_api::{
    LoginCredential, LoginRequest, PreloginRequest, PreloginResponse, RefreshRequest, TokenType, Tokens,
};
use profile_core::vault::KdfParams;

use crate::db::normalize_email;
use crate::http::{ApiError, AppState, Body, ClientAddr};
use crate::keys::ACCESS_TTL_SECS;
use crate::services::credentials::{Proof, check_proof};
use crate::services::events::Event;
use crate::throttle::subjects;

const MAX_DEVICE_NAME: usize = 100;

/// The stand-in KDF parameters for an account that does not exist: stable per name, so that
/// asking twice gives the same answer, as for a real account.
fn decoy_kdf(state: &AppState, profile_id: &str, email: &str) -> anyhow::Result<KdfParams> {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(state.keys.decoy_salt.expose())?;
    mac.update(format!("{profile_id}\0{}", normalize_email(email)).as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&digest[..16]);
    Ok(KdfParams::recommended(salt))
}

/// The KDF parameters to derive with before logging in (stand-ins for unknown accounts).
/// Refused, uncounted, while the account named or the client's address waits in the throttle:
/// nobody derives for an attempt that would be refused.
pub async fn prelogin(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Body(request): Body<PreloginRequest>,
) -> Result<Json<PreloginResponse>, ApiError> {
    state.db.waiting(&subjects(client, Some(&request.profile_id))).await??;
    let stored = state.db.credentials_of(&request.profile_id).await?;
    let kdf = match stored {
        Some(stored) if stored.email == normalize_email(&request.email) => serde_json::from_str(&stored.kdf)?,
        _ => decoy_kdf(&state, &request.profile_id, &request.email)?,
    };
    Ok(Json(PreloginResponse { kdf }))
}

async fn tokens(state: &AppState, user_id: &str, device_id: &str) -> Result<Tokens, ApiError> {
    let now = crate::now();
    let public_url = &state.settings.public_url;
    Ok(Tokens {
        access_token: state.keys.signing.issue_access(public_url, user_id, device_id, now).into(),
        token_type: TokenType::Bearer,
        expires_in: ACCESS_TTL_SECS,
        refresh_token: state.db.issue_refresh(device_id).await?.into(),
        pairing_id: device_id.to_owned(),
        profile_id: user_id.to_owned(),
        profile_url: crate::profile_url(public_url, user_id),
    })
}

pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Body(request): Body<LoginRequest>,
) -> Result<Json<Tokens>, ApiError> {
    let device_name = request.device_name.trim().to_owned();
    if device_name.is_empty()
        || device_name.chars().count() > MAX_DEVICE_NAME
        || device_name.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(format!("deviceName must be 1 to {MAX_DEVICE_NAME} printable characters")));
    }
    let (credential, _) = request.credential().map_err(ApiError::invalid)?;
    let account = match &credential {
        LoginCredential::AuthKey { profile_id, .. } | LoginCredential::PaperAuth { profile_id, .. } => {
            Some(profile_id.clone())
        }
        LoginCredential::Ticket(_) => None,
    };
    if state.db.site_locked_down().await? {
        return Err(ApiError::locked_down());
    }
    let subjects = subjects(client, account.as_deref());
    let checked = state
        .db
        .attempt(&subjects, async {
            let (id, email, proof) = match credential {
                LoginCredential::AuthKey { profile_id, email, auth_key } => {
                    (profile_id, email, Proof::AuthKey(auth_key))
                }
                LoginCredential::PaperAuth { profile_id, email, paper_auth } => {
                    (profile_id, email, Proof::PaperAuth(paper_auth))
                }
                LoginCredential::Ticket(ticket) => {
                    return Ok(state.db.redeem_ticket(ticket.expose()).await?.map_err(|_| ()));
                }
            };
            let matches = check_proof(&state.db, &state.hashes, &state.keys, &id, Some(&email), proof).await??;
            Ok::<_, ApiError>(matches.then_some(id).ok_or(()))
        })
        .await?;
    let Ok(user) = checked else { return Err(ApiError::auth_failed()) };
    state.db.clear_failures(&user).await?;
    if state.db.user_is_active(&user).await? != Some(true) {
        return Err(ApiError::profile_locked());
    }
    let device = state.db.create_device(&user, &device_name).await?;
    tracing::info!(device = %device, "a device logged in");
    Ok(Json(tokens(&state, &user, &device).await?))
}

/// Spends a refresh token for the next pair; a spent one presented again revokes its device.
/// An unknown, expired or spent token counts against the client's address in the throttle.
pub async fn refresh(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Body(request): Body<RefreshRequest>,
) -> Result<Json<Tokens>, ApiError> {
    if state.db.site_locked_down().await? {
        return Err(ApiError::locked_down());
    }
    let token = request.refresh_token.expose();
    let spent = state
        .db
        .attempt(&subjects(client, None), async {
            if state.db.refresh_held_by_locked_profile(token).await? {
                // Not a failure: the token is good, and kept for when the lockdown is lifted.
                return Err(ApiError::profile_locked());
            }
            Ok(match state.db.spend_refresh(token).await? {
                Ok(Some(device)) => Ok(device),
                Ok(None) => Err(None),
                Err(reused) => Err(Some(reused)),
            })
        })
        .await?;
    match spent {
        Ok(device) => match state.db.device_owner(&device).await? {
            Some(user) => Ok(Json(tokens(&state, &user, &device).await?)),
            None => Err(ApiError::refused("this device was signed out; pair it again")),
        },
        Err(None) => Err(ApiError::refused("unknown or expired refresh token")),
        Err(Some(device)) => {
            if let Some(user) = state.db.device_owner(&device).await? {
                state.db.revoke_device(&user, &device).await?;
                state.events.publish(&state.db, &Event::device_revoked(&user, &device)).await?;
            }
            tracing::warn!(device = %device, "a spent refresh token came back: the device is revoked");
            Err(ApiError::refused(
                "this refresh token was used already, so its device has been signed out; pair it again",
            ))
        }
    }
}
