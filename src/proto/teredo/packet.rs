//! Teredo encapsulation (RFC 4380 §5.1.1): the authentication header, the
//! origin indication, the Router Solicitation a client sends to qualify, and
//! the parse of what comes back.
//!
//! A Teredo UDP payload is `[authentication] [origin indication] IPv6-packet
//! [RFC 6081 trailers]`. The first two bytes tell them apart: `00 01` starts
//! an authentication header, `00 00` an origin indication, and a first nibble
//! of 6 the IPv6 packet itself.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};

/// The 8-byte nonce of the authentication header (RFC 4380 §5.1.1).
pub type Nonce = [u8; 8];

/// IPv6 next-header value of ICMPv6.
pub const NEXT_HEADER_ICMPV6: u8 = 58;

/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;

/// ICMPv6 Router Solicitation (RFC 4861 §4.1).
pub const ICMPV6_ROUTER_SOLICITATION: u8 = 133;

/// ICMPv6 Router Advertisement (RFC 4861 §4.2).
pub const ICMPV6_ROUTER_ADVERTISEMENT: u8 = 134;

/// The all-routers multicast address `ff02::2`, destination of every RS.
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

/// Length of the RS datagram: 13-byte authentication header, 40-byte IPv6
/// header, 8-byte ICMPv6 Router Solicitation.
pub const ROUTER_SOLICITATION_LEN: usize = 61;

/// Why a datagram is not a well-formed Teredo packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("datagram truncated in the {0}")]
    Truncated(&'static str),
    #[error(
        "unknown Teredo header type {0:#06x} (only authentication 0x0001 and origin \
         indication 0x0000 exist)"
    )]
    UnknownHeader(u16),
    #[error("the encapsulated packet is not IPv6 (version {0})")]
    NotIpv6(u8),
    #[error("the IPv6 header announces {declared} payload bytes but only {available} follow")]
    Ipv6PayloadTruncated { declared: usize, available: usize },
    #[error(
        "a client identifier or authentication value of {0} bytes does not fit its 1-byte length"
    )]
    FieldTooLong(usize),
}

/// The authentication header (RFC 4380 §5.1.1):
/// `00 01 | ID-len | AU-len | client id | auth value | nonce (8) | confirmation (1)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    client_id: Vec<u8>,
    auth_value: Vec<u8>,
    /// The nonce the server must echo.
    pub nonce: Nonce,
    /// Zero while the client's key is still valid (RFC 4380 §5.1.1).
    pub confirmation: u8,
}

impl AuthHeader {
    /// The 13-byte form without client identifier and authentication value,
    /// as sent by every client without a shared secret (miredo included).
    pub fn unauthenticated(nonce: Nonce) -> Self {
        Self {
            client_id: Vec::new(),
            auth_value: Vec::new(),
            nonce,
            confirmation: 0,
        }
    }

    /// A header with a client identifier and authentication value, each at
    /// most 255 bytes.
    pub fn new(
        client_id: Vec<u8>,
        auth_value: Vec<u8>,
        nonce: Nonce,
        confirmation: u8,
    ) -> Result<Self, PacketError> {
        for field in [&client_id, &auth_value] {
            if field.len() > usize::from(u8::MAX) {
                return Err(PacketError::FieldTooLong(field.len()));
            }
        }
        Ok(Self {
            client_id,
            auth_value,
            nonce,
            confirmation,
        })
    }

    pub fn client_id(&self) -> &[u8] {
        &self.client_id
    }

    pub fn auth_value(&self) -> &[u8] {
        &self.auth_value
    }

