//! The relay and its client in the simulated world, and the relay fed
//! hostile bytes by hand.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use stun_types::attribute::{ErrorCode, Nonce, Realm, Username};
use stun_types::message::{
    LongTermCredentials, Message, MessageClass, MessageIntegrityCredentials, MessageWriteVec,
};
use stun_types::prelude::*;
use turn_server_proto::types::attribute::RequestedTransport;
use turn_server_proto::types::message::ALLOCATE;

use super::client::{RelayClient, RelayEvent, RelayTransport};
use super::credentials::{Credentials, Secret, UnixClock};
use super::policy::{Limits, PeerPolicy, PortRange};
use super::server::{LISTEN_TCP, LISTEN_UDP, Relay, RelayConfig};
use crate::proto::machine::{Bind, Machine, SocketId, Transmit};
use crate::sim::wire::Link;
use crate::sim::world::{NodeId, Uplink, World};

pub const SERVER: &str = "198.51.100.1:3478";
pub const REALM: &str = "ranat.test";
/// Unix time at the world's start.
pub const EPOCH: u64 = 1_700_000_000;

pub fn secret() -> Secret {
    Secret::new("north").unwrap()
}

pub fn config(start: Instant, limits: Limits) -> RelayConfig {
    let listen: SocketAddr = SERVER.parse().unwrap();
    RelayConfig {
        listen,
        realm: REALM.to_string(),
        secret: secret(),
        clock: UnixClock::new(start, Duration::from_secs(EPOCH)),
        policy: PeerPolicy::new(
            &[],
            &[],
            &[listen.ip()],
            &[listen],
            "50000-50099".parse::<PortRange>().unwrap(),
        ),
        limits,
    }
}

/// Good credentials for `name`, an hour long.
pub fn good(name: &str) -> Credentials {
    secret().issue(name, EPOCH + 3600).unwrap()
}

/// A plain UDP endpoint: says what it is told to, keeps what it hears.
pub struct Peer {
    at: SocketAddr,
    asked: bool,
    pub heard: Vec<(SocketAddr, Vec<u8>)>,
    outbox: VecDeque<(SocketAddr, Vec<u8>)>,
}

impl Peer {
    pub fn new(at: SocketAddr) -> Self {
        Self {
            at,
            asked: false,
            heard: Vec::new(),
            outbox: VecDeque::new(),
        }
    }

    pub fn say(&mut self, to: SocketAddr, bytes: &[u8]) {
        self.outbox.push_back((to, bytes.to_vec()));
    }
}

impl Machine for Peer {
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        (!self.asked).then(|| {
            self.asked = true;
            (SocketId(0), Bind::At(self.at))
        })
    }
    fn handle_bound(&mut self, _: Instant, _: SocketId, local: SocketAddr) {
        self.at = local;
    }
    fn handle_input(&mut self, _: Instant, _: SocketId, from: SocketAddr, bytes: &[u8]) {
        self.heard.push((from, bytes.to_vec()));
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self) -> Option<Transmit> {
        let (destination, payload) = self.outbox.pop_front()?;
        Some(Transmit {
            socket: SocketId(0),
            destination,
            payload,
        })
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn is_done(&self) -> bool {
        false
    }
}

/// Runs the world until `client` has something to say (or 60 s pass).
pub fn next(world: &mut World, client: NodeId) -> Option<RelayEvent> {
    let mut event = None;
    let limit = world.now() + Duration::from_secs(60);
    world.run_until(
        |w| {
            event = w.machine_mut::<RelayClient>(client).poll_event();
            event.is_some()
        },
        Some(limit),
    );
    event
}

/// A world with the relay in it.
fn world(limits: Limits) -> (World, NodeId) {
    let mut world = World::new(Instant::now(), Link::default());
    let server: SocketAddr = SERVER.parse().unwrap();
    let host = world.add_host(&[server.ip()], Uplink::Public);
    let relay = world.add(host, Relay::new(config(world.now(), limits)));
    (world, relay)
}

fn public_host(world: &mut World, last: u8) -> crate::sim::world::HostId {
    world.add_host(&[IpAddr::from([203, 0, 113, last])], Uplink::Public)
}

fn client(world: &mut World, last: u8, transport: RelayTransport, c: Credentials) -> NodeId {
    let host = public_host(world, last);
    let now = world.now();
    world.add(
        host,
        RelayClient::new(SERVER.parse().unwrap(), transport, c, now),
    )
}

