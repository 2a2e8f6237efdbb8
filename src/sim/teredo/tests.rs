//! The qualification machine end to end in the simulated world: a NAT of a
//! chosen behaviour in front of the client and a Teredo server that answers
//! like miredo-server, or misbehaves on purpose.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::*;
use crate::proto::machine::{SocketId, Transmit};
use crate::proto::nat::{FilteringBehavior as F, MappingBehavior as M, adapted_schedule};
use crate::proto::stun::Schedule;
use crate::proto::teredo::{
    AnswerError, CONE_SOCKET, Probe, ProbeNonces, Qualification, QualificationConfig,
    QualificationOutcome, RESTRICTED_SOCKET, TeredoNat, TeredoState, router_solicitation,
};
use crate::sim::nat::{Allocation, Nat as SimNat, NatBehavior};
use crate::sim::wire::Link;
use crate::sim::world::{HostId, Uplink, World};

const PRIMARY: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 10), 3544);
const SECONDARY: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 11), 3544);
const PUBLIC_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 5);
const LOCAL_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const ONE_WAY: Duration = Duration::from_millis(20);

const NONCES: ProbeNonces = ProbeNonces {
    cone: [0xc0; 8],
    primary: [0x01; 8],
    secondary: [0x02; 8],
};

/// What sits in front of the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nat {
    /// No NAT, no filter.
    Open,
    FullCone,
    AddressRestricted,
    PortRestricted,
    /// A new mapping per destination address, port-restricted filtering.
    Symmetric,
    /// UDP to the server dropped.
    Blocked,
}

impl Nat {
    fn behavior(self) -> Option<NatBehavior> {
        let (mapping, filtering) = match self {
            Nat::FullCone => (M::EndpointIndependent, F::EndpointIndependent),
            Nat::AddressRestricted => (M::EndpointIndependent, F::AddressDependent),
            Nat::PortRestricted => (M::EndpointIndependent, F::AddressAndPortDependent),
            Nat::Symmetric => (M::AddressDependent, F::AddressAndPortDependent),
            Nat::Open | Nat::Blocked => return None,
        };
        Some(NatBehavior {
            mapping,
            filtering,
            allocation: Allocation::Random { seed: 61 },
            hairpinning: false,
        })
    }
}

/// Where the world binds the client's sockets: the first node on its
/// host, from port 40000 in steps of 7.
fn local(socket: SocketId) -> SocketAddrV4 {
    SocketAddrV4::new(LOCAL_IP, 40000 + 7 * socket.0)
}

struct Run {
    outcome: QualificationOutcome,
    /// Everything the machine sent, with the time.
    sent: Vec<(Instant, Transmit)>,
    elapsed: Duration,
    start: Instant,
}

/// The server's host, and the client's host behind `gateway` (or blocked,
/// or open).
fn world_with(
    gateway: Option<NatBehavior>,
    blocked: bool,
    misbehaviour: Misbehaviour,
) -> (World, HostId) {
    let mut world = World::new(
        Instant::now(),
        Link {
            one_way: ONE_WAY,
            ..Link::default()
        },
    );
    let servers = world.add_host(
        &[IpAddr::V4(*PRIMARY.ip()), IpAddr::V4(*SECONDARY.ip())],
        Uplink::Public,
    );
    world.add(servers, TeredoServer::new(PRIMARY, SECONDARY, misbehaviour));
    let uplink = match gateway {
        Some(behavior) => Uplink::Behind(world.add_nat(SimNat::new(behavior, PUBLIC_IP.into()))),
        None if blocked => Uplink::Blocked,
        None => Uplink::Public,
    };
    let client = world.add_host(&[IpAddr::V4(LOCAL_IP)], uplink);
    (world, client)
}

