//! NAT-PMP (RFC 6886) messages: the external-address request (opcode 0,
//! §3.2), the mapping request (opcodes 1 and 2, §3.3; lifetime 0 deletes,
//! §3.4), and strict decoding of their answers.
//!
//! Lengths are checked exactly, with no tolerance for trailing bytes: a
//! success answer is 12 bytes for opcode 0 and 16 for a mapping (§3.2,
//! §3.3). An error answer may be either that full length or the bare 8-byte
//! header (version, opcode, result code, epoch), which is how §3.5 draws the
//! Unsupported Version answer and how terse gateways answer every error.
//! NAT-PMP has no transaction id, so an answer is matched by its opcode and,
//! for mappings, its internal port (§3.5).

use std::fmt;
use std::net::Ipv4Addr;

use super::{Transport, unusable_external};

/// NAT-PMP's version number (RFC 6886 §3).
pub const VERSION: u8 = 0;

/// Added to a request's opcode to make its answer's (RFC 6886 §3).
pub const RESPONSE_BIT: u8 = 128;

/// Version, opcode, result code and epoch: what every answer starts with.
pub const HEADER_LEN: usize = 8;

const EXTERNAL_ADDRESS_ANSWER_LEN: usize = 12;
const MAP_ANSWER_LEN: usize = 16;

/// A NAT-PMP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// "What is your external address?" (RFC 6886 §3.2).
    ExternalAddress,
    /// Create, renew or (with `lifetime` 0) delete a mapping (RFC 6886 §3.3,
    /// §3.4).
    Map {
        transport: Transport,
        internal_port: u16,
        /// 0 lets the gateway choose.
        suggested_external_port: u16,
        /// Seconds; 0 deletes.
        lifetime: u32,
    },
}

impl Request {
    /// A request to create or renew a mapping.
    pub fn map(
        transport: Transport,
        internal_port: u16,
        suggested_external_port: u16,
        lifetime: u32,
    ) -> Self {
        Request::Map {
            transport,
            internal_port,
            suggested_external_port,
            lifetime,
        }
    }

    /// A request to delete the mapping of `internal_port`: lifetime 0, and
    /// the suggested external port zero as RFC 6886 §3.4 requires. (Internal
    /// port 0 would delete every mapping of this host.)
    pub fn delete(transport: Transport, internal_port: u16) -> Self {
        Self::map(transport, internal_port, 0, 0)
    }

    /// The opcode: 0 for the external address, 1 to map UDP, 2 to map TCP.
    pub fn opcode(&self) -> u8 {
        match self {
            Request::ExternalAddress => 0,
            Request::Map {
                transport: Transport::Udp,
                ..
            } => 1,
            Request::Map {
                transport: Transport::Tcp,
                ..
            } => 2,
        }
    }

    /// The request on the wire: 2 bytes for opcode 0, 12 for a mapping.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION, self.opcode()];
        if let Request::Map {
            internal_port,
            suggested_external_port,
            lifetime,
            ..
        } = *self
        {
            out.extend_from_slice(&[0, 0]); // reserved
            out.extend_from_slice(&internal_port.to_be_bytes());
            out.extend_from_slice(&suggested_external_port.to_be_bytes());
            out.extend_from_slice(&lifetime.to_be_bytes());
        }
        out
    }

    fn answer_len(&self) -> usize {
        match self {
            Request::ExternalAddress => EXTERNAL_ADDRESS_ANSWER_LEN,
            Request::Map { .. } => MAP_ANSWER_LEN,
        }
    }

    /// Decodes `bytes` as the gateway's answer to this request, checking
    /// everything RFC 6886 lets a client check.
    pub fn decode_response(&self, bytes: &[u8]) -> Result<Response, DecodeError> {
        let header: &[u8; HEADER_LEN] = bytes
            .first_chunk()
            .ok_or(DecodeError::TooShort(bytes.len()))?;
        if header[0] != VERSION {
            return Err(DecodeError::WrongVersion(header[0]));
        }
        let expected_opcode = RESPONSE_BIT + self.opcode();
        if header[1] != expected_opcode {
            return Err(DecodeError::WrongOpcode {
                expected: expected_opcode,
                got: header[1],
            });
        }
        let code = ResultCode::from_u16(u16::from_be_bytes([header[2], header[3]]));
        let epoch = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let full = self.answer_len();
        if code != ResultCode::Success {
            if bytes.len() != HEADER_LEN && bytes.len() != full {
                return Err(DecodeError::WrongErrorLength {
                    got: bytes.len(),
                    full,
                });
            }
            if bytes.len() == full {
                self.check_internal_port(bytes)?;
            }
            return Ok(Response::Failure { epoch, code });
        }
        if bytes.len() != full {
            return Err(DecodeError::WrongLength {
                got: bytes.len(),
                expected: full,
            });
        }
        match *self {
            Request::ExternalAddress => {
                let address = Ipv4Addr::new(bytes[8], bytes[9], bytes[10], bytes[11]);
                if let Some(reason) = unusable_external(address) {
                    return Err(DecodeError::UnusableExternal { address, reason });
                }
                Ok(Response::ExternalAddress { epoch, address })
            }
            Request::Map { internal_port, .. } => {
                self.check_internal_port(bytes)?;
                let external_port = u16::from_be_bytes([bytes[10], bytes[11]]);
                let lifetime = u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
                // A deletion is confirmed with external port 0 (§3.4); a
                // mapping that lives needs a real port.
                if lifetime > 0 && external_port == 0 {
                    return Err(DecodeError::ExternalPortZero);
                }
                Ok(Response::Map {
                    epoch,
                    internal_port,
                    external_port,
                    lifetime,
                })
            }
        }
    }

    fn check_internal_port(&self, bytes: &[u8]) -> Result<(), DecodeError> {
        if let (Request::Map { internal_port, .. }, Some(got)) = (self, bytes.get(8..10)) {
            let got = u16::from_be_bytes([got[0], got[1]]);
            if got != *internal_port {
                return Err(DecodeError::InternalPortMismatch {
                    expected: *internal_port,
                    got,
                });
            }
        }
        Ok(())
    }
}