    pub fn encoded_len(&self) -> usize {
        13 + self.client_id.len() + self.auth_value.len()
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0, 1]);
        // The constructors keep both lengths within a byte.
        out.push(self.client_id.len() as u8);
        out.push(self.auth_value.len() as u8);
        out.extend_from_slice(&self.client_id);
        out.extend_from_slice(&self.auth_value);
        out.extend_from_slice(&self.nonce);
        out.push(self.confirmation);
    }

    /// Decodes a header at the start of `bytes` (which begin `00 01`) and
    /// returns it with its length.
    pub fn decode(bytes: &[u8]) -> Result<(Self, usize), PacketError> {
        let truncated = PacketError::Truncated("authentication header");
        let (&id_len, &au_len) = match bytes {
            [0, 1, id, au, ..] => (id, au),
            [0, 1, ..] | [] | [_] => return Err(truncated),
            [a, b, ..] => return Err(PacketError::UnknownHeader(u16::from_be_bytes([*a, *b]))),
        };
        let id_end = 4 + usize::from(id_len);
        let au_end = id_end + usize::from(au_len);
        let end = au_end + 9;
        let all = bytes.get(..end).ok_or(truncated)?;
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&all[au_end..au_end + 8]);
        Ok((
            Self {
                client_id: all[4..id_end].to_vec(),
                auth_value: all[id_end..au_end].to_vec(),
                nonce,
                confirmation: all[au_end + 8],
            },
            end,
        ))
    }
}

/// The origin indication (RFC 4380 §5.1.1): the address and port the server
/// saw the client's packet come from, obfuscated:
/// `00 00 | ~port (16) | ~IPv4 (32)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OriginIndication {
    pub mapped: SocketAddrV4,
}

impl OriginIndication {
    pub const LEN: usize = 8;

    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[2..4].copy_from_slice(&(!self.mapped.port()).to_be_bytes());
        b[4..8].copy_from_slice(&(!u32::from(*self.mapped.ip())).to_be_bytes());
        b
    }

    /// Decodes the indication at the start of `bytes` (which begin `00 00`).
    pub fn decode(bytes: &[u8]) -> Result<Self, PacketError> {
        match bytes {
            [0, 0, p0, p1, a0, a1, a2, a3, ..] => {
                let port = !u16::from_be_bytes([*p0, *p1]);
                let ip = !u32::from_be_bytes([*a0, *a1, *a2, *a3]);
                Ok(Self {
                    mapped: SocketAddrV4::new(Ipv4Addr::from(ip), port),
                })
            }
            [a, b, ..] if [*a, *b] != [0, 0] => {
                Err(PacketError::UnknownHeader(u16::from_be_bytes([*a, *b])))
            }
            _ => Err(PacketError::Truncated("origin indication")),
        }
    }
}

/// One Teredo UDP payload, split into its parts. Nothing beyond the framing
/// is checked here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeredoPacket<'a> {
    pub auth: Option<AuthHeader>,
    pub origin: Option<OriginIndication>,
    /// The IPv6 packet: its header and exactly the payload length it
    /// announces.
    pub ipv6: &'a [u8],
    /// Bytes after the IPv6 packet: RFC 6081 trailers, not interpreted.
    pub trailers: &'a [u8],
}

impl<'a> TeredoPacket<'a> {
    pub fn parse(payload: &'a [u8]) -> Result<Self, PacketError> {
        let mut rest = payload;
        let mut auth = None;
        if rest.starts_with(&[0, 1]) {
            let (header, len) = AuthHeader::decode(rest)?;
            auth = Some(header);
            rest = rest.get(len..).unwrap_or_default();
        }
        let mut origin = None;
        if rest.starts_with(&[0, 0]) {
            origin = Some(OriginIndication::decode(rest)?);
            rest = rest.get(OriginIndication::LEN..).unwrap_or_default();
        }
        match rest {
            [] | [0] => return Err(PacketError::Truncated("IPv6 header")),
            [0, b, ..] => return Err(PacketError::UnknownHeader(u16::from(*b))),
            [v, ..] if v >> 4 != 6 => return Err(PacketError::NotIpv6(v >> 4)),
            _ => {}
        }
        let header = rest
            .get(..IPV6_HEADER_LEN)
            .ok_or(PacketError::Truncated("IPv6 header"))?;
        let declared = usize::from(u16::from_be_bytes([header[4], header[5]]));
        let available = rest.len() - IPV6_HEADER_LEN;
        if declared > available {
            return Err(PacketError::Ipv6PayloadTruncated {
                declared,
                available,
            });
        }
        let (ipv6, trailers) = rest.split_at(IPV6_HEADER_LEN + declared);
        Ok(Self {
            auth,
            origin,
            ipv6,
            trailers,
        })
    }
}

