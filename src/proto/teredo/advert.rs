//! The Router Advertisement a Teredo server answers a solicitation with, and
//! the checks a client makes before believing it (RFC 4380 §5.2.1, with the
//! RFC 4861 §6.1.2 validity rules for any RA).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};

use super::address::{TEREDO_PREFIX, TeredoAddress};
use super::packet::{
    ICMPV6_ROUTER_ADVERTISEMENT, IPV6_HEADER_LEN, NEXT_HEADER_ICMPV6, Nonce, PacketError, RsKind,
    TeredoPacket, icmpv6_checksum,
};

/// The largest UDP payload accepted as an answer: a full authentication
/// header (13 + 2 × 255 bytes), an origin indication and a 1280-byte IPv6
/// packet fit with room to spare for RFC 6081 trailers.
pub const MAX_DATAGRAM: usize = 2048;

/// The largest encapsulated IPv6 packet accepted: Teredo's link MTU. A
/// miredo RA is 96 bytes.
pub const MAX_IPV6_PACKET: usize = 1280;

/// ICMPv6 RA fixed part: type, code, checksum, hop limit, flags, router
/// lifetime, reachable time, retransmission timer (RFC 4861 §4.2).
const RA_FIXED_LEN: usize = 16;

/// Prefix Information option (RFC 4861 §4.6.2).
const OPTION_PREFIX_INFORMATION: u8 = 3;
/// MTU option (RFC 4861 §4.6.4).
const OPTION_MTU: u8 = 5;

/// Why an answer is not a valid Router Advertisement for our solicitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RaError {
    #[error("datagram of {0} bytes is larger than any Router Advertisement (max {MAX_DATAGRAM})")]
    Oversize(usize),
    #[error("encapsulated IPv6 packet of {0} bytes exceeds the Teredo MTU of {MAX_IPV6_PACKET}")]
    Ipv6Oversize(usize),
    #[error("malformed Teredo packet: {0}")]
    Packet(#[from] PacketError),
    #[error("no authentication header, so no nonce to check (RFC 4380 §5.2.1)")]
    MissingAuth,
    #[error("the nonce does not match the solicitation's")]
    NonceMismatch,
    #[error(
        "confirmation byte {0} in the authentication header: the server rejects the client's key"
    )]
    ConfirmationSet(u8),
    #[error("no origin indication, so no mapped address (RFC 4380 §5.2.1)")]
    MissingOrigin,
    #[error("IPv6 next header is {0}, not ICMPv6 (58)")]
    NotIcmpv6(u8),
    #[error("IPv6 hop limit is {0}, not 255 (RFC 4861 §6.1.2)")]
    HopLimit(u8),
    #[error("IPv6 source {0} is not link-local (RFC 4861 §6.1.2)")]
    SourceNotLinkLocal(Ipv6Addr),
    #[error("IPv6 destination is {found}, not the solicitation's source {expected}")]
    WrongDestination { expected: Ipv6Addr, found: Ipv6Addr },
    #[error("ICMPv6 message of {0} bytes is too short for a Router Advertisement")]
    TooShort(usize),
    #[error("ICMPv6 type {icmp_type} code {code} is not a Router Advertisement (134, 0)")]
    NotRouterAdvertisement { icmp_type: u8, code: u8 },
    #[error("bad ICMPv6 checksum {0:#06x}")]
    BadChecksum(u16),
    #[error("option of type {option} at byte {offset} has length 0 (RFC 4861 §4.6)")]
    ZeroLengthOption { option: u8, offset: usize },
    #[error("option at byte {offset} runs past the end of the message")]
    OptionTruncated { offset: usize },
    #[error("option of type {option} has {len} bytes, not {expected}")]
    MalformedOption {
        option: u8,
        len: usize,
        expected: usize,
    },
    #[error("more than one Prefix Information option (RFC 4380 §5.2.1 requires exactly one)")]
    MultiplePrefixes,
    #[error("no Prefix Information option")]
    MissingPrefix,
    #[error("prefix length {0}, not 64")]
    PrefixLength(u8),
    #[error("advertised prefix {0}/64 is not within the Teredo prefix 2001:0::/32")]
    NotTeredoPrefix(Ipv6Addr),
    #[error("advertised MTU {0} is outside 1280 … 65535")]
    InvalidMtu(u32),
}

/// A Router Advertisement that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterAdvertisement {
    /// The echoed nonce.
    pub nonce: Nonce,
    /// The client's mapped address and port, from the origin indication.
    pub mapped: SocketAddrV4,
    /// The server's link-local address.
    pub source: Ipv6Addr,
    /// The advertised /64, bits past the prefix length cleared.
    pub prefix: Ipv6Addr,
    /// The server IPv4 address embedded in the prefix (bits 32–63). The
    /// caller checks that it is the server it asked (RFC 4380 §5.2.1).
    pub server: Ipv4Addr,
    /// The MTU option, when present.
    pub mtu: Option<u32>,
}

