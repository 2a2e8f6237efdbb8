//! Port mapping through the default gateway: PCP (RFC 6887) first, NAT-PMP
//! (RFC 6886) when the gateway speaks only that, as sans-IO codecs
//! ([`natpmp`], [`pcp`]) and one client machine, [`PortMapper`].
//!
//! UPnP IGD is not here: it needs HTTP and XML, and lives in `io/`.

mod config;
mod mapper;
pub mod natpmp;
mod outcome;
pub mod pcp;
#[cfg(test)]
pub(crate) mod testing;

use std::fmt;
use std::net::Ipv4Addr;

pub use config::*;
pub use mapper::*;
pub use outcome::*;

/// The UDP port PCP and NAT-PMP servers listen on (RFC 6887 §19.1,
/// RFC 6886 §3.1).
pub const SERVER_PORT: u16 = 5351;

/// The protocol that made, or deleted, a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Port Control Protocol, RFC 6887.
    Pcp,
    /// NAT Port Mapping Protocol, RFC 6886.
    NatPmp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Pcp => "PCP",
            Protocol::NatPmp => "NAT-PMP",
        })
    }
}

/// The transport protocol a mapping is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// The IANA protocol number, as PCP's Protocol field carries it
    /// (RFC 6887 §11.1).
    pub fn iana_number(self) -> u8 {
        match self {
            Transport::Udp => 17,
            Transport::Tcp => 6,
        }
    }
}

/// Why `ip` cannot be the external address of a mapping that someone on the
/// Internet could reach, or `None` when it can be.
///
/// Private and shared (CGN) addresses pass: they are unicast and usable, and
/// only mean another NAT sits upstream, which the report's NAT-layer assessment
/// (`report::topology`) concludes.
pub fn unusable_external(ip: Ipv4Addr) -> Option<&'static str> {
    let first = ip.octets()[0];
    if first == 0 {
        Some("0.0.0.0/8 means \"this host on this network\", not an address")
    } else if ip.is_loopback() {
        Some("it is a loopback address")
    } else if ip.is_broadcast() {
        Some("it is the broadcast address")
    } else if ip.is_multicast() {
        Some("it is a multicast address")
    } else if first >= 240 {
        Some("it is in the reserved block 240.0.0.0/4")
    } else if ip.is_link_local() {
        Some("it is a link-local address, valid only on the gateway's own link")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_addresses_that_no_peer_can_reach_are_refused() {
        for bad in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "169.254.10.10",
        ] {
            let ip: Ipv4Addr = bad.parse().unwrap();
            assert!(unusable_external(ip).is_some(), "{bad} was accepted");
        }
        for good in [
            "203.0.113.7",
            "8.8.8.8",
            "10.1.2.3",
            "100.64.0.1",
            "1.0.0.0",
        ] {
            let ip: Ipv4Addr = good.parse().unwrap();
            assert_eq!(unusable_external(ip), None, "{good} was refused");
        }
    }

    #[test]
    fn transport_numbers_are_the_iana_ones() {
        assert_eq!(Transport::Udp.iana_number(), 17);
        assert_eq!(Transport::Tcp.iana_number(), 6);
        assert_eq!(Protocol::NatPmp.to_string(), "NAT-PMP");
    }
}