/// Which Router Solicitation a client sends: the link-local source address
/// carries the cone bit the server looks at (RFC 4380 §5.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RsKind {
    /// Cone bit set: the server answers from its *other* IPv4 address
    /// (RFC 4380 §5.3.2), which only an endpoint-independent filter lets in.
    Cone,
    /// Cone bit clear: the server answers from the address it was sent to.
    Restricted,
}

impl RsKind {
    /// The link-local source address miredo uses (`libteredo/teredo.c`):
    /// `fe80::8000:5445:5245:444f` ("TEREDO" with the cone bit) or the
    /// Vista-style `fe80::ffff:ffff:ffff`. The server's RA goes back to it.
    pub fn link_local(self) -> Ipv6Addr {
        match self {
            Self::Cone => Ipv6Addr::new(0xfe80, 0, 0, 0, 0x8000, 0x5445, 0x5245, 0x444f),
            Self::Restricted => Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xffff, 0xffff, 0xffff),
        }
    }
}

/// The Router Solicitation datagram (RFC 4380 §5.2.1; miredo
/// `teredo_send_rs`): an unauthenticated authentication header carrying
/// `nonce`, then an IPv6 header (hop limit 255, from the link-local address
/// of `kind` to `ff02::2`) and an ICMPv6 RS without options. 61 bytes.
pub fn router_solicitation(kind: RsKind, nonce: Nonce) -> Vec<u8> {
    let mut out = Vec::with_capacity(ROUTER_SOLICITATION_LEN);
    AuthHeader::unauthenticated(nonce).encode(&mut out);
    let src = kind.link_local();
    let mut rs = [0u8; 8];
    rs[0] = ICMPV6_ROUTER_SOLICITATION;
    let sum = icmpv6_checksum(&src, &ALL_ROUTERS, &rs);
    rs[2..4].copy_from_slice(&sum.to_be_bytes());
    write_ipv6_header(&mut out, rs.len() as u16, 255, &src, &ALL_ROUTERS);
    out.extend_from_slice(&rs);
    out
}

/// Appends an IPv6 header with next header ICMPv6.
fn write_ipv6_header(
    out: &mut Vec<u8>,
    payload_len: u16,
    hop_limit: u8,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
) {
    out.extend_from_slice(&[0x60, 0, 0, 0]);
    out.extend_from_slice(&payload_len.to_be_bytes());
    out.push(NEXT_HEADER_ICMPV6);
    out.push(hop_limit);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
}

