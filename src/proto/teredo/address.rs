//! The Teredo IPv6 address (RFC 4380 §4, flags updated by RFC 5991).
//!
//! ```text
//! | 2001:0000 (32) | server IPv4 (32) | flags (16) | ~port (16) | ~client IPv4 (32) |
//! ```
//!
//! The mapped port and address are obfuscated (every bit inverted) so that
//! NATs which rewrite addresses inside payloads leave them alone.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};

/// The global Teredo IPv6 service prefix `2001:0000::/32` (RFC 4380 §2.6),
/// as its first 32 bits.
pub const TEREDO_PREFIX: u32 = 0x2001_0000;

/// The Teredo server's UDP port (RFC 4380 §2.7).
pub const TEREDO_PORT: u16 = 3544;

/// The cone flag C (RFC 4380 §4): set by a client that qualified behind a
/// cone NAT (endpoint-independent filtering).
pub const FLAG_CONE: u16 = 0x8000;

/// The bit RFC 5991 reserves (R): zero.
pub const FLAG_RESERVED: u16 = 0x4000;

/// The "universal" bit U (RFC 4380 §4): zero.
pub const FLAG_UNIVERSAL: u16 = 0x0200;

/// The "group" bit G (RFC 4380 §4): zero.
pub const FLAG_GROUP: u16 = 0x0100;

/// The 12 bits an RFC 5991 client draws at random, `CRAAAAUG AAAAAAAA`
/// (RFC 5991; miredo's `TEREDO_RANDOM_MASK`), so that the address cannot
/// be guessed from the mapping alone.
pub const RANDOM_FLAGS_MASK: u16 = 0x3CFF;

/// Why an IPv6 address is not a Teredo address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("{0} is not a Teredo address: it is outside 2001:0::/32")]
    NotTeredo(Ipv6Addr),
}

/// A Teredo address, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TeredoAddress {
    /// The primary IPv4 address of the server that qualified the client.
    pub server: Ipv4Addr,
    /// The flags field, as a host-order number (see the `FLAG_*` constants).
    pub flags: u16,
    /// The client's external (mapped) address and port, de-obfuscated.
    pub mapped: SocketAddrV4,
}

impl TeredoAddress {
    pub fn new(server: Ipv4Addr, flags: u16, mapped: SocketAddrV4) -> Self {
        Self {
            server,
            flags,
            mapped,
        }
    }

    /// RFC 4380 flags: only the cone bit, set when the client qualified as
    /// cone.
    pub fn rfc4380_flags(cone: bool) -> u16 {
        if cone { FLAG_CONE } else { 0 }
    }

    /// RFC 5991 flags: the 12 random bits taken from `random` (the caller
    /// draws them; they are re-drawn whenever the address changes), the cone
    /// bit as given, and R, U and G zero.
    pub fn rfc5991_flags(cone: bool, random: u16) -> u16 {
        Self::rfc4380_flags(cone) | (random & RANDOM_FLAGS_MASK)
    }

    pub fn is_cone(&self) -> bool {
        self.flags & FLAG_CONE != 0
    }

    /// Whether the flags are valid for a sender: R, U and G zero (RFC 4380
    /// §4, RFC 5991).
    pub fn flags_valid(&self) -> bool {
        self.flags & (FLAG_RESERVED | FLAG_UNIVERSAL | FLAG_GROUP) == 0
    }

    pub fn to_ipv6(&self) -> Ipv6Addr {
        let mut b = [0u8; 16];
        b[0..4].copy_from_slice(&TEREDO_PREFIX.to_be_bytes());
        b[4..8].copy_from_slice(&self.server.octets());
        b[8..10].copy_from_slice(&self.flags.to_be_bytes());
        b[10..12].copy_from_slice(&(!self.mapped.port()).to_be_bytes());
        b[12..16].copy_from_slice(&(!u32::from(*self.mapped.ip())).to_be_bytes());
        Ipv6Addr::from(b)
    }

    /// Decodes a Teredo address; any flags are accepted.
    pub fn parse(addr: Ipv6Addr) -> Result<Self, AddressError> {
        let b = addr.octets();
        if u32::from_be_bytes([b[0], b[1], b[2], b[3]]) != TEREDO_PREFIX {
            return Err(AddressError::NotTeredo(addr));
        }
        let server = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
        let flags = u16::from_be_bytes([b[8], b[9]]);
        let port = !u16::from_be_bytes([b[10], b[11]]);
        let ip = Ipv4Addr::from(!u32::from_be_bytes([b[12], b[13], b[14], b[15]]));
        Ok(Self::new(server, flags, SocketAddrV4::new(ip, port)))
    }
}

