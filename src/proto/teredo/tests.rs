//! The qualification machine end to end, against a tiny in-test network: a
//! NAT of a chosen behaviour in front of the client and a Teredo server that
//! answers like miredo-server, or misbehaves on purpose.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::testing::{RaBuilder, prefix_option};
use super::*;
use crate::proto::machine::{Machine, SocketId, Transmit};
use crate::proto::stun::Schedule;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    /// miredo-server on two addresses.
    Miredo,
    /// Only the primary address exists.
    NoSecondary,
    /// Answers the cone RS from the address it was sent to.
    ConeFromPrimary,
    /// Echoes a wrong nonce.
    WrongNonce,
    /// Advertises a prefix naming another server.
    WrongPrefix,
}

struct FakeNet {
    nat: Nat,
    server: Server,
    mappings: HashMap<(SocketId, Option<Ipv4Addr>), u16>,
    next_port: u16,
    contacted: HashSet<(SocketId, SocketAddrV4)>,
    in_flight: Vec<(Instant, SocketId, SocketAddr, Vec<u8>)>,
    /// Everything the machine sent, with the time.
    sent: Vec<(Instant, Transmit)>,
}

fn local(socket: SocketId) -> SocketAddrV4 {
    SocketAddrV4::new(LOCAL_IP, 50000 + socket.0)
}

fn other(server: SocketAddrV4) -> SocketAddrV4 {
    if server == PRIMARY {
        SECONDARY
    } else {
        PRIMARY
    }
}

/// The server side of miredo's `libteredo_process_packet`: an RS is an IPv6
/// packet from a link-local address to ff02::2 carrying ICMPv6 type 133;
/// the cone bit is bit 64 of the source.
fn parse_rs(payload: &[u8]) -> Option<(RsKind, Nonce)> {
    let p = TeredoPacket::parse(payload).ok()?;
    let nonce = p.auth?.nonce;
    let ip = p.ipv6;
    if ip[24..40] != ALL_ROUTERS.octets() || ip[6] != 58 || ip.get(40) != Some(&133) {
        return None;
    }
    let kind = if ip[16] & 0x80 != 0 {
        RsKind::Cone
    } else {
        RsKind::Restricted
    };
    Some((kind, nonce))
}

impl FakeNet {
    fn new(nat: Nat, server: Server) -> Self {
        Self {
            nat,
            server,
            mappings: HashMap::new(),
            next_port: 61000,
            contacted: HashSet::new(),
            in_flight: Vec::new(),
            sent: Vec::new(),
        }
    }

    fn map(&mut self, socket: SocketId, dest: SocketAddrV4) -> SocketAddrV4 {
        if self.nat == Nat::Open {
            return local(socket);
        }
        let key = (socket, (self.nat == Nat::Symmetric).then_some(*dest.ip()));
        let next = &mut self.next_port;
        let port = *self.mappings.entry(key).or_insert_with(|| {
            *next += 7;
            *next
        });
        SocketAddrV4::new(PUBLIC_IP, port)
    }

    fn admits(&self, socket: SocketId, from: SocketAddrV4) -> bool {
        match self.nat {
            Nat::Open | Nat::FullCone => true,
            Nat::AddressRestricted => self
                .contacted
                .iter()
                .any(|(s, d)| *s == socket && d.ip() == from.ip()),
            Nat::PortRestricted | Nat::Symmetric => self.contacted.contains(&(socket, from)),
            Nat::Blocked => false,
        }
    }

