//! The profile server's HTTP API as the host calls it: timeouts, retries of a busy server,
//! and its errors as wire errors; and the calls to a linked profile's server, which go out
//! through [`super::outward`] instead.

use std::fmt;
use std::time::Duration;

use profile_core::server_api::{ApiErrorCode, ErrorBody};
use profile_core::{Bearer, ErrorCode, WireError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::outward::{ApiBase, Outward, OutwardUrl, unreached};

/// How long a call to the profile server may take.
pub(super) const TIMEOUT: Duration = Duration::from_secs(10);

/// A failure talking to the profile server at `url`, in words a person reads: the CLI prints
/// it and the options page shows it.
pub(super) fn unreachable(url: &str, error: &ureq::Error) -> WireError {
    WireError::new(
        ErrorCode::ServerUnreachable,
        format!("the profile server at {} {}", server_address(url), why(error)),
    )
}

/// `https://host[:port]` of a URL: how a profile server is named to people.
pub fn server_address(url: &str) -> String {
    url::Url::parse(url).map_or_else(|_| url.to_owned(), |u| u.origin().ascii_serialization())
}

/// What went wrong, as the end of "the profile server at … ".
fn why(error: &ureq::Error) -> String {
    use std::io::ErrorKind as Kind;
    let too_slow = || format!("did not answer within {} seconds", TIMEOUT.as_secs());
    let not_found =
        || "could not be found (its name does not resolve: check the address, and that this computer is online)";
    match error {
        ureq::Error::Timeout(_) => too_slow(),
        ureq::Error::HostNotFound => not_found().into(),
        ureq::Error::Rustls(tls) => tls_words(tls),
        ureq::Error::Tls(what) => format!("could not set up a secure connection ({what})"),
        ureq::Error::Protocol(_) | ureq::Error::LargeResponseHeader(..) => {
            "answered with something that is not HTTP".into()
        }
        ureq::Error::Io(io) => match io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            Some(tls) => tls_words(tls),
            // The system resolver's failure, as std words it (no kind of its own).
            None if io.to_string().starts_with("failed to lookup address information") => not_found().into(),
            None => match io.kind() {
                Kind::ConnectionRefused => "did not answer (connection refused)".into(),
                Kind::TimedOut | Kind::WouldBlock => too_slow(),
                Kind::ConnectionReset | Kind::ConnectionAborted | Kind::BrokenPipe | Kind::UnexpectedEof => {
                    "closed the connection before answering".into()
                }
                Kind::NetworkUnreachable | Kind::HostUnreachable | Kind::NetworkDown => {
                    "could not be reached (no route to it: is this computer online?)".into()
                }
                _ => {
                    let text = io.to_string();
                    let said = text.split(" (os error").next().unwrap_or_default();
                    format!("could not be reached ({})", said.to_lowercase())
                }
            },
        },
        ureq::Error::ConnectionFailed => "could not be reached".into(),
        other => format!("could not be reached ({other})"),
    }
}

/// A TLS failure, as the end of "the profile server at … ".
fn tls_words(error: &rustls::Error) -> String {
    use rustls::{CertificateError as Cert, Error as Tls};
    let certificate = |what: &str| format!("could not prove it is that server: its TLS certificate {what}");
    match error {
        Tls::InvalidCertificate(Cert::Expired | Cert::ExpiredContext { .. }) => certificate("has expired"),
        Tls::InvalidCertificate(Cert::NotValidYet | Cert::NotValidYetContext { .. }) => {
            certificate("is not valid yet (is this computer's clock right?)")
        }
        Tls::InvalidCertificate(Cert::UnknownIssuer) => {
            certificate("is not signed by an authority this computer trusts")
        }
        Tls::InvalidCertificate(Cert::NotValidForName | Cert::NotValidForNameContext { .. }) => {
            certificate("is for another name")
        }
        Tls::InvalidCertificate(Cert::Revoked) => certificate("was revoked"),
        Tls::InvalidCertificate(_) => certificate("is not valid"),
        Tls::InvalidMessage(_) => "answered without TLS (its address may be http://, not https://)".into(),
        other => format!("could not set up a secure connection ({other})"),
    }
}

/// The profile server's HTTP API, and a linked profile's.
pub struct Client {
    /// This profile's own server, at the `apiBase` its pairing read.
    agent: ureq::Agent,
    /// Places another person named: a linked profile's document and server.
    outward: Outward,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Client")
    }
}

/// A response: its status, and its body, read as the type the status means.
pub(crate) struct Answer {
    pub(crate) status: u16,
    body: String,
}

/// The body of a call that sends none.
pub(crate) const NO_BODY: Option<&()> = None;

/// The URL of one of the API's paths ([`profile_core::server_api::path`]) on a server.
pub(crate) fn url(api_base: &str, path: &str) -> String {
    format!("{api_base}{path}")
}

/// A vault counter as the server writes it (signed) to the host's (unsigned).
pub(crate) fn counter(value: i64) -> Result<u64, WireError> {
    u64::try_from(value).map_err(|_| WireError::internal(format!("the profile server answered vault version {value}")))
}

