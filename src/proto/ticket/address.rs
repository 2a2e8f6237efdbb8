//! What an address a novice offers is: which network it belongs to, and
//! so who can reach it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4};

use schemars::JsonSchema;
use serde::Serialize;

use crate::proto::shared_address_space::is_shared;
use crate::proto::teredo::TeredoAddress;

/// The kind of an offered address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AddressKind {
    /// A globally routable IPv4 address.
    Ipv4Public,
    /// RFC 1918 private space: only on the novice's own network.
    Ipv4Private,
    /// RFC 6598 shared space: inside a carrier-grade NAT.
    Ipv4Cgnat,
    /// RFC 3927 169.254/16: the novice's own link, with no DHCP answer.
    Ipv4LinkLocal,
    /// 127/8: the novice's machine itself.
    Ipv4Loopback,
    /// Unspecified, broadcast, multicast or reserved: reachable by no one.
    Ipv4Unusable,
    /// A global unicast IPv6 address (2000::/3, not Teredo).
    Ipv6Global,
    /// fe80::/10 (RFC 4291 §2.5.6), with the novice's zone index.
    Ipv6LinkLocal,
    /// fc00::/7 unique local (RFC 4193): the novice's site only.
    Ipv6UniqueLocal,
    /// 2001::/32 (RFC 4380 §4): IPv6 tunnelled over the novice's NAT.
    Teredo {
        /// The Teredo server that qualified the novice.
        server: Ipv4Addr,
        /// The novice's NAT mapping, de-obfuscated: its public IPv4
        /// address and port.
        client: SocketAddrV4,
        /// The cone flag: the novice qualified behind a cone NAT.
        cone: bool,
    },
    /// ::1: the novice's machine itself.
    Ipv6Loopback,
    /// Unspecified, multicast or another special range.
    Ipv6Unusable,
    /// A computer name, to be looked up.
    Name,
}

impl AddressKind {
    /// Classifies `address` as an offer writes it (an IPv6 address may
    /// carry a zone index, `fe80::1%3`).
    pub fn of(address: &str) -> Self {
        match parse(address) {
            Some(IpAddr::V4(ip)) => Self::of_ipv4(ip),
            Some(IpAddr::V6(ip)) => Self::of_ipv6(ip),
            None => Self::Name,
        }
    }

    fn of_ipv4(ip: Ipv4Addr) -> Self {
        if ip.is_loopback() {
            Self::Ipv4Loopback
        } else if ip.is_private() {
            Self::Ipv4Private
        } else if is_shared(ip) {
            Self::Ipv4Cgnat
        } else if ip.is_link_local() {
            Self::Ipv4LinkLocal
        } else if ip.is_unspecified()
            || ip.is_broadcast()
            || ip.is_multicast()
            || ip.octets()[0] >= 240
            || ip.octets()[0] == 0
        {
            Self::Ipv4Unusable
        } else {
            Self::Ipv4Public
        }
    }

    fn of_ipv6(ip: Ipv6Addr) -> Self {
        if let Some(v4) = ip.to_ipv4_mapped() {
            return Self::of_ipv4(v4);
        }
        let first = ip.segments()[0];
        if ip.is_loopback() {
            Self::Ipv6Loopback
        } else if let Ok(teredo) = TeredoAddress::parse(ip) {
            Self::Teredo {
                server: teredo.server,
                client: teredo.mapped,
                cone: teredo.is_cone(),
            }
        } else if first & 0xffc0 == 0xfe80 {
            Self::Ipv6LinkLocal
        } else if first & 0xfe00 == 0xfc00 {
            Self::Ipv6UniqueLocal
        } else if first & 0xe000 == 0x2000 {
            Self::Ipv6Global
        } else {
            Self::Ipv6Unusable
        }
    }

    /// A few words for the table.
    pub fn words(&self) -> String {
        match self {
            Self::Ipv4Public => "IPv4 public".into(),
            Self::Ipv4Private => "IPv4 private (RFC 1918)".into(),
            Self::Ipv4Cgnat => "IPv4 carrier-grade NAT (RFC 6598)".into(),
            Self::Ipv4LinkLocal => "IPv4 link-local".into(),
            Self::Ipv4Loopback => "IPv4 loopback".into(),
            Self::Ipv4Unusable => "IPv4 unusable".into(),
            Self::Ipv6Global => "IPv6 global".into(),
            Self::Ipv6LinkLocal => "IPv6 link-local".into(),
            Self::Ipv6UniqueLocal => "IPv6 unique local (ULA)".into(),
            Self::Teredo {
                server,
                client,
                cone,
            } => format!(
                "Teredo: server {server}, client {client}, {}",
                if *cone { "cone" } else { "not cone" }
            ),
            Self::Ipv6Loopback => "IPv6 loopback".into(),
            Self::Ipv6Unusable => "IPv6 unusable".into(),
            Self::Name => "computer name".into(),
        }
    }
}

/// The IP address an offer writes, without its zone index; `None` for a
/// name.
pub fn parse(address: &str) -> Option<IpAddr> {
    let bare = address.split_once('%').map_or(address, |(ip, _)| ip);
    match bare.parse::<IpAddr>().ok()? {
        IpAddr::V4(_) if bare.len() != address.len() => None,
        ip => Some(ip),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_range_is_named() {
        let cases = [
            ("203.0.113.7", AddressKind::Ipv4Public),
            ("8.8.8.8", AddressKind::Ipv4Public),
            ("192.168.1.200", AddressKind::Ipv4Private),
            ("10.1.2.3", AddressKind::Ipv4Private),
            ("172.31.250.64", AddressKind::Ipv4Private),
            ("100.64.0.2", AddressKind::Ipv4Cgnat),
            ("169.254.6.170", AddressKind::Ipv4LinkLocal),
            ("127.0.0.1", AddressKind::Ipv4Loopback),
            ("0.0.0.0", AddressKind::Ipv4Unusable),
            ("255.255.255.255", AddressKind::Ipv4Unusable),
            ("224.0.0.1", AddressKind::Ipv4Unusable),
            (
                "2001:4898:1a:5:79e2:3356:9b22:3470",
                AddressKind::Ipv6Global,
            ),
            ("fe80::1032:53d9:5a01:909b%3", AddressKind::Ipv6LinkLocal),
            ("fd12:3456::1", AddressKind::Ipv6UniqueLocal),
            ("::1", AddressKind::Ipv6Loopback),
            ("ff02::1", AddressKind::Ipv6Unusable),
            ("::ffff:192.168.0.1", AddressKind::Ipv4Private),
            ("MIKE_HOME", AddressKind::Name),
            ("winxpsp3.contoso3.com", AddressKind::Name),
            ("10.0.0.1%3", AddressKind::Name),
        ];
        for (address, kind) in cases {
            assert_eq!(AddressKind::of(address), kind, "{address}");
        }
    }

    /// RFC 4380 §4's example: server 65.54.227.120, cone flag, client
    /// 192.0.2.45 port 40000.
    #[test]
    fn teredo_is_decoded() {
        assert_eq!(
            AddressKind::of("2001:0:4136:e378:8000:63bf:3fff:fdd2"),
            AddressKind::Teredo {
                server: Ipv4Addr::new(65, 54, 227, 120),
                client: SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 45), 40000),
                cone: true,
            }
        );
        let not_cone = AddressKind::of("2001:0:4136:e378:0:63bf:3fff:fdd2");
        assert!(matches!(not_cone, AddressKind::Teredo { cone: false, .. }));
    }
}
