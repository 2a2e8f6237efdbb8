//! How many NATs sit between this host and the Internet, from the evidence
//! the probe gathered: the host's own address, what the gateway says its
//! external address is, and what the STUN server saw.

use std::net::{IpAddr, SocketAddr};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::portmap::{PortControlProtocol, PortMappingReport, Verification};
use crate::proto::shared_address_space::is_shared;

/// The finding, from the most to the least harmful for direct connections.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Topology {
    /// An address in 100.64.0.0/10 (RFC 6598) on this host or its gateway:
    /// the ISP's carrier-grade NAT is in the path.
    CarrierGradeNatLikely,
    /// The gateway's external address is private, or differs from what the
    /// Internet sees, or a mapping made on it is not reachable from
    /// outside: a second NAT beyond the local router.
    DoubleNat,
    /// The gateway's external address is the one the Internet sees, and a
    /// packet from outside came in through a mapping made on it.
    SingleNat,
    /// There is NAT, but no gateway proved that it is the only one: none
    /// said its external address, or none had a mapping tested from outside.
    Nat,
    /// The host's own address is the one the Internet sees.
    NoNat,
    /// No STUN answer over IPv4: nothing to compare.
    Unknown,
}

impl Topology {
    pub fn label(self) -> &'static str {
        match self {
            Self::CarrierGradeNatLikely => "carrier-grade NAT likely",
            Self::DoubleNat => "double NAT",
            Self::SingleNat => "one NAT",
            Self::Nat => "NAT (layers unknown)",
            Self::NoNat => "no NAT",
            Self::Unknown => "unknown",
        }
    }
}

/// The finding and the facts behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TopologyReport {
    pub finding: Topology,
    /// Each fact that led to the finding, in words.
    pub evidence: Vec<String>,
}

/// Reads the IPv4 evidence: the local and STUN-mapped endpoints of the
/// mapping test ("ip:port" strings of the report) and the port-mapping
/// report.
pub fn assess(
    local: Option<&str>,
    mapped: Option<&str>,
    ports: &PortMappingReport,
) -> TopologyReport {
    let ip = |s: Option<&str>| {
        s.and_then(|s| s.parse::<SocketAddr>().ok())
            .and_then(|a| match a.ip() {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            })
    };
    let (local, mapped) = (ip(local), ip(mapped));
    let mut findings = Vec::new();
    let mut evidence = Vec::new();
    let Some(public) = mapped else {
        return TopologyReport {
            finding: Topology::Unknown,
            evidence: vec!["no STUN server reported this host's public IPv4 address".into()],
        };
    };
    evidence.push(format!("the STUN server saw this host as {public}"));
    if let Some(local) = local {
        if local == public {
            findings.push(Topology::NoNat);
            evidence.push(format!(
                "this host's own address {local} is that address: no NAT"
            ));
        } else if is_shared(local) {
            findings.push(Topology::CarrierGradeNatLikely);
            evidence.push(format!(
                "this host's own address {local} is in 100.64.0.0/10, the range carriers use \
                 behind carrier-grade NAT (RFC 6598)"
            ));
        }
    }
    let gateways = [
        (
            "the UPnP gateway",
            ports.upnp.external_address,
            ports.upnp.mapping.as_ref(),
        ),
        (
            ports.pcp.protocol.map_or("the PCP gateway", |p| match p {
                PortControlProtocol::Pcp => "the PCP gateway",
                PortControlProtocol::NatPmp => "the NAT-PMP gateway",
            }),
            ports.pcp.external_address,
            ports.pcp.mapping.as_ref(),
        ),
    ];
    for (who, external, mapping) in gateways {
        let Some(IpAddr::V4(external)) = external else {
            continue;
        };
        let (finding, fact) = if external.is_unspecified() {
            (
                Topology::Nat,
                format!(
                    "{who} reports no external address (0.0.0.0): it is not connected, or sits behind another NAT"
                ),
            )
        } else if is_shared(external) {
            (
                Topology::CarrierGradeNatLikely,
                format!(
                    "{who} reports the external address {external}, in 100.64.0.0/10 (RFC 6598): the carrier's NAT is beyond it"
                ),
            )
        } else if external.is_private() || external.is_link_local() {
            (
                Topology::DoubleNat,
                format!(
                    "{who} reports the private external address {external}: another router sits between it and the Internet"
                ),
            )
        } else if external != public {
            (
                Topology::DoubleNat,
                format!(
                    "{who} reports the external address {external}, but the Internet sees {public}: another NAT lies beyond it"
                ),
            )
        } else {
            same_as_public(who, external, mapping.map(|m| &m.verification))
        };
        findings.push(finding);
        evidence.push(fact);
    }
    if ports.pcp.error_code == Some(12) {
        findings.push(Topology::DoubleNat);
        evidence.push(
            "the PCP server saw our request come from another address than ours \
             (ADDRESS_MISMATCH, RFC 6887 §8.1): a NAT sits between this host and it"
                .into(),
        );
    }
    // A gateway reporting the public address had its test said above.
    for (who, external, mapping) in [
        (
            "UPnP",
            ports.upnp.external_address,
            ports.upnp.mapping.as_ref(),
        ),
        (
            "PCP/NAT-PMP",
            ports.pcp.external_address,
            ports.pcp.mapping.as_ref(),
        ),
    ] {
        if external != Some(IpAddr::V4(public))
            && let Some(Verification::NotReached { .. }) = mapping.map(|m| &m.verification)
        {
            evidence.push(format!(
                "the {who} mapping was made, but a packet sent to it from outside never arrived"
            ));
        }
    }
    let finding = findings.into_iter().min().unwrap_or_else(|| {
        evidence.push(
            "no gateway reported its external address, so a second NAT cannot be ruled out".into(),
        );
        Topology::Nat
    });
    TopologyReport { finding, evidence }
}

