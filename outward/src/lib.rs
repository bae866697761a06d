//! HTTP to places someone else named (a site's registration, an app's webhook, a visitor's
//! profile URL): only to globally routable addresses, checked on every address a name resolves to
//! as it is connected to ([`OutwardOnly`], ureq's resolver seam), so neither an address literal
//! in any spelling (`[::ffff:127.0.0.1]`) nor a name that resolves inward reaches this machine
//! or its network. With `loopback` (the development setting `sites_on_loopback`) loopback
//! addresses are allowed as well, and nothing else is. No proxy (it would resolve the name
//! itself, past the filter), no redirects, and a short timeout. The profile server, profile-rp
//! and the host (a linked profile's document and server) make their outward requests through it.

use std::time::Duration;

use profile_core::net::may_fetch_from;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};

/// An agent that connects only where [`OutwardOnly`] lets it, follows no redirect, uses no
/// proxy, gives up after `timeout`, and answers every status as a response.
pub fn agent(loopback: bool, timeout: Duration) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .proxy(None)
        .build();
    let connector = ureq::unversioned::transport::DefaultConnector::default();
    ureq::Agent::with_parts(config, connector, OutwardOnly { loopback })
}

/// ureq's resolver, keeping only the addresses a request may go to; ureq connects to exactly
/// what it returns, so the check cannot be raced by a second lookup.
#[derive(Debug)]
pub struct OutwardOnly {
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
        for addr in resolved.iter().filter(|addr| may_fetch_from(addr.ip(), self.loopback)) {
            kept.push(*addr);
        }
        if kept.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(kept)
    }
}
