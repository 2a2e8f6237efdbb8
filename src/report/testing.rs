//! Hand-built reports for the presentation tests: one family per classic
//! NAT type, with the fields a real probe of that network would fill.

use crate::proto::nat::{
    ClassicNatType, FilteringBehavior, MappingBehavior, PortAllocation, PortAllocationKind,
};

use super::address_family::Family;
use super::family::{FamilyReport, FamilyStatus, ServerReport, verdict};
use super::first_hop::{first_hop, unresolved_family};
use super::model::{ProbeReport, SCHEMA_VERSION};
use super::portmap::PortMappingReport;
use super::teredo::TeredoReport;
use super::topology::{Topology, TopologyReport};
use super::unresolved::{DnsFailure, UnresolvedServer};

/// A server that answered, with its own view of the NAT.
pub fn server(address: &str, capable: bool, rtt_ms: f64, classic: ClassicNatType) -> ServerReport {
    ServerReport {
        address: address.to_string(),
        name: Some("stun.example.net".to_string()),
        reachable: true,
        behavior_capable: capable,
        rtt_ms: Some(rtt_ms),
        other_address: capable.then(|| "198.51.100.2:3479".to_string()),
        mapped_address: Some("203.0.113.7:40000".to_string()),
        classic,
        mapping: None,
        filtering: None,
        hairpinning: None,
        notes: Vec::new(),
    }
}

/// A server that never answered.
pub fn silent_server(address: &str) -> ServerReport {
    ServerReport {
        address: address.to_string(),
        name: None,
        reachable: false,
        behavior_capable: false,
        rtt_ms: None,
        other_address: None,
        mapped_address: None,
        classic: ClassicNatType::UdpBlocked,
        mapping: None,
        filtering: None,
        hairpinning: None,
        notes: vec!["no answer after 7 retransmissions".to_string()],
    }
}

/// A classified IPv4 family whose fields match `classic`, measured against
/// two behaviour-capable servers that agreed.
pub fn classified(classic: ClassicNatType) -> FamilyReport {
    use FilteringBehavior as F;
    use MappingBehavior as M;
    let (behind_nat, mapping, filtering) = match classic {
        ClassicNatType::OpenInternet => (false, M::EndpointIndependent, F::EndpointIndependent),
        ClassicNatType::FullCone => (true, M::EndpointIndependent, F::EndpointIndependent),
        ClassicNatType::RestrictedCone => (true, M::EndpointIndependent, F::AddressDependent),
        ClassicNatType::PortRestrictedCone => {
            (true, M::EndpointIndependent, F::AddressAndPortDependent)
        }
        ClassicNatType::Symmetric => (true, M::AddressAndPortDependent, F::AddressAndPortDependent),
        ClassicNatType::SymmetricUdpFirewall => {
            (false, M::EndpointIndependent, F::AddressAndPortDependent)
        }
        ClassicNatType::UdpBlocked | ClassicNatType::Inconclusive => {
            panic!("not a classified type: {classic:?}")
        }
    };
    let symmetric = classic == ClassicNatType::Symmetric;
    let local = if behind_nat {
        "192.168.1.10:40000"
    } else {
        "203.0.113.7:40000"
    };
    FamilyReport {
        status: FamilyStatus::Ok,
        local_address: Some(local.to_string()),
        mapped_address: Some(
            if symmetric {
                "203.0.113.7:20001"
            } else {
                "203.0.113.7:40000"
            }
            .to_string(),
        ),
        classic,
        mapping: Some(mapping),
        filtering: Some(filtering),
        hairpinning: behind_nat.then_some(!symmetric),
        port_preservation: Some(!symmetric),
        port_allocation: Some(if symmetric {
            PortAllocation {
                kind: PortAllocationKind::Sequential,
                delta: Some(1),
            }
        } else {
            PortAllocation {
                kind: PortAllocationKind::Preserving,
                delta: None,
            }
        }),
        servers_agree: Some(true),
        servers: vec![
            server("198.51.100.1:3478", true, 12.34, classic),
            server("192.0.2.1:3478", true, 40.0, classic),
        ],
        unresolved: Vec::new(),
        notes: Vec::new(),
        binding_lifetime: None,
        tcp: None,
    }
}

