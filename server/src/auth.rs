//! Device login, tokens and devices, and the throttle in front of every credential check.
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
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use profile_core::vault::KdfParams;
use profile_core::{Bearer, Secret32};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;
use subtle::ConstantTimeEq;

use crate::api::{ApiError, AppState, Body, ClientAddr};
use crate::db::Db;
use crate::keys::{ACCESS_TTL_SECS, secret_hash};
use crate::push::Event;
use crate::throttle::subjects;

/// How long an unused refresh token stays valid.
pub const REFRESH_TTL_SECS: i64 = 30 * 24 * 3600;
const MAX_DEVICE_NAME: usize = 100;

pub(crate) fn auth_failed() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "auth_failed", "wrong profile, email, passphrase, paper key or ticket")
}

impl Db {
    /// The user's email, passphrase hash, KDF parameters and paper-key verifier.
    async fn credentials_of(&self, user_id: &str) -> anyhow::Result<Option<StoredCredentials>> {
        let row = sqlx::query(
            "SELECT u.email, u.auth_hash, u.kdf, c.verifier FROM users u \
             LEFT JOIN credentials c ON c.user_id = u.id AND c.kind = 'paper' WHERE u.id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(StoredCredentials {
                email: r.try_get(0)?,
                auth_hash: r.try_get(1)?,
                kdf: r.try_get(2)?,
                paper_verifier: r.try_get(3)?,
            })
        })
        .transpose()
    }

    async fn create_device(&self, user_id: &str, name: &str) -> anyhow::Result<String> {
        let id = crate::new_id()?;
        let now = crate::now();
        sqlx::query("INSERT INTO devices (id, user_id, name, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $4)")
            .bind(&id)
            .bind(user_id)
            .bind(name)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    /// A fresh refresh token for `device_id`; only its hash is stored.
    async fn issue_refresh(&self, device_id: &str) -> anyhow::Result<String> {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let token = Base64UrlUnpadded::encode_string(&crate::random::<32>()?);
        let now = crate::now();
        sqlx::query("INSERT INTO refresh_tokens (hash, device_id, expires_at) VALUES ($1, $2, $3)")
            .bind(secret_hash(&token))
            .bind(device_id)
            .bind(now + REFRESH_TTL_SECS)
            .execute(&self.pool)
            .await?;
        sqlx::query("UPDATE devices SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(device_id)
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// Spends a refresh token. `Ok(Some(device))` when it was live; `Ok(None)` when unknown or
    /// expired; `Err(device)` when it had been spent before (the caller revokes the device).
    async fn spend_refresh(&self, token: &str) -> anyhow::Result<Result<Option<String>, String>> {
        let hash = secret_hash(token);
        let now = crate::now();
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING device_id",
        )
        .bind(now)
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = spent {
            return Ok(Ok(Some(row.try_get(0)?)));
        }
        let reused = sqlx::query("SELECT device_id FROM refresh_tokens WHERE hash = $1 AND used_at IS NOT NULL")
            .bind(&hash)
            .fetch_optional(&self.pool)
            .await?;
        match reused {
            Some(row) => Ok(Err(row.try_get(0)?)),
            None => Ok(Ok(None)),
        }
    }

    /// Revokes a device of `user_id` and all its refresh tokens; false when there is no such
    /// live device.
    pub async fn revoke_device(&self, user_id: &str, device_id: &str) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done =
            sqlx::query("UPDATE devices SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(crate::now())
                .bind(device_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        sqlx::query("DELETE FROM refresh_tokens WHERE device_id = $1 AND used_at IS NULL")
            .bind(device_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done == 1)
    }

    /// What `device_id` may do now, in one query: the site's lockdown, the device's owner, and
    /// the owner's lockdown.
    pub async fn standing(&self, device_id: &str) -> anyhow::Result<Standing> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM site WHERE key = 'lockdown'), u.id, u.locked_at \
             FROM (SELECT 1) one \
             LEFT JOIN devices d ON d.id = $1 AND d.revoked_at IS NULL \
             LEFT JOIN users u ON u.id = d.user_id",
        )
        .bind(device_id)
        .fetch_one(&self.pool)
        .await?;
        let site_locked = row.try_get::<i64, _>(0)? > 0;
        let owner: Option<String> = row.try_get(1)?;
        let locked_at: Option<i64> = row.try_get(2)?;
        Ok(match (site_locked, owner) {
            (true, _) => Standing::SiteLocked,
            (false, Some(user)) if locked_at.is_some() => Standing::ProfileLocked(user),
            (false, Some(user)) => Standing::Live(user),
            (false, None) => Standing::SignedOut,
        })
    }

    /// The owner of a live device whose user may be served.
    async fn device_owner(&self, device_id: &str) -> anyhow::Result<Option<String>> {
        Ok(match self.standing(device_id).await? {
            Standing::Live(user) => Some(user),
            _ => None,
        })
    }

    /// Whether `token` is a live refresh token of a device whose profile is locked down: it is
    /// then left unspent, so the device carries on once the lockdown is lifted.
    async fn refresh_held_by_locked_profile(&self, token: &str) -> anyhow::Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM refresh_tokens r JOIN devices d ON d.id = r.device_id \
             JOIN users u ON u.id = d.user_id \
             WHERE r.hash = $1 AND r.used_at IS NULL AND d.revoked_at IS NULL AND u.locked_at IS NOT NULL",
        )
        .bind(secret_hash(token))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }
}

