//! Requests to places another person named: a linked profile's document, at the profile URL a
//! connection ticket or a redemption carries, and the server that document names as its
//! `apiBase` (the redemption, the card read at each sync, the confirmation of a link). Whoever
//! holds a ticket chooses both, so they go out by the rule contacts are followed by (`follow.rs`,
//! through profile-rp's `PublicFetcher`): https only, and only to globally routable addresses,
//! kept by `profile-outward`'s agent on every address a name resolves to as it connects
//! (`profile_core::net::may_fetch_from`), with no proxy and no redirects; plain http only to this
//! machine, named `localhost` or `127.0.0.1` exactly, and then to loopback only, and only while
//! this device's own profile server is on this machine too ([`this_machine_allowed`]: development
//! and the tests). What a URL shows is refused in words before anything is
//! sent ([`OutwardUrl::parse`]): another scheme, a user name or password, an address literal
//! that is not public; and in an `apiBase`, a query or a fragment, which the API's paths would
//! be appended to ([`ApiBase::parse`]).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use profile_core::net::may_fetch_from;
use profile_core::{ErrorCode, WireError};

use super::client::{server_address, unreachable};

/// The agents requests to places another person named go through, both `profile-outward`'s.
pub(super) struct Outward {
    /// For https URLs: globally routable addresses only.
    public: ureq::Agent,
    /// For plain-http URLs on this machine: loopback addresses too.
    this_machine: ureq::Agent,
}

impl Outward {
    pub(super) fn new(timeout: Duration) -> Self {
        Self { public: profile_outward::agent(false, timeout), this_machine: profile_outward::agent(true, timeout) }
    }

    /// The agent a request to `url` goes through.
    pub(super) fn agent(&self, url: &OutwardUrl) -> &ureq::Agent {
        if url.this_machine { &self.this_machine } else { &self.public }
    }
}

/// Whether what another person named may be on this machine, over plain http: only while this
/// device's own profile server (`api_base`) is on it, in development and the tests. A device
/// whose profile server is on the internet never reaches this machine for them, whatever a
/// ticket or a document names.
pub(crate) fn this_machine_allowed(api_base: &str) -> bool {
    on_this_machine(api_base)
}

/// Whether `url` is plain http on this machine itself (`localhost` or `127.0.0.1`, exactly).
pub(crate) fn on_this_machine(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| plain_http_here(&u))
}

fn plain_http_here(url: &url::Url) -> bool {
    url.scheme() == "http" && matches!(url.host_str(), Some("localhost" | "127.0.0.1"))
}

/// A URL another person named, as a request may go to it (written as the URL standard writes
/// it, which is what is checked and what is requested).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutwardUrl {
    url: url::Url,
    this_machine: bool,
}

impl OutwardUrl {
    /// `text`, when a request may go there; why not otherwise, in words that follow the URL.
    /// Plain http to this machine only when `this_machine_allowed` ([`this_machine_allowed`]).
    pub(crate) fn parse(text: &str, this_machine_allowed: bool) -> Result<Self, String> {
        let url = url::Url::parse(text).map_err(|e| format!("is not a URL ({e})"))?;
        let this_machine = plain_http_here(&url);
        if this_machine && !this_machine_allowed {
            return Err("is on this machine, which is reached only while this device's own profile server is on it \
                        too (development)"
                .into());
        }
        if url.scheme() != "https" && !this_machine {
            return Err("is not an https URL (plain http is only for localhost and 127.0.0.1, this machine)".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("carries a user name or password".into());
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err("names no host".into()),
        };
        if let Some(ip) = literal.filter(|&ip| !may_fetch_from(ip, this_machine)) {
            return Err(format!(
                "is not a public address ({ip} is on this machine or a private network, which are never reached)"
            ));
        }
        Ok(Self { url, this_machine })
    }

    pub(crate) fn as_str(&self) -> &str {
        self.url.as_str()
    }
}

impl fmt::Display for OutwardUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a linked profile's API is, as its document names it: an [`OutwardUrl`] with no query
/// and no fragment (the API's paths are appended to it), kept without its trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiBase(OutwardUrl);

impl ApiBase {
    /// `text`, when it may be a linked profile's `apiBase`; why not otherwise, in words.
    pub(crate) fn parse(text: &str, this_machine_allowed: bool) -> Result<Self, String> {
        let base = OutwardUrl::parse(text, this_machine_allowed)?;
        if base.url.query().is_some() || base.url.fragment().is_some() {
            return Err("has a query or a fragment, where the API's paths would go".into());
        }
        Ok(Self(base))
    }