impl From<TeredoAddress> for Ipv6Addr {
    fn from(a: TeredoAddress) -> Self {
        a.to_ipv6()
    }
}

impl TryFrom<Ipv6Addr> for TeredoAddress {
    type Error = AddressError;

    fn try_from(addr: Ipv6Addr) -> Result<Self, Self::Error> {
        Self::parse(addr)
    }
}

impl fmt::Display for TeredoAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_ipv6().fmt(f)
    }
}

/// The /64 a Teredo server advertises: `2001:0:<server IPv4>::/64`
/// (RFC 4380 §5.2.1), as its network address.
pub fn server_prefix(server: Ipv4Addr) -> Ipv6Addr {
    let mut b = [0u8; 16];
    b[0..4].copy_from_slice(&TEREDO_PREFIX.to_be_bytes());
    b[4..8].copy_from_slice(&server.octets());
    Ipv6Addr::from(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> SocketAddrV4 {
        s.parse().unwrap()
    }

    #[test]
    fn worked_example_encodes_and_decodes() {
        let a = TeredoAddress::new(Ipv4Addr::new(65, 54, 227, 120), 0, v4("192.0.2.45:40000"));
        let expected: Ipv6Addr = "2001:0:4136:e378:0:63bf:3fff:fdd2".parse().unwrap();
        assert_eq!(a.to_ipv6(), expected);
        assert_eq!(a.to_string(), "2001:0:4136:e378:0:63bf:3fff:fdd2");
        assert_eq!(TeredoAddress::parse(expected), Ok(a));
        assert_eq!(TeredoAddress::try_from(expected), Ok(a));
        assert!(!a.is_cone());
        assert!(a.flags_valid());
    }

    #[test]
    fn cone_flag_sits_in_bits_64_to_79() {
        let a = TeredoAddress::new(
            Ipv4Addr::new(65, 54, 227, 120),
            TeredoAddress::rfc4380_flags(true),
            v4("192.0.2.45:40000"),
        );
        let expected: Ipv6Addr = "2001:0:4136:e378:8000:63bf:3fff:fdd2".parse().unwrap();
        assert_eq!(Ipv6Addr::from(a), expected);
        assert!(TeredoAddress::parse(expected).unwrap().is_cone());
    }

    #[test]
    fn rfc5991_flags_keep_only_the_random_bits() {
        assert_eq!(TeredoAddress::rfc5991_flags(false, 0xFFFF), 0x3CFF);
        assert_eq!(TeredoAddress::rfc5991_flags(true, 0xFFFF), 0xBCFF);
        assert_eq!(TeredoAddress::rfc5991_flags(false, 0x4300), 0);
        let a = TeredoAddress::new(
            Ipv4Addr::LOCALHOST,
            TeredoAddress::rfc5991_flags(false, 0xFFFF),
            v4("1.2.3.4:5"),
        );
        assert!(a.flags_valid());
        let bad = TeredoAddress { flags: 0x0200, ..a };
        assert!(!bad.flags_valid());
    }

    #[test]
    fn non_teredo_addresses_are_refused() {
        for s in ["2001:db8::1", "3ffe:831f::1", "::", "2002:0:4136:e378::1"] {
            let addr: Ipv6Addr = s.parse().unwrap();
            assert_eq!(
                TeredoAddress::parse(addr),
                Err(AddressError::NotTeredo(addr))
            );
        }
    }

    #[test]
    fn extreme_ports_and_addresses_round_trip() {
        for m in ["0.0.0.0:0", "255.255.255.255:65535", "10.0.0.1:1"] {
            let a = TeredoAddress::new(Ipv4Addr::BROADCAST, 0xFFFF, v4(m));
            assert_eq!(TeredoAddress::parse(a.to_ipv6()), Ok(a));
        }
    }

    #[test]
    fn server_prefix_embeds_the_server() {
        assert_eq!(
            server_prefix(Ipv4Addr::new(65, 54, 227, 120)),
            "2001:0:4136:e378::".parse::<Ipv6Addr>().unwrap()
        );
    }
}
