//! The HTTP plumbing every route uses: the app state ([`AppState`]), the one error type and the
//! one place it becomes a response ([`ApiError`]), and the extractors for a JSON body
//! ([`Body`]), a query string ([`QueryParams`]), the client's address ([`ClientAddr`]), a device's session ([`Session`])
//! and an app's signed request ([`AppRequest`]).
//! Bodies and paths are `profile_core::server_api`'s.

mod app_request;
mod body;
mod client_addr;
mod error;
mod session;
mod state;

pub use app_request::AppRequest;
pub use body::{Body, MAX_VAULT_BYTES, QueryParams, WRAPPED_KEY_BYTES, check_hpke, check_sealed, check_wrapped_key};
pub use client_addr::ClientAddr;
pub use error::ApiError;
pub use session::Session;
pub use state::AppState;
