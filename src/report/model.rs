//! The probe report: the `--json` document and the source of the table.
//!
//! Field names and enum spellings are part of the public contract
//! (documented in the README); a change to them bumps [`SCHEMA_VERSION`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::address_family::Family;
use super::family::{FamilyReport, Verdict};
use super::first_hop::FirstHop;
use super::portmap::PortMappingReport;
use super::teredo::TeredoReport;
use super::topology::TopologyReport;

/// The version of the JSON report layout.
pub const SCHEMA_VERSION: u32 = 3;

/// The whole report of `ranat probe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// How far the probe got toward its servers: no network, DNS failing,
    /// no answer, some answers, every answer.
    #[serde(default)]
    pub first_hop: FirstHop,
    /// The overall verdict, also carried by the exit code.
    pub verdict: Verdict,
    /// Wall time of the whole probe.
    pub duration_ms: u64,
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
        let first_hop = super::first_hop::first_hop(&[&ipv4, &ipv6]);
        Self {
            schema_version: SCHEMA_VERSION,
            ranat_version: env!("CARGO_PKG_VERSION").to_string(),
            ipv4,
            ipv6,
            port_mapping,
            topology,
            teredo,
            first_hop,
            verdict,
            duration_ms,
        }
    }
}

impl Family {
    /// This family's part of a report.
    pub fn of(self, report: &ProbeReport) -> &FamilyReport {
        match self {
            Self::Ipv4 => &report.ipv4,
            Self::Ipv6 => &report.ipv6,
        }
    }
}
