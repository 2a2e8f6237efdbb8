//! Same LAN, public IPv4, port mapping, IPv6 and relay.

use std::net::SocketAddr;

use crate::proto::nat::{FilteringBehavior as F, MappingBehavior as M};
use crate::report::{
    FamilyReport, FamilyStatus, MappingStatus, PortControlProtocol, TestMapping, Topology,
    Verification,
};

use super::*;

fn same_public(p: NatProfile) -> (ProbeReport, ProbeReport) {
    (novice(p), synthetic_report(p, NOVICE_IP))
}

#[test]
fn same_lan_by_public_address_gateway_and_hairpinning() {
    use NatProfile::*;
    // Different public addresses: not behind one NAT.
    let v = predict(&novice(FullCone), &helper(FullCone));
    let s = verdict(&v, Method::SameLan);
    assert_eq!(s.feasibility, Feasibility::Fails);
    assert!(s.reason.contains("203.0.113.7") && s.reason.contains("198.51.100.9"));
    // Same address and same gateway: one LAN.
    let (n, h) = same_public(PortRestrictedCone);
    assert_eq!(feasibility(&n, &h, Method::SameLan), Feasibility::Works);
    // Same address, no gateway evidence: most likely one site.
    let (mut n, mut h) = same_public(PortRestrictedCone);
    n.port_mapping.gateway = None;
    assert_eq!(feasibility(&n, &h, Method::SameLan), Feasibility::Likely);
    // Different inner gateways behind one NAT: hairpinning decides.
    n.port_mapping.gateway = Some("10.1.0.1".parse().unwrap());
    h.port_mapping.gateway = Some("10.2.0.1".parse().unwrap());
    n.ipv4.hairpinning = Some(false);
    h.ipv4.hairpinning = Some(false);
    assert_eq!(feasibility(&n, &h, Method::SameLan), Feasibility::Fails);
    h.ipv4.hairpinning = Some(true);
    assert_eq!(feasibility(&n, &h, Method::SameLan), Feasibility::Likely);
    n.ipv4.hairpinning = None;
    h.ipv4.hairpinning = None;
    assert_eq!(feasibility(&n, &h, Method::SameLan), Feasibility::Unknown);
    // A carrier-grade NAT's address is shared by strangers.
    let (mut n, mut h) = same_public(PortRestrictedCone);
    n.port_mapping.gateway = None;
    h.topology.finding = Topology::CarrierGradeNatLikely;
    assert_eq!(feasibility(&n, &h, Method::SameLan), Feasibility::Unlikely);
    // A public address not measured: unknown.
    let mut h = helper(FullCone);
    h.ipv4.mapped_address = None;
    assert_eq!(
        feasibility(&novice(FullCone), &h, Method::SameLan),
        Feasibility::Unknown
    );
}

#[test]
fn public_ipv4_needs_an_open_side_and_a_way_out_for_the_other() {
    use NatProfile::*;
    let v = predict(&novice(SymmetricRandom), &helper(OpenInternet));
    let p = verdict(&v, Method::PublicIpv4);
    assert_eq!(p.feasibility, Feasibility::Works);
    assert!(
        p.reason
            .contains("helper has the public IPv4 address 198.51.100.9"),
        "{}",
        p.reason
    );
    assert_eq!(
        feasibility(
            &novice(FullCone),
            &helper(PortRestrictedCone),
            Method::PublicIpv4
        ),
        Feasibility::Fails
    );
    // A stateful firewall on a public address cannot listen.
    let mut fw = helper(OpenInternet);
    fw.ipv4.filtering = Some(F::AddressAndPortDependent);
    fw.ipv4.classic = crate::proto::nat::ClassicNatType::SymmetricUdpFirewall;
    assert_eq!(
        feasibility(&novice(FullCone), &fw, Method::PublicIpv4),
        Feasibility::Fails
    );
    // The connecting side's UDP blocked: ranat's UDP channel cannot
    // connect (Windows' TCP was not measured: see the headline tests).
    assert_eq!(
        feasibility(
            &novice(UdpBlocked),
            &helper(OpenInternet),
            Method::PublicIpv4
        ),
        Feasibility::Fails
    );
    // The connecting side has no IPv4 at all.
    let mut n = novice(FullCone);
    n.ipv4 = FamilyReport::unmeasured(FamilyStatus::Unavailable, "no route");
    assert_eq!(
        feasibility(&n, &helper(OpenInternet), Method::PublicIpv4),
        Feasibility::Fails
    );
    // An inconclusive side whose own address is its public one: unknown.
    let mut h = helper(OpenInternet);
    h.ipv4.status = FamilyStatus::Inconclusive;
    h.ipv4.filtering = None;
    assert_eq!(
        feasibility(&novice(PortRestrictedCone), &h, Method::PublicIpv4),
        Feasibility::Unknown
    );
}