fn qualify((mut world, client): (World, HostId), config: QualificationConfig) -> Run {
    let start = world.now();
    let q = Qualification::new(config, NONCES);
    let node = world.add(client, q);
    for s in [CONE_SOCKET, RESTRICTED_SOCKET] {
        assert_eq!(world.local(node, s), Some(SocketAddr::V4(local(s))));
    }
    world.tap(node);
    assert!(world.run_to_end(&[node], None), "the machine stalled");
    Run {
        outcome: world
            .machine::<Qualification>(node)
            .outcome()
            .cloned()
            .expect("done"),
        sent: world.tapped(node).to_vec(),
        elapsed: world.now() - start,
        start,
    }
}

fn run_with(nat: Nat, server: Misbehaviour, config: QualificationConfig) -> Run {
    qualify(
        world_with(nat.behavior(), nat == Nat::Blocked, server),
        config,
    )
}

fn run(nat: Nat, server: Misbehaviour) -> Run {
    run_with(nat, server, QualificationConfig::new(PRIMARY))
}

fn public(port_of: Option<SocketAddrV4>) -> Ipv4Addr {
    *port_of.expect("a mapping").ip()
}

#[test]
fn every_nat_behaviour_gets_the_teredo_type_its_configuration_implies() {
    let mut scenarios = 0;
    for behavior in NatBehavior::every(9) {
        // RFC 4380 §5.2.1: an answer from the other address gets in only
        // through endpoint-independent filtering (cone); otherwise one
        // mapping for both server addresses is restricted, two are
        // symmetric.
        let expected = match (behavior.filtering, behavior.mapping) {
            (F::EndpointIndependent, _) => TeredoNat::Cone,
            (_, M::EndpointIndependent) => TeredoNat::Restricted,
            _ => TeredoNat::Symmetric,
        };
        let o = qualify(
            world_with(Some(behavior), false, Misbehaviour::None),
            QualificationConfig::new(PRIMARY),
        )
        .outcome;
        assert_eq!(o.state, TeredoState::Qualified, "{behavior:?}");
        assert_eq!(o.nat, expected, "{behavior:?}");
        assert_eq!(
            o.rfc4380_qualifies,
            Some(expected != TeredoNat::Symmetric),
            "{behavior:?}"
        );
        scenarios += 1;
    }
    assert_eq!(scenarios, 54);
}

#[test]
fn full_cone_nat_is_cone_and_qualifies_with_the_cone_flag() {
    let r = run(Nat::FullCone, Misbehaviour::None);
    let o = &r.outcome;
    assert_eq!(o.state, TeredoState::Qualified);
    assert_eq!(o.nat, TeredoNat::Cone);
    assert_eq!(o.rfc4380_qualifies, Some(true));
    assert!(o.secondary_answered);
    assert_eq!(o.cone_mapping.map(|m| *m.ip()), Some(PUBLIC_IP));
    assert_eq!(o.mapping_via_primary, o.mapping_via_secondary);
    let mapping = o.external_mapping.unwrap();
    assert_eq!(
        o.local_mapping,
        Some(SocketAddr::V4(local(RESTRICTED_SOCKET)))
    );
    assert_eq!(o.behind_nat, Some(true));
    let address = o.teredo_address.unwrap();
    assert!(address.is_cone());
    assert_eq!(address.mapped, mapping);
    assert_eq!(address.server, *PRIMARY.ip());
    assert_eq!(o.prefix, Some("2001:0:c633:640a::".parse().unwrap()));
    assert_eq!(o.mtu, Some(1280));
    assert_eq!(o.rtt, Some(2 * ONE_WAY));
    assert_eq!(o.invalid_answers, 0);
    assert!(o.notes.is_empty(), "{:?}", o.notes);
    // Every probe answered at once: done after two round trips, not 3 s.
    assert_eq!(r.elapsed, 4 * ONE_WAY);
}

