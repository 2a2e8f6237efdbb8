//! The rendezvous server in the simulated world: the real [`Rendezvous`]
//! room machine behind one stream endpoint, each client's stream a
//! connection of its own, its directory questions answered as a driver
//! of a deployment would (from a [`MemoryDirectory`]: this world has one
//! rendezvous host). Streams in the world are reliable and never close,
//! so a connection the machine closes is only forgotten.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::proto::machine::{Bind, Machine, SocketId, Transmit};
use crate::proto::rendezvous::{
    ConnId, FrameDecoder, MemoryDirectory, Output, RelayOffer, Rendezvous, RendezvousConfig,
    encode, next_client_message,
};

/// The one socket: the server's stream endpoint.
const LISTENER: SocketId = SocketId(0);

/// A rendezvous server on one endpoint of the world.
pub struct RendezvousService {
    endpoint: SocketAddr,
    asked: bool,
    machine: Rendezvous,
    directory: MemoryDirectory,
    connections: HashMap<SocketAddr, (ConnId, FrameDecoder)>,
    addresses: HashMap<ConnId, SocketAddr>,
    next_id: u64,
    transmits: Vec<Transmit>,
}

impl RendezvousService {
    /// A server on `endpoint`; `seed` draws its codes.
    pub fn new(endpoint: SocketAddr, config: RendezvousConfig, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        Self {
            endpoint,
            asked: false,
            machine: Rendezvous::sharing(config, move || rng.random()),
            directory: MemoryDirectory::new(config.per_source),
            connections: HashMap::new(),
            addresses: HashMap::new(),
            next_id: 0,
            transmits: Vec::new(),
        }
    }

    pub fn rendezvous(&self) -> &Rendezvous {
        &self.machine
    }

    /// Hands `offer`'s relay to the members of every room once paired.
    pub fn offer_relay(&mut self, offer: RelayOffer) {
        self.machine.offer_relay(offer);
    }

    /// Turns the room machine's outputs into stream bytes, and answers its
    /// directory questions.
    fn drain(&mut self, now: Instant) {
        while let Some(output) = self.machine.poll_output() {
            match output {
                Output::Send(id, message) => {
                    if let Some(&to) = self.addresses.get(&id) {
                        self.transmits.push(Transmit {
                            socket: LISTENER,
                            destination: to,
                            payload: encode(&message),
                        });
                    }
                }
                // The one host holds every room, so nothing is forwarded:
                // a forwarded connection would only be forgotten here.
                Output::Close(id) | Output::Forward(id, _) => {
                    if let Some(address) = self.addresses.remove(&id) {
                        self.connections.remove(&address);
                    }
                }
                Output::Ask(id, question) => {
                    let answer = self.directory.answer(now, &question);
                    self.machine.handle_answer(now, id, answer);
                }
                Output::Release(code) => self.directory.release(code),
            }
        }
    }
}

