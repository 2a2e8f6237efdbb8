use super::*;
use crate::proto::nat::{
    ClassicNatType, FilteringBehavior as F, MappingBehavior as M, PortAllocationKind,
};
use crate::sim::nat::Allocation;

fn nat(mapping: M, filtering: F, allocation: Allocation, hairpinning: bool) -> Gateway {
    Gateway::Nat {
        behavior: NatBehavior {
            mapping,
            filtering,
            allocation,
            hairpinning,
        },
        firewall_only: false,
    }
}

fn probe(gateway: Gateway, conditions: Conditions) -> (Observation, Duration) {
    run(gateway, Server::Full, conditions, DiscoveryConfig::new)
}

#[test]
fn every_behaviour_combination_is_measured_as_configured() {
    let allocations = [
        (Allocation::Preserving, PortAllocationKind::Preserving),
        (
            Allocation::Sequential {
                start: 20000,
                delta: 1,
            },
            PortAllocationKind::Sequential,
        ),
        (Allocation::Random { seed: 7 }, PortAllocationKind::Random),
    ];
    let mut scenarios = 0;
    for mapping in M::ALL {
        for filtering in F::ALL {
            for (allocation, kind) in allocations {
                for hairpinning in [true, false] {
                    let gateway = nat(mapping, filtering, allocation, hairpinning);
                    let (o, _) = probe(gateway, Conditions::default());
                    let what = format!("{gateway:?}");
                    assert_eq!(o.mapping, Some(mapping), "{what}");
                    assert_eq!(o.filtering, Some(filtering), "{what}");
                    assert_eq!(o.hairpinning, Some(hairpinning), "{what}");
                    assert_eq!(o.behind_nat, Some(true), "{what}");
                    assert!(o.behavior_capable, "{what}");
                    assert_eq!(o.allocation.map(|a| a.kind), Some(kind), "{what}");
                    if kind == PortAllocationKind::Sequential {
                        assert_eq!(o.allocation.and_then(|a| a.delta), Some(1), "{what}");
                    }
                    assert_eq!(
                        o.port_preservation,
                        Some(kind == PortAllocationKind::Preserving),
                        "{what}"
                    );
                    scenarios += 1;
                }
            }
        }
    }
    assert_eq!(scenarios, 54);
}

#[test]
fn sequential_allocation_with_other_deltas() {
    for delta in [2, -1, 5] {
        let allocation = Allocation::Sequential {
            start: 30000,
            delta,
        };
        let (o, _) = probe(
            nat(
                M::AddressAndPortDependent,
                F::AddressAndPortDependent,
                allocation,
                false,
            ),
            Conditions::default(),
        );
        assert_eq!(o.allocation.and_then(|a| a.delta), Some(i32::from(delta)));
    }
}

#[test]
fn open_internet_firewall_and_blocked() {
    let (o, _) = probe(Gateway::None, Conditions::default());
    assert_eq!(o.behind_nat, Some(false));
    assert_eq!(o.filtering, Some(F::EndpointIndependent));
    assert_eq!(o.hairpinning, None, "no NAT, nothing to hairpin");
    assert_eq!(
        ClassicNatType::derive(false, o.mapping, o.filtering),
        ClassicNatType::OpenInternet
    );

    let firewall = Gateway::Nat {
        behavior: NatBehavior {
            mapping: M::EndpointIndependent,
            filtering: F::AddressAndPortDependent,
            allocation: Allocation::Preserving,
            hairpinning: false,
        },
        firewall_only: true,
    };
    let (o, _) = probe(firewall, Conditions::default());
    assert_eq!(o.behind_nat, Some(false));
    assert_eq!(
        ClassicNatType::derive(false, o.mapping, o.filtering),
        ClassicNatType::SymmetricUdpFirewall
    );

    let (o, took) = probe(Gateway::Blocked, Conditions::default());
    assert!(!o.reachable);
    assert_eq!(o.mapping, None);
    assert!(
        took <= Duration::from_millis(2100),
        "gave up after {took:?}"
    );
}

#[test]
fn basic_mode_server_is_not_behaviour_capable() {
    let gateway = nat(
        M::EndpointIndependent,
        F::AddressAndPortDependent,
        Allocation::Preserving,
        true,
    );
    let (o, _) = run(
        gateway,
        Server::Basic,
        Conditions::default(),
        DiscoveryConfig::new,
    );
    assert!(o.reachable);
    assert!(!o.behavior_capable);
    assert_eq!((o.mapping, o.filtering), (None, None));
    assert!(o.notes.iter().any(|n| n.contains("OTHER-ADDRESS")));
}

