//! HTTP to places someone else named: a visitor's profile URL, the API base their profile
//! document names, the profile server's keys. Only globally routable addresses
//! (`profile_core::net::may_fetch_from`), https only, no redirects, no proxy; loopback and plain
//! http only when the site's operator allowed them for development.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

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
        Self { agent: profile_outward::agent(loopback, timeout), loopback, timeout }
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
