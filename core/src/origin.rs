//! Web origins as the host acts for them: a tuple (scheme, host, port), never opaque.
//!
//! Parsing goes through the WHATWG URL parser (the `url` crate), which lower-cases hosts, maps
//! internationalized names to punycode and folds default ports; on top of that this module
//! refuses everything that is not a plain origin: opaque origins, userinfo, paths, queries,
//! fragments, schemes other than https (http only for loopback), and `file:`, `data:`,
//! `javascript:`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::{Host, Url};

/// Why a string is not an acceptable origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error("not a URL: {0}")]
    NotAUrl(String),
    #[error("opaque origins are refused")]
    Opaque,
    #[error("scheme `{0}` is refused: only https, or http on localhost")]
    Scheme(String),
    #[error("plain http is allowed only for localhost, 127.0.0.1 and [::1]")]
    InsecureHttp,
    #[error("an origin carries no user name or password")]
    Userinfo,
    #[error("an origin carries no path, query or fragment")]
    NotBare,
    #[error("an origin needs a host")]
    NoHost,
}

/// Which kind of caller an origin names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Https,
    /// Allowed only for loopback hosts.
    Http,
    /// A Chromium-family extension (`chrome-extension://ID`).
    ChromeExtension,
    /// A Firefox extension (`moz-extension://UUID`).
    MozExtension,
}

/// A parsed origin. Its string form is the serialized origin (no trailing slash), and two
/// origins are equal only if scheme, host and port all are: subdomains are other sites.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin(String);