fn test_mapping(external: &str) -> TestMapping {
    let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
    TestMapping {
        internal: "192.168.1.10:40000".parse().unwrap(),
        external: external.parse().unwrap(),
        lease_seconds: 60,
        conflicts: 0,
        verification: Verification::Reached {
            server,
            public: None,
        },
        deleted: true,
        delete_error: None,
    }
}

#[test]
fn port_mapping_by_status_and_topology() {
    use NatProfile::*;
    let n = novice(SymmetricRandom);
    let mut h = helper(SymmetricRandom);
    assert_eq!(feasibility(&n, &h, Method::PortMapping), Feasibility::Fails);
    h.port_mapping.upnp.status = MappingStatus::Works;
    h.port_mapping.upnp.mapping = Some(test_mapping("198.51.100.9:40000"));
    let v = predict(&n, &h);
    let pm = verdict(&v, Method::PortMapping);
    assert_eq!(pm.feasibility, Feasibility::Works);
    assert!(
        pm.reason
            .contains("helper's UPnP mapping 198.51.100.9:40000 works"),
        "{}",
        pm.reason
    );
    h.port_mapping.upnp.status = MappingStatus::Unverified;
    assert_eq!(
        feasibility(&n, &h, Method::PortMapping),
        Feasibility::Likely
    );
    h.topology.finding = Topology::DoubleNat;
    assert_eq!(
        feasibility(&n, &h, Method::PortMapping),
        Feasibility::Unlikely
    );
    h.port_mapping.upnp.status = MappingStatus::Unreachable;
    let v = predict(&n, &h);
    let pm = verdict(&v, Method::PortMapping);
    assert_eq!(pm.feasibility, Feasibility::Fails);
    assert!(pm.reason.contains("double NAT"), "{}", pm.reason);
    // Not checked on either side: unknown.
    let mut a = novice(SymmetricRandom);
    let mut b = helper(SymmetricRandom);
    a.port_mapping.upnp.status = MappingStatus::Skipped;
    a.port_mapping.pcp.status = MappingStatus::Skipped;
    b.port_mapping.upnp.status = MappingStatus::Skipped;
    assert_eq!(
        feasibility(&a, &b, Method::PortMapping),
        Feasibility::Unknown
    );
    // PCP counts for ranat.
    let mut b = helper(SymmetricRandom);
    b.port_mapping.pcp.status = MappingStatus::Works;
    b.port_mapping.pcp.protocol = Some(PortControlProtocol::NatPmp);
    let v = predict(&novice(SymmetricRandom), &b);
    let pm = verdict(&v, Method::PortMapping);
    assert_eq!(pm.feasibility, Feasibility::Works);
    assert!(pm.reason.contains("NAT-PMP"), "{}", pm.reason);
}

fn with_ipv6(mut r: ProbeReport, filtering: Option<F>) -> ProbeReport {
    let mut f = r.ipv4.clone();
    f.status = FamilyStatus::Ok;
    f.local_address = Some("[2001:db8::1]:40000".into());
    f.mapped_address = Some("[2001:db8::1]:40000".into());
    f.mapping = Some(M::EndpointIndependent);
    f.filtering = filtering;
    r.ipv6 = f;
    r
}