impl Machine for RendezvousService {
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        (!self.asked).then(|| {
            self.asked = true;
            (LISTENER, Bind::At(self.endpoint))
        })
    }

    fn handle_bound(&mut self, _now: Instant, _socket: SocketId, _local: SocketAddr) {}

    /// Stream bytes from `from`; its first bytes open a connection.
    fn handle_input(&mut self, now: Instant, _socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        if !self.connections.contains_key(&from) {
            self.next_id += 1;
            let id = ConnId(self.next_id);
            self.connections.insert(from, (id, FrameDecoder::new()));
            self.addresses.insert(id, from);
            self.machine.connect(now, id, from);
        }
        let Some((id, decoder)) = self.connections.get_mut(&from) else {
            return;
        };
        let id = *id;
        decoder.push(bytes);
        let mut inbound = Vec::new();
        while let Some(message) = next_client_message(decoder) {
            let failed = message.is_err();
            inbound.push(message);
            if failed {
                break;
            }
        }
        for message in inbound {
            match message {
                Ok(message) => self.machine.handle_message(now, id, message),
                Err(error) => self.machine.handle_malformed(now, id, error),
            }
        }
        self.drain(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.machine.handle_timeout(now);
        self.drain(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        (!self.transmits.is_empty()).then(|| self.transmits.remove(0))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.machine.poll_timeout()
    }

    fn is_done(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::proto::nat::{FilteringBehavior as F, MappingBehavior as M};
    use crate::proto::punch::{Candidate, CandidateKind};
    use crate::proto::relay::credentials::{Secret as RelaySecret, UnixClock};
    use crate::proto::rendezvous::{
        Introduction, Member, PunchVerdict, RendezvousError, RendezvousEvent, RendezvousFailure,
        Secret,
    };
    use crate::proto::session::InviteCode;
    use crate::sim::nat::{Allocation, Nat, NatBehavior};
    use crate::sim::wire::Link;
    use crate::sim::world::{HostId, NodeId, Uplink, World};

    const SERVER: &str = "198.51.100.1:3480";

    /// A world with the rendezvous server in it, and the server's node.
    fn world() -> (World, NodeId) {
        let mut world = World::new(Instant::now(), Link::default());
        let server: SocketAddr = SERVER.parse().unwrap();
        let host = world.add_host(&[server.ip()], Uplink::Public);
        let service = world.add(
            host,
            RendezvousService::new(server, RendezvousConfig::default(), 7),
        );
        (world, service)
    }

    /// A client host behind a symmetric NAT at `public`.
    fn behind_nat(world: &mut World, private: [u8; 4], public: [u8; 4]) -> HostId {
        let behavior = NatBehavior {
            mapping: M::AddressAndPortDependent,
            filtering: F::AddressAndPortDependent,
            allocation: Allocation::Random { seed: 3 },
            hairpinning: false,
        };
        let nat = world.add_nat(Nat::new(behavior, IpAddr::from(public)));
        world.add_host(&[IpAddr::from(private)], Uplink::Behind(nat))
    }

    /// The help desk names the certificate its QUIC handshake will prove.
    fn helper_intro() -> Introduction {
        Introduction {
            certificate: Some([7; 32]),
            ..Introduction::new("help desk")
        }
    }

    fn helper(world: &mut World, host: HostId, secret: &str) -> NodeId {
        let now = world.now();
        let server = SERVER.parse().unwrap();
        let secret: Secret = secret.parse().unwrap();
        world.add(
            host,
            Member::helper(server, secret, helper_intro(), [1; 32], now),
        )
    }

    fn novice(world: &mut World, host: HostId, invite: InviteCode) -> NodeId {
        let now = world.now();
        let server = SERVER.parse().unwrap();
        world.add(
            host,
            Member::novice(server, invite, Introduction::new("novice"), [2; 32], now),
        )
    }

    /// Runs the world until `node` has something to say.
    fn next(world: &mut World, node: NodeId) -> RendezvousEvent {
        let mut event = None;
        world.run_until(
            |w| {
                event = w.machine_mut::<Member>(node).poll_event();
                event.is_some()
            },
            None,
        );
        event.expect("the member says something before the world falls silent")
    }

    fn welcome(world: &mut World, node: NodeId) -> InviteCode {
        match next(world, node) {
            RendezvousEvent::Welcome(w) => w.invite().expect("a code meeting"),
            other => panic!("a welcome first, not {other:?}"),
        }
    }

    fn candidate(address: &str) -> Candidate {
        Candidate {
            address: address.parse().unwrap(),
            kind: CandidateKind::ServerReflexive,
        }
    }

    #[test]
    fn two_members_prove_the_code_and_swap_sealed_reports_candidates_and_outcomes() {
        let (mut world, service) = world();
        // The server offers a relay: each member gets credentials of its
        // own for it, which the relay's secret verifies.
        let secret = RelaySecret::new("relay secret").unwrap();
        let relay: SocketAddr = "198.51.100.60:3478".parse().unwrap();
        let clock = UnixClock::new(world.now(), Duration::from_secs(1_800_000_000));
        world
            .machine_mut::<RendezvousService>(service)
            .offer_relay(RelayOffer {
                address: relay,
                secret: secret.clone(),
                clock,
                lifetime: Duration::from_secs(3600),
            });
        let helper_host = behind_nat(&mut world, [10, 0, 1, 2], [203, 0, 113, 1]);
        // UDP is blocked on the novice's network; the rendezvous is a
        // stream and still gets through.
        let novice_host = world.add_host(&[IpAddr::from([203, 0, 113, 2])], Uplink::Blocked);
        let helper = helper(&mut world, helper_host, "4MX2TB");
        let invite = welcome(&mut world, helper);
        assert_eq!(invite.secret.as_str(), "4MX2TB");
        let novice = novice(&mut world, novice_host, invite);
        assert_eq!(welcome(&mut world, novice), invite);
        assert_eq!(next(&mut world, helper), RendezvousEvent::PeerJoined);
        for (node, peer, certificate) in [
            (helper, "novice", None),
            (novice, "help desk", Some([7; 32])),
        ] {
            match next(&mut world, node) {
                RendezvousEvent::Confirmed(intro) => {
                    assert_eq!(intro.name, peer);
                    assert_eq!(intro.certificate, certificate);
                }
                other => panic!("a confirmation, not {other:?}"),
            }
        }
        for (node, side) in [(helper, "helper"), (novice, "novice")] {
            let now = world.now();
            world
                .machine_mut::<Member>(node)
                .send_report(now, json!({ "side": side }))
                .unwrap();
        }
        assert_eq!(
            next(&mut world, helper),
            RendezvousEvent::PeerReport(json!({"side": "novice"}))
        );
        assert_eq!(
            next(&mut world, novice),
            RendezvousEvent::PeerReport(json!({"side": "helper"}))
        );
        let offers = [
            (helper, vec![candidate("203.0.113.1:40000")]),
            (novice, vec![candidate("203.0.113.2:40007")]),
        ];
        for (node, candidates) in offers.clone() {
            let now = world.now();
            world
                .machine_mut::<Member>(node)
                .send_candidates(now, candidates)
                .unwrap();
        }
        // Each hears the other's offer with the other's check credentials
        // (from the shared key), and where the server saw the other come
        // from: the NAT's public address, or the novice's own.
        for (node, peer, seen_from) in [
            (helper, offers[1].clone(), [203, 0, 113, 2]),
            (novice, offers[0].clone(), [203, 0, 113, 1]),
        ] {
            let RendezvousEvent::PeerCandidates(got) = next(&mut world, node) else {
                panic!("the peer's candidates")
            };
            let theirs = world
                .machine::<Member>(peer.0)
                .local_credentials()
                .cloned()
                .expect("confirmed");
            assert_eq!(got.credentials, theirs);
            assert_eq!(got.candidates, peer.1);
            assert_eq!(got.observed.ip(), IpAddr::from(seen_from));
            assert!(!world.machine::<Member>(node).is_done());
        }
        let mut usernames = Vec::new();
        for node in [helper, novice] {
            let grant = world
                .machine::<Member>(node)
                .relay_grant()
                .cloned()
                .expect("a relay grant");
            assert_eq!(grant.address, relay);
            assert_eq!(grant.password, secret.password(&grant.username));
            assert!(grant.username.starts_with("1800003600:ranat-"));
            usernames.push(grant.username);
        }
        assert_ne!(usernames[0], usernames[1], "one user per member");
        // Last, how each side's punch ended: then the room is done.
        for (node, connected) in [(helper, true), (novice, false)] {
            let now = world.now();
            world
                .machine_mut::<Member>(node)
                .send_outcome(
                    now,
                    PunchVerdict {
                        connected,
                        relayed: None,
                    },
                )
                .unwrap();
        }
        for (node, peer_connected) in [(helper, false), (novice, true)] {
            assert_eq!(
                next(&mut world, node),
                RendezvousEvent::PeerOutcome(PunchVerdict {
                    connected: peer_connected,
                    relayed: None,
                })
            );
            assert!(world.machine::<Member>(node).is_done());
        }
        let service = world.machine::<RendezvousService>(service);
        assert_eq!(service.rendezvous().rooms(), 0, "the room is gone");
        assert_eq!(service.rendezvous().stats().rooms_completed, 1);
    }

    /// The novice's own failure, or the server's word for it.
    fn wrong_code(event: &RendezvousEvent) -> bool {
        matches!(
            event,
            RendezvousEvent::Failed(
                RendezvousFailure::WrongCode
                    | RendezvousFailure::Server(RendezvousError::WrongCode)
            )
        )
    }

    #[test]
    fn wrong_codes_fail_the_novice_and_the_third_closes_the_room() {
        let (mut world, service) = world();
        let hosts: Vec<HostId> = (1..=5)
            .map(|i| world.add_host(&[IpAddr::from([203, 0, 113, i])], Uplink::Public))
            .collect();
        let helper = helper(&mut world, hosts[0], "4MX2TB");
        let invite = welcome(&mut world, helper);
        let wrong = InviteCode {
            room: invite.room,
            secret: "4MX2TC".parse().unwrap(),
        };
        // A wrong secret, then the right one: the room survives the first.
        let first = novice(&mut world, hosts[1], wrong);
        assert!(matches!(
            next(&mut world, first),
            RendezvousEvent::Welcome(_)
        ));
        assert_eq!(next(&mut world, helper), RendezvousEvent::PeerJoined);
        let failed = next(&mut world, first);
        assert!(wrong_code(&failed), "{failed:?}");
        assert_eq!(
            next(&mut world, helper),
            RendezvousEvent::AttemptFailed { attempts_left: 2 }
        );
        let right = novice(&mut world, hosts[2], invite);
        assert!(matches!(
            next(&mut world, right),
            RendezvousEvent::Welcome(_)
        ));
        assert_eq!(next(&mut world, helper), RendezvousEvent::PeerJoined);
        assert!(matches!(
            next(&mut world, right),
            RendezvousEvent::Confirmed(_)
        ));
        assert!(matches!(
            next(&mut world, helper),
            RendezvousEvent::Confirmed(_)
        ));

        // Another room: three wrong secrets close it.
        let (mut world, service2) = {
            let _ = service;
            self::world()
        };
        let hosts: Vec<HostId> = (1..=5)
            .map(|i| world.add_host(&[IpAddr::from([203, 0, 113, i])], Uplink::Public))
            .collect();
        let helper = self::helper(&mut world, hosts[0], "4MX2TB");
        let invite = welcome(&mut world, helper);
        for (attempt, secret) in ["222222", "333333", "444444"].into_iter().enumerate() {
            let wrong = InviteCode {
                room: invite.room,
                secret: secret.parse().unwrap(),
            };
            let n = novice(&mut world, hosts[attempt + 1], wrong);
            assert!(matches!(next(&mut world, n), RendezvousEvent::Welcome(_)));
            assert_eq!(next(&mut world, helper), RendezvousEvent::PeerJoined);
            let failed = next(&mut world, n);
            assert!(wrong_code(&failed), "{failed:?}");
            let heard = next(&mut world, helper);
            if attempt < 2 {
                assert_eq!(
                    heard,
                    RendezvousEvent::AttemptFailed {
                        attempts_left: 2 - attempt as u32
                    }
                );
            } else {
                assert!(
                    matches!(
                        heard,
                        RendezvousEvent::Failed(
                            RendezvousFailure::TooManyAttempts
                                | RendezvousFailure::Server(RendezvousError::TooManyAttempts)
                        )
                    ),
                    "{heard:?}"
                );
            }
        }
        // The server hears of the third failure too, and closes the room.
        world.run_until(|_| false, None);
        let service = world.machine::<RendezvousService>(service2);
        assert_eq!(service.rendezvous().rooms(), 0);
        let stats = service.rendezvous().stats();
        assert_eq!(
            (stats.wrong_codes, stats.rooms_closed_after_wrong_codes),
            (3, 1)
        );
    }

    #[test]
    fn a_silent_server_times_out() {
        let (mut world, _) = world();
        let host = world.add_host(&[IpAddr::from([203, 0, 113, 1])], Uplink::Public);
        let nowhere: SocketAddr = "198.51.100.99:3480".parse().unwrap();
        let start = world.now();
        let secret: Secret = "4MX2TB".parse().unwrap();
        let lost = world.add(
            host,
            Member::helper(nowhere, secret, helper_intro(), [1; 32], start),
        );
        assert_eq!(
            next(&mut world, lost),
            RendezvousEvent::Failed(RendezvousFailure::Unresponsive { server: nowhere })
        );
        assert_eq!(world.now() - start, Duration::from_secs(5));
    }
}
