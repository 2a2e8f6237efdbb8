//! The relay and its client in the simulated world, and the relay fed
//! hostile bytes by hand.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::proto::stun::OtherAddress;
use stun_types::attribute::{ErrorCode, Nonce, Realm, Username, XorMappedAddress};
use stun_types::message::BINDING;
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
    // Loopback and the relay's own network are never peers: 403.
    for denied in ["127.0.0.1", "10.0.0.1"] {
        let now = world.now();
        let ip: IpAddr = denied.parse().unwrap();
        world
            .machine_mut::<RelayClient>(c)
            .create_permission(now, ip)
            .unwrap();
        assert_eq!(next(&mut world, c), Some(RelayEvent::PermissionFailed(ip)));
    }

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
    assert!(stats.refused >= 2, "the two denied permissions");
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

/// Runs the world until `client` says something other than a permission.
fn next_but_permissions(world: &mut World, client: NodeId) -> Option<RelayEvent> {
    loop {
        match next(world, client)? {
            RelayEvent::PermissionCreated(_) => continue,
            event => return Some(event),
        }
    }
}

#[test]
fn a_client_behind_a_symmetric_nat_and_one_on_a_udp_blocked_network_talk_through_the_relay() {
    use crate::proto::nat::{FilteringBehavior as F, MappingBehavior as M};
    use crate::sim::nat::{Allocation, Nat, NatBehavior};

    let (mut world, relay) = world(Limits::default());
    let symmetric = NatBehavior {
        mapping: M::AddressAndPortDependent,
        filtering: F::AddressAndPortDependent,
        allocation: Allocation::Random { seed: 3 },
        hairpinning: false,
    };
    let nat = world.add_nat(Nat::new(symmetric, IpAddr::from([203, 0, 113, 1])));
    let helper_host = world.add_host(&[IpAddr::from([10, 0, 1, 2])], Uplink::Behind(nat));
    let novice_host = world.add_host(&[IpAddr::from([203, 0, 113, 2])], Uplink::Blocked);
    let server: SocketAddr = SERVER.parse().unwrap();
    let now = world.now();
    let helper = world.add(
        helper_host,
        RelayClient::new(server, RelayTransport::Udp, good("helper"), now),
    );
    let novice = world.add(
        novice_host,
        RelayClient::new(server, RelayTransport::Tcp, good("novice"), now),
    );
    let Some(RelayEvent::Allocated(helper_relayed)) = next(&mut world, helper) else {
        panic!("the helper allocates over UDP through its NAT")
    };
    let Some(RelayEvent::Allocated(novice_relayed)) = next(&mut world, novice) else {
        panic!("the novice allocates over TCP")
    };
    // Each lets the other's relayed address in (the rendezvous would carry
    // them); the novice binds a channel, the helper uses Send indications.
    let now = world.now();
    world
        .machine_mut::<RelayClient>(helper)
        .create_permission(now, novice_relayed.ip())
        .unwrap();
    world
        .machine_mut::<RelayClient>(novice)
        .bind_channel(now, helper_relayed)
        .unwrap();
    assert_eq!(
        next_but_permissions(&mut world, novice),
        Some(RelayEvent::ChannelBound(helper_relayed))
    );
    assert_eq!(
        next(&mut world, helper),
        Some(RelayEvent::PermissionCreated(novice_relayed.ip()))
    );
    let now = world.now();
    world
        .machine_mut::<RelayClient>(helper)
        .send(now, novice_relayed, b"may I help?")
        .unwrap();
    assert_eq!(
        next_but_permissions(&mut world, novice),
        Some(RelayEvent::Data {
            peer: helper_relayed,
            bytes: b"may I help?".to_vec()
        })
    );
    let now = world.now();
    world
        .machine_mut::<RelayClient>(novice)
        .send(now, helper_relayed, b"yes, please")
        .unwrap();
    assert_eq!(
        next_but_permissions(&mut world, helper),
        Some(RelayEvent::Data {
            peer: novice_relayed,
            bytes: b"yes, please".to_vec()
        })
    );
    // Ten minutes on, the clients' refreshes have kept it all alive.
    world.run_for(Duration::from_secs(600));
    let now = world.now();
    world
        .machine_mut::<RelayClient>(novice)
        .send(now, helper_relayed, b"still there?")
        .unwrap();
    assert!(matches!(
        next_but_permissions(&mut world, helper),
        Some(RelayEvent::Data { .. })
    ));
    assert_eq!(world.machine::<Relay>(relay).allocations(), 2);
}

