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
    assert_eq!(v.ranat.connects, Feasibility::Works);
    assert_eq!(v.ranat.via, vec![Method::Relay], "{}", v.ranat.reason);
}

#[test]
fn port_restricted_to_random_symmetric_ranat_tries_birthday_then_relay() {
    use NatProfile::*;
    let v = predict(&novice(PortRestrictedCone), &helper(SymmetricRandom));
    // No Teredo extension connects a plain symmetric NAT to a
    // port-restricted one; no UPnP, no IPv6.
    assert_eq!(v.windows_remote_assistance.connects, Feasibility::Fails);
    assert_eq!(v.ranat.connects, Feasibility::Works);
    assert_eq!(
        v.ranat.via,
        vec![Method::BirthdayPunching, Method::Relay],
        "{}",
        v.ranat.reason
    );
    assert!(v.ranat.reason.contains("relay"), "{}", v.ranat.reason);
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
    // ranat: plain RFC 4380 fails (symmetric), the extension works; port
    // prediction is likely, but Teredo already works.
    assert_eq!(v.ranat.via, vec![Method::TeredoRfc6081]);
    // Both cones: RFC 4380 suffices, so ranat names it and not the refinement.
    let v = predict(&novice(PortRestrictedCone), &helper(RestrictedCone));
    assert_eq!(
        v.ranat.via,
        vec![Method::HolePunching, Method::TeredoRfc4380]
    );
    assert_eq!(v.windows_remote_assistance.via, vec![Method::TeredoRfc6081]);
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
    assert_eq!(v.ranat.via, vec![Method::PublicIpv4, Method::Relay]);
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
        // ranat always connects (the relay at worst).
        for q in NatProfile::ALL {
            assert_eq!(cell(p, q).ranat.connects, Feasibility::Works);
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