#[test]
fn a_client_allocates_and_only_its_permitted_peer_gets_through() {
    let (mut world, relay) = world(Limits::default());
    let c = client(&mut world, 1, RelayTransport::Udp, good("novice"));
    let Some(RelayEvent::Allocated(relayed)) = next(&mut world, c) else {
        panic!("an allocation")
    };
    assert_eq!(relayed.ip(), "198.51.100.1".parse::<IpAddr>().unwrap());
    assert!((50000..=50099).contains(&relayed.port()));

    let friend_at: SocketAddr = "203.0.113.50:40000".parse().unwrap();
    let stranger_at: SocketAddr = "203.0.113.66:40000".parse().unwrap();
    let friend_host = public_host(&mut world, 50);
    let stranger_host = public_host(&mut world, 66);
    let friend = world.add(friend_host, Peer::new(friend_at));
    let stranger = world.add(stranger_host, Peer::new(stranger_at));
    let now = world.now();
    world
        .machine_mut::<RelayClient>(c)
        .create_permission(now, friend_at.ip())
        .unwrap();
    assert_eq!(
        next(&mut world, c),
        Some(RelayEvent::PermissionCreated(friend_at.ip()))
    );

    // Both write to the relayed address; only the friend is heard.
    world
        .machine_mut::<Peer>(stranger)
        .say(relayed, b"let me in");
    world
        .machine_mut::<Peer>(friend)
        .say(relayed, b"hello novice");
    assert_eq!(
        next(&mut world, c),
        Some(RelayEvent::Data {
            peer: friend_at,
            bytes: b"hello novice".to_vec()
        })
    );
    world.run_for(Duration::from_secs(1));
    assert_eq!(world.machine_mut::<RelayClient>(c).poll_event(), None);

    // The client answers over a channel this time.
    let now = world.now();
    world
        .machine_mut::<RelayClient>(c)
        .bind_channel(now, friend_at)
        .unwrap();
    assert_eq!(
        next(&mut world, c),
        Some(RelayEvent::ChannelBound(friend_at))
    );
    let now = world.now();
    world
        .machine_mut::<RelayClient>(c)
        .send(now, friend_at, b"hello friend")
        .unwrap();
    // And to the stranger, without a permission: the client itself refuses.
    let now = world.now();
    assert!(
        world
            .machine_mut::<RelayClient>(c)
            .send(now, stranger_at, b"psst")
            .is_err()
    );
    world.run_for(Duration::from_secs(1));
    assert_eq!(
        world.machine::<Peer>(friend).heard,
        vec![(relayed, b"hello friend".to_vec())]
    );
    assert!(world.machine::<Peer>(stranger).heard.is_empty());
    let stats = world.machine::<Relay>(relay).stats();
    assert_eq!(stats.allocations, 1);
    assert_eq!(stats.dropped, 1, "the stranger's datagram");
    assert_eq!(stats.bytes_relayed, 24);
}

#[test]
fn expired_wrong_and_malformed_credentials_get_no_allocation() {
    let (mut world, relay) = world(Limits::default());
    let expired = secret().issue("novice", EPOCH - 1).unwrap();
    let mut wrong = good("novice");
    wrong.password = Secret::new("south").unwrap().password(&wrong.username);
    let malformed = Credentials {
        username: "novice".to_string(),
        password: secret().password("novice"),
    };
    for (i, c) in [expired, wrong, malformed].into_iter().enumerate() {
        let label = c.username.clone();
        let node = client(&mut world, 10 + i as u8, RelayTransport::Udp, c);
        assert_eq!(
            next(&mut world, node),
            Some(RelayEvent::AllocationFailed),
            "{label}"
        );
    }
    let relay = world.machine::<Relay>(relay);
    assert_eq!(relay.allocations(), 0);
    assert!(relay.stats().refused >= 3);
}

#[test]
fn a_request_signed_for_another_realm_is_unauthorized() {
    let start = Instant::now();
    let mut relay = Relay::new(config(start, Limits::default()));
    bind_all(&mut relay, start);
    let client: SocketAddr = "203.0.113.9:40000".parse().unwrap();
    // The challenge: 401 with the realm and a nonce.
    relay.handle_input(start, LISTEN_UDP, client, &allocate(None));
    let challenge = answer(&mut relay);
    assert_eq!(error_code(&challenge), Some(401));
    let m = Message::from_bytes(&challenge).unwrap();
    assert_eq!(m.attribute::<Realm>().unwrap().realm(), REALM);
    let nonce = m.attribute::<Nonce>().unwrap().nonce().to_string();
    let c = good("novice");
    for (realm, expected) in [("elsewhere", 401), (REALM, 0)] {
        let request = allocate(Some((&c, realm, &nonce)));
        relay.handle_input(start, LISTEN_UDP, client, &request);
        let reply = answer(&mut relay);
        let m = Message::from_bytes(&reply).unwrap();
        if expected == 0 {
            assert!(m.has_class(MessageClass::Success), "{realm}");
        } else {
            assert_eq!(error_code(&reply), Some(expected), "{realm}");
        }
    }
}

/// Binds the relay's sockets by hand, as a driver would.
pub fn bind_all(relay: &mut Relay, now: Instant) {
    while let Some((socket, bind)) = relay.poll_bind() {
        let (Bind::At(at) | Bind::Listen(at)) = bind else {
            panic!("the relay binds its own endpoints: {bind:?}")
        };
        relay.handle_bound(now, socket, at);
    }
}

/// The relay's next answer on its UDP endpoint.
pub fn answer(relay: &mut Relay) -> Vec<u8> {
    while let Some((socket, bind)) = relay.poll_bind() {
        let Bind::At(at) = bind else { continue };
        relay.handle_bound(Instant::now(), socket, at);
    }
    let t = relay.poll_transmit().expect("an answer");
    assert!(t.socket == LISTEN_UDP || t.socket != LISTEN_TCP);
    t.payload
}

pub fn error_code(bytes: &[u8]) -> Option<u16> {
    let m = Message::from_bytes(bytes).ok()?;
    m.attribute::<ErrorCode>().ok().map(|e| e.code())
}

/// An Allocate request; signed with `(credentials, realm, nonce)` when
/// given.
pub fn allocate(signed: Option<(&Credentials, &str, &str)>) -> Vec<u8> {
    let mut m = Message::builder_request(ALLOCATE, MessageWriteVec::new());
    m.add_attribute(&RequestedTransport::new(RequestedTransport::UDP))
        .unwrap();
    if let Some((c, realm, nonce)) = signed {
        m.add_attribute(&Username::new(&c.username).unwrap())
            .unwrap();
        m.add_attribute(&Realm::new(realm).unwrap()).unwrap();
        m.add_attribute(&Nonce::new(nonce).unwrap()).unwrap();
        let key: MessageIntegrityCredentials =
            LongTermCredentials::new(c.username.clone(), c.password.clone())
                .to_key(realm.to_string())
                .into();
        m.add_message_integrity(&key, stun_types::message::IntegrityAlgorithm::Sha1)
            .unwrap();
    }
    m.finish()
}