/// What a device may do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Served, for this user.
    Live(String),
    /// Its profile is locked down: refused until the lockdown is lifted, but not signed out.
    ProfileLocked(String),
    /// The whole site is locked down.
    SiteLocked,
    /// Revoked, or never existed.
    SignedOut,
}

struct StoredCredentials {
    email: String,
    auth_hash: String,
    kdf: String,
    paper_verifier: Option<String>,
}

/// What proves a person holds a credential: the auth key their passphrase derives, or the one
/// their paper key derives.
#[derive(Debug)]
pub enum Proof {
    AuthKey(Secret32),
    PaperAuth(Secret32),
}

/// How a paper key's auth key is stored and compared.
pub fn paper_verifier(paper_auth: &Secret32) -> String {
    use sha2::Digest;
    <base64ct::Base64UrlUnpadded as base64ct::Encoding>::encode_string(&sha2::Sha256::digest(paper_auth.expose()))
}

/// Whether `proof` (and `email`, when given) are right for `user_id`. Unknown users cost the
/// same work as known ones. An auth key is checked with Argon2id, under [`SlowHashes`]' bound:
/// `Err` (`busy`) when no permit is free. Run it inside a throttled attempt.
///
/// [`SlowHashes`]: crate::throttle::SlowHashes
pub async fn check_proof(state: &AppState, user_id: &str, email: Option<&str>, proof: Proof) -> Result<bool, ApiError> {
    let stored = state.db.credentials_of(user_id).await?;
    let email_matches = match (&stored, email) {
        (Some(stored), Some(email)) => stored.email == crate::db::normalize_email(email),
        (Some(_), None) => true,
        (None, _) => false,
    };
    let proof_matches = match proof {
        Proof::AuthKey(auth_key) => {
            let hash = stored.as_ref().map_or(&state.keys.decoy_hash, |s| &s.auth_hash).clone();
            state.hashes.verify(auth_key, hash).await?
        }
        Proof::PaperAuth(paper_auth) => {
            let expected = stored.as_ref().and_then(|s| s.paper_verifier.clone());
            let presented = paper_verifier(&paper_auth);
            let against = expected.clone().unwrap_or_else(|| presented.chars().rev().collect());
            bool::from(presented.as_bytes().ct_eq(against.as_bytes())) && expected.is_some()
        }
    };
    Ok(email_matches && proof_matches)
}

