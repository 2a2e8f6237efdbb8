//! The two headlines and the matrix.

use crate::report::{MappingStatus, PortControlProtocol};

use super::*;

#[test]
fn symmetric_to_symmetric_without_upnp_fails_for_windows_and_ranat_relays() {
    use NatProfile::*;
    let v = predict(&novice(SymmetricRandom), &helper(SymmetricRandom));
    let w = &v.windows_remote_assistance;
    assert_eq!(w.connects, Feasibility::Fails, "{}", w.reason);
    assert!(w.via.is_empty());
    assert!(w.reason.contains("Teredo (RFC 6081)"), "{}", w.reason);
    // Relayed, not "works": whether the help desk runs a relay is not
    // something a probe measures.
    assert_eq!(v.ranat.connects, Feasibility::Unknown);
    assert_eq!(v.ranat.via, vec![Method::Relay], "{}", v.ranat.reason);
    assert_eq!(
        v.ranat.summary,
        "relay: through the help desk's TURN relay (no direct path: both NATs pick a random port per destination)"
    );
}

#[test]
fn port_restricted_to_random_symmetric_is_relayed_and_birthday_stays_informational() {
    use NatProfile::*;
    let v = predict(&novice(PortRestrictedCone), &helper(SymmetricRandom));
    // No Teredo extension connects a plain symmetric NAT to a
    // port-restricted one; no UPnP, no IPv6.
    assert_eq!(v.windows_remote_assistance.connects, Feasibility::Fails);
    // Birthday punching is still analysed, but the engine does not run it.
    assert_ne!(
        verdict(&v, Method::BirthdayPunching).feasibility,
        Feasibility::Fails
    );
    assert_eq!(v.ranat.via, vec![Method::Relay], "{}", v.ranat.reason);
    assert!(!v.ranat.summary.contains("birthday"), "{}", v.ranat.summary);
    assert!(
        v.ranat
            .summary
            .contains("the helper's NAT picks a random port"),
        "{}",
        v.ranat.summary
    );
    assert_eq!(v.punch_expectation(), PunchExpectation::Fails);
}

#[test]
fn windows_ignores_pcp_and_hole_punching() {
    use NatProfile::*;
    // Hole punching works (full cone ↔ symmetric) and the helper has a
    // working PCP mapping, but Teredo is offline on the novice's side.
    let mut n = novice(FullCone);
    n.teredo = crate::report::TeredoReport {
        state: crate::report::TeredoReportState::Offline,
        ..crate::report::TeredoReport::skipped("offline", None)
    };
    let mut h = helper(SymmetricRandom);
    h.port_mapping.pcp.status = MappingStatus::Works;
    h.port_mapping.pcp.protocol = Some(PortControlProtocol::Pcp);
    let v = predict(&n, &h);
    assert_eq!(
        verdict(&v, Method::HolePunching).feasibility,
        Feasibility::Works
    );
    assert_eq!(
        verdict(&v, Method::PortMapping).feasibility,
        Feasibility::Works
    );
    let w = &v.windows_remote_assistance;
    assert_eq!(w.connects, Feasibility::Fails, "{}", w.reason);
    assert!(w.reason.contains("Windows uses only UPnP"), "{}", w.reason);
    // ranat connects directly: relay not needed, prediction and birthday
    // are refinements of punching and are not named.
    assert_eq!(v.ranat.connects, Feasibility::Works);
    assert_eq!(v.ranat.via, vec![Method::PortMapping, Method::HolePunching]);
    // The same with UPnP instead: Windows uses it.
    h.port_mapping.pcp.status = MappingStatus::NotFound;
    h.port_mapping.upnp.status = MappingStatus::Works;
    let v = predict(&n, &h);
    assert_eq!(v.windows_remote_assistance.connects, Feasibility::Works);
    assert_eq!(v.windows_remote_assistance.via, vec![Method::PortMapping]);
}

#[test]
fn windows_uses_teredo_with_extensions_and_names_only_its_methods() {
    use NatProfile::*;
    let v = predict(&novice(SymmetricSequential), &helper(PortRestrictedCone));
    let w = &v.windows_remote_assistance;
    assert_eq!(w.connects, Feasibility::Works);
    assert_eq!(w.via, vec![Method::TeredoRfc6081], "{}", w.reason);
    // ranat does not run Windows' Teredo client: its punch predicts the
    // sequential port, which is likely (a mapping in between spoils it).
    assert_eq!(v.ranat.connects, Feasibility::Likely);
    assert_eq!(v.ranat.via, vec![Method::PortPrediction, Method::Relay]);
    assert_eq!(v.ranat.summary, "likely: port prediction");
    assert_eq!(v.punch_expectation(), PunchExpectation::Likely);
    // Both cones: the punch works; Teredo counts for ranat only through
    // interfaces both hosts already have.
    let (mut n, mut h) = (novice(PortRestrictedCone), helper(RestrictedCone));
    let v = predict(&n, &h);
    assert_eq!(v.ranat.via, vec![Method::HolePunching]);
    assert_eq!(v.windows_remote_assistance.via, vec![Method::TeredoRfc6081]);
    for (r, address) in [(&mut n, "2001:0:1::1"), (&mut h, "2001:0:1::2")] {
        r.teredo.existing_interface = Some(crate::report::ExistingInterface {
            name: "teredo".to_string(),
            address: address.parse().expect("constant"),
        });
    }
    let v = predict(&n, &h);
    assert_eq!(
        v.ranat.via,
        vec![Method::HolePunching, Method::TeredoRfc4380]
    );
}

