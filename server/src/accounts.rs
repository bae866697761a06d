//! The accounts registry: per user and site origin, the account the person holds there (its
//! `accountGuid`, the site's app id, the login public key, what the site may get without
//! asking, and dates). A lookup by origin also returns the person's other accounts with the
//! same app, so a device can offer the login the person already has.

use axum::Json;
use axum::extract::{Query, State};
use profile_core::{AccountGuid, AppId, Origin, Permissions, PublicJwk};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::api::{ApiError, AppState, Body};
use crate::auth::Session;
use crate::push::Event;

/// One account as the API reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Account {
    pub origin: Origin,
    pub account_guid: AccountGuid,
    /// Bounded as the page API bounds it (profile-core's `AppId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<AppId>,
    pub public_key: PublicJwk,
    /// What the site asked for at sign-up, as the page API passes it (bounded, sorted, no
    /// repeats: profile-core's `Permissions`).
    #[serde(default)]
    pub permissions: Permissions,
    #[serde(default, skip_deserializing)]
    pub created_at: i64,
    #[serde(default, skip_deserializing)]
    pub last_login_at: Option<i64>,
}

/// An account row's columns, in the order [`account`] and the dump read them.
pub(crate) const COLUMNS: &str = "origin, account_guid, app_id, public_key, permissions, created_at, last_login_at";

fn account(row: &sqlx::any::AnyRow) -> anyhow::Result<Account> {
    Ok(Account {
        origin: Origin::parse(&row.try_get::<String, _>(0)?)?,
        account_guid: AccountGuid::try_from(row.try_get::<String, _>(1)?).map_err(anyhow::Error::msg)?,
        app_id: row.try_get::<Option<String>, _>(2)?.map(AppId::try_from).transpose().map_err(anyhow::Error::msg)?,
        public_key: serde_json::from_str(&row.try_get::<String, _>(3)?)?,
        permissions: serde_json::from_str(&row.try_get::<String, _>(4)?)?,
        created_at: row.try_get(5)?,
        last_login_at: row.try_get(6)?,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    origin: Option<String>,
}

/// All the person's accounts, or the one at `?origin=` and those with the same app.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(lookup): Query<Lookup>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(origin) = lookup.origin else {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM accounts WHERE user_id = $1 ORDER BY origin"))
            .bind(&session.user)
            .fetch_all(&state.db.pool)
            .await?;
        let accounts = rows.iter().map(account).collect::<anyhow::Result<Vec<_>>>()?;
        return Ok(Json(json!({ "accounts": accounts })));
    };
    let origin = Origin::parse(&origin).map_err(|e| ApiError::invalid(format!("origin: {e}")))?;
    let found = sqlx::query(&format!("SELECT {COLUMNS} FROM accounts WHERE user_id = $1 AND origin = $2"))
        .bind(&session.user)
        .bind(origin.as_str())
        .fetch_optional(&state.db.pool)
        .await?
        .as_ref()
        .map(account)
        .transpose()?;
    let same_app = match found.as_ref().and_then(|a| a.app_id.as_ref().map(AppId::as_str)) {
        Some(app_id) => sqlx::query(&format!(
            "SELECT {COLUMNS} FROM accounts WHERE user_id = $1 AND app_id = $2 AND origin <> $3 ORDER BY origin"
        ))
        .bind(&session.user)
        .bind(app_id)
        .bind(origin.as_str())
        .fetch_all(&state.db.pool)
        .await?
        .iter()
        .map(account)
        .collect::<anyhow::Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    Ok(Json(json!({ "accounts": found.into_iter().collect::<Vec<_>>(), "sameApp": same_app })))
}

/// Records (or replaces) the account at an origin and tells the person's other devices.
pub async fn register(
    State(state): State<AppState>,
    session: Session,
    Body(request): Body<Account>,
) -> Result<Json<Account>, ApiError> {
    if !request.origin.is_web() {
        return Err(ApiError::invalid("origin must be an https origin (or http on loopback)"));
    }
    request.public_key.to_key().map_err(|e| ApiError::invalid(format!("publicKey: {e}")))?;
    let row = sqlx::query(&format!(
        "INSERT INTO accounts (user_id, origin, account_guid, app_id, public_key, permissions, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (user_id, origin) DO UPDATE SET account_guid = $3, app_id = $4, public_key = $5, permissions = $6 \
         RETURNING {COLUMNS}"
    ))
    .bind(&session.user)
    .bind(request.origin.as_str())
    .bind(request.account_guid.as_str())
    .bind(request.app_id.as_ref().map(AppId::as_str))
    .bind(serde_json::to_string(&request.public_key)?)
    .bind(serde_json::to_string(&request.permissions)?)
    .bind(crate::now())
    .fetch_one(&state.db.pool)
    .await?;
    let stored = account(&row)?;
    state.events.publish(&state.db, &Event::account_added(&session.user, &stored.origin)).await?;
    Ok(Json(stored))
}

/// One of the person's accounts: the query of `DELETE /api/v1/accounts?origin=O&accountGuid=G`
/// and the body of `POST /api/v1/accounts/login`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountRef {
    origin: Origin,
    account_guid: AccountGuid,
}

/// Forgets the account the person removed from their profile (404 when there is none, which a
/// device takes as done).
pub async fn remove(
    State(state): State<AppState>,
    session: Session,
    Query(removal): Query<AccountRef>,
) -> Result<axum::http::StatusCode, ApiError> {
    let removed = sqlx::query("DELETE FROM accounts WHERE user_id = $1 AND origin = $2 AND account_guid = $3")
        .bind(&session.user)
        .bind(removal.origin.as_str())
        .bind(removal.account_guid.as_str())
        .execute(&state.db.pool)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(ApiError::not_found("account"));
    }
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Records the time of a login (a device tells it after signing the assertion).
pub async fn logged_in(
    State(state): State<AppState>,
    session: Session,
    Body(request): Body<AccountRef>,
) -> Result<axum::http::StatusCode, ApiError> {
    let updated =
        sqlx::query("UPDATE accounts SET last_login_at = $1 WHERE user_id = $2 AND origin = $3 AND account_guid = $4")
            .bind(crate::now())
            .bind(&session.user)
            .bind(request.origin.as_str())
            .bind(request.account_guid.as_str())
            .execute(&state.db.pool)
            .await?
            .rows_affected();
    if updated == 0 {
        return Err(ApiError::not_found("account"));
    }
    Ok(axum::http::StatusCode::NO_CONTENT)
}