impl Origin {
    /// Parses a web origin (https, or http on loopback) or an extension origin.
    pub fn parse(input: &str) -> Result<Self, OriginError> {
        let lowered = input.trim_end_matches('/').to_ascii_lowercase();
        for (prefix, _) in EXTENSION_SCHEMES {
            if let Some(id) = lowered.strip_prefix(prefix) {
                return parse_extension(prefix, id, input);
            }
        }
        let url = Url::parse(input).map_err(|e| OriginError::NotAUrl(e.to_string()))?;
        match url.scheme() {
            "https" | "http" => {}
            other => return Err(OriginError::Scheme(other.to_owned())),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OriginError::Userinfo);
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(OriginError::NotBare);
        }
        let host = url.host().ok_or(OriginError::NoHost)?;
        if url.scheme() == "http" && !is_loopback(&host) {
            return Err(OriginError::InsecureHttp);
        }
        match url.origin() {
            url::Origin::Tuple(..) => Ok(Self(url.origin().ascii_serialization())),
            url::Origin::Opaque(_) => Err(OriginError::Opaque),
        }
    }

    pub fn scheme(&self) -> Scheme {
        if self.0.starts_with("https://") {
            Scheme::Https
        } else if self.0.starts_with("http://") {
            Scheme::Http
        } else if self.0.starts_with("chrome-extension://") {
            Scheme::ChromeExtension
        } else {
            Scheme::MozExtension
        }
    }

    /// True for pages (https and loopback http); false for extension origins.
    pub fn is_web(&self) -> bool {
        matches!(self.scheme(), Scheme::Https | Scheme::Http)
    }

    /// The host part (punycode, lower case; IPv6 in brackets).
    pub fn host(&self) -> &str {
        let rest = self.0.split_once("://").map_or("", |(_, rest)| rest);
        match rest.rfind(':') {
            Some(colon) if !rest[colon..].contains(']') => &rest[..colon],
            _ => rest,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const EXTENSION_SCHEMES: [(&str, Scheme); 2] =
    [("chrome-extension://", Scheme::ChromeExtension), ("moz-extension://", Scheme::MozExtension)];

fn parse_extension(prefix: &str, id: &str, input: &str) -> Result<Origin, OriginError> {
    let valid = match prefix {
        // Chromium ids are 32 letters a..p.
        "chrome-extension://" => id.len() == 32 && id.bytes().all(|b| (b'a'..=b'p').contains(&b)),
        // Firefox uses a per-install UUID.
        _ => (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'),
    };
    if valid {
        Ok(Origin(format!("{prefix}{id}")))
    } else {
        Err(OriginError::NotAUrl(format!("malformed extension origin `{input}`")))
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => *name == "localhost",
        Host::Ipv4(ip) => ip.octets() == [127, 0, 0, 1],
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

impl FromStr for Origin {
    type Err = OriginError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Origin({})", self.0)
    }
}

impl Serialize for Origin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Origin {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Origin::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ok(input: &str) -> String {
        Origin::parse(input).unwrap().to_string()
    }

    #[test]
    fn normalizes_case_default_ports_and_idna() {
        assert_eq!(ok("https://Shop.Example"), "https://shop.example");
        assert_eq!(ok("https://shop.example:443/"), "https://shop.example");
        assert_eq!(ok("https://shop.example:8443"), "https://shop.example:8443");
        assert_eq!(ok("https://bücher.example"), "https://xn--bcher-kva.example");
        assert_eq!(ok("http://localhost:8080"), "http://localhost:8080");
        assert_eq!(ok("http://127.0.0.1"), "http://127.0.0.1");
        assert_eq!(ok("http://[::1]:3000"), "http://[::1]:3000");
    }

    #[test]
    fn refuses_everything_that_is_not_a_plain_origin() {
        let refused = [
            ("null", "not a URL"),
            ("", "not a URL"),
            ("http://shop.example", "plain http"),
            ("http://192.168.1.1", "plain http"),
            ("http://localhost.evil.example", "plain http"),
            ("ftp://shop.example", "scheme"),
            ("file:///etc/passwd", "scheme"),
            ("data:text/html,hi", "scheme"),
            ("javascript:alert(1)", "scheme"),
            ("blob:https://shop.example/uuid", "scheme"),
            ("https://user:pw@shop.example", "user name"),
            ("https://user@shop.example", "user name"),
            ("https://shop.example/path", "path"),
            ("https://shop.example/?q=1", "path"),
            ("https://shop.example/#f", "path"),
            ("chrome-extension://not-an-id", "malformed"),
        ];
        for (input, why) in refused {
            let err = Origin::parse(input).expect_err(input).to_string();
            assert!(err.contains(why), "{input}: {err}");
        }
    }

    #[test]
    fn subdomains_and_ports_are_other_sites() {
        let base = Origin::parse("https://shop.example").unwrap();
        assert_ne!(base, Origin::parse("https://www.shop.example").unwrap());
        assert_ne!(base, Origin::parse("https://shop.example:444").unwrap());
        assert_eq!(base.host(), "shop.example");
        assert_eq!(Origin::parse("http://[::1]:3000").unwrap().host(), "[::1]");
    }

    #[test]
    fn extension_origins() {
        let id = "abcdefghijklmnopabcdefghijklmnop";
        let origin = Origin::parse(&format!("chrome-extension://{id}/")).unwrap();
        assert_eq!(origin.to_string(), format!("chrome-extension://{id}"));
        assert!(!origin.is_web());
        assert_eq!(origin.scheme(), Scheme::ChromeExtension);
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_is_idempotent(input in "\\PC{0,64}") {
            if let Ok(origin) = Origin::parse(&input) {
                let again = Origin::parse(origin.as_str()).unwrap();
                prop_assert_eq!(again, origin);
            }
        }

        #[test]
        fn https_hosts_round_trip(host in "[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9]{0,10}){1,3}", port in proptest::option::of(1u16..)) {
            let input = match port { Some(p) => format!("https://{host}:{p}"), None => format!("https://{host}") };
            let origin = Origin::parse(&input).unwrap();
            prop_assert!(origin.is_web());
            prop_assert_eq!(origin.host(), host.as_str());
            if port.is_some_and(|p| p != 443) { prop_assert_eq!(origin.as_str(), input.as_str()); }
        }

        #[test]
        fn non_loopback_http_is_always_refused(host in "[a-z]{1,10}\\.(com|example|org)") {
            prop_assert_eq!(Origin::parse(&format!("http://{host}")), Err(OriginError::InsecureHttp));
        }
    }
}