#[test]
fn a_server_that_ignores_change_request_yields_no_filtering_verdict() {
    // Behind a port-restricted cone, answers from the wrong source would
    // pass the filter and fake "full cone" if they were believed.
    for filtering in [F::EndpointIndependent, F::AddressAndPortDependent] {
        let gateway = nat(
            M::EndpointIndependent,
            filtering,
            Allocation::Preserving,
            false,
        );
        let (o, _) = run(
            gateway,
            Server::IgnoresChangeRequest,
            Conditions::default(),
            DiscoveryConfig::new,
        );
        assert_eq!(o.filtering, None, "{filtering:?}");
        // Tests II and III need no CHANGE-REQUEST: mapping is still measured.
        assert_eq!(o.mapping, Some(M::EndpointIndependent));
        assert!(!o.behavior_capable);
        assert!(
            o.notes.iter().any(|n| n.contains("CHANGE-REQUEST")),
            "{:?}",
            o.notes
        );
    }
}

#[test]
fn an_unreachable_alternate_yields_no_mapping_verdict() {
    let gateway = nat(
        M::AddressAndPortDependent,
        F::AddressAndPortDependent,
        Allocation::Random { seed: 3 },
        false,
    );
    let (o, took) = run(
        gateway,
        Server::UnreachableAlternate,
        Conditions::default(),
        DiscoveryConfig::new,
    );
    assert!(o.reachable);
    assert_eq!(o.mapping, None);
    assert!(!o.behavior_capable);
    assert!(
        o.notes.iter().any(|n| n.contains("did not answer")),
        "{:?}",
        o.notes
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[test]
fn five_percent_loss_does_not_change_a_verdict() {
    for seed in 0..40 {
        for gateway in [
            nat(
                M::EndpointIndependent,
                F::AddressAndPortDependent,
                Allocation::Preserving,
                true,
            ),
            nat(
                M::EndpointIndependent,
                F::AddressDependent,
                Allocation::Preserving,
                false,
            ),
            nat(
                M::AddressAndPortDependent,
                F::AddressAndPortDependent,
                Allocation::Sequential {
                    start: 20000,
                    delta: 1,
                },
                false,
            ),
        ] {
            let conditions = Conditions {
                rtt: Duration::from_millis(50),
                loss: 0.05,
                seed,
                deadline: None,
            };
            let (o, _) = probe(gateway, conditions);
            let Gateway::Nat { behavior, .. } = gateway else {
                unreachable!()
            };
            assert_eq!(o.mapping, Some(behavior.mapping), "seed {seed} {gateway:?}");
            assert_eq!(
                o.filtering,
                Some(behavior.filtering),
                "seed {seed} {gateway:?}"
            );
            assert_eq!(o.hairpinning, Some(behavior.hairpinning), "seed {seed}");
        }
    }
}

#[test]
fn probe_at_50ms_rtt_fits_in_well_under_a_second_of_virtual_time() {
    let gateway = nat(
        M::EndpointIndependent,
        F::AddressAndPortDependent,
        Allocation::Preserving,
        false,
    );
    let conditions = Conditions {
        rtt: Duration::from_millis(50),
        ..Conditions::default()
    };
    let (_, took) = probe(gateway, conditions);
    // Test I (1 RTT) plus four RTOs of 120 ms for the unanswered tests.
    assert!(took < Duration::from_millis(600), "took {took:?}");
}

#[test]
fn a_probe_cut_short_keeps_what_it_measured_and_claims_nothing_else() {
    let gateway = nat(
        M::EndpointIndependent,
        F::AddressAndPortDependent,
        Allocation::Preserving,
        true,
    );
    // Test I answered at 50 ms; the filtering and hairpin tests, whose
    // negative answers take four RTOs, are still running at 200 ms.
    let conditions = Conditions {
        rtt: Duration::from_millis(50),
        deadline: Some(Duration::from_millis(200)),
        ..Conditions::default()
    };
    let (o, took) = probe(gateway, conditions);
    assert_eq!(took, Duration::from_millis(200));
    assert!(o.reachable);
    assert!(o.mapped.is_some());
    assert_eq!(
        o.mapping,
        Some(M::EndpointIndependent),
        "Tests II/III were answered"
    );
    assert_eq!(
        o.filtering, None,
        "an unfinished negative test proves nothing"
    );
    assert_eq!(
        o.hairpinning,
        Some(true),
        "the hairpinned request arrived in time"
    );
    assert!(
        o.notes.iter().any(|n| n.contains("time limit")),
        "{:?}",
        o.notes
    );
}

/// The report `ranat probe` would give from this one observation.
fn family(o: &Observation) -> crate::report::FamilyReport {
    crate::report::combine(
        vec![crate::report::ServerResult {
            name: None,
            address: o.server,
            observation: Ok(o.clone()),
        }],
        Vec::new(),
    )
}

/// Requests to the alternate address are lost, answers from it arrive:
/// the filtering tests (RFC 5780 §4.4, answers from the alternate only)
/// measure, the mapping tests (§4.3, requests to it) cannot.
#[test]
fn an_unreachable_alternate_leaves_filtering_measured_and_mapping_not() {
    for mapping in M::ALL {
        let gateway = nat(
            mapping,
            F::EndpointIndependent,
            Allocation::Preserving,
            true,
        );
        let (o, _) = run(
            gateway,
            Server::UnreachableAlternate,
            Conditions::default(),
            DiscoveryConfig::new,
        );
        assert_eq!(o.filtering, Some(F::EndpointIndependent), "{mapping:?}");
        assert_eq!(o.mapping, None, "{mapping:?}");
        assert!(
            o.notes
                .iter()
                .any(|n| n.contains("Mapping behaviour not measured")
                    && n.contains("198.51.100.2")),
            "{mapping:?}: {:?}",
            o.notes
        );
        let report = family(&o);
        assert_eq!(
            report.filtering,
            Some(F::EndpointIndependent),
            "{mapping:?}"
        );
        assert_eq!(report.mapping, None, "{mapping:?}");
        assert_eq!(report.status, crate::report::FamilyStatus::Inconclusive);
        assert_eq!(report.classic, ClassicNatType::Inconclusive);
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("Mapping behaviour not measured")),
            "{mapping:?}: {:?}",
            report.notes
        );
    }
}

