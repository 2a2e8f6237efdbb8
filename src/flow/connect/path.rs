//! The path a session's channel took, and how long each step to it took.

use std::net::{IpAddr, SocketAddr};

use schemars::JsonSchema;
use serde::Serialize;

use crate::proto::punch::{CandidateKind, Path};
use crate::proto::relay::client::RelayTransport;

/// How the session's channel connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PathOutcome {
    Direct,
    Relayed,
    Failed,
}

/// The path the channel took.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PathInfo {
    /// `host`, `srflx`, `prflx`, `predicted`, `mapped`, `teredo` (the
    /// remote is a Teredo address, RFC 4380 §2.14) or `relay`.
    pub kind: &'static str,
    pub family: &'static str,
    /// This side's end, when known (a socket bound to the wildcard
    /// address shows only its port).
    pub local: Option<SocketAddr>,
    pub remote: SocketAddr,
    pub relay: Option<RelayInfo>,
}

/// The relay a relayed channel runs through.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RelayInfo {
    pub server: SocketAddr,
    pub transport: RelayTransport,
    /// This side's relayed address, and the other side's.
    pub relayed: SocketAddr,
    pub peer_relayed: SocketAddr,
}

impl PathInfo {
    /// The path a punch proved.
    pub fn direct(path: &Path, local: Option<SocketAddr>) -> Self {
        let kind = if is_teredo(path.remote.ip()) {
            "teredo"
        } else {
            match path.kind {
                CandidateKind::Host => "host",
                CandidateKind::ServerReflexive => "srflx",
                CandidateKind::PeerReflexive | CandidateKind::BirthdayProbe => "prflx",
                CandidateKind::Predicted => "predicted",
                CandidateKind::PortMapped => "mapped",
                CandidateKind::Relayed => "relay",
                CandidateKind::Teredo => "teredo",
            }
        };
        Self {
            kind,
            family: family(path.remote.ip()),
            local: path.local.or(local),
            remote: path.remote,
            relay: None,
        }
    }

    /// The path through the relay: from this side's relayed address to
    /// the other side's.
    pub fn relayed(relay: RelayInfo) -> Self {
        Self {
            kind: "relay",
            family: family(relay.peer_relayed.ip()),
            local: Some(relay.relayed),
            remote: relay.peer_relayed,
            relay: Some(relay),
        }
    }
}

/// Teredo's prefix, 2001::/32 (RFC 4380 §2.6).
fn is_teredo(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.segments()[..2] == [0x2001, 0],
        IpAddr::V4(_) => false,
    }
}

fn family(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IPv4",
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => "IPv4",
        IpAddr::V6(_) => "IPv6",
    }
}

/// How long each step took, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct Phases {
    /// Connecting to the rendezvous and its Welcome.
    pub rendezvous_ms: f64,
    /// From the pairing to the key confirmation (the PAKE and the sealed
    /// introductions).
    pub pake_ms: f64,
    /// This machine's probe.
    pub probe_ms: f64,
    /// The sealed reports' exchange, and the gathering beside it.
    pub reports_ms: f64,
    /// The candidates' exchange (after the relay's allocation where no
    /// direct path is expected).
    pub candidates_ms: f64,
    /// The checks, to the first answered one or the punch's end.
    pub checks_ms: f64,
    /// The QUIC handshake (and on a relayed path its permission).
    pub quic_ms: f64,
    /// From the reports' exchange to the channel: the time to connect
    /// once both sides are met and probed.
    pub connect_ms: f64,
}
