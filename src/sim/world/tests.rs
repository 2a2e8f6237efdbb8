//! Streams in the world: a listener names each connection it accepts,
//! refuses what it will not take, and a close reaches the other end.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::*;
use crate::proto::machine::Transmit;
use crate::proto::machine::testing::{Caller, Echo};
use crate::sim::wire::Link;

const SERVER: &str = "198.51.100.1:3478";

#[test]
fn a_listener_names_each_connection_and_a_close_reaches_the_caller() {
    let mut world = World::new(Instant::now(), Link::default());
    let server: SocketAddr = SERVER.parse().unwrap();
    let host = world.add_host(&[server.ip()], Uplink::Public);
    let echo = world.add(host, Echo::new(server, 2));
    // UDP is blocked on the caller's network: a stream still gets through.
    let blocked = world.add_host(&[IpAddr::from([203, 0, 113, 2])], Uplink::Blocked);
    let first = world.add(blocked, Caller::new(server, &[b"hello", b" bye"]));
    let other = world.add_host(&[IpAddr::from([203, 0, 113, 3])], Uplink::Public);
    let second = world.add(other, Caller::new(server, &[b"again"]));
    let third = world.add(other, Caller::new(server, &[b"one too many"]));
    world.run_for(Duration::from_secs(1));

    assert_eq!(world.machine::<Caller>(first).heard, b"HELLO BYE");
    assert!(world.machine::<Caller>(first).closed, "the echo closed it");
    assert_eq!(world.machine::<Caller>(second).heard, b"AGAIN");
    assert!(!world.machine::<Caller>(second).closed);
    assert!(world.machine::<Caller>(third).heard.is_empty());
    assert!(world.machine::<Caller>(third).closed, "refused");
    let e = world.machine::<Echo>(echo);
    assert_eq!(e.accepted.len(), 2);
    assert_eq!(e.accepted[0].1.ip(), IpAddr::from([203, 0, 113, 2]));
    assert_ne!(
        e.accepted[0].0, e.accepted[1].0,
        "one socket per connection"
    );
    assert!(e.closed.is_empty(), "the echo closed, it was not closed");
}

#[test]
fn a_caller_that_closes_is_heard_closed_by_the_listener() {
    let mut world = World::new(Instant::now(), Link::default());
    let server: SocketAddr = SERVER.parse().unwrap();
    let host = world.add_host(&[server.ip()], Uplink::Public);
    let echo = world.add(host, Echo::new(server, 1));
    let client = world.add_host(&[IpAddr::from([203, 0, 113, 2])], Uplink::Public);
    let caller = world.add(client, Hangup::default());
    world.run_for(Duration::from_secs(1));
    let e = world.machine::<Echo>(echo);
    assert_eq!(e.accepted.len(), 1);
    assert_eq!(e.closed, vec![e.accepted[0].0]);
    assert_eq!(world.machine::<Hangup>(caller).heard, b"HI");
}

/// Says hi, and hangs up once answered.
#[derive(Default)]
struct Hangup {
    step: u8,
    heard: Vec<u8>,
}

impl Machine for Hangup {
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        (self.step == 0).then(|| {
            self.step = 1;
            (SocketId(0), Bind::Connect(SERVER.parse().unwrap()))
        })
    }
    fn handle_bound(&mut self, _: Instant, _: SocketId, _: SocketAddr) {}
    fn handle_input(&mut self, _: Instant, _: SocketId, _: SocketAddr, bytes: &[u8]) {
        self.heard.extend_from_slice(bytes);
    }
    fn poll_close(&mut self) -> Option<SocketId> {
        (self.step == 2 && !self.heard.is_empty()).then(|| {
            self.step = 3;
            SocketId(0)
        })
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self) -> Option<Transmit> {
        (self.step == 1).then(|| {
            self.step = 2;
            Transmit {
                socket: SocketId(0),
                destination: SERVER.parse().unwrap(),
                payload: b"hi".to_vec(),
            }
        })
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn is_done(&self) -> bool {
        self.step == 3
    }
}