/// Behind a filtering NAT the answers from an unreachable alternate are
/// lost: nothing from the alternate ever arrived, so the filtering cannot
/// be told from a dead alternate and is not claimed.
#[test]
fn an_unreachable_alternate_behind_a_filtering_nat_claims_no_filtering() {
    for filtering in [F::AddressDependent, F::AddressAndPortDependent] {
        let gateway = nat(
            M::EndpointIndependent,
            filtering,
            Allocation::Preserving,
            true,
        );
        let (o, _) = run(
            gateway,
            Server::UnreachableAlternate,
            Conditions::default(),
            DiscoveryConfig::new,
        );
        assert_eq!((o.mapping, o.filtering), (None, None), "{filtering:?}");
        assert!(
            o.notes
                .iter()
                .any(|n| n.contains("Filtering behaviour not measured")),
            "{filtering:?}: {:?}",
            o.notes
        );
        let report = family(&o);
        assert_eq!((report.mapping, report.filtering), (None, None));
    }
}

/// An alternate that neither receives nor sends must not pass for a NAT
/// (or firewall) that filters its answers.
#[test]
fn a_dead_alternate_fakes_no_filtering() {
    let gateways = [
        Gateway::None,
        nat(
            M::EndpointIndependent,
            F::EndpointIndependent,
            Allocation::Preserving,
            false,
        ),
    ];
    for gateway in gateways {
        let (o, _) = run(
            gateway,
            Server::DeadAlternate,
            Conditions::default(),
            DiscoveryConfig::new,
        );
        assert!(o.reachable);
        assert_eq!((o.mapping, o.filtering), (None, None), "{gateway:?}");
        assert!(!o.behavior_capable);
        let report = family(&o);
        assert_eq!(report.classic, ClassicNatType::Inconclusive, "{gateway:?}");
    }
}

/// Two servers that each measured only filtering, and disagree: the least
/// favourable is reported, with a note.
#[test]
fn partial_results_that_disagree_give_the_least_favourable_with_a_note() {
    let gateway = nat(
        M::EndpointIndependent,
        F::EndpointIndependent,
        Allocation::Preserving,
        false,
    );
    let (o, _) = run(
        gateway,
        Server::UnreachableAlternate,
        Conditions::default(),
        DiscoveryConfig::new,
    );
    let mut other = o.clone();
    other.server = "192.0.2.10:3478".parse().unwrap();
    other.filtering = Some(F::AddressDependent);
    let report = crate::report::combine(
        [o, other]
            .into_iter()
            .map(|o| crate::report::ServerResult {
                name: None,
                address: o.server,
                observation: Ok(o),
            })
            .collect(),
        Vec::new(),
    );
    assert_eq!(report.filtering, Some(F::AddressDependent));
    assert_eq!(report.mapping, None);
    assert!(
        report.notes.iter().any(|n| n.contains("disagree")),
        "{:?}",
        report.notes
    );
}
