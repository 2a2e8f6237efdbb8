//! The qualification machine fed by hand: hostile and out-of-order input.
//! Its runs against a Teredo server behind every kind of NAT are in the
//! simulated world (`sim::teredo`).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::testing::RaBuilder;
use super::*;
use crate::proto::machine::{Machine, SocketId, Transmit};

const PRIMARY: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 10), 3544);
const SECONDARY: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 11), 3544);
const PUBLIC_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 5);
const LOCAL_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

const NONCES: ProbeNonces = ProbeNonces {
    cone: [0xc0; 8],
    primary: [0x01; 8],
    secondary: [0x02; 8],
};

fn local(socket: SocketId) -> SocketAddrV4 {
    SocketAddrV4::new(LOCAL_IP, 50000 + socket.0)
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

#[test]
fn a_closed_port_at_the_server_ends_the_probes_sent_there_at_once() {
    let t0 = Instant::now();
    let mut q = started(t0);
    let at = t0 + Duration::from_millis(2);
    let elsewhere = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 99), 3544));
    q.handle_unreachable(at, RESTRICTED_SOCKET, elsewhere);
    q.handle_unreachable(at, RESTRICTED_SOCKET, SocketAddr::V4(PRIMARY));
    assert!(
        !q.is_done(),
        "the cone probe, on its own socket, still runs"
    );
    q.handle_unreachable(at, CONE_SOCKET, SocketAddr::V4(PRIMARY));
    let o = q.outcome().expect("every probe ended");
    assert_eq!(o.state, TeredoState::Offline);
    assert_eq!(o.nat, TeredoNat::Unknown);
    assert_eq!(o.rfc4380_qualifies, Some(false));
    assert_eq!(o.notes.len(), 1, "{:?}", o.notes);
    assert!(o.notes[0].contains("port unreachable"), "{:?}", o.notes);
    assert_eq!(q.poll_transmit(), None);
}

#[test]
fn a_closed_secondary_leaves_restricted_and_symmetric_untold() {
    let t0 = Instant::now();
    let mut q = started(t0);
    let at = t0 + Duration::from_millis(40);
    q.handle_input(
        at,
        RESTRICTED_SOCKET,
        SocketAddr::V4(PRIMARY),
        &ra(NONCES.primary, RsKind::Restricted),
    );
    let secondary: Vec<Transmit> = std::iter::from_fn(|| q.poll_transmit()).collect();
    assert!(
        secondary
            .iter()
            .any(|t| t.destination == SocketAddr::V4(SECONDARY))
    );
    q.handle_unreachable(at, RESTRICTED_SOCKET, SocketAddr::V4(SECONDARY));
    assert!(!q.is_done(), "the cone probe waits on");
    let mut now = at;
    while !q.is_done() && now < t0 + Duration::from_secs(5) {
        now = q.poll_timeout().unwrap();
        q.handle_timeout(now);
        while q.poll_transmit().is_some() {}
    }
    assert!(now < t0 + Duration::from_secs(1), "paced by the round trip");
    let o = q.outcome().unwrap();
    assert_eq!(o.state, TeredoState::Qualified);
    assert_eq!(o.nat, TeredoNat::Unknown);
    assert!(
        o.notes.iter().any(|n| n.contains("port unreachable")),
        "{:?}",
        o.notes
    );
}
