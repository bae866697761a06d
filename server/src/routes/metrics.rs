//! `GET /metrics` in the OpenMetrics text format ([`crate::services::metrics`] counts). Not
//! public: served on a listener of its own (`metrics_listen`), or on the API's listener only to
//! the bearer of `metrics_token`; by default, neither.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use profile_core::server_api::{ApiErrorCode, path};
use subtle::ConstantTimeEq;

use crate::config::Confidential;
use crate::http::ApiError;
use crate::services::metrics::Metrics;

/// `GET /metrics`.
pub async fn serve(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        metrics.render(),
    )
}

/// `GET /metrics` on the API's listener: only with `Authorization: Bearer TOKEN`.
pub async fn serve_to_bearer(
    State((metrics, token)): State<(Arc<Metrics>, Arc<Confidential>)>,
    headers: HeaderMap,
) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim();
    // Constant time over the token's bytes; only its length can show.
    if !bool::from(presented.as_bytes().ct_eq(token.0.as_bytes())) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            ApiErrorCode::Unauthorized,
            "send `Authorization: Bearer METRICS_TOKEN`",
        )
        .into_response();
    }
    serve(State(metrics)).await.into_response()
}

/// What the metrics listener (`metrics_listen`) serves: `/metrics` and nothing else.
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route(path::METRICS, get(serve))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, ApiErrorCode::NotFound, "only /metrics is served here")
        })
        .with_state(metrics)
}
