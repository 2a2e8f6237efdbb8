//! The TCP mapping machine, driven by hand: the driver's part (connecting,
//! sharing the local endpoint) is played here, the server's answers are
//! written as a server writes them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stun_types::attribute::XorMappedAddress;
use stun_types::message::{Message, MessageWriteVec};
use stun_types::prelude::*;

use super::*;
use crate::proto::stun::OtherAddress;

const PRIMARY: &str = "198.51.100.10:3478";
const ALTERNATE: &str = "198.51.100.11:3479";
const LOCAL: &str = "10.0.1.2:40000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn machine(hint: Option<&str>) -> TcpMapping {
    TcpMapping::new(
        TcpMappingConfig {
            server: addr(PRIMARY),
            alternate_hint: hint.map(addr),
            bound: TCP_TEST_BOUND,
        },
        7,
    )
}

/// The success answer to `request` saying `mapped`, with OTHER-ADDRESS
/// when given.
fn answer(request: &[u8], mapped: SocketAddr, other: Option<SocketAddr>) -> Vec<u8> {
    let request = Message::from_bytes(request).unwrap();
    let mut reply = Message::builder_success(&request, MessageWriteVec::new());
    reply
        .add_attribute(&XorMappedAddress::new(mapped, request.transaction_id()))
        .unwrap();
    if let Some(other) = other {
        reply.add_attribute(&OtherAddress::new(other)).unwrap();
    }
    reply.finish()
}

/// Plays the driver: binds what the machine asks (test I from `LOCAL`,
/// the others from the same endpoint), and answers each request with the
/// mapping `nat` gives that destination. Returns the outcome.
fn run(
    mut m: TcpMapping,
    nat: impl Fn(SocketAddr) -> Option<SocketAddr>,
    other: Option<&str>,
) -> TcpMappingOutcome {
    let now = Instant::now();
    let mut locals = std::collections::HashMap::new();
    for _ in 0..10 {
        while let Some((socket, bind)) = m.poll_bind() {
            match bind {
                Bind::Connect(to) => {
                    assert_eq!(to, addr(PRIMARY));
                    locals.insert(socket, addr(LOCAL));
                    m.handle_bound(now, socket, addr(LOCAL));
                }
                Bind::ConnectFrom(_, beside) => {
                    let local = locals[&beside];
                    locals.insert(socket, local);
                    m.handle_bound(now, socket, local);
                }
                other => panic!("unexpected bind {other:?}"),
            }
        }
        let mut sent = Vec::new();
        while let Some(t) = m.poll_transmit() {
            sent.push(t);
        }
        for t in sent {
            match nat(t.destination) {
                Some(mapped) => {
                    let reply = answer(&t.payload, mapped, other.map(addr));
                    // Cut in two, as a stream may.
                    let (a, b) = reply.split_at(7);
                    m.handle_input(now, t.socket, t.destination, a);
                    m.handle_input(now, t.socket, t.destination, b);
                }
                None => m.handle_closed(now, t.socket),
            }
        }
        if m.is_done() {
            break;
        }
    }
    m.outcome().cloned().expect("an outcome")
}

