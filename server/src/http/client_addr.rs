//! The client's address, as the throttle counts it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::{ApiError, AppState};

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

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

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