/// The stand-in KDF parameters for an account that does not exist: stable per name, so that
/// asking twice gives the same answer, as for a real account.
fn decoy_kdf(state: &AppState, profile_id: &str, email: &str) -> anyhow::Result<KdfParams> {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(state.keys.decoy_salt.expose())?;
    mac.update(format!("{profile_id}\0{}", crate::db::normalize_email(email)).as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&digest[..16]);
    Ok(KdfParams::recommended(salt))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreloginRequest {
    profile_id: String,
    email: String,
}

/// The KDF parameters to derive with before logging in (stand-ins for unknown accounts).
/// Refused, uncounted, while the account named or the client's address waits in the throttle:
/// nobody derives for an attempt that would be refused.
pub async fn prelogin(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Body(request): Body<PreloginRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.db.waiting(&subjects(client, Some(&request.profile_id))).await??;
    let stored = state.db.credentials_of(&request.profile_id).await?;
    let kdf = match stored {
        Some(stored) if stored.email == crate::db::normalize_email(&request.email) => {
            serde_json::from_str(&stored.kdf)?
        }
        _ => decoy_kdf(&state, &request.profile_id, &request.email)?,
    };
    Ok(Json(json!({ "kdf": kdf })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    #[serde(default)]
    profile_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    auth_key: Option<Secret32>,
    #[serde(default)]
    paper_auth: Option<Secret32>,
    #[serde(default)]
    ticket: Option<Bearer>,
    device_name: String,
}

enum Credential {
    Account { id: String, email: String, proof: Proof },
    Ticket(Bearer),
}

/// What a login or a refresh answers.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    access_token: Bearer,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: Bearer,
    device_id: String,
    profile_id: String,
    profile_url: String,
}

async fn tokens(state: &AppState, user_id: &str, device_id: &str) -> Result<Tokens, ApiError> {
    let now = crate::now();
    Ok(Tokens {
        access_token: state.keys.site.issue_access(&state.settings.public_url, user_id, device_id, now).into(),
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECS,
        refresh_token: state.db.issue_refresh(device_id).await?.into(),
        device_id: device_id.to_owned(),
        profile_id: user_id.to_owned(),
        profile_url: crate::admin::profile_url(&state.settings.public_url, user_id),
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
    let (account, credential) = match request {
        LoginRequest { profile_id: Some(id), email: Some(email), ticket: None, auth_key, paper_auth, .. } => {
            let proof = match (auth_key, paper_auth) {
                (Some(key), None) => Proof::AuthKey(key),
                (None, Some(key)) => Proof::PaperAuth(key),
                _ => return Err(ApiError::invalid("give exactly one of authKey and paperAuth")),
            };
            (Some(id.clone()), Credential::Account { id, email, proof })
        }
        LoginRequest {
            profile_id: None, email: None, ticket: Some(ticket), auth_key: None, paper_auth: None, ..
        } => (None, Credential::Ticket(ticket)),
        _ => {
            return Err(ApiError::invalid(
                "give profileId, email and one of authKey or paperAuth; or give a ticket alone",
            ));
        }
    };
    if state.db.site_locked_down().await? {
        return Err(ApiError::locked_down());
    }
    let subjects = subjects(client, account.as_deref());
    let checked = state
        .db
        .attempt(&subjects, async {
            Ok(match credential {
                Credential::Account { id, email, proof } => {
                    check_proof(&state, &id, Some(&email), proof).await?.then_some(id).ok_or(())
                }
                Credential::Ticket(ticket) => state.db.redeem_ticket(ticket.expose()).await?.map_err(|_| ()),
            })
        })
        .await?;
    let Ok(user) = checked else { return Err(auth_failed()) };
    state.db.clear_failures(&user).await?;
    if state.db.user_is_active(&user).await? != Some(true) {
        return Err(ApiError::profile_locked());
    }
    let device = state.db.create_device(&user, &device_name).await?;
    tracing::info!(device = %device, "a device logged in");
    Ok(Json(tokens(&state, &user, &device).await?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: Bearer,
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
    let refused = |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, "auth_failed", message);
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
            None => Err(refused("this device was signed out; pair it again")),
        },
        Err(None) => Err(refused("unknown or expired refresh token")),
        Err(Some(device)) => {
            if let Some(user) = state.db.device_owner(&device).await? {
                state.db.revoke_device(&user, &device).await?;
                state.events.publish(&state.db, &Event::device_revoked(&user, &device)).await?;
            }
            tracing::warn!(device = %device, "a spent refresh token came back: the device is revoked");
            Err(refused("this refresh token was used already, so its device has been signed out; pair it again"))
        }
    }
}

/// A request made with a valid access token of a live device.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub device: String,
    /// When the access token expires (Unix seconds).
    pub expires_at: i64,
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized = |message: String| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| unauthorized("send `Authorization: Bearer ACCESS_TOKEN`".into()))?;
        let keys = &state.keys;
        let claims = (keys.verified.verify(&keys.site, &state.settings.public_url, token.trim(), crate::now()))
            .map_err(|e| unauthorized(e.to_string()))?;
        // One query per request: the site's lockdown, the device's owner and the owner's lockdown.
        match state.db.standing(&claims.dev).await? {
            Standing::Live(user) if user == claims.sub => Ok(Self { user, device: claims.dev, expires_at: claims.exp }),
            Standing::ProfileLocked(user) if user == claims.sub => Err(ApiError::profile_locked()),
            Standing::SiteLocked => Err(ApiError::locked_down()),
            _ => Err(unauthorized("this device was signed out".into())),
        }
    }
}

