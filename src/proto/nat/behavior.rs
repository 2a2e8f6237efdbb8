//! The vocabulary of NAT behaviour: RFC 4787 mapping and filtering, and the
//! classic RFC 3489 labels derived from them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a NAT reuses an external mapping for one internal endpoint
/// (RFC 4787 §4.1, tested per RFC 5780 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MappingBehavior {
    /// The same mapping for every destination.
    EndpointIndependent,
    /// A new mapping for each destination IP address.
    AddressDependent,
    /// A new mapping for each destination IP address and port.
    AddressAndPortDependent,
}

impl MappingBehavior {
    /// Every behaviour, most traversal-friendly first.
    pub const ALL: [Self; 3] = [
        Self::EndpointIndependent,
        Self::AddressDependent,
        Self::AddressAndPortDependent,
    ];

    /// RFC 4787 §4.1's words.
    pub fn words(self) -> &'static str {
        match self {
            Self::EndpointIndependent => "endpoint-independent",
            Self::AddressDependent => "address-dependent",
            Self::AddressAndPortDependent => "address and port-dependent",
        }
    }
}

/// Which inbound packets a NAT or firewall lets through to a mapping
/// (RFC 4787 §5, tested per RFC 5780 §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilteringBehavior {
    /// Packets from any external endpoint are let in.
    EndpointIndependent,
    /// Only packets from an IP address the client has sent to.
    AddressDependent,
    /// Only packets from an IP address and port the client has sent to.
    AddressAndPortDependent,
}

impl FilteringBehavior {
    /// Every behaviour, most traversal-friendly first.
    pub const ALL: [Self; 3] = [
        Self::EndpointIndependent,
        Self::AddressDependent,
        Self::AddressAndPortDependent,
    ];
}

/// The classic RFC 3489 §5 label, derived from mapping and filtering for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClassicNatType {
    OpenInternet,
    FullCone,
    RestrictedCone,
    PortRestrictedCone,
    Symmetric,
    SymmetricUdpFirewall,
    UdpBlocked,
    Inconclusive,
}

impl ClassicNatType {
    /// The classic label for a measured behaviour.
    ///
    /// `behind_nat` is false when the mapped address equals the local one
    /// (RFC 3489 §10.1: "open internet" or "symmetric UDP firewall").
    pub fn derive(
        behind_nat: bool,
        mapping: Option<MappingBehavior>,
        filtering: Option<FilteringBehavior>,
    ) -> Self {
        use FilteringBehavior as F;
        use MappingBehavior as M;
        if !behind_nat {
            return match filtering {
                Some(F::EndpointIndependent) => Self::OpenInternet,
                Some(_) => Self::SymmetricUdpFirewall,
                None => Self::Inconclusive,
            };
        }
        match (mapping, filtering) {
            (Some(M::AddressDependent | M::AddressAndPortDependent), _) => Self::Symmetric,
            (Some(M::EndpointIndependent), Some(F::EndpointIndependent)) => Self::FullCone,
            (Some(M::EndpointIndependent), Some(F::AddressDependent)) => Self::RestrictedCone,
            (Some(M::EndpointIndependent), Some(F::AddressAndPortDependent)) => {
                Self::PortRestrictedCone
            }
            _ => Self::Inconclusive,
        }
    }

    /// Open internet, any cone, or a stateful firewall that keeps one mapping:
    /// UDP hole punching works with most peers.
    pub fn is_traversal_friendly(self) -> bool {
        matches!(
            self,
            Self::OpenInternet
                | Self::FullCone
                | Self::RestrictedCone
                | Self::PortRestrictedCone
                | Self::SymmetricUdpFirewall
        )
    }

    /// A short human name.
    pub fn label(self) -> &'static str {
        match self {
            Self::OpenInternet => "open internet (no NAT)",
            Self::FullCone => "full cone NAT",
            Self::RestrictedCone => "restricted cone NAT",
            Self::PortRestrictedCone => "port-restricted cone NAT",
            Self::Symmetric => "symmetric NAT",
            Self::SymmetricUdpFirewall => "no NAT, stateful UDP firewall",
            Self::UdpBlocked => "UDP blocked",
            Self::Inconclusive => "inconclusive",
        }
    }
}

/// How a NAT picks external ports for new mappings, measured from a burst of
/// mappings: the input for port prediction (RFC 5128 §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PortAllocationKind {
    /// The external port equals the internal port.
    Preserving,
    /// Each new mapping takes the previous port plus a fixed delta.
    Sequential,
    /// No pattern was found.
    Random,
}

