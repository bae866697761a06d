//! The HTTP API. Every error is JSON: `{"error": {"code", "message"}}` with a 4xx or 5xx
//! status that fits it. Request bodies are JSON read with [`Body`], which refuses unknown
//! fields and answers a malformed or mistyped body with a 4xx naming what was wrong.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;

use crate::config::Settings;
use crate::db::Db;
use crate::keys::{MasterKey, SiteKey};
use crate::metrics::Metrics;
use crate::push::Events;

#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    pub keys: Arc<Keys>,
    pub events: Events,
    pub mailer: crate::email::Mailer,
    pub site_keys: Arc<crate::sites::SiteKeys>,
    /// The bound on Argon2id runs at once.
    pub hashes: crate::throttle::SlowHashes,
}

/// What the server signs and checks with.
#[derive(Debug)]
pub struct Keys {
    pub site: SiteKey,
    /// Makes the stand-in KDF parameters `prelogin` answers for unknown accounts.
    pub decoy_salt: profile_core::Secret32,
    /// A hash of nothing, checked against when the account is unknown, so that a wrong
    /// address costs the same time as a wrong passphrase.
    pub decoy_hash: String,
    pub verified: crate::keys::VerifiedTokens,
}

impl Keys {
    pub async fn load(db: &Db, master: &MasterKey) -> anyhow::Result<Self> {
        Ok(Self {
            site: SiteKey::load_or_create(db, master).await?,
            decoy_salt: master.derive("decoy-salt"),
            decoy_hash: tokio::task::spawn_blocking(|| crate::throttle::argon2_hash(&crate::random::<32>()?)).await??,
            verified: crate::keys::VerifiedTokens::default(),
        })
    }
}

impl AppState {
    pub async fn new(db: Db, settings: Settings, master: &MasterKey) -> anyhow::Result<Self> {
        let keys = Arc::new(Keys::load(&db, master).await?);
        let events = Events::start(&db, &settings.database).await?;
        let mailer = crate::email::Mailer::new(&settings)?;
        let site_keys = Arc::new(crate::sites::SiteKeys::new(settings.sites_on_loopback));
        let hashes = crate::throttle::SlowHashes::new(settings.hash_concurrency);
        Ok(Self { db, settings, metrics: Arc::default(), keys, events, mailer, site_keys, hashes })
    }
}

/// Where a request came from, as the throttle counts it: the peer's address, or, when the peer
/// is one of `trusted_proxies`, the address the proxies heard it from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ConnectInfo(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .copied()
            .ok_or_else(|| ApiError::from(anyhow::anyhow!("the server was started without connection info")))?;
        Ok(Self(client_address(peer.ip(), &parts.headers, &state.settings.trusted_proxies)))
    }
}

/// Each proxy appends to `X-Forwarded-For` the address it heard from, so the header is read
/// from the right, past the trusted proxies, to the first address that is not one: everything
/// further left was written by the client and could be anything. A header that is absent or
/// unreadable there leaves the last trusted hop.
fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer.to_canonical();
    if !is_trusted(&client) {
        return client;
    }
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(value) = value.to_str() else { return client };
        for hop in value.rsplit(',') {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else { return client };
            client = ip.to_canonical();
            if !is_trusted(&client) {
                return client;
            }
        }
    }
    client
}

/// An error as a client sees it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Extra members beside `error` (the current counter of a 409, `retryAfter`).
    extra: Option<(&'static str, serde_json::Value)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), extra: None }
    }

    pub fn with(mut self, key: &'static str, value: impl Into<serde_json::Value>) -> Self {
        self.extra = Some((key, value.into()));
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
    }

    pub fn locked_down() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "locked_down", "this server is locked down")
    }

    pub fn profile_locked() -> Self {
        Self::new(StatusCode::FORBIDDEN, "locked_down", "this profile is locked down")
    }
}

