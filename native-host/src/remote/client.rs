//! The profile server's HTTP API as the host calls it: timeouts, retries of a busy server,
//! and its errors as wire errors.

use std::fmt;
use std::time::Duration;

use profile_core::{Bearer, ErrorCode, WireError};
use serde_json::Value;

/// How long a call to the profile server may take.
pub(super) const TIMEOUT: Duration = Duration::from_secs(10);

/// A failure talking to the profile server.
pub(super) fn unreachable(error: impl fmt::Display) -> WireError {
    WireError::new(ErrorCode::ServerUnreachable, format!("cannot reach the profile server: {error}"))
}

/// The profile server's HTTP API.
pub struct Client {
    agent: ureq::Agent,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Client")
    }
}

/// A response: status and JSON body (`Null` when there is none).
pub(super) type Answer = (u16, Value);

impl Default for Client {
    fn default() -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("profile-host/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self { agent }
    }
}

impl Client {
    /// One call; a server too busy to check a credential now (`503 busy`, which it answers
    /// without doing anything) is asked again after the wait it names, a few times.
    pub(crate) fn call(
        &self,
        method: &str,
        url: &str,
        token: Option<&Bearer>,
        body: Option<&Value>,
    ) -> Result<Answer, WireError> {
        // Short: a caller may hold the data dir's lock meanwhile.
        const TRIES: usize = 3;
        const LONGEST_WAIT_SECS: u64 = 2;
        let mut answer = self.call_once(method, url, token, body)?;
        for _ in 1..TRIES {
            if answer.0 != 503 || answer.1["error"]["code"] != "busy" {
                break;
            }
            let wait = answer.1["retryAfter"].as_u64().unwrap_or(1).clamp(1, LONGEST_WAIT_SECS);
            std::thread::sleep(Duration::from_secs(wait));
            answer = self.call_once(method, url, token, body)?;
        }
        Ok(answer)
    }

    fn call_once(
        &self,
        method: &str,
        url: &str,
        token: Option<&Bearer>,
        body: Option<&Value>,
    ) -> Result<Answer, WireError> {
        let authorization = token.map(|t| zeroize::Zeroizing::new(format!("Bearer {}", t.expose())));
        let mut response = match (method, body) {
            ("GET", _) => {
                let request = self.agent.get(url);
                match &authorization {
                    Some(value) => request.header("Authorization", value.as_str()).call(),
                    None => request.call(),
                }
            }
            ("DELETE", _) => {
                let request = self.agent.delete(url);
                match &authorization {
                    Some(value) => request.header("Authorization", value.as_str()).call(),
                    None => request.call(),
                }
            }
            (method, body) => {
                let request = if method == "PUT" { self.agent.put(url) } else { self.agent.post(url) };
                let request = match &authorization {
                    Some(value) => request.header("Authorization", value.as_str()),
                    None => request,
                };
                request.send_json(body.unwrap_or(&Value::Null))
            }
        }
        .map_err(unreachable)?;
        let status = response.status().as_u16();
        let text = response.body_mut().with_config().limit(1 << 20).read_to_string().unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

/// How long the consent window may wait for a site's `.well-known` document.
pub(super) const DOCUMENT_TIMEOUT: Duration = Duration::from_millis(1500);
/// The largest such document read.
pub(super) const DOCUMENT_LIMIT: u64 = 64 * 1024;

impl Client {
    /// A small JSON document (a site's registration): `None` unless it answers 200 with JSON
    /// within [`DOCUMENT_TIMEOUT`] and [`DOCUMENT_LIMIT`].
    pub fn fetch_document(&self, url: &str) -> Option<Value> {
        let mut response = self.agent.get(url).config().timeout_global(Some(DOCUMENT_TIMEOUT)).build().call().ok()?;
        if response.status() != 200 {
            return None;
        }
        let text = response.body_mut().with_config().limit(DOCUMENT_LIMIT).read_to_string().ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// The server's error as a wire error: the codes the page API knows, or `internal`.
pub(super) fn server_error((status, body): &Answer) -> WireError {
    let message = body["error"]["message"].as_str().unwrap_or("unexpected answer").to_owned();
    let code = match (status, body["error"]["code"].as_str()) {
        (401, _) => ErrorCode::AuthFailed,
        (429, _) => ErrorCode::RateLimited,
        (_, Some("locked_down")) => ErrorCode::ServerUnreachable,
        (500.., _) => ErrorCode::ServerUnreachable,
        _ => ErrorCode::Internal,
    };
    WireError::new(code, format!("profile server: {message} ({status})"))
}

pub(super) fn expect(answer: Answer, status: u16) -> Result<Value, WireError> {
    if answer.0 == status { Ok(answer.1) } else { Err(server_error(&answer)) }
}