/// The ICMPv6 checksum (RFC 4443 §2.3) of `message`, computed over the
/// RFC 8200 §8.1 pseudo-header. With the checksum field zeroed this is the
/// value to write; over a message with its checksum in place it is zero when
/// the checksum is right.
pub fn icmpv6_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, message: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let hi = pair.first().copied().unwrap_or(0);
            let lo = pair.get(1).copied().unwrap_or(0);
            sum += u64::from(u16::from_be_bytes([hi, lo]));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    // Upper-layer length: an IPv6 payload is at most 65535 bytes here.
    add(&(message.len() as u32).to_be_bytes());
    add(&[0, 0, 0, NEXT_HEADER_ICMPV6]);
    add(message);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn origin_indication_example() {
        let o = OriginIndication {
            mapped: "1.2.3.4:337".parse().unwrap(),
        };
        assert_eq!(o.encode().to_vec(), hex("0000FEAEFEFDFCFB"));
        assert_eq!(OriginIndication::decode(&o.encode()), Ok(o));
    }

    #[test]
    fn origin_indication_truncated_or_foreign() {
        let full = hex("0000FEAEFEFDFCFB");
        for n in 0..full.len() {
            assert_eq!(
                OriginIndication::decode(&full[..n]),
                Err(PacketError::Truncated("origin indication"))
            );
        }
        assert_eq!(
            OriginIndication::decode(&hex("0001FEAEFEFDFCFB")),
            Err(PacketError::UnknownHeader(1))
        );
    }

    #[test]
    fn auth_header_round_trips_with_id_and_value() {
        let h = AuthHeader::new(vec![1, 2, 3], vec![9; 20], [7; 8], 0).unwrap();
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out.len(), h.encoded_len());
        assert_eq!(&out[..4], &[0, 1, 3, 20]);
        assert_eq!(AuthHeader::decode(&out), Ok((h.clone(), 36)));
        for n in 0..out.len() {
            assert_eq!(
                AuthHeader::decode(&out[..n]),
                Err(PacketError::Truncated("authentication header")),
                "length {n}"
            );
        }
        assert_eq!(
            AuthHeader::new(vec![0; 256], vec![], [0; 8], 0),
            Err(PacketError::FieldTooLong(256))
        );
    }

    #[test]
    fn router_solicitation_is_byte_exact() {
        let nonce = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
        let rs = router_solicitation(RsKind::Restricted, nonce);
        let expected = hex("0001 0000 1122334455667788 00
             60000000 0008 3a ff
             fe800000000000000000ffffffffffff
             ff020000000000000000000000000002
             85 00 7d37 00000000");
        assert_eq!(rs, expected);
        assert_eq!(rs.len(), ROUTER_SOLICITATION_LEN);
    }

    #[test]
    fn rs_checksums_equal_miredos_precomputed_values() {
        // miredo `teredo_send_rs`: cone 0x125d, restricted 0x7d37. The nonce
        // sits outside the IPv6 packet, so the checksum never depends on it.
        for nonce in [[0u8; 8], [0xff; 8], [1, 2, 3, 4, 5, 6, 7, 8]] {
            let cone = router_solicitation(RsKind::Cone, nonce);
            assert_eq!(&cone[55..57], &[0x12, 0x5d]);
            assert_eq!(&cone[21..37], &RsKind::Cone.link_local().octets());
            assert_eq!(&cone[37..53], &ALL_ROUTERS.octets());
            let restricted = router_solicitation(RsKind::Restricted, nonce);
            assert_eq!(&restricted[55..57], &[0x7d, 0x37]);
            assert_eq!(&restricted[4..12], &nonce);
        }
        // A checksum in place sums to zero.
        let rs = router_solicitation(RsKind::Cone, [0; 8]);
        assert_eq!(
            icmpv6_checksum(&RsKind::Cone.link_local(), &ALL_ROUTERS, &rs[53..]),
            0
        );
    }

    #[test]
    fn cone_bit_is_in_the_link_local_interface_id() {
        assert_eq!(RsKind::Cone.link_local().octets()[8], 0x80);
        assert_eq!(RsKind::Restricted.link_local().octets()[8], 0x00);
    }

    #[test]
    fn parses_the_layers_and_keeps_trailers_apart() {
        let mut d = router_solicitation(RsKind::Cone, [3; 8]);
        // Insert an origin indication between auth and IPv6.
        let origin = OriginIndication {
            mapped: "198.51.100.7:4500".parse().unwrap(),
        };
        d.splice(13..13, origin.encode());
        d.extend_from_slice(&[0x03, 0x08, 0, 0]); // an RFC 6081 trailer
        let p = TeredoPacket::parse(&d).unwrap();
        assert_eq!(p.auth, Some(AuthHeader::unauthenticated([3; 8])));
        assert_eq!(p.origin, Some(origin));
        assert_eq!(p.ipv6.len(), 48);
        assert_eq!(p.trailers, &[0x03, 0x08, 0, 0]);
        // A bare IPv6 packet is a Teredo packet too.
        let bare = TeredoPacket::parse(&d[21..]).unwrap();
        assert_eq!((bare.auth, bare.origin), (None, None));
    }

    #[test]
    fn framing_errors_never_panic() {
        let d = router_solicitation(RsKind::Restricted, [3; 8]);
        for n in 0..d.len() {
            assert!(TeredoPacket::parse(&d[..n]).is_err(), "length {n}");
        }
        assert_eq!(
            TeredoPacket::parse(&[0, 2, 0, 0]),
            Err(PacketError::UnknownHeader(2))
        );
        assert_eq!(
            TeredoPacket::parse(&[0x45; 60]),
            Err(PacketError::NotIpv6(4))
        );
        // Two authentication headers in a row.
        let mut twice = d[..13].to_vec();
        twice.extend_from_slice(&d);
        assert_eq!(
            TeredoPacket::parse(&twice),
            Err(PacketError::UnknownHeader(1))
        );
    }
}
