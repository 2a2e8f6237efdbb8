//! PCP (RFC 6887) MAP requests for IPv4 mappings, and validation of their
//! answers.
//!
//! A MAP request is the 24-byte common header (§7.1) and the 36-byte MAP
//! body (§11.1), with no options. Addresses travel as 128-bit fields, an
//! IPv4 address as IPv4-mapped IPv6 `::ffff:a.b.c.d`, and "no preference"
//! for an IPv4 external address as `::ffff:0.0.0.0`, not `::` (§5: the
//! all-zeros address of the family asked for).
//!
//! An answer is checked as §8.3 and §11.4 say: at least 4 bytes; a version-0
//! answer is a NAT-PMP gateway's Unsupported Version (§9); otherwise the R
//! bit is set, the length is 24…1100 and a multiple of 4, the opcode is MAP,
//! and nonce, protocol and internal port are the request's. Options after
//! the body are walked (§7.3) without trusting their lengths.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};

use super::{Transport, natpmp, unusable_external};

mod result;
pub use result::ResultCode;

/// PCP's version number (RFC 6887 §7.1).
pub const VERSION: u8 = 2;

/// The largest PCP message (RFC 6887 §7).
pub const MAX_MESSAGE_LEN: usize = 1100;

/// The common request and response header (RFC 6887 §7.1, §7.2).
pub const HEADER_LEN: usize = 24;

/// The MAP opcode's body (RFC 6887 §11.1).
pub const MAP_BODY_LEN: usize = 36;

/// The MAP opcode (RFC 6887 §19.2).
pub const OPCODE_MAP: u8 = 1;

/// The R bit: set in responses (RFC 6887 §7.1).
const R_BIT: u8 = 0x80;

/// The 96-bit mapping nonce (RFC 6887 §11.1): chosen by the caller, and the
/// same one must be used to renew or delete the mapping.
pub type Nonce = [u8; 12];

/// A MAP request for an IPv4 mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapRequest {
    /// Seconds; 0 deletes (RFC 6887 §15).
    pub lifetime: u32,
    /// This host's address as it sends to the server; the server answers
    /// ADDRESS_MISMATCH when the request arrives from another one.
    pub client: Ipv4Addr,
    pub nonce: Nonce,
    pub transport: Transport,
    pub internal_port: u16,
    /// `0.0.0.0:0` for no preference.
    pub suggested_external: SocketAddrV4,
}

