//! The rendezvous server in the simulated world: the real [`Rendezvous`]
//! room machine behind one stream endpoint, each client's stream a
//! connection of its own. Streams in the world are reliable and never
//! close, so a connection the machine closes is only forgotten.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::proto::machine::{Bind, Machine, SocketId, Transmit};
use crate::proto::rendezvous::{
    ConnId, FrameDecoder, Output, Rendezvous, RendezvousConfig, encode, next_client_message,
};

/// The one socket: the server's stream endpoint.
const LISTENER: SocketId = SocketId(0);

/// A rendezvous server on one endpoint of the world.
pub struct RendezvousService {
    endpoint: SocketAddr,
    asked: bool,
    machine: Rendezvous,
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
            machine: Rendezvous::new(config, move || rng.random()),
            connections: HashMap::new(),
            addresses: HashMap::new(),
            next_id: 0,
            transmits: Vec::new(),
        }
    }

    pub fn rendezvous(&self) -> &Rendezvous {
        &self.machine
    }

    /// Turns the room machine's outputs into stream bytes.
    fn drain(&mut self) {
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
                Output::Close(id) => {
                    if let Some(address) = self.addresses.remove(&id) {
                        self.connections.remove(&address);
                    }
                }
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
        self.drain();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.machine.handle_timeout(now);
        self.drain();
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
    use crate::proto::punch::{Candidate, CandidateKind, Credentials};
    use crate::proto::rendezvous::{Member, RendezvousError, RendezvousEvent, RendezvousFailure};
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

    fn credentials(seed: u8) -> Credentials {
        let mut n = seed;
        Credentials::generate(|| {
            n = n.wrapping_mul(29).wrapping_add(11);
            n
        })
    }

    fn candidate(address: &str) -> Candidate {
        Candidate {
            address: address.parse().unwrap(),
            kind: CandidateKind::ServerReflexive,
        }
    }

    #[test]
    fn two_members_swap_reports_and_candidates_through_the_simulated_server() {
        let (mut world, service) = world();
        let server: SocketAddr = SERVER.parse().unwrap();
        let helper_host = behind_nat(&mut world, [10, 0, 1, 2], [203, 0, 113, 1]);
        // UDP is blocked on the novice's network; the rendezvous is a
        // stream and still gets through.
        let novice_host = world.add_host(&[IpAddr::from([203, 0, 113, 2])], Uplink::Blocked);
        let now = world.now();
        let helper = world.add(helper_host, Member::new(server, None, now));
        let RendezvousEvent::Welcome(welcome) = next(&mut world, helper) else {
            panic!("a welcome first")
        };
        let now = world.now();
        let novice = world.add(novice_host, Member::new(server, Some(welcome.code), now));
        assert!(matches!(
            next(&mut world, novice),
            RendezvousEvent::Welcome(w) if w.code == welcome.code
        ));
        assert_eq!(next(&mut world, helper), RendezvousEvent::PeerJoined);
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
            (helper, credentials(1), vec![candidate("203.0.113.1:40000")]),
            (novice, credentials(2), vec![candidate("203.0.113.2:40007")]),
        ];
        for (node, creds, candidates) in offers.clone() {
            let now = world.now();
            world
                .machine_mut::<Member>(node)
                .send_candidates(now, creds, candidates)
                .unwrap();
        }
        // Each hears the other's offer, and where the server saw the other
        // come from: the NAT's public address, or the novice's own.
        for (node, peer, seen_from) in [
            (helper, &offers[1], [203, 0, 113, 2]),
            (novice, &offers[0], [203, 0, 113, 1]),
        ] {
            let RendezvousEvent::PeerCandidates(got) = next(&mut world, node) else {
                panic!("the peer's candidates")
            };
            assert_eq!(got.credentials, peer.1);
            assert_eq!(got.candidates, peer.2);
            assert_eq!(got.observed.ip(), IpAddr::from(seen_from));
            assert!(world.machine::<Member>(node).is_done());
        }
        let service = world.machine::<RendezvousService>(service);
        assert_eq!(service.rendezvous().rooms(), 0, "the room is gone");
    }

    #[test]
    fn a_wrong_code_and_a_third_member_are_refused_and_a_silent_server_times_out() {
        let (mut world, _) = world();
        let server: SocketAddr = SERVER.parse().unwrap();
        let hosts: Vec<HostId> = (1..=3)
            .map(|i| world.add_host(&[IpAddr::from([203, 0, 113, i])], Uplink::Public))
            .collect();
        let now = world.now();
        let helper = world.add(hosts[0], Member::new(server, None, now));
        let RendezvousEvent::Welcome(welcome) = next(&mut world, helper) else {
            panic!("a welcome first")
        };
        let wrong = if welcome.code.as_str() == "ABC-DEF" {
            "ABC-DEG"
        } else {
            "ABC-DEF"
        };
        let now = world.now();
        let stranger = world.add(
            hosts[1],
            Member::new(server, Some(wrong.parse().unwrap()), now),
        );
        assert_eq!(
            next(&mut world, stranger),
            RendezvousEvent::Failed(RendezvousFailure::Server(RendezvousError::UnknownCode))
        );
        let now = world.now();
        let novice = world.add(hosts[1], Member::new(server, Some(welcome.code), now));
        assert!(matches!(
            next(&mut world, novice),
            RendezvousEvent::Welcome(_)
        ));
        let now = world.now();
        let third = world.add(hosts[2], Member::new(server, Some(welcome.code), now));
        assert_eq!(
            next(&mut world, third),
            RendezvousEvent::Failed(RendezvousFailure::Server(RendezvousError::CodeInUse))
        );

        // A server address where nothing listens: the handshake gives up
        // after its 5 s.
        let nowhere: SocketAddr = "198.51.100.99:3480".parse().unwrap();
        let start = world.now();
        let lost = world.add(hosts[2], Member::new(nowhere, None, start));
        assert_eq!(
            next(&mut world, lost),
            RendezvousEvent::Failed(RendezvousFailure::Unresponsive { server: nowhere })
        );
        assert_eq!(world.now() - start, Duration::from_secs(5));
    }
}