/// A vault counter as the server reads it.
pub(crate) fn signed(value: u64) -> Result<i64, WireError> {
    i64::try_from(value).map_err(|_| WireError::internal(format!("vault version {value} is out of range")))
}

impl Answer {
    /// The body as `T`.
    pub(crate) fn read<T: DeserializeOwned>(&self) -> Result<T, WireError> {
        serde_json::from_str(&self.body)
            .map_err(|e| WireError::internal(format!("the profile server's answer ({}): {e}", self.status)))
    }

    /// The body as `T` when the status is `status`; the server's error otherwise.
    pub(crate) fn expect<T: DeserializeOwned>(self, status: u16) -> Result<T, WireError> {
        if self.status == status { self.read() } else { Err(self.error()) }
    }

    /// Nothing but the status `status`; the server's error otherwise.
    pub(crate) fn expect_empty(self, status: u16) -> Result<(), WireError> {
        if self.status == status { Ok(()) } else { Err(self.error()) }
    }

    /// The server's error body, when it sent one.
    pub(crate) fn error_body(&self) -> Option<ErrorBody> {
        serde_json::from_str(&self.body).ok()
    }

    /// The server's error as a wire error: the codes the page API knows, or `internal`.
    pub(crate) fn error(&self) -> WireError {
        let body = self.error_body();
        let message = body.as_ref().map_or("unexpected answer", |b| b.error.message.as_str()).to_owned();
        let code = match (self.status, body.map(|b| b.error.code)) {
            (401, _) => ErrorCode::AuthFailed,
            (429, _) => ErrorCode::RateLimited,
            (_, Some(ApiErrorCode::LockedDown)) => ErrorCode::ServerUnreachable,
            (500.., _) => ErrorCode::ServerUnreachable,
            _ => ErrorCode::Internal,
        };
        WireError::new(code, format!("profile server: {message} ({})", self.status))
    }
}

impl Default for Client {
    fn default() -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("profile-host/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self { agent, outward: Outward::new(TIMEOUT) }
    }
}

impl Client {
    /// One call; a server too busy to check a credential now (`503 busy`, which it answers
    /// without doing anything) is asked again after the wait it names, a few times.
    pub(crate) fn call<B: Serialize + ?Sized>(
        &self,
        method: &str,
        url: &str,
        token: Option<&Bearer>,
        body: Option<&B>,
    ) -> Result<Answer, WireError> {
        // Short: a caller may hold the data dir's lock meanwhile.
        const TRIES: usize = 3;
        const LONGEST_WAIT_SECS: u64 = 2;
        let mut answer = self.call_once(method, url, token, body)?;
        for _ in 1..TRIES {
            let busy = answer.error_body().filter(|b| answer.status == 503 && b.error.code == ApiErrorCode::Busy);
            let Some(busy) = busy else { break };
            let wait = busy.retry_after.and_then(|s| u64::try_from(s).ok()).unwrap_or(1).clamp(1, LONGEST_WAIT_SECS);
            std::thread::sleep(Duration::from_secs(wait));
            answer = self.call_once(method, url, token, body)?;
        }
        Ok(answer)
    }

    /// A call to another profile's server, signed as an app signs (a linked profile reading
    /// the card it was granted): `path` with its query, the body's exact bytes, the stamp and
    /// the profile key's signature in their headers. It goes out as every request to a linked
    /// profile does ([`super::outward`]).
    pub(crate) fn call_as_app(
        &self,
        method: &str,
        api_base: &ApiBase,
        path: &str,
        grant_id: &profile_core::apps::GrantId,
        key: &profile_core::public::ProfileKey,
        body: &[u8],
    ) -> Result<Answer, WireError> {
        use base64ct::{Base64UrlUnpadded, Encoding};
        use profile_core::apps::{AppStamp, SIGNATURE_HEADER, STAMP_HEADER};
        let issued_at =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        let nonce = crate::local::store::random().map_err(|e| WireError::internal(e.to_string()))?;
        let stamp = AppStamp::new(grant_id.clone(), method, path, body, issued_at, nonce);
        let (signed, header) = stamp.to_header();
        let signature = Base64UrlUnpadded::encode_string(&key.sign(&signed));
        let address = api_base.at(path)?;
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(address.as_str())
            .header(STAMP_HEADER, header)
            .header(SIGNATURE_HEADER, signature)
            .header("Content-Type", "application/json")
            .body(body.to_vec())
            .map_err(|e| WireError::invalid(e.to_string()))?;
        let mut response = self.outward.agent(&address).run(request).map_err(|e| unreached(&address, &e))?;
        let status = response.status().as_u16();
        let body = response.body_mut().with_config().limit(16 << 20).read_to_string().unwrap_or_default();
        Ok(Answer { status, body })
    }