impl MapRequest {
    /// A request to create or renew a mapping, with no preference for the
    /// external address and, if `suggested_external_port` is 0, the port.
    pub fn new(
        client: Ipv4Addr,
        nonce: Nonce,
        transport: Transport,
        internal_port: u16,
        suggested_external_port: u16,
        lifetime: u32,
    ) -> Self {
        Self {
            lifetime,
            client,
            nonce,
            transport,
            internal_port,
            suggested_external: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, suggested_external_port),
        }
    }

    /// A request to delete the mapping made with `nonce`: lifetime 0, the
    /// suggested external port 0 and the suggested address the IPv4
    /// all-zeros one (RFC 6887 §15 and §15.1 as corrected by erratum 3621).
    pub fn delete(
        client: Ipv4Addr,
        nonce: Nonce,
        transport: Transport,
        internal_port: u16,
    ) -> Self {
        Self::new(client, nonce, transport, internal_port, 0, 0)
    }

    /// The 60-byte request.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + MAP_BODY_LEN);
        out.extend_from_slice(&[VERSION, OPCODE_MAP, 0, 0]);
        out.extend_from_slice(&self.lifetime.to_be_bytes());
        out.extend_from_slice(&self.client.to_ipv6_mapped().octets());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&[self.transport.iana_number(), 0, 0, 0]);
        out.extend_from_slice(&self.internal_port.to_be_bytes());
        out.extend_from_slice(&self.suggested_external.port().to_be_bytes());
        out.extend_from_slice(&self.suggested_external.ip().to_ipv6_mapped().octets());
        out
    }

    /// Decodes `bytes` as the server's answer to this request.
    pub fn decode_response(&self, bytes: &[u8]) -> Result<Response, DecodeError> {
        if bytes.len() < 4 {
            return Err(DecodeError::TooShort(bytes.len()));
        }
        if bytes[0] == natpmp::VERSION {
            return natpmp_refusal(bytes);
        }
        if bytes[1] & R_BIT == 0 {
            return Err(DecodeError::NotAResponse);
        }
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError::TooShort(bytes.len()));
        }
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(DecodeError::TooLong(bytes.len()));
        }
        if !bytes.len().is_multiple_of(4) {
            return Err(DecodeError::NotMultipleOf4(bytes.len()));
        }
        let version = bytes[0];
        let code = ResultCode::from_u8(bytes[3]);
        let lifetime = be32(&bytes[4..8]);
        let epoch = be32(&bytes[8..12]);
        if version != VERSION {
            // §9: a server of another version answers UNSUPP_VERSION and
            // puts the version it speaks in the header.
            if code == ResultCode::UnsupportedVersion {
                return Ok(Response::OtherVersion { version, epoch });
            }
            return Err(DecodeError::WrongVersion(version));
        }
        let opcode = bytes[1] & !R_BIT;
        if opcode != OPCODE_MAP {
            return Err(DecodeError::WrongOpcode(opcode));
        }
        if bytes.len() == HEADER_LEN && code != ResultCode::Success {
            // A server that could not parse the request may answer with the
            // header alone: nothing to match, but nothing to misread either.
            return Ok(Response::Failure {
                code,
                lifetime,
                epoch,
            });
        }
        let body = bytes
            .get(HEADER_LEN..HEADER_LEN + MAP_BODY_LEN)
            .ok_or(DecodeError::TruncatedBody(bytes.len()))?;
        if body[..12] != self.nonce {
            return Err(DecodeError::NonceMismatch);
        }
        if body[12] != self.transport.iana_number() {
            return Err(DecodeError::ProtocolMismatch {
                expected: self.transport.iana_number(),
                got: body[12],
            });
        }
        let internal_port = u16::from_be_bytes([body[16], body[17]]);
        if internal_port != self.internal_port {
            return Err(DecodeError::InternalPortMismatch {
                expected: self.internal_port,
                got: internal_port,
            });
        }
        let options = parse_options(&bytes[HEADER_LEN + MAP_BODY_LEN..])?;
        if code != ResultCode::Success {
            return Ok(Response::Failure {
                code,
                lifetime,
                epoch,
            });
        }
        let external_port = u16::from_be_bytes([body[18], body[19]]);
        let mut raw = [0; 16];
        raw.copy_from_slice(&body[20..36]);
        let raw = Ipv6Addr::from(raw);
        let external = match raw.to_ipv4_mapped() {
            Some(ip) => ip,
            // §15.1: a deletion echoes the all-zeros address; take `::` too.
            None if lifetime == 0 && raw.is_unspecified() => Ipv4Addr::UNSPECIFIED,
            None => return Err(DecodeError::ExternalNotIpv4(raw)),
        };
        if lifetime > 0 {
            if let Some(reason) = unusable_external(external) {
                return Err(DecodeError::UnusableExternal {
                    address: external,
                    reason,
                });
            }
            if external_port == 0 {
                return Err(DecodeError::ExternalPortZero);
            }
        }
        Ok(Response::Map(MapResponse {
            lifetime,
            epoch,
            external: SocketAddrV4::new(external, external_port),
            options,
        }))
    }
}

fn be32(b: &[u8]) -> u32 {
    b.iter().fold(0, |acc, &x| (acc << 8) | u32::from(x))
}

/// A version-0 answer: RFC 6886 §3.5 has a NAT-PMP gateway answer any
/// other version with Unsupported Version (16-bit result code 1) and its
/// epoch, 8 bytes, opcode drawn as 0; miniupnpd puts 128 + the request's
/// opcode instead. Both are accepted; anything else of version 0 is not.
fn natpmp_refusal(bytes: &[u8]) -> Result<Response, DecodeError> {
    let header: &[u8; natpmp::HEADER_LEN] = bytes
        .first_chunk()
        .ok_or(DecodeError::TooShort(bytes.len()))?;
    let refusal = natpmp::ResultCode::UnsupportedVersion.code().to_be_bytes();
    let opcode_ok = header[1] == 0 || header[1] == natpmp::RESPONSE_BIT + OPCODE_MAP;
    if bytes.len() > MAX_MESSAGE_LEN {
        Err(DecodeError::TooLong(bytes.len()))
    } else if opcode_ok && header[2..4] == refusal {
        Ok(Response::NatPmpOnly {
            epoch: be32(&header[4..8]),
        })
    } else {
        Err(DecodeError::NatPmpAnswer)
    }
}

