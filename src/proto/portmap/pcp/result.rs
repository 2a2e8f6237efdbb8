//! PCP result codes (RFC 6887 §7.4), named, with what they mean for the user.

use std::fmt;

/// PCP result codes (RFC 6887 §7.4). Unknown codes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultCode {
    Success,
    UnsupportedVersion,
    NotAuthorized,
    MalformedRequest,
    UnsupportedOpcode,
    UnsupportedOption,
    MalformedOption,
    NetworkFailure,
    NoResources,
    UnsupportedProtocol,
    UserExceededQuota,
    CannotProvideExternal,
    AddressMismatch,
    ExcessiveRemotePeers,
    Other(u8),
}

const NAMED: [ResultCode; 14] = [
    ResultCode::Success,
    ResultCode::UnsupportedVersion,
    ResultCode::NotAuthorized,
    ResultCode::MalformedRequest,
    ResultCode::UnsupportedOpcode,
    ResultCode::UnsupportedOption,
    ResultCode::MalformedOption,
    ResultCode::NetworkFailure,
    ResultCode::NoResources,
    ResultCode::UnsupportedProtocol,
    ResultCode::UserExceededQuota,
    ResultCode::CannotProvideExternal,
    ResultCode::AddressMismatch,
    ResultCode::ExcessiveRemotePeers,
];

impl ResultCode {
    pub fn from_u8(code: u8) -> Self {
        NAMED
            .get(usize::from(code))
            .copied()
            .unwrap_or(Self::Other(code))
    }

    pub fn code(self) -> u8 {
        match self {
            Self::Other(code) => code,
            named => NAMED
                .iter()
                .position(|c| *c == named)
                .map_or(0, |i| i as u8),
        }
    }

    /// The RFC's name for the code.
    pub fn name(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::UnsupportedVersion => "UNSUPP_VERSION",
            Self::NotAuthorized => "NOT_AUTHORIZED",
            Self::MalformedRequest => "MALFORMED_REQUEST",
            Self::UnsupportedOpcode => "UNSUPP_OPCODE",
            Self::UnsupportedOption => "UNSUPP_OPTION",
            Self::MalformedOption => "MALFORMED_OPTION",
            Self::NetworkFailure => "NETWORK_FAILURE",
            Self::NoResources => "NO_RESOURCES",
            Self::UnsupportedProtocol => "UNSUPP_PROTOCOL",
            Self::UserExceededQuota => "USER_EX_QUOTA",
            Self::CannotProvideExternal => "CANNOT_PROVIDE_EXTERNAL",
            Self::AddressMismatch => "ADDRESS_MISMATCH",
            Self::ExcessiveRemotePeers => "EXCESSIVE_REMOTE_PEERS",
            Self::Other(_) => "unknown result code",
        }
    }

    /// What it means for the user, and what to do.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Success => "the request succeeded",
            Self::UnsupportedVersion => "the server does not speak PCP version 2",
            Self::NotAuthorized => {
                "the gateway refuses port mapping for this host; turn on PCP \
                 (often under the router's UPnP settings) or allow this host"
            }
            Self::MalformedRequest => "the server could not parse the request (a bug on one side)",
            Self::UnsupportedOpcode => "the server does not support MAP requests",
            Self::UnsupportedOption => "the server does not support an option of the request",
            Self::MalformedOption => "the server found an option of the request malformed",
            Self::NetworkFailure => {
                "the gateway has no working Internet connection of its own \
                 (e.g. no address on its WAN side yet)"
            }
            Self::NoResources => {
                "the gateway cannot create more mappings now; remove unused \
                 mappings or try again later"
            }
            Self::UnsupportedProtocol => "the gateway cannot map this transport protocol",
            Self::UserExceededQuota => "this host has used up its quota of mapped ports",
            Self::CannotProvideExternal => {
                "the suggested external port or address is not available"
            }
            Self::AddressMismatch => {
                "the request arrived from another address than the one it \
                 names: a NAT sits between this host and the PCP server \
                 (double NAT), so a mapping there would not reach this host"
            }
            Self::ExcessiveRemotePeers => "the server could not create the requested filters",
            Self::Other(_) => "the server refused with a code RFC 6887 does not define",
        }
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name(), self.code(), self.meaning())
    }
}
