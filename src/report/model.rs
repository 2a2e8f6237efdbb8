//! The probe report: the `--json` document and the source of the table.
//!
//! Field names and enum spellings are part of the public contract
//! (documented in the README); a change to them bumps [`SCHEMA_VERSION`].

use serde::{Deserialize, Serialize};

use super::portmap::PortMappingReport;
use super::teredo::TeredoReport;
use super::topology::TopologyReport;
use crate::proto::nat::{ClassicNatType, FilteringBehavior, MappingBehavior, PortAllocation};

/// The version of the JSON report layout.
pub const SCHEMA_VERSION: u32 = 2;

/// The whole report of `ranat probe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub schema_version: u32,
    /// The ranat version that measured this.
    pub ranat_version: String,
    pub ipv4: FamilyReport,
    pub ipv6: FamilyReport,
    /// UPnP IGD, PCP and NAT-PMP on the IPv4 gateway.
    pub port_mapping: PortMappingReport,
    /// Double NAT and carrier-grade NAT, with the evidence.
    pub topology: TopologyReport,
    /// Teredo qualification (RFC 4380) as a Windows client would see it.
    pub teredo: TeredoReport,
    /// The overall verdict, also carried by the exit code.
    pub verdict: Verdict,
    /// Wall time of the whole probe.
    pub duration_ms: u64,
}

/// What one address family measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyReport {
    pub status: FamilyStatus,
    /// The local endpoint of the mapping test ("ip:port").
    pub local_address: Option<String>,
    /// The endpoint the server saw ("ip:port").
    pub mapped_address: Option<String>,
    pub classic: ClassicNatType,
    pub mapping: Option<MappingBehavior>,
    pub filtering: Option<FilteringBehavior>,
    /// Whether the NAT loops a packet for its own external address back in
    /// (RFC 4787 §6); `None` when not measured.
    pub hairpinning: Option<bool>,
    /// Whether the external port equalled the local port on every mapping seen.
    pub port_preservation: Option<bool>,
    pub port_allocation: Option<PortAllocation>,
    /// Whether the servers agreed with each other (`None` with fewer than two
    /// servers whose answers classified the NAT).
    pub servers_agree: Option<bool>,
    pub servers: Vec<ServerReport>,
    /// Plain-language notes on why a result is missing or uncertain.
    pub notes: Vec<String>,
}

/// The outcome for an address family as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FamilyStatus {
    /// Classified.
    Ok,
    /// No server of this family was given or resolved.
    NoServer,
    /// Servers were tried and none answered.
    UdpBlocked,
    /// Answers came, but not enough to classify (e.g. no behaviour-capable server).
    Inconclusive,
    /// This host has no usable address or route of this family.
    Unavailable,
}

/// What one server contributed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerReport {
    /// The server endpoint probed ("ip:port").
    pub address: String,
    /// The name it was resolved from, if any.
    pub name: Option<String>,
    /// Whether the server answered at all.
    pub reachable: bool,
    /// Whether the server can run RFC 5780 behaviour tests: it sent
    /// OTHER-ADDRESS and its answers really came from the alternate address
    /// and port when asked.
    pub behavior_capable: bool,
    /// Round-trip time of the first binding transaction.
    pub rtt_ms: Option<f64>,
    /// The server's alternate endpoint (OTHER-ADDRESS, RFC 5780 §7.4).
    pub other_address: Option<String>,
    pub mapped_address: Option<String>,
    pub classic: ClassicNatType,
    pub mapping: Option<MappingBehavior>,
    pub filtering: Option<FilteringBehavior>,
    pub hairpinning: Option<bool>,
    /// Why a test with this server could not be completed.
    pub notes: Vec<String>,
}

/// The overall verdict of a probe, ordered from best to worst for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Open internet or a cone NAT on some family: hole punching works with most peers.
    TraversalFriendly,
    /// Only symmetric NAT: direct connections need a port mapping, prediction or a relay.
    Symmetric,
    /// Nothing answered: UDP is blocked or no server was reachable.
    UdpBlocked,
    /// Measurements were incomplete.
    Inconclusive,
}

impl Verdict {
    /// The process exit code that carries this verdict (documented in the README).
    pub fn exit_code(self) -> i32 {
        match self {
            Self::TraversalFriendly => 0,
            Self::Symmetric => 10,
            Self::UdpBlocked => 11,
            Self::Inconclusive => 12,
        }
    }
}

impl ProbeReport {
    /// A report of this ranat version from its measured parts; the NAT-layer
    /// finding and the verdict are derived from them.
    pub fn assemble(
        ipv4: FamilyReport,
        ipv6: FamilyReport,
        port_mapping: PortMappingReport,
        teredo: TeredoReport,
        duration_ms: u64,
    ) -> Self {
        let topology = super::topology::assess(
            ipv4.local_address.as_deref(),
            ipv4.mapped_address.as_deref(),
            &port_mapping,
        );
        let verdict = super::family::verdict(&[&ipv4, &ipv6]);
        Self {
            schema_version: SCHEMA_VERSION,
            ranat_version: env!("CARGO_PKG_VERSION").to_string(),
            ipv4,
            ipv6,
            port_mapping,
            topology,
            teredo,
            verdict,
            duration_ms,
        }
    }
}

impl FamilyReport {
    /// A family that was not measured, with the reason.
    pub fn unmeasured(status: FamilyStatus, note: impl Into<String>) -> Self {
        let classic = match status {
            FamilyStatus::UdpBlocked => ClassicNatType::UdpBlocked,
            _ => ClassicNatType::Inconclusive,
        };
        Self {
            status,
            local_address: None,
            mapped_address: None,
            classic,
            mapping: None,
            filtering: None,
            hairpinning: None,
            port_preservation: None,
            port_allocation: None,
            servers_agree: None,
            servers: Vec::new(),
            notes: vec![note.into()],
        }
    }
}