/// Walks the options after the MAP body (RFC 6887 §7.3): code, reserved,
/// 16-bit length of the data, the data, then zero padding to 4 bytes.
fn parse_options(mut rest: &[u8]) -> Result<Vec<PcpOption>, DecodeError> {
    let mut options = Vec::new();
    let mut offset = HEADER_LEN + MAP_BODY_LEN;
    while !rest.is_empty() {
        let truncated = DecodeError::OptionTruncated { offset };
        let header: &[u8; 4] = rest.first_chunk().ok_or(truncated.clone())?;
        let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let padded = len.div_ceil(4) * 4;
        let data = rest.get(4..4 + len).ok_or(truncated.clone())?;
        options.push(PcpOption {
            code: header[0],
            data: data.to_vec(),
        });
        rest = rest.get(4 + padded..).ok_or(truncated)?;
        offset += 4 + padded;
    }
    Ok(options)
}

/// An option of a response, kept as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcpOption {
    pub code: u8,
    pub data: Vec<u8>,
}

/// A decoded, validated answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// A NAT-PMP gateway's Unsupported Version: it speaks NAT-PMP only, and
    /// the client should ask again in NAT-PMP at once (RFC 6887 §9, RFC 6886
    /// §1.1).
    NatPmpOnly { epoch: u32 },
    /// UNSUPP_VERSION from a PCP server of another version (RFC 6887 §9).
    OtherVersion { version: u8, epoch: u32 },
    /// A non-zero result code. `lifetime` is how long the error holds.
    Failure {
        code: ResultCode,
        lifetime: u32,
        epoch: u32,
    },
    /// SUCCESS.
    Map(MapResponse),
}

/// A successful MAP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapResponse {
    /// Seconds; 0 confirms a deletion.
    pub lifetime: u32,
    pub epoch: u32,
    /// The assigned external address and port (all zeros for a deletion).
    pub external: SocketAddrV4,
    pub options: Vec<PcpOption>,
}

/// Why a datagram is not an acceptable answer to a PCP MAP request.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("PCP answer of {0} bytes is too short")]
    TooShort(usize),
    #[error("PCP answer of {0} bytes is longer than PCP's limit of 1100")]
    TooLong(usize),
    #[error("PCP answer of {0} bytes is not a multiple of 4 bytes long")]
    NotMultipleOf4(usize),
    #[error("PCP message with the R bit clear is a request, not an answer")]
    NotAResponse,
    #[error("version-0 (NAT-PMP) answer to a PCP request that is not Unsupported Version")]
    NatPmpAnswer,
    #[error("PCP answer has version {0}, not 2")]
    WrongVersion(u8),
    #[error("PCP answer has opcode {0}, not MAP (1)")]
    WrongOpcode(u8),
    #[error("PCP MAP answer of {0} bytes is cut short of its 36-byte body")]
    TruncatedBody(usize),
    #[error("PCP answer carries another request's mapping nonce")]
    NonceMismatch,
    #[error("PCP answer is for protocol {got}, but the request was for {expected}")]
    ProtocolMismatch { expected: u8, got: u8 },
    #[error("PCP answer is for internal port {got}, but the request was for {expected}")]
    InternalPortMismatch { expected: u16, got: u16 },
    #[error("PCP option at byte {offset} runs past the end of the answer")]
    OptionTruncated { offset: usize },
    #[error("PCP assigned external address {0} is not an IPv4-mapped address")]
    ExternalNotIpv4(Ipv6Addr),
    #[error("PCP external address {address} is unusable: {reason}")]
    UnusableExternal {
        address: Ipv4Addr,
        reason: &'static str,
    },
    #[error("PCP granted a mapping with external port 0")]
    ExternalPortZero,
}

#[cfg(test)]
mod tests;