    /// A JSON body POSTed to a linked profile's server, unsigned (the redemption of its ticket),
    /// as every request to a linked profile goes out ([`super::outward`]).
    pub(crate) fn outward_post<B: Serialize + ?Sized>(&self, url: &OutwardUrl, body: &B) -> Result<Answer, WireError> {
        let mut response =
            self.outward.agent(url).post(url.as_str()).send_json(body).map_err(|e| unreached(url, &e))?;
        let status = response.status().as_u16();
        let body = response.body_mut().with_config().limit(DOCUMENT_LIMIT).read_to_string().unwrap_or_default();
        Ok(Answer { status, body })
    }

    fn call_once<B: Serialize + ?Sized>(
        &self,
        method: &str,
        url: &str,
        token: Option<&Bearer>,
        body: Option<&B>,
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
                match body {
                    Some(body) => request.send_json(body),
                    None => request.send_json(()),
                }
            }
        }
        .map_err(|e| unreachable(url, &e))?;
        let status = response.status().as_u16();
        // A page of vault items is up to about 8 MiB; nothing the server sends is bigger.
        let body = response.body_mut().with_config().limit(16 << 20).read_to_string().unwrap_or_default();
        Ok(Answer { status, body })
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
        get_document(&self.agent, url).ok()
    }

    /// A linked profile's document, at the profile URL a ticket or a redemption named, as
    /// [`Client::fetch_document`] reads one but fetched as every request to a linked profile
    /// goes out ([`super::outward`]). A document not read (not reached, or any answer but JSON
    /// with `200`) is `server_unreachable`, in words: it may be there later.
    pub(crate) fn outward_document(&self, url: &OutwardUrl) -> Result<Value, WireError> {
        get_document(self.outward.agent(url), url.as_str()).map_err(|e| match e {
            DocumentError::Unreached(e) => unreached(url, &e),
            DocumentError::Answer(why) => WireError::new(ErrorCode::ServerUnreachable, format!("{url} {why}")),
        })
    }
}

/// Why a document was not read.
enum DocumentError {
    Unreached(ureq::Error),
    /// What it answered instead, in words that follow its URL.
    Answer(String),
}

/// A GET of a small JSON document through `agent`: JSON answered `200` within
/// [`DOCUMENT_TIMEOUT`] and [`DOCUMENT_LIMIT`].
fn get_document(agent: &ureq::Agent, url: &str) -> Result<Value, DocumentError> {
    let request = agent.get(url).header("Accept", "application/json");
    let mut response =
        request.config().timeout_global(Some(DOCUMENT_TIMEOUT)).build().call().map_err(DocumentError::Unreached)?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(DocumentError::Answer(format!("answered {status}, not a profile document")));
    }
    let text = (response.body_mut().with_config().limit(DOCUMENT_LIMIT).read_to_string())
        .map_err(|e| DocumentError::Answer(format!("answered with no document ({e})")))?;
    serde_json::from_str(&text).map_err(|e| DocumentError::Answer(format!("is not a JSON document: {e}")))
}

#[cfg(test)]
mod tests {
    use std::io::{Error as Io, ErrorKind};

    use rustls::CertificateError;

    use super::*;

    fn said(error: ureq::Error) -> String {
        let said = unreachable("https://profile.example/u/someone", &error);
        assert_eq!(said.code, ErrorCode::ServerUnreachable);
        assert!(!said.message.contains("os error") && !said.message.contains("io:"), "{}", said.message);
        said.message
    }

    fn tls(error: rustls::Error) -> ureq::Error {
        ureq::Error::Io(Io::new(ErrorKind::InvalidData, error))
    }

    #[test]
    fn network_failures_read_as_words() {
        assert_eq!(
            said(ureq::Error::Io(Io::from_raw_os_error(111))),
            "the profile server at https://profile.example did not answer (connection refused)"
        );
        assert!(said(ureq::Error::Timeout(ureq::Timeout::Global)).ends_with("did not answer within 10 seconds"));
        assert!(said(ureq::Error::Io(ErrorKind::TimedOut.into())).ends_with("did not answer within 10 seconds"));
        assert!(said(ureq::Error::HostNotFound).contains("could not be found (its name does not resolve"));
        let resolver = Io::other("failed to lookup address information: Name or service not known");
        assert!(said(ureq::Error::Io(resolver)).contains("could not be found"));
        assert!(said(ureq::Error::Io(ErrorKind::NetworkUnreachable.into())).contains("is this computer online?"));
        assert!(
            said(ureq::Error::Io(ErrorKind::ConnectionReset.into()))
                .ends_with("closed the connection before answering")
        );
        let untrusted = said(tls(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)));
        assert!(
            untrusted.contains("its TLS certificate is not signed by an authority this computer trusts"),
            "{untrusted}"
        );
        assert!(said(tls(rustls::Error::InvalidCertificate(CertificateError::Expired))).ends_with("has expired"));
        assert!(
            said(tls(rustls::Error::InvalidCertificate(CertificateError::NotValidForName))).ends_with("another name")
        );
        let plain = said(tls(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)));
        assert!(plain.contains("without TLS"), "{plain}");
        assert_eq!(server_address("http://127.0.0.1:9/u/x"), "http://127.0.0.1:9");
        assert_eq!(server_address("https://profile.example:443/api"), "https://profile.example");
    }
}