#[test]
fn ipv6_direct_punched_or_not_by_engine() {
    use NatProfile::*;
    let (n, h) = (novice(SymmetricRandom), helper(SymmetricRandom));
    // Unavailable in the synthetic reports.
    assert_eq!(feasibility(&n, &h, Method::Ipv6), Feasibility::Fails);
    let open = with_ipv6(h.clone(), Some(F::EndpointIndependent));
    let filtered = with_ipv6(n.clone(), Some(F::AddressAndPortDependent));
    let v = predict(&filtered, &open);
    let six = verdict(&v, Method::Ipv6);
    assert_eq!(six.feasibility, Feasibility::Works);
    assert!(
        six.reason
            .contains("the helper's firewall admits unsolicited"),
        "{}",
        six.reason
    );
    // Both filtered: ranat punches, Remote Assistance cannot.
    let h2 = with_ipv6(h.clone(), Some(F::AddressDependent));
    let v = predict(&filtered, &h2);
    assert_eq!(verdict(&v, Method::Ipv6).feasibility, Feasibility::Works);
    assert_eq!(v.windows_remote_assistance.connects, Feasibility::Unlikely);
    assert!(v.windows_remote_assistance.via.contains(&Method::Ipv6));
    // Filtering not measured on one side, the other filters: unknown.
    let h3 = with_ipv6(h.clone(), None);
    let v = predict(&filtered, &h3);
    // EIF or not, simultaneous open over EIM works for ranat: certain.
    assert_eq!(verdict(&v, Method::Ipv6).feasibility, Feasibility::Works);
    let mut unmeasured = with_ipv6(h, None);
    unmeasured.ipv6.mapping = None;
    let v = predict(&filtered, &unmeasured);
    assert_eq!(verdict(&v, Method::Ipv6).feasibility, Feasibility::Unknown);
    // No IPv6 server: unknown.
    let mut ns = filtered.clone();
    ns.ipv6 = FamilyReport::unmeasured(FamilyStatus::NoServer, "none");
    assert_eq!(feasibility(&ns, &h2, Method::Ipv6), Feasibility::Unknown);
}

/// `r`'s IPv6 translated by NPTv6 (as the test bed's nptv6 profile does):
/// its local address leaves under another prefix, port kept; no filtering.
fn with_nptv6(r: ProbeReport) -> ProbeReport {
    let mut r = with_ipv6(r, Some(F::EndpointIndependent));
    r.ipv6.local_address = Some("[2001:db8:1::2]:40000".into());
    r.ipv6.mapped_address = Some("[2001:db8:f1::2]:40000".into());
    r
}

#[test]
fn a_translated_ipv6_side_is_reached_only_through_an_eif_peer() {
    use NatProfile::*;
    let (n, h) = (novice(SymmetricRandom), helper(SymmetricRandom));
    // Seen in the test bed: nptv6 x firewall fails, nptv6 x open connects
    // (the open side answers the translated address its checks came from),
    // nptv6 x nptv6 fails.
    let firewall = with_ipv6(h.clone(), Some(F::AddressAndPortDependent));
    let open = with_ipv6(h.clone(), Some(F::EndpointIndependent));
    let v = predict(&with_nptv6(n.clone()), &firewall);
    let six = verdict(&v, Method::Ipv6);
    assert_eq!(six.feasibility, Feasibility::Fails, "{}", six.reason);
    assert!(
        six.reason
            .contains("2001:db8:1::2 leaves as 2001:db8:f1::2"),
        "{}",
        six.reason
    );
    let v = predict(&with_nptv6(n.clone()), &open);
    let six = verdict(&v, Method::Ipv6);
    assert_eq!(six.feasibility, Feasibility::Works, "{}", six.reason);
    assert!(
        six.reason.contains("the helper's firewall admits"),
        "{}",
        six.reason
    );
    assert_eq!(v.session_punch_expectation(), PunchExpectation::Connects);
    // Remote Assistance's TCP passes only if the translated side connects.
    assert_eq!(v.windows_remote_assistance.connects, Feasibility::Unlikely);
    let v = predict(&with_nptv6(n.clone()), &with_nptv6(h.clone()));
    assert_eq!(verdict(&v, Method::Ipv6).feasibility, Feasibility::Fails);
    // The same with the roles swapped.
    let v = predict(&open, &with_nptv6(n));
    assert_eq!(verdict(&v, Method::Ipv6).feasibility, Feasibility::Works);
    // The peer's filtering unmeasured: unknown.
    let unmeasured = with_ipv6(h.clone(), None);
    let v = predict(&with_nptv6(novice(SymmetricRandom)), &unmeasured);
    assert_eq!(verdict(&v, Method::Ipv6).feasibility, Feasibility::Unknown);
    // A socket bound to [::] is no translation.
    let mut wildcard = with_ipv6(h, Some(F::AddressAndPortDependent));
    wildcard.ipv6.local_address = Some("[::]:40000".into());
    let v = predict(
        &with_ipv6(novice(SymmetricRandom), Some(F::AddressAndPortDependent)),
        &wildcard,
    );
    assert_eq!(verdict(&v, Method::Ipv6).feasibility, Feasibility::Works);
}

