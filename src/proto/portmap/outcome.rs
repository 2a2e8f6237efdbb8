//! What a [`PortMapper`](super::PortMapper) ends with.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use super::{Protocol, natpmp, pcp};

/// A mapping the gateway granted, or (lifetime 0) confirmed deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub protocol: Protocol,
    /// After a deletion, what the gateway echoed: all zeros.
    pub external: SocketAddrV4,
    pub internal_port: u16,
    /// Seconds granted; 0 after a deletion.
    pub lifetime: u32,
    /// The server's epoch (seconds since its mapping state began, RFC 6886
    /// §3.6, RFC 6887 §8.5).
    pub epoch: u32,
}

/// A result code with which a gateway refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCode {
    Pcp(pcp::ResultCode),
    NatPmp(natpmp::ResultCode),
}

impl RefusalCode {
    pub fn protocol(&self) -> Protocol {
        match self {
            Self::Pcp(_) => Protocol::Pcp,
            Self::NatPmp(_) => Protocol::NatPmp,
        }
    }
}

impl fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pcp(code) => write!(f, "PCP {code}"),
            Self::NatPmp(code) => write!(f, "NAT-PMP {code}"),
        }
    }
}

/// Why no mapping was made (or deletion confirmed).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PortMapError {
    #[error(
        "nothing answered on {server} within {waited:?}: the gateway offers neither PCP nor \
         NAT-PMP, or has them turned off (look for UPnP/NAT-PMP in its settings){}",
        stray_note(.stray)
    )]
    NoAnswer {
        server: SocketAddr,
        waited: Duration,
        /// Datagrams from other sources, ignored.
        stray: u32,
    },
    /// The gateway's port 5351 drew an ICMP "port unreachable": it runs
    /// neither protocol, so nothing is waited for.
    #[error(
        "{server} answered \"port unreachable\": the gateway runs neither PCP nor NAT-PMP \
         (look for UPnP/NAT-PMP in its settings)"
    )]
    PortUnreachable { server: SocketAddr },
    #[error("the gateway refused the request: {0}")]
    Refused(RefusalCode),
    /// PCP's ADDRESS_MISMATCH. The server does not say which address it saw.
    #[error(
        "PCP ADDRESS_MISMATCH: the request names this host as {client} but reached the server \
         from another address, so a NAT sits between this host and the gateway (double NAT), \
         or {client} is not the address this host uses towards the gateway"
    )]
    AddressMismatch { client: Ipv4Addr },
    #[error(
        "{server} answered PCP with UNSUPP_VERSION ({}) but did not answer NAT-PMP within \
         {waited:?}",
        speaks(.server_version)
    )]
    NoCommonVersion {
        server: SocketAddr,
        server_version: u8,
        waited: Duration,
    },
    #[error(
        "{server} gave its external address {external} over NAT-PMP but did not answer the \
         mapping request within {waited:?}"
    )]
    MappingUnanswered {
        server: SocketAddr,
        external: Ipv4Addr,
        waited: Duration,
    },
    #[error("the gateway answered only with unusable datagrams; the last: {0}")]
    Malformed(String),
}

fn stray_note(stray: &u32) -> String {
    match stray {
        0 => String::new(),
        n => format!(" ({n} datagrams from other sources were ignored)"),
    }
}

fn speaks(version: &u8) -> String {
    match version {
        0 => "it speaks NAT-PMP only".to_owned(),
        v => format!("it speaks PCP version {v} only"),
    }
}
