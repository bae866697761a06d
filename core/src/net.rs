//! Which IP addresses a fetch may connect to when someone else named the place: the profile
//! server fetching a site's registration, a site's server fetching a person's profile document.
//! Only globally routable addresses, so neither can be pointed at its own machine or network;
//! the shells apply it in their HTTP client's resolver, to every address a name resolves to,
//! as it is connected to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether a fetch of an address someone else named may connect to `ip`: a globally routable
/// address, or, when `loopback` is set (development), a loopback one.
pub fn may_fetch_from(ip: IpAddr, loopback: bool) -> bool {
    is_global(ip) || (loopback && ip.to_canonical().is_loopback())
}

/// IPv4 blocks that are not globally routable (IANA's special-purpose registry): this network,
/// RFC 1918 private, shared CGNAT, loopback, link-local, IETF protocol assignments, the
/// documentation and benchmarking ranges, the deprecated 6to4 relay, multicast, reserved and
/// broadcast.
const V4_SPECIAL: [(Ipv4Addr, u8); 16] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
    (Ipv4Addr::new(127, 0, 0, 0), 8),
    (Ipv4Addr::new(169, 254, 0, 0), 16),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 0, 0, 0), 24),
    (Ipv4Addr::new(192, 0, 2, 0), 24),
    (Ipv4Addr::new(192, 31, 196, 0), 24),
    (Ipv4Addr::new(192, 52, 193, 0), 24),
    (Ipv4Addr::new(192, 88, 99, 0), 24),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(198, 18, 0, 0), 15),
    (Ipv4Addr::new(198, 51, 100, 0), 24),
    (Ipv4Addr::new(203, 0, 113, 0), 24),
    (Ipv4Addr::new(224, 0, 0, 0), 3),
];

/// IPv6 blocks inside global unicast (2000::/3) that are not globally routable: IETF protocol
/// assignments (Teredo, ORCHID, benchmarking among them), documentation (both blocks), and 6to4.
const V6_SPECIAL: [(Ipv6Addr, u8); 4] = [
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),
];

/// Whether `ip` is globally routable. IPv6 counts only inside global unicast (2000::/3), less
/// its special blocks; an IPv6 address that carries an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`,
/// IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`) is judged by the IPv4 address it
/// reaches. Everything else (unspecified, loopback, unique-local, link-local, site-local,
/// multicast, discard, reserved) is not.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !V4_SPECIAL.iter().any(|&(net, len)| in_block(u32::from(v4).into(), u32::from(net).into(), len, 32))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let embedded = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
            let carries_v4 = bits >> 32 == 0xffff // ::ffff:0:0/96, mapped
                || (bits >> 32 == 0 && bits > 1) // ::/96 less :: and ::1, compatible
                || bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000; // 64:ff9b::/96, NAT64
            if carries_v4 {
                return is_global(IpAddr::V4(embedded));
            }
            in_block(bits, u128::from(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0)), 3, 128)
                && !V6_SPECIAL.iter().any(|&(net, len)| in_block(bits, u128::from(net), len, 128))
        }
    }
}

/// Whether the first `len` of `width` bits of `addr` and `net` agree.
fn in_block(addr: u128, net: u128, len: u8, width: u32) -> bool {
    let shift = width - u32::from(len);
    addr >> shift == net >> shift
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form of a special-purpose address is refused; global ones pass.
    #[test]
    fn only_globally_routable_addresses_are_fetched_from() {
        let refused = [
            "127.0.0.1",
            "127.255.255.254",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "239.1.2.3",
            "240.0.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "198.19.255.255",
            "192.88.99.1",
            "::",
            "::1",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd12:3456::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "100::1",
            "2001:db8::1",
            "3fff::1",
            "2001::1",
            "2001:2::1",
            "2001:20::1",
            "2002:7f00:1::1",
            "64:ff9b:1::1",
            "4000::1",
            "::ffff:127.0.0.1",
            "::ffff:7f00:1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:192.168.0.1",
            "::ffff:100.64.0.1",
            "::ffff:0.0.0.0",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a00:1",
        ];
        for text in refused {
            let ip: IpAddr = text.parse().unwrap();
            assert!(!is_global(ip), "{text} is not global");
            assert!(!may_fetch_from(ip, false), "{text}");
        }
        let global = [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:1.1.1.1",
            "64:ff9b::808:808",
        ];
        for text in global {
            let ip: IpAddr = text.parse().unwrap();
            assert!(is_global(ip) && may_fetch_from(ip, false) && may_fetch_from(ip, true), "{text} is global");
        }
        for loopback in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"] {
            assert!(may_fetch_from(loopback.parse().unwrap(), true), "{loopback} with loopback");
        }
        for private in ["10.0.0.1", "192.168.1.1", "fd00::1", "fe80::1", "169.254.169.254", "0.0.0.0", "::"] {
            assert!(!may_fetch_from(private.parse().unwrap(), true), "{private} even with loopback");
        }
    }
}
