//! The HTTP API. Every error is JSON: `{"error": {"code", "message"}}` with a 4xx or 5xx
//! status that fits it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;

use crate::config::Settings;
use crate::db::Db;
use crate::metrics::Metrics;

#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(db: Db, settings: Settings) -> Self {
        Self { db, settings, metrics: Arc::default() }
    }
}

/// An error as a client sees it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
    }
}

/// Anything unexpected is logged and answered as `internal`, without its details.
impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        tracing::error!("{error:#}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": {"code": self.code, "message": self.message}}))).into_response()
    }
}

pub fn router(state: AppState) -> Router {
    let limit = state.settings.max_body_bytes;
    let metrics = state.metrics.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/u/{id}", get(profile_document))
        .route("/metrics", get(crate::metrics::serve).with_state(metrics.clone()))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(axum::middleware::from_fn_with_state(metrics, crate::metrics::track))
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    state.db.ping().await?;
    Ok(Json(json!({"status": "ok", "database": format!("{:?}", state.db.backend).to_lowercase()})))
}

/// A user's public profile document: what `getProfileUrl` points sites at.
async fn profile_document(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if state.db.site_locked_down().await? {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "locked_down", "this server is locked down"));
    }
    match state.db.user_is_active(&id).await? {
        Some(true) => Ok(Json(json!({
            "profileId": id,
            "profileUrl": crate::admin::profile_url(&state.settings.public_url, &id),
            "apiBase": state.settings.public_url,
        }))),
        _ => Err(ApiError::not_found("profile")),
    }
}
