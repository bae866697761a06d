//! Email: address verification and account recovery links, sent over SMTP (lettre) to the
//! configured relay.
//!
//! A link carries a random token; the server keeps only its SHA-256, bound to the user, the
//! purpose and the address it was sent to. It lives [`LINK_TTL_SECS`] at most, its first use
//! spends it, and it is refused when the user's address has changed since. A recovery link
//! ends a lockout after too many failed logins, so the person can log in again with their
//! passphrase or paper key: **email alone never decrypts the vault**, and never sets a
//! passphrase. Asking for recovery answers the same whether or not the account exists, and
//! mail goes out in the background so the answer's timing says nothing either.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64ct::{Base64UrlUnpadded, Encoding};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use profile_core::Bearer;
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;

use crate::api::{ApiError, AppState, Body, ClientAddr};
use crate::auth::Session;
use crate::db::Db;
use crate::keys::secret_hash;

/// How long a link stays valid.
pub const LINK_TTL_SECS: i64 = 600;
/// At most one mail per user and purpose in this many seconds.
const RESEND_AFTER_SECS: i64 = 60;

/// The SMTP relay, when one is configured.
#[derive(Clone)]
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("configured", &self.transport.is_some()).finish_non_exhaustive()
    }
}

impl Mailer {
    pub fn new(settings: &crate::config::Settings) -> anyhow::Result<Self> {
        crate::install_crypto_provider();
        let transport = match &settings.smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(&url.0)
                    .map_err(|e| anyhow::anyhow!("smtp_url is not usable: {e}"))?
                    .timeout(Some(std::time::Duration::from_secs(20)))
                    .build(),
            ),
            None => None,
        };
        let from =
            settings.mail_from.parse().map_err(|e| anyhow::anyhow!("mail_from `{}`: {e}", settings.mail_from))?;
        Ok(Self { transport, from })
    }

    fn configured(&self) -> Result<(), ApiError> {
        match self.transport {
            Some(_) => Ok(()),
            None => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "email_unavailable",
                "this server sends no email (no smtp_url is configured)",
            )),
        }
    }

    /// Sends in the background; a failure is logged (the address is not).
    fn send_later(&self, to: &str, subject: &str, body: String) {
        let Some(transport) = self.transport.clone() else { return };
        let message = to.parse::<Mailbox>().map_err(anyhow::Error::from).and_then(|to| {
            Message::builder().from(self.from.clone()).to(to).subject(subject).body(body).map_err(Into::into)
        });
        tokio::spawn(async move {
            let sent = match message {
                Ok(message) => transport.send(message).await.map(|_| ()).map_err(anyhow::Error::from),
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                tracing::error!("cannot send email: {e}");
            }
        });
    }
}

impl Db {
    /// A new link for `user_id`, unless one for the same purpose went out in the last minute.
    async fn create_email_link(&self, user_id: &str, purpose: &str, email: &str) -> anyhow::Result<Option<String>> {
        let now = crate::now();
        let recent = sqlx::query("SELECT 1 FROM email_links WHERE user_id = $1 AND purpose = $2 AND created_at > $3")
            .bind(user_id)
            .bind(purpose)
            .bind(now - RESEND_AFTER_SECS)
            .fetch_optional(&self.pool)
            .await?;
        if recent.is_some() {
            return Ok(None);
        }
        let token = Base64UrlUnpadded::encode_string(&crate::random::<32>()?);
        sqlx::query(
            "INSERT INTO email_links (hash, user_id, purpose, email, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(secret_hash(&token))
        .bind(user_id)
        .bind(purpose)
        .bind(email)
        .bind(now + LINK_TTL_SECS)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(Some(token))
    }

    /// What a link is for, when it is live (nothing is spent).
    async fn peek_email_link(&self, token: &str) -> anyhow::Result<Option<String>> {
        let row =
            sqlx::query("SELECT purpose FROM email_links WHERE hash = $1 AND used_at IS NULL AND expires_at > $2")
                .bind(secret_hash(token))
                .bind(crate::now())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| r.try_get::<String, _>(0)).transpose().map_err(Into::into)
    }

