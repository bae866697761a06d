//! JSON request bodies and query strings, and the checks of the sealed blobs and wrapped keys
//! they carry (the server cannot open them; it checks their format and size).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use profile_core::server_api::ApiErrorCode;

use super::ApiError;

/// A JSON request body whose rejections are [`ApiError`]s: 415 without a JSON content type,
/// 413 over the size limit, 400 for bad JSON, 422 for a wrong shape (the message names the
/// field).
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => {
                let code = match &rejection {
                    JsonRejection::MissingJsonContentType(_) => ApiErrorCode::UnsupportedMediaType,
                    JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        ApiErrorCode::TooLarge
                    }
                    _ => ApiErrorCode::InvalidRequest,
                };
                Err(ApiError::new(rejection.status(), code, rejection.body_text()))
            }
        }
    }
}

/// A query string whose rejections are [`ApiError`]s: 400 naming what could not be read.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::invalid(rejection.body_text())),
        }
    }
}

/// The largest sealed vault accepted.
pub const MAX_VAULT_BYTES: usize = 256 * 1024;

/// Refuses what is not a sealed blob of at most `max` bytes.
pub fn check_sealed(what: &str, blob: &[u8], max: usize) -> Result<(), ApiError> {
    if !profile_core::seal::looks_sealed(blob) {
        return Err(ApiError::invalid(format!("{what} is not a sealed blob")));
    }
    if blob.len() > max {
        return Err(ApiError::too_large(format!("{what} is {} bytes; at most {max} are kept", blob.len())));
    }
    Ok(())
}

/// HPKE's encapsulated key for P-256: an uncompressed point.
const HPKE_ENC_BYTES: usize = 65;
/// AES-256-GCM's tag.
const HPKE_TAG_BYTES: usize = 16;

/// Refuses what is not HPKE's output (P-256, AES-256-GCM) for at most `max` bytes of
/// plaintext: the server cannot open it, but it can check its shape and bound its size.
pub fn check_hpke(what: &str, sealed: &profile_core::apps::Sealed, max: usize) -> Result<(), ApiError> {
    if sealed.enc.0.len() != HPKE_ENC_BYTES || sealed.ciphertext.0.len() < HPKE_TAG_BYTES {
        return Err(ApiError::invalid(format!(
            "{what} is not sealed with HPKE (P-256): `enc` is {HPKE_ENC_BYTES} bytes and `ciphertext` at least {HPKE_TAG_BYTES}"
        )));
    }
    if sealed.ciphertext.0.len() > max + HPKE_TAG_BYTES {
        return Err(ApiError::too_large(format!(
            "{what} seals {} bytes; at most {max} are kept",
            sealed.ciphertext.0.len() - HPKE_TAG_BYTES
        )));
    }
    Ok(())
}

/// A wrapped data key: the sealed header, nonce and tag around 32 bytes.
pub const WRAPPED_KEY_BYTES: usize = profile_core::seal::OVERHEAD + 32;

/// Refuses what is not a sealed data key.
pub fn check_wrapped_key(wrapped: &[u8]) -> Result<(), ApiError> {
    check_sealed("wrappedKey", wrapped, WRAPPED_KEY_BYTES)?;
    if wrapped.len() != WRAPPED_KEY_BYTES {
        return Err(ApiError::invalid(format!("wrappedKey must be {WRAPPED_KEY_BYTES} bytes")));
    }
    Ok(())
}