/// Anything unexpected is logged and answered as `internal`, without its details.
impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        tracing::error!("{error:#}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        anyhow::Error::from(error).into()
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(error: serde_json::Error) -> Self {
        anyhow::Error::from(error).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": {"code": self.code, "message": self.message}});
        let mut retry_after = None;
        if let Some((key, value)) = self.extra {
            if key == "retryAfter" {
                retry_after = value.as_i64();
            }
            body[key] = value;
        }
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

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
                    JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
                    JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        "too_large"
                    }
                    _ => "invalid_request",
                };
                Err(ApiError::new(rejection.status(), code, rejection.body_text()))
            }
        }
    }
}

pub fn router(state: AppState) -> Router {
    let limit = state.settings.max_body_bytes;
    let metrics = state.metrics.clone();
    let mut router = Router::new();
    if let Some(token) = &state.settings.metrics_token {
        let scrape = get(crate::metrics::serve_to_bearer).with_state((metrics.clone(), Arc::new(token.clone())));
        router = router.route("/metrics", scrape);
    }
    router
        .route("/healthz", get(healthz))
        .route("/u/{id}", get(profile_document))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/api/v1/prelogin", post(crate::auth::prelogin))
        .route("/api/v1/login", post(crate::auth::login))
        .route("/api/v1/token", post(crate::auth::refresh))
        .route("/api/v1/devices", get(crate::auth::list_devices))
        .route("/api/v1/devices/{id}", delete(crate::auth::revoke_device))
        .route("/api/v1/vault", get(crate::vaults::read).put(crate::vaults::write))
        .route("/api/v1/passphrase", put(crate::vaults::change_passphrase))
        .route("/api/v1/paper-key", put(crate::vaults::set_paper_key))
        .route(
            "/api/v1/accounts",
            get(crate::accounts::list).put(crate::accounts::register).delete(crate::accounts::remove),
        )
        .route("/api/v1/accounts/login", post(crate::accounts::logged_in))
        .route("/api/v1/push", get(crate::push::socket))
        .route("/api/v1/sites/account-check", post(crate::sites::account_check))
        .route("/api/v1/email/verify", post(crate::email::start_verify))
        .route("/api/v1/email/recover", post(crate::email::start_recover))
        .route("/email/confirm", get(crate::email::confirm_page).post(crate::email::confirm))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(axum::middleware::from_fn_with_state(metrics, crate::metrics::track))
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    state.db.ping().await?;
    Ok(Json(json!({"status": "ok", "database": format!("{:?}", state.db.backend).to_lowercase()})))
}

/// The site's public signing key, for anyone checking what this server signed.
async fn jwks(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({"keys": [state.keys.site.jwk()]}))
}

/// A user's public profile document: what `getProfileUrl` points sites at.
async fn profile_document(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if state.db.site_locked_down().await? {
        return Err(ApiError::locked_down());
    }
    match state.db.user_is_active(&id).await? {
        Some(true) => Ok(Json(json!({
            "profileId": id,
            "profileUrl": crate::admin::profile_url(&state.settings.public_url, &id),
            "apiBase": state.settings.public_url,
            "keys": [state.keys.site.jwk()],
        }))),
        _ => Err(ApiError::not_found("profile")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn the_client_address_is_read_past_trusted_proxies_only() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let claimed = forwarded(&["6.6.6.6, 203.0.113.9, 10.0.0.2"]);
        assert_eq!(
            client_address(ip("192.0.2.1"), &claimed, &trusted),
            ip("192.0.2.1"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), &claimed, &trusted),
            ip("203.0.113.9"),
            "the left of the first untrusted hop is ignored"
        );
        assert_eq!(
            client_address(ip("::1"), &forwarded(&["203.0.113.9", "10.0.0.3"]), &trusted),
            ip("203.0.113.9"),
            "one header per proxy"
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), &HeaderMap::new(), &trusted),
            ip("10.0.0.1"),
            "no header: the proxy itself"
        );
        assert_eq!(client_address(ip("10.0.0.1"), &forwarded(&["nonsense, 10.0.0.4"]), &trusted), ip("10.0.0.4"));
        assert_eq!(
            client_address(ip("::ffff:10.0.0.1"), &forwarded(&["::ffff:198.51.100.7"]), &trusted),
            ip("198.51.100.7"),
            "IPv4 mapped into IPv6 is IPv4"
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), &claimed, &[]),
            ip("10.0.0.1"),
            "no trusted proxies: the header is ignored"
        );
    }
}