    /// The base, without its trailing slash: what is kept, and what the API's paths follow.
    pub(crate) fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    /// The URL of `path` (one of `profile_core::server_api::path`) on it.
    pub(crate) fn at(&self, path: &str) -> Result<OutwardUrl, WireError> {
        let address = format!("{}{path}", self.as_str());
        OutwardUrl::parse(&address, self.0.this_machine).map_err(|why| WireError::invalid(format!("`{address}` {why}")))
    }
}

/// A failure to reach a place another person named, in words: a name the agent would not
/// connect to is said to have no public address.
pub(super) fn unreached(url: &OutwardUrl, error: &ureq::Error) -> WireError {
    match error {
        ureq::Error::HostNotFound => WireError::new(
            ErrorCode::ServerUnreachable,
            format!(
                "{} has no public address (its name does not resolve, or only to this machine or a private network, which are never reached)",
                server_address(url.as_str())
            ),
        ),
        other => unreachable(url.as_str(), other),
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;
    use crate::remote::Client;

    #[test]
    fn only_this_machine_is_read_over_plain_http() {
        assert!(on_this_machine("http://127.0.0.1:8080/u/ada") && on_this_machine("http://localhost/u/ada"));
        for other in ["https://127.0.0.1/u/ada", "http://localhost.evil.example/u/x", "http://10.0.0.1/u/x", "x"] {
            assert!(!on_this_machine(other), "{other}");
        }
    }

    #[test]
    fn linked_profiles_are_reached_only_over_https_at_public_addresses_or_on_this_machine() {
        for taken in [
            "https://profiles.example/u/ada",
            "https://93.184.215.14/u/ada",
            "https://[2606:4700::1111]/u/ada",
            "http://127.0.0.1:8080/u/ada",
            "http://localhost/u/ada",
            // A name: kept from this machine and private networks by the agent as it connects.
            "https://localhost/u/ada",
        ] {
            assert!(OutwardUrl::parse(taken, true).is_ok(), "{taken}");
        }
        for (refused, why) in [
            ("http://10.0.0.1/u/x", "not an https URL"),
            ("http://profiles.example/u/x", "not an https URL"),
            ("http://[::1]/u/x", "not an https URL"),
            ("http://localhost.evil.example/u/x", "not an https URL"),
            ("ftp://profiles.example/u/x", "not an https URL"),
            ("https://10.0.0.1/u/x", "not a public address"),
            ("https://169.254.169.254/latest/meta-data/", "not a public address"),
            ("https://127.0.0.1/u/x", "not a public address"),
            ("https://[::1]/u/x", "not a public address"),
            ("https://[::ffff:192.168.0.1]/u/x", "not a public address"),
            ("https://[fd00::1]/u/x", "not a public address"),
            ("https://0x7f.1/u/x", "not a public address"),
            ("https://2130706433/u/x", "not a public address"),
            ("https://100.64.0.1/u/x", "not a public address"),
            ("https://ada:secret@profiles.example/u/x", "user name or password"),
            ("not a url", "not a URL"),
        ] {
            let said = OutwardUrl::parse(refused, true).unwrap_err();
            assert!(said.contains(why), "{refused}: {said}");
        }
    }

    /// A device whose own profile server is on the internet never reaches this machine for a
    /// linked profile: not its profile URL, not an `apiBase` a public document names.
    #[test]
    fn this_machine_is_reached_only_while_the_devices_own_server_is_on_it() {
        assert!(this_machine_allowed("http://127.0.0.1:8080") && !this_machine_allowed("https://profiles.example"));
        for here in ["http://127.0.0.1:8080/u/ada", "http://localhost/u/ada", "http://127.0.0.1:9/api"] {
            assert!(OutwardUrl::parse(here, false).unwrap_err().contains("is on this machine"), "{here}");
            assert!(ApiBase::parse(here, false).is_err(), "{here}");
        }
        assert!(OutwardUrl::parse("https://profiles.example/u/ada", false).is_ok());
        let base = ApiBase::parse("http://127.0.0.1:9", true).unwrap();
        assert!(base.at("/api/v1/app/share").is_ok(), "a base allowed here keeps its paths here");
    }

    #[test]
    fn an_api_base_takes_the_apis_paths_and_nothing_else() {
        let base = ApiBase::parse("https://profiles.example/", true).unwrap();
        assert_eq!(base.as_str(), "https://profiles.example");
        assert_eq!(base.at("/api/v1/app/share").unwrap().as_str(), "https://profiles.example/api/v1/app/share");
        let prefixed = ApiBase::parse("https://example.org/profiles", true).unwrap();
        assert_eq!(prefixed.at("/api/v1/app/link").unwrap().as_str(), "https://example.org/profiles/api/v1/app/link");
        for refused in [
            "https://profiles.example/x?",
            "https://profiles.example/x?to=",
            "https://profiles.example/#",
            "https://profiles.example#x",
            "http://127.0.0.1:9/x?",
        ] {
            assert!(ApiBase::parse(refused, true).unwrap_err().contains("a query or a fragment"), "{refused}");
        }
        assert!(ApiBase::parse("http://192.168.0.1/x?", true).unwrap_err().contains("not an https URL"));
        assert!(ApiBase::parse("https://10.1.2.3/", true).unwrap_err().contains("not a public address"));
    }

    /// A name that resolves to this machine, over https, is never connected to: the agent's
    /// resolver drops the address, and the refusal says so.
    #[test]
    fn a_name_on_this_machine_is_never_connected_to_over_https() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = Client::default();
        let url = OutwardUrl::parse(&format!("https://localhost:{port}/u/x"), true).unwrap();
        let error = client.outward_document(&url).unwrap_err();
        assert_eq!(error.code, ErrorCode::ServerUnreachable);
        assert!(error.message.contains("has no public address"), "{}", error.message);
        let base = ApiBase::parse(&format!("https://localhost:{port}"), true).unwrap();
        assert!(client.outward_post(&base.at("/api/v1/links/redeem").unwrap(), &()).is_err());
        assert_eq!(listener.accept().map(|_| ()).unwrap_err().kind(), std::io::ErrorKind::WouldBlock, "no connection");
    }
}