/// A decoded, validated answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Opcode 128: the gateway's external address.
    ExternalAddress { epoch: u32, address: Ipv4Addr },
    /// Opcodes 129/130: the mapping as granted (or, with lifetime 0, as
    /// deleted).
    Map {
        epoch: u32,
        internal_port: u16,
        external_port: u16,
        lifetime: u32,
    },
    /// A non-zero result code.
    Failure { epoch: u32, code: ResultCode },
}

/// NAT-PMP result codes (RFC 6886 §3.5). Unknown codes are kept and, as the
/// RFC requires, treated as fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultCode {
    Success,
    UnsupportedVersion,
    NotAuthorized,
    NetworkFailure,
    OutOfResources,
    UnsupportedOpcode,
    Other(u16),
}

impl ResultCode {
    pub fn from_u16(code: u16) -> Self {
        match code {
            0 => Self::Success,
            1 => Self::UnsupportedVersion,
            2 => Self::NotAuthorized,
            3 => Self::NetworkFailure,
            4 => Self::OutOfResources,
            5 => Self::UnsupportedOpcode,
            other => Self::Other(other),
        }
    }

    pub fn code(self) -> u16 {
        match self {
            Self::Success => 0,
            Self::UnsupportedVersion => 1,
            Self::NotAuthorized => 2,
            Self::NetworkFailure => 3,
            Self::OutOfResources => 4,
            Self::UnsupportedOpcode => 5,
            Self::Other(code) => code,
        }
    }

    /// The RFC's name for the code.
    pub fn name(self) -> &'static str {
        match self {
            Self::Success => "Success",
            Self::UnsupportedVersion => "Unsupported Version",
            Self::NotAuthorized => "Not Authorized/Refused",
            Self::NetworkFailure => "Network Failure",
            Self::OutOfResources => "Out of resources",
            Self::UnsupportedOpcode => "Unsupported opcode",
            Self::Other(_) => "unknown result code",
        }
    }

    /// What it means for the user, and what to do.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Success => "the request succeeded",
            Self::UnsupportedVersion => "the gateway does not speak this NAT-PMP version",
            Self::NotAuthorized => {
                "the gateway supports port mapping but refuses it; turn on NAT-PMP \
                 (often under the router's UPnP settings) or allow this host"
            }
            Self::NetworkFailure => {
                "the gateway has no working Internet connection of its own \
                 (e.g. no address on its WAN side yet)"
            }
            Self::OutOfResources => {
                "the gateway cannot create more mappings now; remove unused \
                 mappings or restart it"
            }
            Self::UnsupportedOpcode => "the gateway does not support this kind of request",
            Self::Other(_) => "the gateway refused with a code RFC 6886 does not define",
        }
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name(), self.code(), self.meaning())
    }
}

/// Why a datagram is not an acceptable answer to a NAT-PMP request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("NAT-PMP answer of {0} bytes is shorter than the 8-byte header")]
    TooShort(usize),
    #[error("answer has version {0}, not NAT-PMP's 0")]
    WrongVersion(u8),
    #[error("NAT-PMP answer has opcode {got}, the request needs {expected}")]
    WrongOpcode { expected: u8, got: u8 },
    #[error("NAT-PMP success answer of {got} bytes; RFC 6886 §3 fixes it at {expected}")]
    WrongLength { got: usize, expected: usize },
    #[error("NAT-PMP error answer of {got} bytes; expected 8 or {full}")]
    WrongErrorLength { got: usize, full: usize },
    #[error("NAT-PMP answer is for internal port {got}, but the request was for {expected}")]
    InternalPortMismatch { expected: u16, got: u16 },
    #[error("NAT-PMP external address {address} is unusable: {reason}")]
    UnusableExternal {
        address: Ipv4Addr,
        reason: &'static str,
    },
    #[error("NAT-PMP granted a mapping with external port 0")]
    ExternalPortZero,
}

#[cfg(test)]
mod tests;