#[test]
fn unknown_ranks_above_unlikely_and_fails() {
    use NatProfile::*;
    // UDP blocked on the novice, an open helper: the TCP connection was not
    // measured, so Windows' verdict is unknown, not fails.
    let v = predict(&novice(UdpBlocked), &helper(OpenInternet));
    let w = &v.windows_remote_assistance;
    assert_eq!(w.connects, Feasibility::Unknown);
    // Same LAN cannot be checked without the novice's public address: a
    // caveat in the reason, not a path.
    assert_eq!(w.via, vec![Method::PublicIpv4]);
    assert!(
        w.reason.contains("Unless both are on one LAN"),
        "{}",
        w.reason
    );
    // ranat's channel is UDP: only the relay, over TCP from the novice.
    assert_eq!(v.ranat.via, vec![Method::Relay], "{}", v.ranat.reason);
    assert_eq!(
        v.ranat.summary,
        "relay: through the help desk's TURN relay over TCP (no direct path: the novice's UDP is blocked)"
    );
}

#[test]
fn the_matrix_covers_every_pair_and_agrees_with_the_rules() {
    use NatProfile::*;
    let rows = matrix();
    assert_eq!(rows.len(), 49);
    let cell = |n: NatProfile, h: NatProfile| {
        rows.iter()
            .find(|r| r.novice == n && r.helper == h)
            .expect("every pair")
    };
    for p in NatProfile::ALL {
        // ranat never fails: a direct method works or is likely, or the
        // session is relayed.
        for q in NatProfile::ALL {
            let ranat = &cell(p, q).ranat;
            assert!(
                ranat.via == [Method::Relay]
                    || matches!(ranat.connects, Feasibility::Works | Feasibility::Likely),
                "{p:?} {q:?}: {ranat:?}"
            );
            // The matrix is symmetric in its verdicts.
            assert_eq!(
                cell(p, q).windows_remote_assistance.connects,
                cell(q, p).windows_remote_assistance.connects,
                "{p:?} {q:?}"
            );
        }
        if p != UdpBlocked {
            let r = cell(OpenInternet, p);
            assert_eq!(r.windows_remote_assistance.connects, Feasibility::Works);
            assert_eq!(r.windows_remote_assistance.via[0], Method::PublicIpv4);
        }
    }
    let windows = |n, h| cell(n, h).windows_remote_assistance.connects;
    assert_eq!(windows(FullCone, SymmetricRandom), Feasibility::Works);
    assert_eq!(windows(RestrictedCone, SymmetricRandom), Feasibility::Works);
    assert_eq!(
        windows(PortRestrictedCone, SymmetricRandom),
        Feasibility::Fails
    );
    assert_eq!(
        windows(PortRestrictedCone, SymmetricSequential),
        Feasibility::Works
    );
    assert_eq!(
        windows(SymmetricSequential, SymmetricRandom),
        Feasibility::Fails
    );
    assert_eq!(windows(UdpBlocked, FullCone), Feasibility::Fails);
    assert_eq!(
        cell(SymmetricRandom, SymmetricRandom).ranat.via,
        vec![Method::Relay]
    );
    assert_eq!(
        cell(SymmetricSequential, SymmetricSequential).ranat.via,
        vec![Method::PortPrediction, Method::Relay]
    );
    assert_eq!(
        cell(FullCone, SymmetricRandom).ranat.via[0],
        Method::HolePunching
    );
    let json = serde_json::to_string(&rows).expect("serialises");
    assert!(json.contains("\"symmetric_sequential\""));
}

/// One model: for every pair of the matrix, ranat's column names a direct
/// method exactly when the live punch (run with [`punch_plan`]'s plan) is
/// expected to connect, with the same certainty, and the relay exactly
/// when it is expected to fail; a pair the column rates by port
/// prediction has a port guess in the plan of each dependent side (RFC
/// 5128 §3.5).
#[test]
fn every_matrix_cell_is_what_the_punch_expects() {
    for row in matrix() {
        let (n, h) = (novice(row.novice), helper(row.helper));
        let p = predict(&n, &h);
        assert_eq!(p.ranat, row.ranat);
        let pair = format!("{:?} × {:?}: {}", row.novice, row.helper, row.ranat.reason);
        let first = row.ranat.via.first().copied();
        match p.punch_expectation() {
            PunchExpectation::Connects => {
                assert_eq!(row.ranat.connects, Feasibility::Works, "{pair}");
                assert!(first.is_some_and(|m| m != Method::Relay), "{pair}");
            }
            PunchExpectation::Likely => {
                assert_eq!(row.ranat.connects, Feasibility::Likely, "{pair}");
                assert_eq!(first, Some(Method::PortPrediction), "{pair}");
            }
            PunchExpectation::Fails => assert_eq!(first, Some(Method::Relay), "{pair}"),
            PunchExpectation::Unknown => panic!("every field is measured: {pair}"),
        }
        if first == Some(Method::PortPrediction) {
            for (me, peer) in [(&n, &h), (&h, &n)] {
                let dependent = me
                    .ipv4
                    .mapping
                    .is_some_and(|m| m != MappingBehavior::EndpointIndependent);
                let plan = punch_plan(me, peer, false);
                assert_eq!(plan.guess.is_some(), dependent, "{pair}");
            }
        }
        assert!(
            !row.ranat.via.contains(&Method::BirthdayPunching)
                && !row.ranat.via.contains(&Method::TeredoRfc6081),
            "ranat's column names a method its engine does not run: {pair}"
        );
    }
}