/// A measured port-allocation pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PortAllocation {
    pub kind: PortAllocationKind,
    /// The step between consecutive mappings, for `Sequential`.
    pub delta: Option<i32>,
}

impl PortAllocation {
    /// Classifies a burst of mappings given as `(position, local port,
    /// mapped port)`, where `position` is the order in which the mappings
    /// were created. Positions may have gaps (a lost answer): the step is
    /// judged per position, so a gap does not fake a larger delta. Needs at
    /// least three samples.
    pub fn classify(samples: &[(u32, u16, u16)]) -> Option<Self> {
        if samples.len() < 3 {
            return None;
        }
        if samples.iter().all(|(_, local, mapped)| local == mapped) {
            return Some(Self {
                kind: PortAllocationKind::Preserving,
                delta: None,
            });
        }
        let mut steps = samples.windows(2).map(|w| {
            let positions = i64::from(w[1].0) - i64::from(w[0].0);
            let ports = i64::from(w[1].2) - i64::from(w[0].2);
            (positions > 0 && ports % positions == 0).then(|| ports / positions)
        });
        let first = steps.next().flatten();
        let sequential = first
            .filter(|d| *d != 0 && d.abs() <= MAX_SEQUENTIAL_DELTA)
            .filter(|d| steps.all(|s| s == Some(*d)));
        Some(match sequential {
            Some(delta) => Self {
                kind: PortAllocationKind::Sequential,
                delta: Some(delta as i32),
            },
            None => Self {
                kind: PortAllocationKind::Random,
                delta: None,
            },
        })
    }
}

/// The largest step still called sequential: a larger regular step is more
/// likely chance than a counter.
const MAX_SEQUENTIAL_DELTA: i64 = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_labels_follow_rfc3489_from_behaviour() {
        use FilteringBehavior as F;
        use MappingBehavior as M;
        let eim = Some(M::EndpointIndependent);
        assert_eq!(
            ClassicNatType::derive(true, eim, Some(F::EndpointIndependent)),
            ClassicNatType::FullCone
        );
        assert_eq!(
            ClassicNatType::derive(true, eim, Some(F::AddressDependent)),
            ClassicNatType::RestrictedCone
        );
        assert_eq!(
            ClassicNatType::derive(true, eim, Some(F::AddressAndPortDependent)),
            ClassicNatType::PortRestrictedCone
        );
        assert_eq!(
            ClassicNatType::derive(true, Some(M::AddressDependent), None),
            ClassicNatType::Symmetric
        );
        assert_eq!(
            ClassicNatType::derive(false, None, Some(F::EndpointIndependent)),
            ClassicNatType::OpenInternet
        );
        assert_eq!(
            ClassicNatType::derive(false, None, Some(F::AddressDependent)),
            ClassicNatType::SymmetricUdpFirewall
        );
        assert_eq!(
            ClassicNatType::derive(true, eim, None),
            ClassicNatType::Inconclusive
        );
    }

    #[test]
    fn allocation_patterns() {
        let preserving = [(0, 4000, 4000), (1, 4001, 4001), (2, 5000, 5000)];
        assert_eq!(
            PortAllocation::classify(&preserving).unwrap().kind,
            PortAllocationKind::Preserving
        );
        let seq = [
            (0, 4000, 20000),
            (1, 4100, 20001),
            (2, 3000, 20002),
            (3, 3001, 20003),
        ];
        let sequential = Some(PortAllocation {
            kind: PortAllocationKind::Sequential,
            delta: Some(1),
        });
        assert_eq!(PortAllocation::classify(&seq), sequential);
        // A lost answer leaves a gap, not a step of two.
        let gap = [(0, 4000, 20000), (1, 4100, 20001), (3, 3001, 20003)];
        assert_eq!(PortAllocation::classify(&gap), sequential);
        let down = [(0, 1, 900), (1, 2, 898), (2, 3, 896)];
        assert_eq!(PortAllocation::classify(&down).unwrap().delta, Some(-2));
        let random = [
            (0, 4000, 31234),
            (1, 4001, 1042),
            (2, 4002, 50111),
            (3, 4003, 7777),
        ];
        assert_eq!(
            PortAllocation::classify(&random).unwrap().kind,
            PortAllocationKind::Random
        );
        assert_eq!(PortAllocation::classify(&random[..2]), None);
    }
}