    /// Spends a link: `(user, purpose)` when it was live and the user's address is still the
    /// one it went to.
    async fn redeem_email_link(&self, token: &str) -> anyhow::Result<Option<(String, String)>> {
        let now = crate::now();
        let row = sqlx::query(
            "UPDATE email_links SET used_at = $1 WHERE hash = $2 AND used_at IS NULL RETURNING user_id, purpose, email, expires_at",
        )
        .bind(now)
        .bind(secret_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let (user, purpose, email, expires_at): (String, String, String, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        let current =
            sqlx::query("SELECT email FROM users WHERE id = $1").bind(&user).fetch_optional(&self.pool).await?;
        let still_theirs = current.map(|r| r.try_get::<String, _>(0)).transpose()?.is_some_and(|e| e == email);
        Ok((now < expires_at && still_theirs).then_some((user, purpose)))
    }
}

fn link(state: &AppState, token: &str) -> String {
    format!("{}/email/confirm?token={token}", state.settings.public_url)
}

/// Sends the signed-in user a link that verifies their address.
pub async fn start_verify(
    State(state): State<AppState>,
    session: Session,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    state.mailer.configured()?;
    let email: String = sqlx::query("SELECT email FROM users WHERE id = $1")
        .bind(&session.user)
        .fetch_one(&state.db.pool)
        .await?
        .try_get(0)?;
    let Some(token) = state.db.create_email_link(&session.user, "verify", &email).await? else {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "a link was sent less than a minute ago",
        )
        .with("retryAfter", RESEND_AFTER_SECS));
    };
    let body = format!(
        "Open this link within 10 minutes to confirm that this address is yours:\n\n{}\n\n\
         If you did not ask for it, ignore this message.\n",
        link(&state, &token)
    );
    state.mailer.send_later(&email, "Confirm your email address", body);
    Ok((StatusCode::ACCEPTED, Json(json!({"sent": true}))))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecoverRequest {
    profile_id: String,
    email: String,
}

/// Sends a recovery link when the profile and address match; answers the same either way.
pub async fn start_recover(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Body(request): Body<RecoverRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    state.mailer.configured()?;
    // Throttled like a credential check, so nobody floods a mailbox or probes addresses: every
    // request counts against the profile's mail, and waits while the address does.
    let subjects = crate::throttle::subjects(client, Some(&format!("mail:{}", request.profile_id)));
    state.db.waiting(&subjects[..1]).await??;
    let _counted = state.db.claim(&subjects[1..]).await??;
    let email = crate::db::normalize_email(&request.email);
    let row = sqlx::query("SELECT 1 FROM users WHERE id = $1 AND email = $2")
        .bind(&request.profile_id)
        .bind(&email)
        .fetch_optional(&state.db.pool)
        .await?;
    if row.is_some()
        && let Some(token) = state.db.create_email_link(&request.profile_id, "recover", &email).await?
    {
        let body = format!(
            "Someone asked to recover the Personal Profile at {}.\n\n\
             Open this link within 10 minutes to lift the lock on logging in; then log in with your \
             passphrase or your paper key:\n\n{}\n\n\
             This link cannot read your profile or change your passphrase. If you did not ask for it, \
             ignore this message.\n",
            crate::admin::profile_url(&state.settings.public_url, &request.profile_id),
            link(&state, &token)
        );
        state.mailer.send_later(&email, "Recover your profile", body);
    }
    Ok((StatusCode::ACCEPTED, Json(json!({"sent": "if this address belongs to that profile, a link is on its way"}))))
}

#[derive(Debug, Deserialize)]
pub struct Confirm {
    token: Bearer,
}

/// What every page of the server sends beside its HTML: it loads nothing (its only styles are
/// inline), posts only to this server, cannot be framed, sniffed or cached, and sends no
/// referrer (the link's token is in its URL).
pub const PAGE_HEADERS: [(HeaderName, &str); 5] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CACHE_CONTROL, "no-store"),
    (header::X_FRAME_OPTIONS, "DENY"),
];

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        PAGE_HEADERS,
        Html(format!(
            "<!doctype html><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
             <meta name=referrer content=no-referrer><title>{title}</title>\
             <body style=\"font:16px system-ui;max-width:32rem;margin:4rem auto;padding:0 1rem\">\
             <h1 style=\"font-size:1.4rem\">{title}</h1>{body}"
        )),
    )
        .into_response()
}

/// Where a link leads: a page that says what the link does, with one button. Opening the link
/// changes nothing, so mail scanners that fetch links cannot spend it; the button's POST does.
pub async fn confirm_page(State(state): State<AppState>, Query(confirm): Query<Confirm>) -> Result<Response, ApiError> {
    let token: String =
        confirm.token.expose().chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).collect();
    let (title, text, button) = match state.db.peek_email_link(&token).await?.as_deref() {
        Some("verify") => {
            ("Confirm your email address", "This confirms that this address belongs to your profile.", "Confirm")
        }
        Some(_) => (
            "Recover your profile",
            "This lifts the lock on logging in to your profile after too many failed tries. It cannot read \
             your profile or change your passphrase.",
            "Lift the lock",
        ),
        None => return Ok(gone()),
    };
    Ok(page(
        StatusCode::OK,
        title,
        &format!(
            "<p>{text}</p><form method=post action=\"/email/confirm\"><input type=hidden name=token value=\"{token}\">\
             <button style=\"font:inherit;padding:.5rem 1.2rem\">{button}</button></form>"
        ),
    ))
}

fn gone() -> Response {
    page(
        StatusCode::GONE,
        "This link no longer works",
        "<p>Links work once, for 10 minutes. Ask for a new one from your device.</p>",
    )
}

/// The button's POST: spends the link and says what it did.
pub async fn confirm(
    State(state): State<AppState>,
    axum::Form(confirm): axum::Form<Confirm>,
) -> Result<Response, ApiError> {
    let text = |text: &str| format!("<p>{text}</p>");
    match state.db.redeem_email_link(confirm.token.expose()).await? {
        Some((user, purpose)) if purpose == "verify" => {
            sqlx::query("UPDATE users SET email_verified_at = $1 WHERE id = $2")
                .bind(crate::now())
                .bind(&user)
                .execute(&state.db.pool)
                .await?;
            Ok(page(
                StatusCode::OK,
                "Address confirmed",
                &text("Your email address is confirmed. You can close this page."),
            ))
        }
        Some((user, _)) => {
            state.db.clear_failures(&user).await?;
            Ok(page(
                StatusCode::OK,
                "You can log in again",
                &text(
                    "The lock on logging in is lifted. Log in with your passphrase, or with your paper key if you \
                     have lost the passphrase.",
                ),
            ))
        }
        None => Ok(gone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_tokens_print_redacted() {
        const TOKEN: &str = "zK3vUqB8sEcReTtOkEnVaLuE0123456789abcdefg";
        let confirm: Confirm = serde_json::from_value(json!({"token": TOKEN})).unwrap();
        let printed = format!("{confirm:?}");
        assert!(!printed.contains(TOKEN) && !printed.contains(&TOKEN[..8]), "{printed}");
    }
}
