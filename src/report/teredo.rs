//! The Teredo part of the report, laid out like `netsh interface teredo
//! show state`, plus what RFC 4380 and the RFC 6081 extensions make of it.

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV4};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::family::FamilyReport;
use crate::proto::nat::PortAllocationKind;
use crate::proto::teredo::{QualificationOutcome, TeredoNat, TeredoState};

/// What the Teredo qualification found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TeredoReport {
    /// `qualified`, `offline`, or `skipped` when not run. A client with the
    /// RFC 6081 extensions (Windows 7 and later) keeps its address behind a
    /// symmetric NAT, so "qualified" does not imply `rfc4380_qualifies`.
    pub state: TeredoReportState,
    /// The server as given, and the addresses probed.
    pub server_name: Option<String>,
    pub server: Option<SocketAddrV4>,
    pub secondary: Option<SocketAddrV4>,
    pub secondary_answered: Option<bool>,
    /// The NAT as Teredo sees it.
    pub nat_type: Option<TeredoNat>,
    /// `false` when the mapping equals the local endpoint.
    pub behind_nat: Option<bool>,
    /// netsh's "NAT Special Behaviour".
    pub nat_special: NatSpecial,
    /// netsh's "Local Mapping" and "External NAT Mapping".
    pub local_mapping: Option<SocketAddr>,
    pub external_mapping: Option<SocketAddrV4>,
    /// The mapped port each server address saw (differs behind a symmetric NAT).
    pub mapped_port_via_primary: Option<u16>,
    pub mapped_port_via_secondary: Option<u16>,
    /// The address an RFC 4380 client would take (cone flag only when cone).
    pub teredo_address: Option<Ipv6Addr>,
    pub mtu: Option<u32>,
    pub rtt_ms: Option<f64>,
    /// Whether a plain RFC 4380 client qualifies (not behind a symmetric NAT).
    pub rfc4380_qualifies: Option<bool>,
    /// The RFC 6081 extensions that apply behind this NAT.
    pub rfc6081_extensions: Vec<Rfc6081Extension>,
    /// A Teredo interface this host already has (e.g. miredo running).
    pub existing_interface: Option<ExistingInterface>,
    /// Why something is missing or odd, in words.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TeredoReportState {
    Qualified,
    Offline,
    Skipped,
}

/// netsh's "NAT Special Behaviour: UPNP: …, PortPreserving: …", from the
/// port-mapping check and the STUN probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct NatSpecial {
    pub upnp: Option<bool>,
    pub port_preserving: Option<bool>,
}

/// The RFC 6081 extensions (§3.1–§3.6 of its overview; §4 onwards specify them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rfc6081Extension {
    /// Keeps the address behind a symmetric NAT; reaches cone and
    /// address-restricted peers.
    SymmetricNat,
    /// A UPnP mapping of the Teredo port makes a symmetric NAT behave as cone.
    UpnpSymmetricNat,
    /// A port-preserving symmetric NAT: the port is predictable.
    PortPreservingNat,
    /// A sequential port-symmetric NAT: the next port is predictable.
    SequentialPortNat,
    /// Peers behind the same NAT talk over their local addresses.
    Hairpinning,
    /// Direct bubbles refresh peers instead of indirect ones.
    ServerLoadReduction,
}

impl Rfc6081Extension {
    pub fn label(self) -> &'static str {
        match self {
            Self::SymmetricNat => "symmetric NAT support",
            Self::UpnpSymmetricNat => "UPnP-enabled symmetric NAT",
            Self::PortPreservingNat => "port-preserving symmetric NAT",
            Self::SequentialPortNat => "sequential port-symmetric NAT",
            Self::Hairpinning => "hairpinning",
            Self::ServerLoadReduction => "server load reduction",
        }
    }
}

/// A Teredo interface already on this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExistingInterface {
    pub name: String,
    pub address: Ipv6Addr,
}

impl TeredoReport {
    pub fn skipped(why: impl Into<String>, existing: Option<ExistingInterface>) -> Self {
        Self {
            state: TeredoReportState::Skipped,
            server_name: None,
            server: None,
            secondary: None,
            secondary_answered: None,
            nat_type: None,
            behind_nat: None,
            nat_special: NatSpecial::default(),
            local_mapping: None,
            external_mapping: None,
            mapped_port_via_primary: None,
            mapped_port_via_secondary: None,
            teredo_address: None,
            mtu: None,
            rtt_ms: None,
            rfc4380_qualifies: None,
            rfc6081_extensions: Vec::new(),
            existing_interface: existing,
            notes: vec![why.into()],
        }
    }

    /// The report of a qualification run; `special` and `ipv4` (the STUN
    /// probe) decide which RFC 6081 extensions apply.
    pub fn from_outcome(
        outcome: &QualificationOutcome,
        server_name: Option<String>,
        special: NatSpecial,
        ipv4: &FamilyReport,
        existing: Option<ExistingInterface>,
    ) -> Self {
        let qualified = outcome.state == TeredoState::Qualified;
        let nat = qualified.then_some(outcome.nat);
        let [(_, via_primary), (_, via_secondary)] = outcome.mapped_ports();
        let mut report = Self {
            state: if qualified {
                TeredoReportState::Qualified
            } else {
                TeredoReportState::Offline
            },
            server_name,
            server: Some(outcome.primary),
            secondary: Some(outcome.secondary),
            secondary_answered: Some(outcome.secondary_answered),
            nat_type: nat,
            behind_nat: outcome.behind_nat,
            nat_special: special,
            local_mapping: outcome.local_mapping,
            external_mapping: outcome.external_mapping,
            mapped_port_via_primary: via_primary,
            mapped_port_via_secondary: via_secondary,
            teredo_address: outcome.teredo_address.map(|a| a.to_ipv6()),
            mtu: outcome.mtu,
            rtt_ms: outcome.rtt.map(|d| d.as_secs_f64() * 1000.0),
            rfc4380_qualifies: outcome.rfc4380_qualifies,
            rfc6081_extensions: Vec::new(),
            existing_interface: existing,
            notes: outcome.notes.clone(),
        };
        if qualified {
            report.rfc6081_extensions = extensions(outcome.nat, outcome.behind_nat, special, ipv4);
        }
        report
    }
}

/// Which RFC 6081 extensions come into play behind this NAT (RFC 6081 §3).
fn extensions(
    nat: TeredoNat,
    behind_nat: Option<bool>,
    special: NatSpecial,
    ipv4: &FamilyReport,
) -> Vec<Rfc6081Extension> {
    let mut out = Vec::new();
    if nat == TeredoNat::Symmetric {
        out.push(Rfc6081Extension::SymmetricNat);
        if special.upnp == Some(true) {
            out.push(Rfc6081Extension::UpnpSymmetricNat);
        }
        if special.port_preserving == Some(true) {
            out.push(Rfc6081Extension::PortPreservingNat);
        }
        if ipv4
            .port_allocation
            .is_some_and(|a| a.kind == PortAllocationKind::Sequential)
        {
            out.push(Rfc6081Extension::SequentialPortNat);
        }
    }
    if behind_nat != Some(false) {
        out.push(Rfc6081Extension::Hairpinning);
    }
    out.push(Rfc6081Extension::ServerLoadReduction);
    out
}