#[test]
fn quotas_refuse_the_allocation_too_many_and_the_bytes_too_fast() {
    let limits = Limits {
        user_allocations: 1,
        total_allocations: 2,
        user_bandwidth: 100,
        ..Limits::default()
    };
    let (mut world, relay) = world(limits);
    let first = client(&mut world, 1, RelayTransport::Udp, good("novice"));
    assert!(matches!(
        next(&mut world, first),
        Some(RelayEvent::Allocated(_))
    ));
    // The same user again: 486.
    let again = client(&mut world, 2, RelayTransport::Udp, good("novice"));
    assert_eq!(next(&mut world, again), Some(RelayEvent::AllocationFailed));
    let other = client(&mut world, 3, RelayTransport::Udp, good("helper"));
    let Some(RelayEvent::Allocated(relayed)) = next(&mut world, other) else {
        panic!("another user still fits")
    };
    // The relay is full: 508.
    let third = client(&mut world, 4, RelayTransport::Udp, good("expert"));
    assert_eq!(next(&mut world, third), Some(RelayEvent::AllocationFailed));
    assert_eq!(world.machine::<Relay>(relay).stats().quota_hits, 2);

    // 100 bytes a second: of three 60-byte datagrams at once, one passes.
    let peer_at: SocketAddr = "203.0.113.50:40000".parse().unwrap();
    let peer_host = public_host(&mut world, 50);
    let peer = world.add(peer_host, Peer::new(peer_at));
    let now = world.now();
    world
        .machine_mut::<RelayClient>(other)
        .create_permission(now, peer_at.ip())
        .unwrap();
    assert!(matches!(
        next(&mut world, other),
        Some(RelayEvent::PermissionCreated(_))
    ));
    for _ in 0..3 {
        world.machine_mut::<Peer>(peer).say(relayed, &[7; 60]);
    }
    world.run_for(Duration::from_millis(100));
    let mut heard = 0;
    while let Some(event) = world.machine_mut::<RelayClient>(other).poll_event() {
        heard += usize::from(matches!(event, RelayEvent::Data { .. }));
    }
    assert_eq!(heard, 1);
    assert_eq!(world.machine::<Relay>(relay).stats().quota_hits, 4);
}

#[test]
fn hostile_input_gets_clear_errors_or_silence_and_never_a_panic() {
    let start = Instant::now();
    let mut relay = Relay::new(config(start, Limits::default()));
    bind_all(&mut relay, start);
    let from: SocketAddr = "203.0.113.9:40000".parse().unwrap();
    let request = allocate(None);
    let mut inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0; 19],
        request[..request.len() - 3].to_vec(),
        vec![0x40, 0x00, 0xff, 0xff, 1, 2, 3],
        vec![0x40, 0x00],
        vec![0xff; 70_000],
    ];
    // Lengths that lie.
    let mut long = request.clone();
    long[2..4].copy_from_slice(&0xfff0u16.to_be_bytes());
    inputs.push(long);
    for input in &inputs {
        relay.handle_input(start, LISTEN_UDP, from, input);
        while let Some(t) = relay.poll_transmit() {
            assert!(Message::from_bytes(&t.payload).is_ok(), "only STUN answers");
        }
    }
    // An unknown comprehension-required attribute in an authenticated
    // request: 420 (RFC 8489 §6.3.1.1), from the crate.
    relay.handle_input(start, LISTEN_UDP, from, &allocate(None));
    let challenge = answer(&mut relay);
    let nonce = Message::from_bytes(&challenge)
        .unwrap()
        .attribute::<Nonce>()
        .unwrap()
        .nonce()
        .to_string();
    let c = good("novice");
    let mut m = Message::builder_request(ALLOCATE, MessageWriteVec::new());
    m.add_attribute(&RequestedTransport::new(RequestedTransport::UDP))
        .unwrap();
    let unknown = stun_types::attribute::RawAttribute::new(
        stun_types::attribute::AttributeType::new(0x7777),
        &[1, 2, 3, 4],
    );
    m.add_attribute(&unknown).unwrap();
    m.add_attribute(&Username::new(&c.username).unwrap())
        .unwrap();
    m.add_attribute(&Realm::new(REALM).unwrap()).unwrap();
    m.add_attribute(&Nonce::new(&nonce).unwrap()).unwrap();
    let key: MessageIntegrityCredentials =
        LongTermCredentials::new(c.username.clone(), c.password.clone())
            .to_key(REALM.to_string())
            .into();
    m.add_message_integrity(&key, stun_types::message::IntegrityAlgorithm::Sha1)
        .unwrap();
    relay.handle_input(start, LISTEN_UDP, from, &m.finish());
    assert_eq!(error_code(&answer(&mut relay)), Some(420));

    // TCP: a TLS ClientHello on the plain port closes the connection.
    let tcp_client: SocketAddr = "203.0.113.9:40001".parse().unwrap();
    let stream = relay
        .handle_accept(start, LISTEN_TCP, tcp_client)
        .expect("accepted");
    relay.handle_input(start, stream, tcp_client, &[0x16, 0x03, 0x01, 0x02, 0x00]);
    assert_eq!(relay.poll_close(), Some(stream));
    assert_eq!(relay.stats().malformed, 1);
    // A whole request cut in two arrives as one.
    let stream = relay
        .handle_accept(start, LISTEN_TCP, tcp_client)
        .expect("accepted again");
    let request = allocate(None);
    relay.handle_input(start, stream, tcp_client, &request[..7]);
    assert_eq!(relay.poll_transmit(), None);
    relay.handle_input(start, stream, tcp_client, &request[7..]);
    let t = relay.poll_transmit().expect("the challenge");
    assert_eq!(t.socket, stream);
    assert_eq!(error_code(&t.payload), Some(401));
}