/// The user's devices, newest first.
pub async fn list_devices(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rows = sqlx::query(
        "SELECT id, name, created_at, last_seen_at, revoked_at FROM devices WHERE user_id = $1 \
         ORDER BY created_at DESC, id",
    )
    .bind(&session.user)
    .fetch_all(&state.db.pool)
    .await?;
    let devices = rows
        .into_iter()
        .map(|r| -> anyhow::Result<serde_json::Value> {
            let id: String = r.try_get(0)?;
            Ok(json!({
                "current": id == session.device,
                "id": id,
                "name": r.try_get::<String, _>(1)?,
                "createdAt": r.try_get::<i64, _>(2)?,
                "lastSeenAt": r.try_get::<i64, _>(3)?,
                "revokedAt": r.try_get::<Option<i64>, _>(4)?,
            }))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Json(json!({ "devices": devices })))
}

/// Signs a device out: its tokens stop working and its push socket closes.
pub async fn revoke_device(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.db.revoke_device(&session.user, &id).await? {
        return Err(ApiError::not_found("device"));
    }
    state.events.publish(&state.db, &Event::device_revoked(&session.user, &id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_values_print_redacted() {
        const TOKEN: &str = "zK3vUqB8sEcReTtOkEnVaLuE0123456789abcdefg";
        let login: LoginRequest = serde_json::from_value(json!({"ticket": TOKEN, "deviceName": "kiosk"})).unwrap();
        let refresh: RefreshRequest = serde_json::from_value(json!({"refreshToken": TOKEN})).unwrap();
        let tokens = Tokens {
            access_token: TOKEN.to_owned().into(),
            token_type: "Bearer",
            expires_in: ACCESS_TTL_SECS,
            refresh_token: TOKEN.to_owned().into(),
            device_id: "dev-1".into(),
            profile_id: "user-1".into(),
            profile_url: "https://p.example/u/user-1".into(),
        };
        for printed in [format!("{login:?}"), format!("{refresh:?}"), format!("{tokens:?}")] {
            assert!(!printed.contains(TOKEN) && !printed.contains(&TOKEN[..8]), "{printed}");
        }
        assert!(serde_json::to_string(&tokens).unwrap().contains(TOKEN), "the wire still carries it");
    }
}