#[test]
fn cone_socket_sends_only_its_one_solicitation() {
    let r = run(Nat::PortRestricted, Misbehaviour::None);
    let cone: Vec<_> = r
        .sent
        .iter()
        .filter(|(_, t)| t.socket == CONE_SOCKET)
        .collect();
    assert_eq!(cone.len(), 4, "four tries of the cone RS");
    for (_, t) in &cone {
        assert_eq!(t.destination, SocketAddr::V4(PRIMARY));
        assert_eq!(t.payload, router_solicitation(RsKind::Cone, NONCES.cone));
    }
    // The restricted socket never sends a cone RS.
    for (_, t) in r.sent.iter().filter(|(_, t)| t.socket == RESTRICTED_SOCKET) {
        assert_eq!(parse_rs(&t.payload).unwrap().0, RsKind::Restricted);
    }
}

#[test]
fn restricted_nats_are_restricted() {
    for nat in [Nat::AddressRestricted, Nat::PortRestricted] {
        let r = run(nat, Misbehaviour::None);
        let o = &r.outcome;
        assert_eq!(o.state, TeredoState::Qualified, "{nat:?}");
        assert_eq!(o.nat, TeredoNat::Restricted, "{nat:?}");
        assert_eq!(o.rfc4380_qualifies, Some(true));
        assert!(o.secondary_answered);
        assert_eq!(o.cone_mapping, None);
        assert_eq!(o.mapping_via_primary, o.mapping_via_secondary);
        let address = o.teredo_address.unwrap();
        assert_eq!(address.flags, 0);
        assert_eq!(Some(address.mapped), o.external_mapping);
        assert_eq!(public(o.external_mapping), PUBLIC_IP);
        let ports = o.mapped_ports();
        assert_eq!(ports[0].1, ports[1].1);
        // Once the primary answered, the cone probe went on at the pace
        // of its round trip: four transmissions one RTO apart, and one
        // RTO's wait after the last, not the first guess's 3 s.
        let rto = adapted_schedule(o.rtt.unwrap()).rto;
        assert_eq!(r.elapsed, rto * 4, "{nat:?}");
        let cone_sends = r.sent.iter().filter(|(_, t)| t.socket == CONE_SOCKET);
        assert_eq!(cone_sends.count(), 4, "{nat:?}");
        assert_eq!(o.notes.len(), 1, "{:?}", o.notes);
        assert!(
            o.notes[0].starts_with("the cone test got no answer"),
            "{:?}",
            o.notes
        );
    }
}

#[test]
fn symmetric_nat_is_symmetric_and_does_not_qualify_under_rfc4380() {
    let o = run(Nat::Symmetric, Misbehaviour::None).outcome;
    assert_eq!(o.state, TeredoState::Qualified);
    assert_eq!(o.nat, TeredoNat::Symmetric);
    assert_eq!(o.rfc4380_qualifies, Some(false));
    let (a, b) = (
        o.mapping_via_primary.unwrap(),
        o.mapping_via_secondary.unwrap(),
    );
    assert_ne!(a.port(), b.port());
    assert_eq!(o.external_mapping, Some(a));
    assert!(!o.teredo_address.unwrap().is_cone());
    assert!(
        o.notes.iter().any(|n| n.contains("symmetric NAT")),
        "{:?}",
        o.notes
    );
}

#[test]
fn blocked_udp_is_offline_after_the_schedule() {
    let r = run(Nat::Blocked, Misbehaviour::None);
    let o = &r.outcome;
    assert_eq!(o.state, TeredoState::Offline);
    assert_eq!(o.nat, TeredoNat::Unknown);
    assert_eq!(o.rfc4380_qualifies, Some(false));
    assert!(!o.secondary_answered);
    assert_eq!(
        (o.external_mapping, o.teredo_address, o.prefix),
        (None, None, None)
    );
    assert_eq!(r.elapsed, Duration::from_secs(3));
    // Four tries per socket at 0, 0.3, 0.9 and 2.1 s; no secondary probe.
    let at: Vec<u64> = r
        .sent
        .iter()
        .filter(|(_, t)| t.socket == RESTRICTED_SOCKET)
        .map(|(when, _)| (*when - r.start).as_millis() as u64)
        .collect();
    assert_eq!(at, [0, 300, 900, 2100]);
    assert_eq!(r.sent.len(), 8);
    assert!(
        r.sent
            .iter()
            .all(|(_, t)| t.destination == SocketAddr::V4(PRIMARY))
    );
    assert!(
        o.notes.iter().any(|n| n.contains("blocked")),
        "{:?}",
        o.notes
    );
}