/// RFC 8656 §7.2 step 2: an Allocate from a 5-tuple that already holds an
/// allocation is refused with 437 Allocation Mismatch, whoever asks (a NAT
/// that reuses a port for another host while the first allocation lives),
/// after the usual challenge (RFC 8489 §9.2.4), and the allocation that
/// holds it is left alone.
#[test]
fn an_allocate_on_a_five_tuple_in_use_is_an_allocation_mismatch() {
    let start = Instant::now();
    let mut relay = Relay::new(config(start, Limits::default()));
    bind_all(&mut relay, start);
    let client: SocketAddr = "203.0.113.9:40000".parse().unwrap();
    // The challenge, then the signed request (again with the nonce of a
    // 438 Stale Nonce, RFC 8489 §9.2.5): the last answer.
    let ask = |relay: &mut Relay, c: &Credentials| {
        relay.handle_input(start, LISTEN_UDP, client, &allocate(None));
        let mut reply = answer(relay);
        assert_eq!(
            error_code(&reply),
            Some(401),
            "{}: the challenge",
            c.username
        );
        for _ in 0..2 {
            let m = Message::from_bytes(&reply).unwrap();
            assert!(m.attribute::<Realm>().is_ok(), "{}: no realm", c.username);
            let nonce = m.attribute::<Nonce>().unwrap().nonce().to_string();
            relay.handle_input(
                start,
                LISTEN_UDP,
                client,
                &allocate(Some((c, REALM, &nonce))),
            );
            reply = answer(relay);
            if error_code(&reply) != Some(438) {
                break;
            }
        }
        reply
    };
    let first = good("novice");
    let reply = ask(&mut relay, &first);
    assert!(
        Message::from_bytes(&reply)
            .unwrap()
            .has_class(MessageClass::Success)
    );
    // The same user again, the same name with a later expiry (another
    // session of the same person), and another user.
    let later = secret().issue("novice", EPOCH + 7200).unwrap();
    for c in [first.clone(), later, good("expert")] {
        assert_eq!(
            error_code(&ask(&mut relay, &c)),
            Some(437),
            "{}",
            c.username
        );
    }
    assert_eq!(relay.stats().allocations, 1);
}

/// STUN over TCP on the relay's port (RFC 8489 §6.2.2): a Binding request
/// on a client's TCP connection is answered on it with the client's
/// endpoint, and OTHER-ADDRESS when the relay shares its port with an RFC
/// 5780 responder, so that TCP mapping tests work on the primary's port.
#[test]
fn a_binding_request_over_tcp_gets_the_client_s_endpoint_and_the_alternate() {
    let start = Instant::now();
    let other: SocketAddr = "198.51.100.2:3479".parse().unwrap();
    let mut relay = Relay::new(config(start, Limits::default())).with_other_address(Some(other));
    bind_all(&mut relay, start);
    let client: SocketAddr = "203.0.113.9:40000".parse().unwrap();
    let id = relay
        .handle_accept(start, LISTEN_TCP, client)
        .expect("the connection is taken");
    let request = Message::builder_request(BINDING, MessageWriteVec::new()).finish();
    relay.handle_input(start, id, client, &request);
    let t = relay.poll_transmit().expect("an answer");
    assert_eq!(t.socket, id, "answered on the connection");
    let m = Message::from_bytes(&t.payload).unwrap();
    assert!(m.has_class(MessageClass::Success));
    let mapped = m.attribute::<XorMappedAddress>().unwrap();
    assert_eq!(mapped.addr(m.transaction_id()), client);
    assert_eq!(m.attribute::<OtherAddress>().unwrap().addr(), other);
}
