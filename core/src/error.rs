//! Errors that cross the wire: stable codes a page sees as `Error.code`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Every code a page or the extension can receive; serialized in `snake_case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    UserDenied,
    Timeout,
    Busy,
    InsecureOrigin,
    InvalidRequest,
    NotPaired,
    Locked,
    NotFound,
    NotSignedUp,
    HostUnavailable,
    ServerUnreachable,
    AuthFailed,
    RateLimited,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserDenied => "user_denied",
            Self::Timeout => "timeout",
            Self::Busy => "busy",
            Self::InsecureOrigin => "insecure_origin",
            Self::InvalidRequest => "invalid_request",
            Self::NotPaired => "not_paired",
            Self::Locked => "locked",
            Self::NotFound => "not_found",
            Self::NotSignedUp => "not_signed_up",
            Self::HostUnavailable => "host_unavailable",
            Self::ServerUnreachable => "server_unreachable",
            Self::AuthFailed => "auth_failed",
            Self::RateLimited => "rate_limited",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `error` member of a failure answer. Its message is for people and never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_documented() {
        for code in [ErrorCode::UserDenied, ErrorCode::NotSignedUp, ErrorCode::HostUnavailable] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }
}
