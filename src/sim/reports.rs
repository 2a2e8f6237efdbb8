//! The scenario space the sweeps run over, and the report `ranat probe`
//! would write in each of its places: the real discovery machine run in
//! the lab, checked against the NAT it ran behind.

use std::net::SocketAddr;

use super::lab::{self, Conditions, Gateway, Server};
use super::nat::NatBehavior;
use crate::proto::nat::DiscoveryConfig;
use crate::report::{
    FamilyReport, FamilyStatus, PortMappingReport, ProbeReport, ServerResult, TeredoReport, combine,
};

/// Every gateway of the scenario space; `seed` varies random allocators.
pub fn gateways(seed: u64) -> Vec<Gateway> {
    let nats = NatBehavior::every(seed).map(|behavior| Gateway::Nat {
        behavior,
        firewall_only: false,
    });
    [Gateway::None, Gateway::Blocked]
        .into_iter()
        .chain(nats)
        .collect()
}

/// The report `ranat probe` would write behind `gateway`, from the real
/// discovery machine run in the lab.
pub fn probe(gateway: Gateway) -> ProbeReport {
    let (observation, _) = lab::run(
        gateway,
        Server::Full,
        Conditions::default(),
        DiscoveryConfig::new,
    );
    if let Gateway::Nat { behavior, .. } = gateway {
        assert_eq!(observation.mapping, Some(behavior.mapping), "{gateway:?}");
        assert_eq!(
            observation.filtering,
            Some(behavior.filtering),
            "{gateway:?}"
        );
        assert_eq!(
            observation.hairpinning,
            Some(behavior.hairpinning),
            "{gateway:?}"
        );
    }
    let server: SocketAddr = "198.51.100.1:3478".parse().expect("constant");
    let ipv4 = combine(
        vec![ServerResult {
            name: None,
            address: server,
            observation: Ok(observation),
        }],
        Vec::new(),
    );
    let ipv6 = FamilyReport::unmeasured(FamilyStatus::Unavailable, "simulated: no IPv6");
    ProbeReport::assemble(
        ipv4,
        ipv6,
        PortMappingReport::skipped("simulated: no gateway protocols"),
        TeredoReport::skipped("simulated: no Teredo", None),
        0,
    )
}