#[test]
fn the_session_expects_its_ipv6_candidates_to_connect_where_ipv6_works() {
    use NatProfile::*;
    // Symmetric NATs on IPv4: the IPv4 punch fails.
    let (n, h) = (novice(SymmetricRandom), helper(SymmetricRandom));
    let firewall = |r: ProbeReport| with_ipv6(r, Some(F::AddressAndPortDependent));
    let v = predict(&firewall(n.clone()), &firewall(h.clone()));
    assert_eq!(v.punch_expectation(), PunchExpectation::Fails);
    assert_eq!(v.session_punch_expectation(), PunchExpectation::Connects);
    // IPv6 failing or not measured adds nothing.
    let v = predict(&with_nptv6(n.clone()), &with_nptv6(h.clone()));
    assert_eq!(v.session_punch_expectation(), PunchExpectation::Fails);
    let mut unmeasured = firewall(n);
    unmeasured.ipv6 = FamilyReport::unmeasured(FamilyStatus::NoServer, "none");
    let v = predict(&unmeasured, &firewall(h));
    assert_eq!(v.session_punch_expectation(), PunchExpectation::Fails);
    // An IPv4 punch that connects stays so.
    let v = predict(&novice(FullCone), &helper(FullCone));
    assert_eq!(v.session_punch_expectation(), PunchExpectation::Connects);
}

#[test]
fn a_udp_blocked_side_fails_ranat_s_udp_methods_but_not_windows_tcp() {
    use NatProfile::*;
    // The helper's UPnP mapping works; the novice's UDP is blocked.
    let mut h = helper(FullCone);
    h.port_mapping.upnp.status = crate::report::MappingStatus::Works;
    let v = predict(&novice(UdpBlocked), &h);
    let m = verdict(&v, Method::PortMapping);
    assert_eq!(m.feasibility, Feasibility::Fails, "{}", m.reason);
    assert!(m.reason.contains("ranat's channel is UDP"), "{}", m.reason);
    assert_eq!(v.ranat.via, vec![Method::Relay], "{}", v.ranat.reason);
    // Windows connects over TCP, which the probe did not measure.
    let w = &v.windows_remote_assistance;
    assert_eq!(w.connects, Feasibility::Unknown, "{}", w.reason);
    assert_eq!(w.via, vec![Method::PortMapping], "{}", w.reason);
}

#[test]
fn the_relay_is_the_fallback_but_no_probe_vouches_for_it() {
    use NatProfile::*;
    let v = predict(&novice(UdpBlocked), &helper(UdpBlocked));
    let r = verdict(&v, Method::Relay);
    assert_eq!(r.feasibility, Feasibility::Unknown);
    assert!(r.reason.contains("fallback"), "{}", r.reason);
    assert!(r.reason.contains("over TCP from both"), "{}", r.reason);
    let v = predict(&novice(FullCone), &helper(UdpBlocked));
    let r = verdict(&v, Method::Relay);
    assert!(
        r.reason.contains("over TCP from the helper"),
        "{}",
        r.reason
    );
}