    fn send(&mut self, now: Instant, t: Transmit) {
        self.sent.push((now, t.clone()));
        let SocketAddr::V4(dest) = t.destination else {
            return;
        };
        if self.nat == Nat::Blocked
            || !(dest == PRIMARY || (dest == SECONDARY && self.server != Server::NoSecondary))
        {
            return;
        }
        let mapped = self.map(t.socket, dest);
        self.contacted.insert((t.socket, dest));
        let Some((kind, nonce)) = parse_rs(&t.payload) else {
            return;
        };
        let from = match (kind, self.server) {
            (RsKind::Cone, Server::ConeFromPrimary) | (RsKind::Restricted, _) => dest,
            (RsKind::Cone, _) => other(dest),
        };
        if from == SECONDARY && self.server == Server::NoSecondary {
            return;
        }
        let mut ra = RaBuilder::miredo(*PRIMARY.ip(), nonce, mapped, kind);
        match self.server {
            Server::WrongNonce => ra.nonce = Some(nonce.map(|b| b ^ 0x96)),
            Server::WrongPrefix => {
                ra.options[0] = prefix_option(server_prefix(*SECONDARY.ip()), 64);
            }
            _ => {}
        }
        if self.admits(t.socket, from) {
            self.in_flight.push((
                now + 2 * ONE_WAY,
                t.socket,
                SocketAddr::V4(from),
                ra.encode(),
            ));
        }
    }
}

struct Run {
    outcome: QualificationOutcome,
    net: FakeNet,
    elapsed: Duration,
    start: Instant,
}

fn run_with(nat: Nat, server: Server, config: QualificationConfig) -> Run {
    let start = Instant::now();
    let mut now = start;
    let mut q = Qualification::new(config, NONCES);
    let mut net = FakeNet::new(nat, server);
    assert!(
        q.poll_transmit().is_none(),
        "nothing is sent before binding"
    );
    while let Some((s, _)) = q.poll_bind() {
        q.handle_bound(now, s, SocketAddr::V4(local(s)));
    }
    for _ in 0..1000 {
        while let Some(t) = q.poll_transmit() {
            net.send(now, t);
        }
        if let Some(o) = q.outcome() {
            return Run {
                outcome: o.clone(),
                net,
                elapsed: now - start,
                start,
            };
        }
        let next_delivery = net.in_flight.iter().map(|d| d.0).min();
        now = [q.poll_timeout(), next_delivery]
            .into_iter()
            .flatten()
            .min()
            .expect("the machine stalled without an outcome")
            .max(now);
        let (due, later) = std::mem::take(&mut net.in_flight)
            .into_iter()
            .partition(|d| d.0 <= now);
        net.in_flight = later;
        for (_, socket, from, bytes) in due {
            q.handle_input(now, socket, from, &bytes);
        }
        q.handle_timeout(now);
    }
    panic!("no outcome after 1000 steps");
}

fn run(nat: Nat, server: Server) -> Run {
    run_with(nat, server, QualificationConfig::new(PRIMARY))
}

fn public(port_of: Option<SocketAddrV4>) -> Ipv4Addr {
    *port_of.expect("a mapping").ip()
}

#[test]
fn default_config_assumes_the_next_address_and_a_3_second_schedule() {
    let c = QualificationConfig::new(PRIMARY);
    assert_eq!(c.secondary, SECONDARY);
    assert_eq!(c.schedule.give_up_after(), Duration::from_secs(3));
    let edge = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 255), 3544);
    assert_eq!(
        QualificationConfig::default_secondary(edge),
        SocketAddrV4::new(Ipv4Addr::new(198, 51, 101, 0), 3544)
    );
}

#[test]
fn full_cone_nat_is_cone_and_qualifies_with_the_cone_flag() {
    let r = run(Nat::FullCone, Server::Miredo);
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
    let r = run(Nat::PortRestricted, Server::Miredo);
    let cone: Vec<_> = r
        .net
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
    for (_, t) in r
        .net
        .sent
        .iter()
        .filter(|(_, t)| t.socket == RESTRICTED_SOCKET)
    {
        assert_eq!(parse_rs(&t.payload).unwrap().0, RsKind::Restricted);
    }
}

#[test]
fn restricted_nats_are_restricted() {
    for nat in [Nat::AddressRestricted, Nat::PortRestricted] {
        let r = run(nat, Server::Miredo);
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
        // The cone probe ran its whole schedule: 3 s.
        assert_eq!(r.elapsed, Duration::from_secs(3));
        assert!(o.notes.is_empty(), "{:?}", o.notes);
    }
}

