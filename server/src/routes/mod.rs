//! The HTTP API: one file per resource, each a set of axum handlers over
//! [`crate::http`]'s plumbing, the services and the database. Paths and bodies are
//! `profile_core::server_api`'s.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use profile_core::server_api::{ApiErrorCode, MAX_BATCH_BODY_BYTES, path};
use tower_http::limit::RequestBodyLimitLayer;

use crate::http::{ApiError, AppState};

pub mod accounts;
pub mod apps;
pub mod credentials;
pub mod devices;
pub mod email;
pub mod grants;
pub mod links;
pub mod login;
pub mod metrics;
pub mod public;
pub mod public_part;
pub mod push;
pub mod sites;
pub mod vault;
pub mod vault_items;

/// The largest body of a grant's registration or share: the largest share, in base64url, and
/// room for the rest.
const SHARE_BODY_BYTES: usize = profile_core::apps::MAX_SHARE_BYTES / 3 * 4 + 64 * 1024;

pub fn router(state: AppState) -> Router {
    let limit = state.settings.max_body_bytes;
    let counted = state.metrics.clone();
    let mut router = Router::new();
    if let Some(token) = &state.settings.metrics_token {
        let scrape = get(metrics::serve_to_bearer).with_state((counted.clone(), std::sync::Arc::new(token.clone())));
        router = router.route(path::METRICS, scrape);
    }
    router
        .route(path::HEALTH, get(public::healthz))
        .route(path::PROFILE, get(public::profile_document))
        .route(path::JWKS, get(public::jwks))
        .route(path::PRELOGIN, post(login::prelogin))
        .route(path::LOGIN, post(login::login))
        .route(path::TOKEN, post(login::refresh))
        .route(path::DEVICES, get(devices::list))
        .route(path::DEVICE, delete(devices::revoke))
        .route(path::VAULT, get(vault::read).put(vault::write))
        .route(path::PASSPHRASE, put(credentials::change_passphrase))
        .route(path::PAPER_KEY, put(credentials::set_paper_key))
        .route(path::ACCOUNTS, get(accounts::list).put(accounts::register).delete(accounts::remove))
        .route(path::ACCOUNTS_LOGIN, post(accounts::logged_in))
        .route(path::PUSH, get(push::socket))
        .route(path::ACCOUNT_CHECK, post(sites::account_check))
        .route(path::EMAIL_VERIFY, post(email::start_verify))
        .route(path::EMAIL_RECOVER, post(email::start_recover))
        .route(path::EMAIL_CONFIRM, get(email::confirm_page).post(email::confirm))
        .route(path::PUBLIC, put(public_part::put).delete(public_part::remove))
        .route(path::GRANT, delete(grants::revoke))
        .route(path::APPENDS, get(grants::appends))
        .route(path::APPENDS_DONE, post(grants::appends_done))
        .route(path::APP_GRANT, get(apps::grant))
        .route(path::APP_SHARE, get(apps::share))
        .route(path::APP_APPENDS, post(apps::append))
        .route(path::APP_WEBHOOK, put(apps::set_webhook).delete(apps::remove_webhook))
        .route(path::APP_EVENTS, get(apps::events))
        .route(path::APP_LINK, put(links::confirm))
        .route(path::LINK_TICKETS, post(links::issue))
        .route(path::LINKS_REDEEM, post(links::redeem))
        .route(path::LINK_REQUESTS, get(links::requests))
        .route(path::LINK_REQUESTS_DONE, post(links::requests_done))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, ApiErrorCode::NotFound, "no such endpoint") })
        .layer(RequestBodyLimitLayer::new(limit))
        // A batch of vault items may be bigger than other bodies: its own limit, not the above.
        .merge(
            Router::new()
                .route(path::VAULT_ITEMS, get(vault_items::read).post(vault_items::write))
                .layer(DefaultBodyLimit::max(MAX_BATCH_BODY_BYTES))
                .layer(RequestBodyLimitLayer::new(MAX_BATCH_BODY_BYTES)),
        )
        // A share may be bigger still: a grant's registration and its share's updates.
        .merge(
            Router::new()
                .route(path::GRANTS, get(grants::list).post(grants::register))
                .route(path::GRANT_SHARE, put(grants::put_share))
                .layer(DefaultBodyLimit::max(SHARE_BODY_BYTES))
                .layer(RequestBodyLimitLayer::new(SHARE_BODY_BYTES)),
        )
        .layer(axum::middleware::from_fn_with_state(counted, crate::services::metrics::track))
        .with_state(state)
}