#[test]
fn server_without_secondary_leaves_the_type_unknown() {
    for nat in [Nat::PortRestricted, Nat::FullCone] {
        let o = run(nat, Misbehaviour::NoSecondary).outcome;
        assert_eq!(o.state, TeredoState::Qualified, "{nat:?}");
        assert_eq!(o.nat, TeredoNat::Unknown, "{nat:?}");
        assert_eq!(o.rfc4380_qualifies, None);
        assert!(!o.secondary_answered);
        assert!(o.mapping_via_primary.is_some());
        assert_eq!(o.mapping_via_secondary, None);
        assert_eq!(o.teredo_address.map(|a| a.flags), Some(0));
        assert!(
            o.notes.iter().any(|n| n.contains("never answered")),
            "{:?}",
            o.notes
        );
    }
}

#[test]
fn secondary_schedule_follows_the_rtt() {
    // RTT 40 ms: RTO 100 ms, four tries, given up 400 ms after the start of
    // the secondary probe, which begins when the primary answers (40 ms).
    let mut config = QualificationConfig::new(PRIMARY);
    config.schedule = Schedule {
        rto: Duration::from_millis(100),
        transmissions: 1,
        backoff: false,
        last_wait: Duration::from_millis(100),
    };
    let r = run_with(Nat::PortRestricted, Misbehaviour::NoSecondary, config);
    assert_eq!(r.elapsed, Duration::from_millis(440));
    let to_secondary = r
        .sent
        .iter()
        .filter(|(_, t)| t.destination == SocketAddr::V4(SECONDARY))
        .count();
    assert_eq!(to_secondary, 4);
}

#[test]
fn no_nat_is_reported_as_such() {
    let o = run(Nat::Open, Misbehaviour::None).outcome;
    assert_eq!(o.nat, TeredoNat::Cone);
    assert_eq!(o.behind_nat, Some(false));
    assert_eq!(o.external_mapping, Some(local(RESTRICTED_SOCKET)));
}

#[test]
fn a_cone_answer_from_the_primary_is_rejected_and_explained() {
    let o = run(Nat::FullCone, Misbehaviour::ConeFromPrimary).outcome;
    assert_eq!(o.nat, TeredoNat::Restricted);
    assert_eq!(o.cone_mapping, None);
    assert_eq!(o.invalid_answers, 4, "one per cone retransmission");
    assert!(matches!(
        o.last_invalid.as_ref().map(|i| &i.error),
        Some(AnswerError::WrongSource {
            probe: Probe::Cone,
            ..
        })
    ));
    assert!(
        o.notes
            .iter()
            .any(|n| n.contains("does not run the cone test"))
    );
}

#[test]
fn wrong_nonces_and_wrong_prefixes_leave_the_client_offline_with_evidence() {
    let o = run(Nat::FullCone, Misbehaviour::WrongNonce).outcome;
    assert_eq!(o.state, TeredoState::Offline);
    assert_eq!(o.invalid_answers, 8);
    assert_eq!(
        o.last_invalid.as_ref().map(|i| &i.error),
        Some(&AnswerError::UnknownNonce)
    );
    assert!(o.notes.iter().any(|n| n.contains("ignored as invalid")));

    let o = run(Nat::PortRestricted, Misbehaviour::WrongPrefix).outcome;
    assert_eq!(o.state, TeredoState::Offline);
    assert_eq!(
        o.last_invalid.map(|i| i.error),
        Some(AnswerError::WrongServer {
            probe: Probe::Primary,
            found: *SECONDARY.ip(),
            expected: *PRIMARY.ip(),
        })
    );
}
