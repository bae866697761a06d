//! The one error type of the API, and the one place it becomes a response:
//! `{"error": {"code", "message"}}` ([`ErrorBody`]) with a status that fits it, plus the
//! current `counter` of a conflict of the vault, the `conflicts` of a batch of vault items, or
//! `retryAfter` (and the `Retry-After` header).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use profile_core::server_api::{ApiErrorCode, ErrorBody, ErrorDetail, ItemVersion};

use crate::throttle::{BUSY_RETRY_SECS, Busy, Refusal};

/// An error as a client sees it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ApiErrorCode, message: impl Into<String>) -> Self {
        let error = ErrorDetail { code, message: message.into() };
        Self { status, body: ErrorBody { error, counter: None, conflicts: Vec::new(), retry_after: None } }
    }

    /// With the vault's current counter (a conflict).
    pub fn counter(mut self, counter: i64) -> Self {
        self.body.counter = Some(counter);
        self
    }

    /// With the seconds to wait before trying again (also sent as `Retry-After`).
    pub fn retry_after(mut self, secs: i64) -> Self {
        self.body.retry_after = Some(secs);
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ApiErrorCode::InvalidRequest, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, ApiErrorCode::NotFound, format!("no such {what}"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ApiErrorCode::Unauthorized, message)
    }

    /// A failed credential check, answered alike whatever failed.
    pub fn auth_failed() -> Self {
        Self::refused("wrong profile, email, passphrase, paper key or ticket")
    }

    /// A refused credential, saying why (a refresh token).
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ApiErrorCode::AuthFailed, message)
    }

    pub fn conflict(current: i64, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, ApiErrorCode::Conflict, message).counter(current)
    }

    /// A batch of vault items refused whole: these items are not at the versions it was based
    /// on, and are at these.
    pub fn item_conflicts(conflicts: Vec<ItemVersion>) -> Self {
        let message = format!(
            "{} of the batch's items changed since the versions it was based on: read them, merge, and send the batch again",
            conflicts.len()
        );
        let mut error = Self::new(StatusCode::CONFLICT, ApiErrorCode::Conflict, message);
        error.body.conflicts = conflicts;
        error
    }

    /// Over a size or a bound (413).
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, ApiErrorCode::TooLarge, message)
    }

    pub fn locked_down() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, ApiErrorCode::LockedDown, "this server is locked down")
    }

    pub fn profile_locked() -> Self {
        Self::new(StatusCode::FORBIDDEN, ApiErrorCode::LockedDown, "this profile is locked down")
    }

    /// An app's grant that was revoked: the last word to every request of it.
    pub fn grant_revoked() -> Self {
        Self::new(StatusCode::FORBIDDEN, ApiErrorCode::GrantRevoked, "this grant was revoked")
    }
}

/// Anything unexpected is logged and answered as `internal`, without its details.
impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        tracing::error!("{error:#}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, ApiErrorCode::Internal, "internal error")
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(error: serde_json::Error) -> Self {
        anyhow::Error::from(error).into()
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Wait(secs) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ApiErrorCode::RateLimited,
                format!("too many failed attempts; try again in {secs} s"),
            )
            .retry_after(secs),
            Refusal::LockedOut => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ApiErrorCode::RateLimited,
                "too many failed attempts: this account is locked until the server's operator unlocks it",
            ),
        }
    }
}

impl From<Busy> for ApiError {
    fn from(busy: Busy) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ApiErrorCode::Busy, busy.to_string())
            .retry_after(BUSY_RETRY_SECS)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self.body.retry_after;
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
