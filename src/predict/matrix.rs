//! The type-by-type table behind `ranat matrix`: synthetic reports for each
//! classic NAT type, and both headlines for every (novice, helper) pair.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::proto::nat::{
    ClassicNatType, FilteringBehavior, MappingBehavior, PortAllocation, PortAllocationKind,
};
use crate::proto::teredo::TeredoNat;
use crate::report::{
    FamilyReport, FamilyStatus, MappingStatus, NatSpecial, PortControlReport, PortMappingReport,
    ProbeReport, Rfc6081Extension, TeredoReport, TeredoReportState, UpnpReport,
};

use super::pair::predict;
use super::prediction::Headline;

/// A classic NAT type as the matrix shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NatProfile {
    /// A public address, no NAT, no filtering.
    OpenInternet,
    /// EIM + EIF.
    FullCone,
    /// EIM + ADF.
    RestrictedCone,
    /// EIM + APDF.
    PortRestrictedCone,
    /// APDM + APDF, random port allocation.
    SymmetricRandom,
    /// APDM + APDF, sequential port allocation (step +1).
    SymmetricSequential,
    /// No UDP gets out.
    UdpBlocked,
}

impl NatProfile {
    pub const ALL: [Self; 7] = [
        Self::OpenInternet,
        Self::FullCone,
        Self::RestrictedCone,
        Self::PortRestrictedCone,
        Self::SymmetricRandom,
        Self::SymmetricSequential,
        Self::UdpBlocked,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::OpenInternet => "open internet",
            Self::FullCone => "full cone",
            Self::RestrictedCone => "restricted cone",
            Self::PortRestrictedCone => "port-restricted cone",
            Self::SymmetricRandom => "symmetric (random ports)",
            Self::SymmetricSequential => "symmetric (sequential ports)",
            Self::UdpBlocked => "UDP blocked",
        }
    }

    fn behaviour(self) -> Option<(bool, MappingBehavior, FilteringBehavior)> {
        use FilteringBehavior as F;
        use MappingBehavior as M;
        Some(match self {
            Self::OpenInternet => (false, M::EndpointIndependent, F::EndpointIndependent),
            Self::FullCone => (true, M::EndpointIndependent, F::EndpointIndependent),
            Self::RestrictedCone => (true, M::EndpointIndependent, F::AddressDependent),
            Self::PortRestrictedCone => (true, M::EndpointIndependent, F::AddressAndPortDependent),
            Self::SymmetricRandom | Self::SymmetricSequential => {
                (true, M::AddressAndPortDependent, F::AddressAndPortDependent)
            }
            Self::UdpBlocked => return None,
        })
    }

    fn allocation(self) -> PortAllocation {
        match self {
            Self::SymmetricRandom => PortAllocation {
                kind: PortAllocationKind::Random,
                delta: None,
            },
            Self::SymmetricSequential => PortAllocation {
                kind: PortAllocationKind::Sequential,
                delta: Some(1),
            },
            _ => PortAllocation {
                kind: PortAllocationKind::Preserving,
                delta: None,
            },
        }
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MatrixRow {
    pub novice: NatProfile,
    pub helper: NatProfile,
    pub windows_remote_assistance: Headline,
    pub ranat: Headline,
}

/// The public addresses the two synthetic sides get (documentation ranges).
const NOVICE_PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);
const HELPER_PUBLIC: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 9);

/// Both headlines for every (novice, helper) pair of [`NatProfile::ALL`],
/// from [`synthetic_report`]s.
pub fn matrix() -> Vec<MatrixRow> {
    let mut rows = Vec::new();
    for novice in NatProfile::ALL {
        for helper in NatProfile::ALL {
            let p = predict(
                &synthetic_report(novice, NOVICE_PUBLIC),
                &synthetic_report(helper, HELPER_PUBLIC),
            );
            rows.push(MatrixRow {
                novice,
                helper,
                windows_remote_assistance: p.windows_remote_assistance,
                ranat: p.ranat,
            });
        }
    }
    rows
}

