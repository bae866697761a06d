//! HTTP to places someone else named: a visitor's profile URL, the API base their profile
//! document names, the profile server's keys. Only globally routable addresses
//! (`profile_core::net::may_fetch_from`), https only, no redirects, no proxy; loopback and plain
//! http only when the site's operator allowed them for development.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};

/// An HTTP agent that reaches only the addresses a fetch of someone else's place may reach.
#[derive(Debug)]
pub(crate) struct Outward {
    agent: ureq::Agent,
    loopback: bool,
    timeout: Duration,
}

impl Outward {
    /// With `loopback`, http URLs and loopback addresses too (nothing else private).
    pub(crate) fn new(loopback: bool, timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .http_status_as_error(false)
            // A proxy would resolve the name itself, past the filter.
            .proxy(None)
            .build();
        let connector = ureq::unversioned::transport::DefaultConnector::default();
        Self { agent: ureq::Agent::with_parts(config, connector, OutwardOnly { loopback }), loopback, timeout }
    }

    pub(crate) fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    /// `url` if its scheme may be fetched: https, or http when loopback is allowed.
    pub(crate) fn check_scheme(&self, url: &str) -> Result<(), String> {
        if url.starts_with("https://") || (self.loopback && url.starts_with("http://")) {
            Ok(())
        } else {
            Err(format!("{url} is not an https URL"))
        }
    }

    /// The body of a `200` to `GET url` (with `accept`), at most `limit` bytes.
    pub(crate) fn get(&self, url: &str, accept: &str, limit: u64) -> Result<Vec<u8>, String> {
        self.check_scheme(url)?;
        let mut response = self.agent.get(url).header("Accept", accept).call().map_err(|e| format!("{url}: {e}"))?;
        if response.status() != 200 {
            return Err(format!("{url} answered {}", response.status()));
        }
        response.body_mut().with_config().limit(limit).read_to_vec().map_err(|e| format!("{url}: {e}"))
    }

    /// A TCP connection to `host:port`, to the first of its addresses that may be reached (for
    /// what ureq does not carry: a WebSocket).
    pub(crate) fn connect(&self, host: &str, port: u16) -> Result<TcpStream, String> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("{host}: {e}"))?
            .filter(|addr| profile_core::net::may_fetch_from(addr.ip(), self.loopback))
            .collect();
        let mut last = format!("{host} has no address that may be reached from here");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = format!("{host} ({addr}): {e}"),
            }
        }
        Err(last)
    }
}

/// ureq's resolver, keeping only the addresses that may be reached
/// (`profile_core::net::may_fetch_from`); ureq connects to exactly what it returns, so the check
/// cannot be raced by a second lookup.
#[derive(Debug)]
struct OutwardOnly {
    loopback: bool,
}

impl Resolver for OutwardOnly {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let resolved = DefaultResolver::default().resolve(uri, config, timeout)?;
        let mut kept = self.empty();
        for addr in resolved.iter().filter(|addr| profile_core::net::may_fetch_from(addr.ip(), self.loopback)) {
            kept.push(*addr);
        }
        if kept.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(kept)
    }
}