#[test]
fn symmetric_nat_is_symmetric_and_does_not_qualify_under_rfc4380() {
    let o = run(Nat::Symmetric, Server::Miredo).outcome;
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
    let r = run(Nat::Blocked, Server::Miredo);
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
        .net
        .sent
        .iter()
        .filter(|(_, t)| t.socket == RESTRICTED_SOCKET)
        .map(|(when, _)| (*when - r.start).as_millis() as u64)
        .collect();
    assert_eq!(at, [0, 300, 900, 2100]);
    assert_eq!(r.net.sent.len(), 8);
    assert!(
        r.net
            .sent
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
        let o = run(nat, Server::NoSecondary).outcome;
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
    let r = run_with(Nat::PortRestricted, Server::NoSecondary, config);
    assert_eq!(r.elapsed, Duration::from_millis(440));
    let to_secondary = r
        .net
        .sent
        .iter()
        .filter(|(_, t)| t.destination == SocketAddr::V4(SECONDARY))
        .count();
    assert_eq!(to_secondary, 4);
}

#[test]
fn no_nat_is_reported_as_such() {
    let o = run(Nat::Open, Server::Miredo).outcome;
    assert_eq!(o.nat, TeredoNat::Cone);
    assert_eq!(o.behind_nat, Some(false));
    assert_eq!(o.external_mapping, Some(local(RESTRICTED_SOCKET)));
}

#[test]
fn a_cone_answer_from_the_primary_is_rejected_and_explained() {
    let o = run(Nat::FullCone, Server::ConeFromPrimary).outcome;
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
    let o = run(Nat::FullCone, Server::WrongNonce).outcome;
    assert_eq!(o.state, TeredoState::Offline);
    assert_eq!(o.invalid_answers, 8);
    assert_eq!(
        o.last_invalid.as_ref().map(|i| &i.error),
        Some(&AnswerError::UnknownNonce)
    );
    assert!(o.notes.iter().any(|n| n.contains("ignored as invalid")));

    let o = run(Nat::PortRestricted, Server::WrongPrefix).outcome;
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

/// A machine with both sockets bound at `t0`, its first sends drained.
fn started(t0: Instant) -> Qualification {
    let mut q = Qualification::new(QualificationConfig::new(PRIMARY), NONCES);
    while let Some((s, _)) = q.poll_bind() {
        q.handle_bound(t0, s, SocketAddr::V4(local(s)));
    }
    let first: Vec<Transmit> = std::iter::from_fn(|| q.poll_transmit()).collect();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].socket, CONE_SOCKET);
    assert_eq!(first[1].socket, RESTRICTED_SOCKET);
    q
}

fn ra(nonce: Nonce, kind: RsKind) -> Vec<u8> {
    let mapped = SocketAddrV4::new(PUBLIC_IP, 4000);
    RaBuilder::miredo(*PRIMARY.ip(), nonce, mapped, kind).encode()
}