/// A report as a probe of a typical network of this type would give it,
/// seen from the Internet at `public`:
///
/// - IPv4 classified by two agreeing servers; behind NAT the host is
///   192.168.1.10 with gateway 192.168.1.1; the NAT does not hairpin; cone
///   NATs preserve ports, symmetric ones allocate at random or
///   sequentially (step +1) as the profile says.
/// - No IPv6 on the host.
/// - No UPnP IGD and no PCP / NAT-PMP gateway answered.
/// - Teredo qualified with the NAT type Teredo would see (cone, restricted,
///   symmetric without UPnP; sequential ports give the RFC 6081 sequential
///   extension); offline when UDP is blocked.
pub fn synthetic_report(profile: NatProfile, public: Ipv4Addr) -> ProbeReport {
    let behaviour = profile.behaviour();
    let behind_nat = behaviour.is_none_or(|(nat, ..)| nat);
    let symmetric = matches!(
        profile,
        NatProfile::SymmetricRandom | NatProfile::SymmetricSequential
    );
    let lan_host = Ipv4Addr::new(192, 168, 1, 10);
    let gateway = Ipv4Addr::new(192, 168, 1, 1);
    let local = SocketAddr::from((if behind_nat { lan_host } else { public }, 40000));
    let mapped_port = match profile {
        NatProfile::SymmetricRandom => 51234,
        NatProfile::SymmetricSequential => 20001,
        _ => 40000,
    };
    let mapped = SocketAddrV4::new(public, mapped_port);
    let note = format!("synthetic report: {}", profile.label());
    let ipv4 = match behaviour {
        Some((nat, mapping, filtering)) => FamilyReport {
            status: FamilyStatus::Ok,
            local_address: Some(local.to_string()),
            mapped_address: Some(mapped.to_string()),
            classic: ClassicNatType::derive(nat, Some(mapping), Some(filtering)),
            mapping: Some(mapping),
            filtering: Some(filtering),
            hairpinning: nat.then_some(false),
            port_preservation: Some(!symmetric),
            port_allocation: Some(profile.allocation()),
            servers_agree: Some(true),
            servers: Vec::new(),
            unresolved: Vec::new(),
            notes: vec![note.clone()],
            binding_lifetime: None,
            tcp: None,
        },
        None => {
            let mut f = FamilyReport::unmeasured(FamilyStatus::UdpBlocked, note.clone());
            f.local_address = Some(local.to_string());
            f
        }
    };
    let ipv6 = FamilyReport::unmeasured(FamilyStatus::Unavailable, "synthetic report: no IPv6");
    let port_mapping = PortMappingReport {
        gateway: behind_nat.then_some(gateway.into()),
        upnp: UpnpReport {
            status: MappingStatus::NotFound,
            ..UpnpReport::skipped("synthetic report: no UPnP IGD answered")
        },
        pcp: PortControlReport {
            status: MappingStatus::NotFound,
            ..PortControlReport::skipped("synthetic report: no PCP or NAT-PMP gateway answered")
        },
    };
    let teredo = synthetic_teredo(profile, behind_nat, mapped, &note);
    ProbeReport::assemble(ipv4, ipv6, port_mapping, teredo, 0)
}

fn synthetic_teredo(
    profile: NatProfile,
    behind_nat: bool,
    mapped: SocketAddrV4,
    note: &str,
) -> TeredoReport {
    let base = TeredoReport::skipped(note, None);
    let nat = match profile {
        NatProfile::OpenInternet | NatProfile::FullCone => TeredoNat::Cone,
        NatProfile::RestrictedCone | NatProfile::PortRestrictedCone => TeredoNat::Restricted,
        NatProfile::SymmetricRandom | NatProfile::SymmetricSequential => TeredoNat::Symmetric,
        NatProfile::UdpBlocked => {
            return TeredoReport {
                state: TeredoReportState::Offline,
                ..base
            };
        }
    };
    let symmetric = nat == TeredoNat::Symmetric;
    let mut extensions = Vec::new();
    if symmetric {
        extensions.push(Rfc6081Extension::SymmetricNat);
        if profile == NatProfile::SymmetricSequential {
            extensions.push(Rfc6081Extension::SequentialPortNat);
        }
    }
    if behind_nat {
        extensions.push(Rfc6081Extension::Hairpinning);
    }
    extensions.push(Rfc6081Extension::ServerLoadReduction);
    TeredoReport {
        state: TeredoReportState::Qualified,
        nat_type: Some(nat),
        behind_nat: Some(behind_nat),
        nat_special: NatSpecial {
            upnp: Some(false),
            port_preserving: Some(!symmetric),
        },
        external_mapping: Some(mapped),
        rfc4380_qualifies: Some(!symmetric),
        rfc6081_extensions: extensions,
        ..base
    }
}
