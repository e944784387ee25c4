//! Network addresses, as policy: which ones an outgoing call (a webhook) must not reach.
//!
//! An allow-list in spirit: an IPv6 address is reachable only in global unicast (`2000::/3`)
//! outside the ranges IANA reserves there; an IPv6 address that carries an IPv4 one (mapped,
//! compatible, translated, NAT64, 6to4) is judged as that IPv4 address, since a gateway on the
//! way may well deliver it there; an IPv4 address is refused in every special-purpose range of
//! the IANA registry that is not globally reachable.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Is this address one a webhook must not reach?
pub fn private_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => private_v4(v4),
            None => private_v6(v6),
        },
    }
}

fn private_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    v4.is_loopback()                                   // 127/8
        || v4.is_private()                             // 10/8, 172.16/12, 192.168/16
        || v4.is_link_local()                          // 169.254/16 (cloud metadata)
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()                           // 224/4
        || v4.is_documentation()                       // 192.0.2/24, 198.51.100/24, 203.0.113/24
        || a == 0                                      // "this network"
        || (a == 100 && (64..128).contains(&b))        // 100.64/10, carrier-grade NAT
        || (a == 192 && b == 0 && c == 0)              // 192.0.0/24, IETF protocol assignments
        || (a == 192 && b == 88 && c == 99)            // 192.88.99/24, 6to4 relays (deprecated)
        || (a == 198 && (b == 18 || b == 19))          // 198.18/15, benchmarking
        || a >= 240 // 240/4, reserved (and the broadcast address)
}

/// The IPv4 address an IPv6 one stands for, where it stands for one.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible; `::` and `::1` are IPv6's own).
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 || lo > 1 => Some(low),
        // ::ffff:0:a.b.c.d (SIIT translated).
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(low),
        // 64:ff9b::a.b.c.d (NAT64, well-known prefix).
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        // 2002:AABB:CCDD::/48 (6to4).
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

fn private_v6(v6: Ipv6Addr) -> bool {
    let s = v6.segments();
    let global_unicast = (s[0] & 0xe000) == 0x2000; // 2000::/3
    !global_unicast                                     // ::1, ::, fc00::/7, fe80::/10, fec0::/10, ff00::/8, 64:ff9b:1::/48, 100::/64 …
        || (s[0] == 0x2001 && s[1] < 0x0200)            // 2001::/23: Teredo, benchmarking, ORCHID …
        || (s[0] == 0x2001 && s[1] == 0x0db8)           // 2001:db8::/32, documentation
        || (s[0] & 0xfff0) == 0x3ff0 // 3fff::/20, documentation
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: &str) -> bool {
        private_address(s.parse().expect("an address"))
    }

    #[test]
    fn the_private_and_reserved_ranges_are_refused_however_they_are_written() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "198.18.0.1",
            "198.19.255.255",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "::ffff:0:7f00:1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "fec0::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
        ] {
            assert!(refused(a), "{a} must be refused");
        }
    }

    #[test]
    fn public_addresses_are_reachable_also_when_embedded() {
        for a in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "::ffff:93.184.216.34",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:82a::200e",
        ] {
            assert!(!refused(a), "{a} is public");
        }
    }
}
