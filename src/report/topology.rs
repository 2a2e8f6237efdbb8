//! How many NATs sit between this host and the Internet, from the evidence
//! the probe gathered: the host's own address, what the gateway says its
//! external address is, and what the STUN server saw.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::portmap::{PortControlProtocol, PortMappingReport, Verification};
use super::shared_address_space::is_shared;

/// The finding, from the most to the least harmful for direct connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topology {
    /// An address in 100.64.0.0/10 (RFC 6598) on this host or its gateway:
    /// the ISP's carrier-grade NAT is in the path.
    CarrierGradeNatLikely,
    /// The gateway's external address is private, or differs from what the
    /// Internet sees: a second NAT beyond the local router.
    DoubleNat,
    /// The gateway's external address is the one the Internet sees.
    SingleNat,
    /// There is NAT, but no gateway said its external address, so a second
    /// one cannot be ruled out.
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
            evidence: vec!["no STUN server answered over IPv4".into()],
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
        ("the UPnP gateway", ports.upnp.external_address),
        (
            ports.pcp.protocol.map_or("the PCP gateway", |p| match p {
                PortControlProtocol::Pcp => "the PCP gateway",
                PortControlProtocol::NatPmp => "the NAT-PMP gateway",
            }),
            ports.pcp.external_address,
        ),
    ];
    for (who, external) in gateways {
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
            (
                Topology::SingleNat,
                format!(
                    "{who} reports the external address {external}, the address the Internet sees"
                ),
            )
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
    for (who, mapping) in [
        ("UPnP", ports.upnp.mapping.as_ref()),
        ("PCP/NAT-PMP", ports.pcp.mapping.as_ref()),
    ] {
        if let Some(Verification::NotReached { .. }) = mapping.map(|m| &m.verification) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{MappingStatus, PortControlReport, UpnpReport};

    fn ports(upnp: Option<&str>, pcp: Option<&str>) -> PortMappingReport {
        let mut report = PortMappingReport::skipped("test");
        if let Some(ip) = upnp {
            report.upnp = UpnpReport {
                status: MappingStatus::Works,
                external_address: Some(ip.parse().unwrap()),
                ..UpnpReport::skipped("")
            };
        }
        if let Some(ip) = pcp {
            report.pcp = PortControlReport {
                status: MappingStatus::Works,
                protocol: Some(PortControlProtocol::Pcp),
                external_address: Some(ip.parse().unwrap()),
                ..PortControlReport::skipped("")
            };
        }
        report
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