/// A family where servers answered but none could run the behaviour tests.
pub fn inconclusive() -> FamilyReport {
    FamilyReport {
        status: FamilyStatus::Inconclusive,
        local_address: Some("192.168.1.10:40000".to_string()),
        mapped_address: Some("203.0.113.7:40000".to_string()),
        classic: ClassicNatType::Inconclusive,
        mapping: Some(MappingBehavior::EndpointIndependent),
        filtering: None,
        hairpinning: None,
        port_preservation: None,
        port_allocation: None,
        servers_agree: None,
        servers: vec![server(
            "198.51.100.1:3478",
            false,
            20.0,
            ClassicNatType::Inconclusive,
        )],
        unresolved: Vec::new(),
        notes: vec!["198.51.100.1:3478 sent no OTHER-ADDRESS.".to_string()],
        binding_lifetime: None,
        tcp: None,
    }
}

/// A family where two servers were tried and neither answered.
pub fn udp_blocked() -> FamilyReport {
    let mut family = FamilyReport::unmeasured(FamilyStatus::UdpBlocked, "no server answered");
    family.local_address = Some("192.168.1.10:40000".to_string());
    family.servers = vec![
        silent_server("198.51.100.1:3478"),
        silent_server("192.0.2.1:3478"),
    ];
    family
}

/// An IPv6 family with no server.
pub fn no_ipv6() -> FamilyReport {
    FamilyReport::unmeasured(
        FamilyStatus::NoServer,
        "No IPv6 STUN server was given or resolved.",
    )
}

/// A server name that gave no address of a family.
pub fn unresolved(server: &str, reason: DnsFailure) -> UnresolvedServer {
    UnresolvedServer {
        server: server.to_string(),
        reason,
    }
}

/// A family whose two server names got no answer from DNS; `routed` says
/// whether the host has a route for it.
pub fn dns_silent(family: Family, routed: bool) -> FamilyReport {
    unresolved_family(
        family,
        vec![
            unresolved("stun.example.org", DnsFailure::NoAnswer),
            unresolved("stun.example.net:3478", DnsFailure::NoAnswer),
        ],
        routed,
    )
}

/// A family skipped with `-4` or `-6`.
pub fn skipped(note: &str) -> FamilyReport {
    FamilyReport::unmeasured(FamilyStatus::NoServer, note)
}

/// A report of two families with the verdict the probe would give.
pub fn report(ipv4: FamilyReport, ipv6: FamilyReport) -> ProbeReport {
    let verdict = verdict(&[&ipv4, &ipv6]);
    let first_hop = first_hop(&[&ipv4, &ipv6]);
    ProbeReport {
        schema_version: SCHEMA_VERSION,
        ranat_version: "0.1.0".to_string(),
        ipv4,
        ipv6,
        port_mapping: PortMappingReport::skipped("not checked (--no-portmap)"),
        topology: TopologyReport {
            finding: Topology::Unknown,
            evidence: vec!["no STUN server reported this host's public IPv4 address".into()],
        },
        teredo: TeredoReport::skipped("not checked (--no-teredo)", None),
        first_hop,
        verdict,
        duration_ms: 2345,
    }
}

/// The six classic types a probe can classify.
pub const CLASSIFIED: [ClassicNatType; 6] = [
    ClassicNatType::OpenInternet,
    ClassicNatType::FullCone,
    ClassicNatType::RestrictedCone,
    ClassicNatType::PortRestrictedCone,
    ClassicNatType::Symmetric,
    ClassicNatType::SymmetricUdpFirewall,
];