#[test]
fn one_public_port_for_every_destination_is_endpoint_independent() {
    let out = run(
        machine(None),
        |_| Some(addr("203.0.113.1:40000")),
        Some(ALTERNATE),
    );
    assert_eq!(out.answers.len(), 3);
    assert_eq!(out.mapping, Some(MappingBehavior::EndpointIndependent));
    assert_eq!(out.port_preserved, Some(true));
    assert!(!out.no_nat);
    assert_eq!(out.simultaneous_open, SimultaneousOpen::Possible);
    // Tests II and III went to the alternate address, on the primary's
    // port and on the alternate's.
    let servers: Vec<SocketAddr> = out
        .answers
        .iter()
        .map(|a| match a {
            TcpAnswer::Mapped { server, .. } => *server,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        servers,
        [addr(PRIMARY), addr("198.51.100.11:3478"), addr(ALTERNATE)]
    );
}

#[test]
fn a_new_random_port_per_destination_makes_a_punch_unlikely() {
    let out = run(
        machine(None),
        |to| {
            Some(SocketAddr::new(
                "203.0.113.1".parse().unwrap(),
                50_000 + to.port() % 7 + u16::from(to.ip() == addr(ALTERNATE).ip()) * 11,
            ))
        },
        Some(ALTERNATE),
    );
    assert_eq!(out.mapping, Some(MappingBehavior::AddressAndPortDependent));
    assert_eq!(out.port_preserved, Some(false));
    assert_eq!(out.simultaneous_open, SimultaneousOpen::Unlikely);
}

#[test]
fn a_port_per_address_that_keeps_the_local_port_is_still_punchable() {
    // Address-dependent, and the local port kept toward the primary only:
    // not preserved everywhere, so unlikely.
    let dependent = |to: SocketAddr| {
        let port = if to.ip() == addr(PRIMARY).ip() {
            40000
        } else {
            40001
        };
        Some(SocketAddr::new("203.0.113.1".parse().unwrap(), port))
    };
    let out = run(machine(None), dependent, Some(ALTERNATE));
    assert_eq!(out.mapping, Some(MappingBehavior::AddressDependent));
    assert_eq!(out.simultaneous_open, SimultaneousOpen::Unlikely);
    // The same behaviour with the local port kept toward every address
    // (another public address per destination): the port is known.
    let kept = |to: SocketAddr| {
        let ip = if to.ip() == addr(PRIMARY).ip() {
            "203.0.113.1"
        } else {
            "203.0.113.9"
        };
        Some(SocketAddr::new(ip.parse().unwrap(), 40000))
    };
    let out = run(machine(None), kept, Some(ALTERNATE));
    assert_eq!(out.mapping, Some(MappingBehavior::AddressDependent));
    assert_eq!(out.port_preserved, Some(true));
    assert_eq!(out.simultaneous_open, SimultaneousOpen::Possible);
}

#[test]
fn the_alternate_comes_from_the_udp_tests_when_the_tcp_answer_names_none() {
    let public = |_| Some(addr(LOCAL));
    let without = run(machine(None), public, None);
    assert_eq!(without.answers.len(), 1);
    assert!(without.no_nat, "the first answer alone shows no NAT");
    let nat = |_| Some(addr("203.0.113.1:40000"));
    let without = run(machine(None), nat, None);
    assert_eq!(without.mapping, None);
    assert_eq!(without.simultaneous_open, SimultaneousOpen::Unknown);
    assert!(
        without.notes[0].contains("no alternate"),
        "{:?}",
        without.notes
    );
    let with = run(machine(Some(ALTERNATE)), nat, None);
    assert_eq!(with.answers.len(), 3);
    assert_eq!(with.mapping, Some(MappingBehavior::EndpointIndependent));
}

#[test]
fn a_server_without_stun_over_tcp_is_said_so() {
    let out = run(machine(Some(ALTERNATE)), |_| None, None);
    assert_eq!(out.mapping, None);
    assert_eq!(out.simultaneous_open, SimultaneousOpen::Unknown);
    assert!(
        out.notes[0].contains("no Binding request over TCP"),
        "{:?}",
        out.notes
    );
    // A first connection that cannot be made at all.
    let mut m = machine(None);
    let now = Instant::now();
    let (socket, _) = m.poll_bind().unwrap();
    m.handle_bind_failed(now, socket);
    let out = m.outcome().expect("concluded");
    assert!(matches!(out.answers[0], TcpAnswer::NoConnection { .. }));
}

#[test]
fn garbage_and_silence_end_in_an_outcome_within_the_bound() {
    let mut m = machine(Some(ALTERNATE));
    let now = Instant::now();
    let (socket, _) = m.poll_bind().unwrap();
    m.handle_bound(now, socket, addr(LOCAL));
    while m.poll_transmit().is_some() {}
    m.handle_input(now, socket, addr(PRIMARY), b"HTTP/1.1 400 Bad Request\r\n");
    let out = m.outcome().expect("concluded on garbage");
    assert!(matches!(out.answers[0], TcpAnswer::NoAnswer { .. }));
    // Silence: the bound ends it.
    let mut m = machine(Some(ALTERNATE));
    let (socket, _) = m.poll_bind().unwrap();
    m.handle_bound(now, socket, addr(LOCAL));
    let deadline = m.poll_timeout().expect("a deadline");
    assert!(deadline <= now + TCP_TEST_BOUND + Duration::from_millis(1));
    m.handle_timeout(deadline);
    assert!(m.is_done());
    let closes: Vec<SocketId> = std::iter::from_fn(|| m.poll_close()).collect();
    assert_eq!(closes, [socket], "every connection is closed at the end");
}