impl RouterAdvertisement {
    /// Validates `payload` as the answer to a solicitation of `kind` that
    /// carried `nonce`: authentication header with that nonce and a zero
    /// confirmation byte, origin indication present, an IPv6 packet (RFC
    /// 6081 trailers after it ignored) from a link-local address to the
    /// solicitation's source with hop limit 255, an ICMPv6 RA with a correct
    /// checksum, well-formed options, and exactly one Prefix Information
    /// option holding a /64 within 2001:0::/32.
    pub fn parse(payload: &[u8], kind: RsKind, nonce: &Nonce) -> Result<Self, RaError> {
        if payload.len() > MAX_DATAGRAM {
            return Err(RaError::Oversize(payload.len()));
        }
        let packet = TeredoPacket::parse(payload)?;
        let auth = packet.auth.as_ref().ok_or(RaError::MissingAuth)?;
        if &auth.nonce != nonce {
            return Err(RaError::NonceMismatch);
        }
        if auth.confirmation != 0 {
            return Err(RaError::ConfirmationSet(auth.confirmation));
        }
        let origin = packet.origin.ok_or(RaError::MissingOrigin)?;
        let ip = packet.ipv6;
        if ip.len() > MAX_IPV6_PACKET {
            return Err(RaError::Ipv6Oversize(ip.len()));
        }
        let (header, icmp) = ip
            .split_at_checked(IPV6_HEADER_LEN)
            .ok_or(PacketError::Truncated("IPv6 header"))?;
        if header[6] != NEXT_HEADER_ICMPV6 {
            return Err(RaError::NotIcmpv6(header[6]));
        }
        if header[7] != 255 {
            return Err(RaError::HopLimit(header[7]));
        }
        let src = ipv6_at(header, 8);
        let dst = ipv6_at(header, 24);
        if src.segments()[0] & 0xffc0 != 0xfe80 {
            return Err(RaError::SourceNotLinkLocal(src));
        }
        if dst != kind.link_local() {
            return Err(RaError::WrongDestination {
                expected: kind.link_local(),
                found: dst,
            });
        }
        if icmp.len() < RA_FIXED_LEN {
            return Err(RaError::TooShort(icmp.len()));
        }
        if icmp[0] != ICMPV6_ROUTER_ADVERTISEMENT || icmp[1] != 0 {
            return Err(RaError::NotRouterAdvertisement {
                icmp_type: icmp[0],
                code: icmp[1],
            });
        }
        if icmpv6_checksum(&src, &dst, icmp) != 0 {
            return Err(RaError::BadChecksum(u16::from_be_bytes([icmp[2], icmp[3]])));
        }
        let (prefix, mtu) = parse_options(icmp)?;
        let prefix = prefix.ok_or(RaError::MissingPrefix)?;
        let b = prefix.octets();
        if u32::from_be_bytes([b[0], b[1], b[2], b[3]]) != TEREDO_PREFIX {
            return Err(RaError::NotTeredoPrefix(prefix));
        }
        Ok(Self {
            nonce: auth.nonce,
            mapped: origin.mapped,
            source: src,
            prefix,
            server: Ipv4Addr::new(b[4], b[5], b[6], b[7]),
            mtu,
        })
    }

    /// The Teredo address this RA gives a client using `flags`.
    pub fn teredo_address(&self, flags: u16) -> TeredoAddress {
        TeredoAddress::new(self.server, flags, self.mapped)
    }
}

fn ipv6_at(bytes: &[u8], at: usize) -> Ipv6Addr {
    let mut b = [0u8; 16];
    if let Some(src) = bytes.get(at..at + 16) {
        b.copy_from_slice(src);
    }
    Ipv6Addr::from(b)
}

/// Walks the RA's options: length-in-8-octets TLVs. A zero length is
/// malformed (RFC 4861 §4.6) and ends the walk with an error, so every
/// iteration advances by at least 8 bytes; the walk is also bounded by the
/// number of 8-byte units, so it cannot run forever whatever the input.
fn parse_options(icmp: &[u8]) -> Result<(Option<Ipv6Addr>, Option<u32>), RaError> {
    let mut prefix = None;
    let mut mtu = None;
    let mut offset = RA_FIXED_LEN;
    for _ in 0..icmp.len() / 8 {
        let Some(rest) = icmp.get(offset..).filter(|r| !r.is_empty()) else {
            break;
        };
        let [option, units, ..] = rest else {
            return Err(RaError::OptionTruncated { offset });
        };
        let len = usize::from(*units) * 8;
        if len == 0 {
            return Err(RaError::ZeroLengthOption {
                option: *option,
                offset,
            });
        }
        let body = rest.get(..len).ok_or(RaError::OptionTruncated { offset })?;
        match *option {
            OPTION_PREFIX_INFORMATION => {
                expect_len(*option, body, 32)?;
                if body[2] != 64 {
                    return Err(RaError::PrefixLength(body[2]));
                }
                if prefix.is_some() {
                    return Err(RaError::MultiplePrefixes);
                }
                // Bits past the prefix length are ignored (RFC 4861 §4.6.2).
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&body[16..24]);
                prefix = Some(Ipv6Addr::from(b));
            }
            OPTION_MTU => {
                expect_len(*option, body, 8)?;
                let value = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
                if !(1280..=65535).contains(&value) {
                    return Err(RaError::InvalidMtu(value));
                }
                mtu = Some(value);
            }
            // Other options (source link-layer address, RFC 6081 ND
            // trailers copied in, …) are skipped (RFC 4861 §4.6).
            _ => {}
        }
        offset += len;
    }
    if offset < icmp.len() {
        return Err(RaError::OptionTruncated { offset });
    }
    Ok((prefix, mtu))
}

fn expect_len(option: u8, body: &[u8], expected: usize) -> Result<(), RaError> {
    if body.len() == expected {
        Ok(())
    } else {
        Err(RaError::MalformedOption {
            option,
            len: body.len(),
            expected,
        })
    }
}

#[cfg(test)]
mod tests;
