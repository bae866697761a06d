//! Web origins as the host acts for them: a tuple (scheme, host, port), never opaque.
//!
//! The parser is strict: it accepts a serialized origin as browsers produce one (`scheme://host`
//! with an optional port and at most a trailing `/`), lower-cases the host, folds default ports,
//! and refuses everything else: opaque origins, userinfo, paths, queries, fragments, schemes
//! other than https (http only for loopback), `file:`, `data:`, `javascript:`, and ambiguous
//! host forms a WHATWG parser would rewrite (`127.1`, `0x7f.0.0.1`, percent-escapes).
//!
//! Internationalized host names are mapped to punycode (UTS #46, as the WHATWG URL standard
//! does) with the default `idna` feature. Without it (the extension's WASM, where every origin
//! comes from the browser already in punycode) a non-ASCII host is refused. The tests cross-check
//! the parser against the `url` crate.

use std::fmt;
use std::str::FromStr;

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
        for (prefix, _) in EXTENSION_SCHEMES {
            if input.get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix)) {
                let id = input[prefix.len()..].trim_end_matches('/').to_ascii_lowercase();
                return parse_extension(prefix, &id, input);
            }
        }
        let not_an_origin = || OriginError::NotAUrl(format!("`{input}` is not an origin"));
        let (scheme, after) =
            input.split_once(':').filter(|(scheme, _)| is_scheme(scheme)).ok_or_else(not_an_origin)?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return Err(OriginError::Scheme(scheme)),
        };
        let rest = after.strip_prefix("//").ok_or_else(not_an_origin)?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '\\']) {
            return Err(OriginError::NotBare);
        }
        if authority.contains('@') {
            return Err(OriginError::Userinfo);
        }
        let (host, port) = split_host_port(authority)?;
        let host = parse_host(host)?;
        if scheme == "http" && !matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]") {
            return Err(OriginError::InsecureHttp);
        }
        Ok(match port {
            Some(port) if port != default_port => Self(format!("{scheme}://{host}:{port}")),
            _ => Self(format!("{scheme}://{host}")),
        })
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