/// A gateway that reports the address the Internet sees is the only NAT
/// only if the Internet reached a mapping made on it: a gateway can learn
/// that address from beyond another NAT (miniupnpd does, by STUN, when its
/// own WAN address is private or shared).
fn same_as_public(
    who: &str,
    external: std::net::Ipv4Addr,
    verification: Option<&Verification>,
) -> (Topology, String) {
    let said =
        format!("{who} reports the external address {external}, the address the Internet sees");
    match verification {
        Some(Verification::Reached { .. }) => (
            Topology::SingleNat,
            format!("{said}, and a packet from outside came in through its test mapping"),
        ),
        Some(Verification::NotReached { .. }) => (
            Topology::DoubleNat,
            format!(
                "{said}, yet a packet sent from outside to its test mapping never arrived: \
                 another NAT (or a firewall) lies beyond it"
            ),
        ),
        _ => (
            Topology::Nat,
            format!(
                "{said}, but no mapping on it was tested from outside, so another NAT beyond it \
                 (which it may have looked through by STUN) is not ruled out"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{MappingStatus, PortControlReport, TestMapping, UpnpReport};

    /// Gateways reporting these external addresses, each with a test
    /// mapping the STUN server reached.
    fn ports(upnp: Option<&str>, pcp: Option<&str>) -> PortMappingReport {
        let mut report = PortMappingReport::skipped("test");
        if let Some(ip) = upnp {
            report.upnp = UpnpReport {
                status: MappingStatus::Works,
                external_address: Some(ip.parse().unwrap()),
                mapping: Some(mapping(ip, reached())),
                ..UpnpReport::skipped("")
            };
        }
        if let Some(ip) = pcp {
            report.pcp = PortControlReport {
                status: MappingStatus::Works,
                protocol: Some(PortControlProtocol::Pcp),
                external_address: Some(ip.parse().unwrap()),
                mapping: Some(mapping(ip, reached())),
                ..PortControlReport::skipped("")
            };
        }
        report
    }

    const SERVER: &str = "198.51.100.10:3478";

    fn reached() -> Verification {
        Verification::Reached {
            server: SERVER.parse().unwrap(),
            public: None,
        }
    }

    fn mapping(external: &str, verification: Verification) -> TestMapping {
        TestMapping {
            internal: "10.0.1.2:40000".parse().unwrap(),
            external: SocketAddr::new(external.parse().unwrap(), 40_000),
            lease_seconds: 60,
            conflicts: 0,
            verification,
            deleted: true,
            delete_error: None,
        }
    }

    const LOCAL: Option<&str> = Some("10.0.1.2:50000");
    const MAPPED: Option<&str> = Some("203.0.113.1:50000");

    #[test]
    fn the_gateway_seeing_the_public_address_is_one_nat() {
        let r = assess(
            LOCAL,
            MAPPED,
            &ports(Some("203.0.113.1"), Some("203.0.113.1")),
        );
        assert_eq!(r.finding, Topology::SingleNat);
    }

    /// miniupnpd behind a carrier's NAT learns the public address by STUN
    /// and reports it, but the Internet does not reach its mappings (seen
    /// in the test bed, `scripts/testnet.sh --only stacked`).
    #[test]
    fn the_public_address_with_an_unreachable_mapping_is_double_nat() {
        let mut p = ports(Some("203.0.113.1"), Some("203.0.113.1"));
        let server = SERVER.parse().unwrap();
        for m in [&mut p.upnp.mapping, &mut p.pcp.mapping] {
            m.as_mut().unwrap().verification = Verification::NotReached { server };
        }
        let r = assess(LOCAL, MAPPED, &p);
        assert_eq!(r.finding, Topology::DoubleNat);
        assert!(
            r.evidence
                .iter()
                .any(|e| e.contains("UPnP") && e.contains("never arrived")),
            "{:?}",
            r.evidence
        );
        // One gateway's reached mapping does not outweigh the other's
        // unreachable one.
        p.pcp.mapping.as_mut().unwrap().verification = reached();
        assert_eq!(assess(LOCAL, MAPPED, &p).finding, Topology::DoubleNat);
    }

    /// The same miniupnpd behind a symmetric NAT refuses every mapping
    /// (UPnP 501, PCP NO_RESOURCES): its word alone proves no single NAT.
    #[test]
    fn the_public_address_without_a_tested_mapping_leaves_the_layers_open() {
        let mut p = ports(Some("203.0.113.1"), None);
        p.upnp.status = MappingStatus::Refused;
        p.upnp.mapping = None;
        let r = assess(LOCAL, MAPPED, &p);
        assert_eq!(r.finding, Topology::Nat);
        assert!(
            r.evidence.iter().any(|e| e.contains("not ruled out")),
            "{:?}",
            r.evidence
        );
        p.upnp.status = MappingStatus::Unverified;
        p.upnp.mapping = Some(mapping("203.0.113.1", Verification::NoServer));
        assert_eq!(assess(LOCAL, MAPPED, &p).finding, Topology::Nat);
        // A reached PCP mapping settles it.
        let mut both = ports(None, Some("203.0.113.1"));
        both.upnp = p.upnp;
        assert_eq!(assess(LOCAL, MAPPED, &both).finding, Topology::SingleNat);
    }

    #[test]
    fn a_private_gateway_address_is_double_nat_even_if_pcp_disagrees() {
        let r = assess(
            LOCAL,
            MAPPED,
            &ports(Some("192.168.0.2"), Some("203.0.113.1")),
        );
        assert_eq!(r.finding, Topology::DoubleNat);
        assert!(r.evidence.iter().any(|e| e.contains("192.168.0.2")));
    }

    #[test]
    fn shared_address_space_points_at_the_carrier() {
        let r = assess(LOCAL, MAPPED, &ports(Some("100.64.3.4"), None));
        assert_eq!(r.finding, Topology::CarrierGradeNatLikely);
        let r = assess(Some("100.100.0.9:4000"), MAPPED, &ports(None, None));
        assert_eq!(r.finding, Topology::CarrierGradeNatLikely);
    }

    #[test]
    fn every_private_and_shared_gateway_address_is_classified() {
        for ip in ["10.0.0.2", "172.20.1.1", "192.168.0.2", "169.254.1.1"] {
            let r = assess(LOCAL, MAPPED, &ports(Some(ip), None));
            assert_eq!(r.finding, Topology::DoubleNat, "{ip}");
        }
        for ip in ["100.64.0.1", "100.127.255.254"] {
            let r = assess(LOCAL, MAPPED, &ports(None, Some(ip)));
            assert_eq!(r.finding, Topology::CarrierGradeNatLikely, "{ip}");
        }
    }

    #[test]
    fn a_public_gateway_address_the_internet_does_not_see_is_double_nat() {
        let r = assess(LOCAL, MAPPED, &ports(Some("198.51.100.7"), None));
        assert_eq!(r.finding, Topology::DoubleNat);
    }

    #[test]
    fn pcp_address_mismatch_is_double_nat() {
        let mut p = ports(None, None);
        p.pcp.error_code = Some(12);
        assert_eq!(assess(LOCAL, MAPPED, &p).finding, Topology::DoubleNat);
    }

    #[test]
    fn without_gateway_evidence_the_layers_are_unknown() {
        let r = assess(LOCAL, MAPPED, &ports(None, None));
        assert_eq!(r.finding, Topology::Nat);
        assert_eq!(
            assess(LOCAL, None, &ports(None, None)).finding,
            Topology::Unknown
        );
        let unconnected = assess(LOCAL, MAPPED, &ports(Some("0.0.0.0"), None));
        assert_eq!(unconnected.finding, Topology::Nat);
    }

    #[test]
    fn the_host_owning_the_public_address_has_no_nat() {
        let r = assess(MAPPED, MAPPED, &ports(None, None));
        assert_eq!(r.finding, Topology::NoNat);
    }
}
