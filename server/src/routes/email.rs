//! Email: address verification and account recovery links, sent over SMTP (lettre) to the
//! configured relay.
//!
//! A link carries a random token; the server keeps only its SHA-256, bound to the user, the
//! purpose and the address it was sent to. It lives [`crate::db::LINK_TTL_SECS`] at most, its first use
//! spends it, and it is refused when the user's address has changed since. A recovery link
//! ends a lockout after too many failed logins, so the person can log in again with their
//! passphrase or paper key: **email alone never decrypts the vault**, and never sets a
//! passphrase. Asking for recovery answers the same whether or not the account exists, and
//! mail goes out in the background so the answer's timing says nothing either.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use profile_core::Bearer;
use profile_core::server_api::{ApiErrorCode, RecoverRequest, RecoverSent, VerifySent, path};
use serde::Deserialize;

use crate::db::RESEND_AFTER_SECS;
use crate::http::{ApiError, AppState, Body, ClientAddr, Session};

fn link(state: &AppState, token: &str) -> String {
    format!("{}{}?token={token}", state.settings.public_url, path::EMAIL_CONFIRM)
}

/// Refuses when no SMTP relay is configured.
fn mail_configured(state: &AppState) -> Result<(), ApiError> {
    if state.mailer.configured() {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ApiErrorCode::EmailUnavailable,
        "this server sends no email (no smtp_url is configured)",
    ))
}

/// Sends the signed-in user a link that verifies their address.
pub async fn start_verify(
    State(state): State<AppState>,
    session: Session,
) -> Result<(StatusCode, Json<VerifySent>), ApiError> {
    mail_configured(&state)?;
    let email = state.db.email_of(&session.user).await?;
    let Some(token) = state.db.create_email_link(&session.user, "verify", &email).await? else {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ApiErrorCode::RateLimited,
            "a link was sent less than a minute ago",
        )
        .retry_after(RESEND_AFTER_SECS));
    };
    let body = format!(
        "Open this link within 10 minutes to confirm that this address is yours:\n\n{}\n\n\
         If you did not ask for it, ignore this message.\n",
        link(&state, &token)
    );
    state.mailer.send_later(&email, "Confirm your email address", body);
    Ok((StatusCode::ACCEPTED, Json(VerifySent { sent: true })))
}

/// Sends a recovery link when the profile and address match; answers the same either way.
pub async fn start_recover(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Body(request): Body<RecoverRequest>,
) -> Result<(StatusCode, Json<RecoverSent>), ApiError> {
    mail_configured(&state)?;
    // Throttled like a credential check, so nobody floods a mailbox or probes addresses: every
    // request counts against the profile's mail, and waits while the address does.
    let subjects = crate::throttle::subjects(client, Some(&format!("mail:{}", request.profile_id)));
    state.db.waiting(&subjects[..1]).await??;
    let _counted = state.db.claim(&subjects[1..]).await??;
    let email = crate::db::normalize_email(&request.email);
    if state.db.has_email(&request.profile_id, &email).await?
        && let Some(token) = state.db.create_email_link(&request.profile_id, "recover", &email).await?
    {
        let body = format!(
            "Someone asked to recover the Personal Profile at {}.\n\n\
             Open this link within 10 minutes to lift the lock on logging in; then log in with your \
             passphrase or your paper key:\n\n{}\n\n\
             This link cannot read your profile or change your passphrase. If you did not ask for it, \
             ignore this message.\n",
            crate::profile_url(&state.settings.public_url, &request.profile_id),
            link(&state, &token)
        );
        state.mailer.send_later(&email, "Recover your profile", body);
    }
    let sent = "if this address belongs to that profile, a link is on its way".to_owned();
    Ok((StatusCode::ACCEPTED, Json(RecoverSent { sent })))
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
            state.db.set_email_verified(&user).await?;
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
        let confirm: Confirm = serde_json::from_value(serde_json::json!({"token": TOKEN})).unwrap();
        let printed = format!("{confirm:?}");
        assert!(!printed.contains(TOKEN) && !printed.contains(&TOKEN[..8]), "{printed}");
    }
}