#[test]
fn spoofed_and_malformed_answers_are_counted_then_the_real_one_accepted() {
    let t0 = Instant::now();
    let mut q = started(t0);
    let spoofer: SocketAddr = "192.0.2.99:3544".parse().unwrap();
    let good = ra(NONCES.primary, RsKind::Restricted);
    q.handle_input(t0, RESTRICTED_SOCKET, spoofer, &good);
    q.handle_input(
        t0,
        RESTRICTED_SOCKET,
        SocketAddr::V4(PRIMARY),
        b"\x00\x07garbage",
    );
    q.handle_input(t0, RESTRICTED_SOCKET, SocketAddr::V4(PRIMARY), &[]);
    // The cone nonce on the restricted socket belongs to no probe there.
    q.handle_input(
        t0,
        RESTRICTED_SOCKET,
        SocketAddr::V4(PRIMARY),
        &ra(NONCES.cone, RsKind::Cone),
    );
    let mut truncated = good.clone();
    truncated.truncate(good.len() - 3);
    q.handle_input(t0, RESTRICTED_SOCKET, SocketAddr::V4(PRIMARY), &truncated);
    let later = t0 + Duration::from_millis(50);
    // The real answer, from a dual-stack socket's IPv4-mapped source.
    let mapped_primary: SocketAddr = "[::ffff:198.51.100.10]:3544".parse().unwrap();
    q.handle_input(later, RESTRICTED_SOCKET, mapped_primary, &good);
    // A second copy of it changes nothing.
    q.handle_input(later, RESTRICTED_SOCKET, SocketAddr::V4(PRIMARY), &good);
    let next: Vec<Transmit> = std::iter::from_fn(|| q.poll_transmit()).collect();
    assert_eq!(next.len(), 1, "the secondary probe starts");
    assert_eq!(next[0].destination, SocketAddr::V4(SECONDARY));
    assert_eq!(
        next[0].payload,
        router_solicitation(RsKind::Restricted, NONCES.secondary)
    );
    q.cut_short();
    let o = q.outcome().unwrap();
    assert_eq!(o.invalid_answers, 5);
    assert_eq!(o.rtt, Some(Duration::from_millis(50)));
    assert_eq!(o.state, TeredoState::Qualified);
    assert_eq!(o.nat, TeredoNat::Unknown);
    assert!(matches!(
        o.last_invalid.as_ref().map(|i| &i.error),
        Some(AnswerError::Unreadable(RaError::Packet(
            PacketError::Ipv6PayloadTruncated { .. }
        )))
    ));
    assert!(o.notes.iter().any(|n| n.contains("time limit")));
    // Once concluded, the machine is inert.
    assert!(q.is_done());
    assert_eq!(q.poll_timeout(), None);
    q.handle_input(
        later,
        RESTRICTED_SOCKET,
        SocketAddr::V4(SECONDARY),
        &ra(NONCES.secondary, RsKind::Restricted),
    );
    assert_eq!(q.outcome().unwrap().nat, TeredoNat::Unknown);
}

#[test]
fn nothing_happens_before_both_sockets_are_bound() {
    let t0 = Instant::now();
    let mut q = Qualification::from_seed(QualificationConfig::new(PRIMARY), 7);
    assert_eq!(q.poll_bind().map(|(s, _)| s), Some(CONE_SOCKET));
    q.handle_bound(t0, CONE_SOCKET, SocketAddr::V4(local(CONE_SOCKET)));
    assert!(q.poll_transmit().is_none());
    assert_eq!(q.poll_timeout(), None);
    q.handle_input(
        t0,
        CONE_SOCKET,
        SocketAddr::V4(SECONDARY),
        &ra(NONCES.cone, RsKind::Cone),
    );
    assert_eq!(q.poll_bind().map(|(s, _)| s), Some(RESTRICTED_SOCKET));
    assert_eq!(q.poll_bind(), None);
    q.handle_bound(
        t0,
        RESTRICTED_SOCKET,
        SocketAddr::V4(local(RESTRICTED_SOCKET)),
    );
    assert_eq!(q.poll_timeout(), Some(t0 + Duration::from_millis(300)));
    let n = ProbeNonces::from_seed(7);
    assert!(n.cone != n.primary && n.primary != n.secondary && n.cone != n.secondary);
    assert_eq!(n, ProbeNonces::from_seed(7));
}

#[test]
fn garbage_on_any_socket_is_counted_never_fatal() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(3544);
    let t0 = Instant::now();
    let mut q = started(t0);
    let good = ra(NONCES.primary, RsKind::Restricted);
    for i in 0..2_000u32 {
        let socket = if i % 2 == 0 {
            CONE_SOCKET
        } else {
            RESTRICTED_SOCKET
        };
        let mut bytes: Vec<u8> = if i % 3 == 0 {
            good.clone()
        } else {
            (0..rng.random_range(0..120))
                .map(|_| rng.random())
                .collect()
        };
        if i % 3 == 0 {
            // Flip a bit of the IPv6 packet past its version, traffic class
            // and flow label: every later bit is checked or checksummed.
            let at = rng.random_range(25..bytes.len());
            bytes[at] ^= 1 << rng.random_range(0..8);
        }
        q.handle_input(t0, socket, SocketAddr::V4(PRIMARY), &bytes);
    }
    let next: Vec<Transmit> = std::iter::from_fn(|| q.poll_transmit()).collect();
    assert!(next.is_empty(), "no garbage passed for an answer");
    q.cut_short();
    let o = q.outcome().unwrap();
    assert_eq!(o.invalid_answers, 2_000);
    assert_eq!(o.state, TeredoState::Offline);
}