fn is_scheme(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `host[:port]` or `[v6][:port]`; an empty port (`host:`) means the default one.
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), OriginError> {
    let bad_port = || OriginError::NotAUrl(format!("bad port in `{authority}`"));
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']').ok_or(OriginError::NoHost)?;
        match &authority[end + 1..] {
            "" => (&authority[..=end], None),
            rest => (&authority[..=end], Some(rest.strip_prefix(':').ok_or_else(bad_port)?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => Some(digits.parse().map_err(|_| bad_port())?),
        Some(_) => return Err(bad_port()),
    };
    Ok((host, port))
}

/// A lower-case ASCII domain, a dotted-quad IPv4 address or a bracketed IPv6 address.
fn parse_host(host: &str) -> Result<String, OriginError> {
    if host.is_empty() {
        return Err(OriginError::NoHost);
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ip: Ipv6Addr = v6.parse().map_err(|_| OriginError::NotAUrl(format!("bad IPv6 address `{host}`")))?;
        return Ok(format!("[{}]", serialize_ipv6(&ip)));
    }
    if host.contains('%') {
        return Err(OriginError::NotAUrl(format!("bad host name `{host}`: percent-escapes are refused")));
    }
    let host = to_ascii(host)?;
    let last_label = host.trim_end_matches('.').rsplit('.').next().unwrap_or_default();
    // WHATWG reads a host whose last label is numeric as IPv4 and rewrites odd forms; accept only
    // the canonical dotted quad.
    if !last_label.is_empty() && (last_label.bytes().all(|b| b.is_ascii_digit()) || last_label.starts_with("0x")) {
        let ip: Ipv4Addr = host.parse().map_err(|_| OriginError::NotAUrl(format!("ambiguous IPv4 host `{host}`")))?;
        return Ok(ip.to_string());
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let labels = host.strip_suffix('.').unwrap_or(&host);
    if host.len() > 253 || !labels.split('.').all(label_ok) {
        return Err(OriginError::NotAUrl(format!("bad host name `{host}`")));
    }
    Ok(host)
}

/// An IPv6 address as the URL standard serializes it: eight hex pieces, the first longest run
/// of two or more zero pieces compressed to `::`, and never the dotted IPv4 form (Rust's
/// `Display` writes `::ffff:1.2.3.4`, a browser `::ffff:102:304`).
fn serialize_ipv6(ip: &Ipv6Addr) -> String {
    let pieces = ip.segments();
    let mut compress: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < pieces.len() {
        let run = pieces[i..].iter().take_while(|&&p| p == 0).count();
        if run >= 2 && compress.is_none_or(|(_, longest)| run > longest) {
            compress = Some((i, run));
        }
        i += run.max(1);
    }
    let hex = |range: &[u16]| range.iter().map(|p| format!("{p:x}")).collect::<Vec<_>>().join(":");
    match compress {
        Some((start, run)) => format!("{}::{}", hex(&pieces[..start]), hex(&pieces[start + run..])),
        None => hex(&pieces),
    }
}

#[cfg(feature = "idna")]
fn to_ascii(host: &str) -> Result<String, OriginError> {
    if host.is_ascii() {
        return Ok(host.to_ascii_lowercase());
    }
    idna::domain_to_ascii(host).map_err(|_| OriginError::NotAUrl(format!("bad international host name `{host}`")))
}

#[cfg(not(feature = "idna"))]
fn to_ascii(host: &str) -> Result<String, OriginError> {
    if host.is_ascii() {
        Ok(host.to_ascii_lowercase())
    } else {
        Err(OriginError::NotAUrl(format!("non-ASCII host `{host}`: use its punycode (xn--) form")))
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
        #[cfg(feature = "idna")]
        assert_eq!(ok("https://bücher.example"), "https://xn--bcher-kva.example");
        assert_eq!(ok("https://shop.example:"), "https://shop.example");
        assert_eq!(ok("HTTPS://SHOP.EXAMPLE"), "https://shop.example");
        assert_eq!(ok("https://[0:0:0:0:0:0:0:1]:8443"), "https://[::1]:8443");
        // As browsers serialize them: IPv4-mapped and -compatible forms in hex, never dotted.
        assert_eq!(ok("https://[::ffff:1.2.3.4]"), "https://[::ffff:102:304]");
        assert_eq!(ok("https://[::FFFF:127.0.0.1]:8443"), "https://[::ffff:7f00:1]:8443");
        assert_eq!(ok("https://[::1.2.3.4]"), "https://[::102:304]");
        assert_eq!(ok("https://[64:ff9b::10.0.0.1]"), "https://[64:ff9b::a00:1]");
        assert_eq!(ok("https://[2001:db8:0:0:1:0:0:1]"), "https://[2001:db8::1:0:0:1]");
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
            ("https://127.1", "ambiguous IPv4"),
            ("https://0x7f.0.0.1", "ambiguous IPv4"),
            ("https://sh%6fp.example", "bad"),
            ("https://shop..example", "bad host"),
            ("https://shop.example:99999", "bad port"),
            ("https://shop.example:+1", "bad port"),
            ("https://", "needs a host"),
            ("https://[::1", "needs a host"),
            ("https://shop example", "bad host"),
            ("https://shop.example\\evil", "path"),
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

        /// An independent implementation: wherever the WHATWG parser of the `url` crate reads
        /// the same input as a plain origin, this parser must either agree or refuse.
        #[test]
        fn agrees_with_the_url_crate_or_refuses(
            scheme in "(https|http|HTTPS|ftp)",
            host in "([a-zA-Z0-9-]{1,8}\\.){0,3}[a-zA-Z0-9-]{1,8}|localhost|127\\.0\\.0\\.1|\\[::1\\]|[0-9]{1,3}(\\.[0-9]{1,3}){0,3}",
            port in proptest::option::of(0u32..70000),
            slash in proptest::bool::ANY,
        ) {
            let input = format!("{scheme}://{host}{}{}", port.map(|p| format!(":{p}")).unwrap_or_default(), if slash { "/" } else { "" });
            if let Ok(ours) = Origin::parse(&input) {
                let theirs = url::Url::parse(&input).expect("the url crate accepts what we accept");
                prop_assert_eq!(ours.as_str(), theirs.origin().ascii_serialization());
            }
        }

        /// IPv6 hosts serialize as the `url` crate (a WHATWG parser) writes them, zero runs and
        /// IPv4-mapped forms included.
        #[test]
        fn ipv6_hosts_serialize_as_browsers_write_them(
            pieces in proptest::array::uniform8(prop_oneof![Just(0u16), Just(0xffff), any::<u16>()]),
        ) {
            let ip = Ipv6Addr::from(pieces);
            let input = format!("https://[{ip}]");
            let theirs = url::Url::parse(&input).unwrap().origin().ascii_serialization();
            let ours = Origin::parse(&input).unwrap();
            prop_assert_eq!(ours.as_str(), theirs);
        }

        #[test]
        fn non_loopback_http_is_always_refused(host in "[a-z]{1,10}\\.(com|example|org)") {
            prop_assert_eq!(Origin::parse(&format!("http://{host}")), Err(OriginError::InsecureHttp));
        }
    }
}
