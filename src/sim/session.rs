//! The session engine's machines over one pair of networks, in the
//! simulated [`World`]: the rendezvous server with a relay offer, a TURN
//! relay (RFC 8656) on a public host, and on each side a [`Member`], a
//! [`Punch`] and a [`RelayClient`], all the real machines, driven as
//! `ranat trial` drives them.
//!
//! Both sides meet at the rendezvous and prove the code; the server hands
//! each a relay grant. Each side sends its probe report, plans its punch
//! from the peer's, gathers punch candidates and at the same time
//! allocates on the relay (over UDP, or TCP when its report says UDP is
//! blocked, RFC 8656 §3.1), and advertises its relayed address as a
//! relayed candidate (RFC 8445 §5.1.1.2) with the rest. Both punch (a
//! punch never checks a relayed candidate) and tell each other how the
//! punch ended. The session runs directly when both punches connected;
//! otherwise each side binds a channel to the other's relayed address
//! (RFC 8656 §12) and sends datagrams relayed address to relayed address,
//! each through its own allocation. At the end both delete their
//! allocations (a Refresh with lifetime 0, RFC 8656 §7.2).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::lab::Gateway;
use super::pair::{self, Side};
use super::rendezvous::RendezvousService;
use super::wire::Link;
use super::world::{HostId, NodeId, Uplink, World};
use crate::predict::punch_plan;
use crate::proto::punch::{Candidate, CandidateKind, Punch, PunchConfig, PunchOutcome};
use crate::proto::relay::client::{RelayClient, RelayEvent, RelayTransport};
use crate::proto::relay::credentials::{Credentials, Secret as RelaySecret, UnixClock};
use crate::proto::relay::policy::{Limits, PeerPolicy, PortRange};
use crate::proto::relay::server::{Relay, RelayConfig};
use crate::proto::rendezvous::{
    Introduction, Member, PeerCandidates, PunchVerdict, RelayOffer, RendezvousConfig,
    RendezvousEvent, Secret,
};
use crate::report::{FamilyStatus, ProbeReport};

/// The rendezvous server's stream endpoint.
const RENDEZVOUS: &str = "198.51.100.3:3480";
/// The relay's endpoint, UDP and TCP; its relayed ports are
/// [`RELAYED_PORTS`] of the same address.
const RELAY: &str = "198.51.100.60:3478";
const RELAYED_PORTS: PortRange = PortRange {
    low: 50000,
    high: 50099,
};
/// The secret the rendezvous and the relay share for the TURN REST
/// credentials.
const RELAY_SECRET: &str = "help desk relay";
/// Unix time at the world's start.
const EPOCH: Duration = Duration::from_secs(1_800_000_000);
/// The helper's part of the invitation code.
const CODE: &str = "4MX2TB";
/// How many datagrams each side sends the other over a relayed path.
pub const DATAGRAMS: usize = 3;
/// The longest a scenario runs in virtual time, from the first Hello to
/// the last datagram.
const LIMIT: Duration = Duration::from_secs(60);
/// How long the clients get to delete their allocations.
const RELEASE: Duration = Duration::from_secs(5);

/// One side: what sits between it and the Internet, and the report its
/// probe wrote there.
#[derive(Debug, Clone, Copy)]
pub struct Party<'a> {
    pub gateway: Gateway,
    pub report: &'a ProbeReport,
}

/// The path a session ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionPath {
    /// Between the punched sockets: both punches connected.
    Direct,
    /// Relayed address to relayed address, through the relay.
    Relayed,
}

/// How one scenario ended.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    /// The path both sides took, or `None` when they took none, or not
    /// the same one.
    pub path: Option<SessionPath>,
    /// Whether each side's punch connected.
    pub punches: [bool; 2],
    /// How each side reached the relay.
    pub transports: [RelayTransport; 2],
    /// Each side's relayed address, when the relay allocated one.
    pub relayed: [Option<SocketAddr>; 2],
    /// The datagrams each side received from the other over the relay.
    pub received: [usize; 2],
    /// The allocations the relay made, and those still alive once both
    /// sides deleted theirs.
    pub allocations_made: u64,
    pub allocations_left: usize,
    /// Why a side gave up on the rendezvous, in words.
    pub failure: Option<String>,
    /// Virtual time from the first Hello to the chosen path carrying the
    /// session.
    pub took: Duration,
}

/// A side's relay allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AllocationState {
    Pending,
    Allocated(SocketAddr),
    Failed,
}

/// The path a side chose, once both punch outcomes are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Undecided,
    Direct,
    /// Through the relay to the peer's relayed address.
    Relayed(SocketAddr),
    Neither,
}

/// The `k`th datagram side `side` sends over the relay.
fn datagram(k: usize, side: usize) -> Vec<u8> {
    format!("datagram {k} from side {side}").into_bytes()
}

/// How a side reaches the relay: over TCP when its probe found UDP
/// blocked (RFC 8656 §3.1), else over UDP.
fn transport(report: &ProbeReport) -> RelayTransport {
    if report.ipv4.status == FamilyStatus::UdpBlocked {
        RelayTransport::Tcp
    } else {
        RelayTransport::Udp
    }
}

/// One side of the session engine: the driver of its three machines.
struct Engine<'a> {
    index: usize,
    host: HostId,
    report: &'a ProbeReport,
    stun: SocketAddr,
    transport: RelayTransport,
    seed: u64,
    member: NodeId,
    punch: Option<NodeId>,
    relay: Option<NodeId>,
    allocation: AllocationState,
    candidates_sent: bool,
    peer: Option<PeerCandidates>,
    punching: bool,
    permitted: bool,
    verdict: Option<bool>,
    peer_verdict: Option<bool>,
    choice: Choice,
    received: usize,
    failure: Option<String>,
}

impl<'a> Engine<'a> {
    fn new(
        index: usize,
        host: HostId,
        party: Party<'a>,
        stun: SocketAddr,
        member: NodeId,
        seed: u64,
    ) -> Self {
        Self {
            index,
            host,
            report: party.report,
            stun,
            transport: transport(party.report),
            seed,
            member,
            punch: None,
            relay: None,
            allocation: AllocationState::Pending,
            candidates_sent: false,
            peer: None,
            punching: false,
            permitted: false,
            verdict: None,
            peer_verdict: None,
            choice: Choice::Undecided,
            received: 0,
            failure: None,
        }
    }

    /// Whether this side has nothing more to do: it failed, runs directly,
    /// or has heard every datagram the peer sends over the relay.
    fn finished(&self) -> bool {
        self.failure.is_some()
            || match self.choice {
                Choice::Undecided => false,
                Choice::Direct | Choice::Neither => true,
                Choice::Relayed(_) => self.received >= DATAGRAMS,
            }
    }

    /// Reacts to everything the machines said since the last step.
    fn step(&mut self, world: &mut World) {
        while let Some(event) = world.machine_mut::<Member>(self.member).poll_event() {
            match event {
                RendezvousEvent::Confirmed(_) => self.confirmed(world),
                RendezvousEvent::PeerReport(report) => self.plan(world, report),
                RendezvousEvent::PeerCandidates(candidates) => self.peer = Some(candidates),
                RendezvousEvent::PeerOutcome(verdict) => {
                    self.peer_verdict = Some(verdict.connected)
                }
                RendezvousEvent::Failed(failure) => self.failure = Some(failure.to_string()),
                RendezvousEvent::Welcome(_)
                | RendezvousEvent::PeerJoined
                | RendezvousEvent::AttemptFailed { .. } => {}
            }
        }
        self.relay_events(world);
        self.advertise(world);
        self.punch(world);
        self.permit(world);
        self.choose(world);
    }

    /// The code is proven: the report goes out, and the allocation starts
    /// on the relay the server granted.
    fn confirmed(&mut self, world: &mut World) {
        let now = world.now();
        let member = world.machine_mut::<Member>(self.member);
        let sent = serde_json::to_value(self.report)
            .map_err(|e| e.to_string())
            .and_then(|report| member.send_report(now, report).map_err(|e| e.to_string()));
        if let Err(error) = sent {
            self.failure = Some(error);
            return;
        }
        let Some(grant) = member.relay_grant().cloned() else {
            self.allocation = AllocationState::Failed;
            return;
        };
        let credentials = Credentials {
            username: grant.username,
            password: grant.password,
        };
        let client = RelayClient::new(grant.address, self.transport, credentials, now);
        self.relay = Some(world.add(self.host, client));
    }

    /// The peer's report arrived: the punch starts gathering with the plan
    /// the two reports give (a plain punch when the peer's report is not
    /// one), and the check credentials from the shared key.
    fn plan(&mut self, world: &mut World, peer: serde_json::Value) {
        let Some(credentials) = world
            .machine::<Member>(self.member)
            .local_credentials()
            .cloned()
        else {
            return;
        };
        let config = match serde_json::from_value::<ProbeReport>(peer) {
            Ok(peer) => punch_plan(self.report, &peer, false).config(credentials, Some(self.stun)),
            Err(_) => PunchConfig::new(credentials, Some(self.stun)),
        };
        self.punch = Some(world.add(self.host, Punch::new(config, self.seed)));
    }

    fn relay_events(&mut self, world: &mut World) {
        let Some(relay) = self.relay else { return };
        while let Some(event) = world.machine_mut::<RelayClient>(relay).poll_event() {
            match event {
                RelayEvent::Allocated(relayed) => {
                    self.allocation = AllocationState::Allocated(relayed)
                }
                RelayEvent::AllocationFailed => self.allocation = AllocationState::Failed,
                RelayEvent::ChannelBound(peer) if self.choice == Choice::Relayed(peer) => {
                    let now = world.now();
                    for k in 0..DATAGRAMS {
                        let sent = world.machine_mut::<RelayClient>(relay).send(
                            now,
                            peer,
                            &datagram(k, self.index),
                        );
                        if sent.is_err() {
                            self.choice = Choice::Neither;
                        }
                    }
                }
                RelayEvent::ChannelFailed(peer) if self.choice == Choice::Relayed(peer) => {
                    self.choice = Choice::Neither;
                }
                // The peer may choose the relay and send before its outcome
                // reaches this side: what comes from its relayed address
                // counts from the start.
                RelayEvent::Data { peer, bytes } if Some(peer) == self.peer_relayed() => {
                    if bytes == datagram(self.received, 1 - self.index) {
                        self.received += 1;
                    }
                }
                RelayEvent::ChannelBound(_)
                | RelayEvent::ChannelFailed(_)
                | RelayEvent::Data { .. }
                | RelayEvent::PermissionCreated(_)
                | RelayEvent::PermissionFailed(_)
                | RelayEvent::Closed => {}
            }
        }
    }

    /// Once gathered and allocated (or not), the candidates go out: the
    /// punch's, and the relayed address (RFC 8445 §5.1.1.2).
    fn advertise(&mut self, world: &mut World) {
        let Some(punch) = self.punch else { return };
        if self.candidates_sent || self.allocation == AllocationState::Pending {
            return;
        }
        let Some(gathered) = world.machine::<Punch>(punch).local_candidates() else {
            return;
        };
        let mut candidates = gathered.to_vec();
        if let AllocationState::Allocated(relayed) = self.allocation {
            candidates.push(Candidate {
                address: relayed,
                kind: CandidateKind::Relayed,
            });
        }
        let now = world.now();
        self.candidates_sent = true;
        if let Err(error) = world
            .machine_mut::<Member>(self.member)
            .send_candidates(now, candidates)
        {
            self.failure = Some(error.to_string());
        }
    }

    /// Punches once this side's candidates are out and the peer's are in
    /// (the punch leaves the peer's relayed candidate alone: RFC 8445
    /// §6.1.2.2 pairs it only with a local relayed candidate), and tells
    /// the peer how the punch ended.
    fn punch(&mut self, world: &mut World) {
        let Some(punch) = self.punch else { return };
        let now = world.now();
        if !self.punching
            && self.candidates_sent
            && let Some(peer) = &self.peer
        {
            self.punching = true;
            world.machine_mut::<Punch>(punch).start(
                now,
                peer.credentials.clone(),
                &peer.candidates,
            );
        }
        if self.verdict.is_some() {
            return;
        }
        let Some(outcome) = world.machine::<Punch>(punch).outcome() else {
            return;
        };
        let connected = matches!(outcome, PunchOutcome::Connected(_));
        self.verdict = Some(connected);
        if let Err(error) = world.machine_mut::<Member>(self.member).send_outcome(
            now,
            PunchVerdict {
                connected,
                relayed: None,
            },
        ) {
            self.failure = Some(error.to_string());
        }
    }

    /// The peer's relayed address, as it advertised it.
    fn peer_relayed(&self) -> Option<SocketAddr> {
        self.peer
            .as_ref()?
            .candidates
            .iter()
            .find(|c| c.kind == CandidateKind::Relayed)
            .map(|c| c.address)
    }

    /// Lets the peer's relayed address in as soon as both are known, as an
    /// ICE agent installs the permission of a relayed pair before it is
    /// used (RFC 8656 §9), so that the peer's first datagrams are not
    /// dropped.
    fn permit(&mut self, world: &mut World) {
        let (Some(relay), AllocationState::Allocated(_), Some(peer)) =
            (self.relay, self.allocation, self.peer_relayed())
        else {
            return;
        };
        if self.permitted {
            return;
        }
        self.permitted = true;
        let now = world.now();
        // A refusal leaves it to the channel, whose binding installs the
        // permission too (RFC 8656 §12).
        let _ = world
            .machine_mut::<RelayClient>(relay)
            .create_permission(now, peer.ip());
    }

    /// Both outcomes known: the direct path when both punches connected,
    /// else a channel to the peer's relayed address.
    fn choose(&mut self, world: &mut World) {
        let (Choice::Undecided, Some(mine), Some(theirs)) =
            (self.choice, self.verdict, self.peer_verdict)
        else {
            return;
        };
        if mine && theirs {
            self.choice = Choice::Direct;
            return;
        }
        let (Some(relay), AllocationState::Allocated(_), Some(peer)) =
            (self.relay, self.allocation, self.peer_relayed())
        else {
            self.choice = Choice::Neither;
            return;
        };
        let now = world.now();
        let bound = world
            .machine_mut::<RelayClient>(relay)
            .bind_channel(now, peer);
        self.choice = match bound {
            Ok(()) => Choice::Relayed(peer),
            Err(_) => Choice::Neither,
        };
    }

    /// Gives the allocation back.
    fn release(&self, world: &mut World) {
        if let (Some(relay), AllocationState::Allocated(_)) = (self.relay, self.allocation) {
            let now = world.now();
            // A client whose allocation is already gone has nothing to
            // delete.
            let _ = world.machine_mut::<RelayClient>(relay).delete(now);
        }
    }
}

/// A world with the STUN server, the relay, and the rendezvous server
/// that offers the relay: the world, the STUN server's endpoint, and the
/// relay's node.
fn servers(seed: u64) -> (World, SocketAddr, NodeId) {
    let mut world = World::new(
        Instant::now(),
        Link {
            seed,
            ..Link::default()
        },
    );
    let stun = pair::add_stun_server(&mut world);
    let secret = RelaySecret::new(RELAY_SECRET).expect("a constant secret");
    let clock = UnixClock::new(world.now(), EPOCH);
    let listen: SocketAddr = RELAY.parse().expect("constant address");
    let relay_host = world.add_host(&[listen.ip()], Uplink::Public);
    let relay = world.add(
        relay_host,
        Relay::new(RelayConfig {
            listen,
            realm: "ranat.test".to_string(),
            secret: secret.clone(),
            clock,
            // The peers are relayed addresses of the relay itself: its own
            // address, on its relayed ports (RFC 8656 §21.3).
            policy: PeerPolicy::new(&[], &[], &[listen.ip()], &[listen], RELAYED_PORTS),
            limits: Limits::default(),
        }),
    );
    let at: SocketAddr = RENDEZVOUS.parse().expect("constant address");
    let rendezvous_host = world.add_host(&[at.ip()], Uplink::Public);
    let rendezvous = world.add(
        rendezvous_host,
        RendezvousService::new(at, RendezvousConfig::default(), seed),
    );
    world
        .machine_mut::<RendezvousService>(rendezvous)
        .offer_relay(RelayOffer {
            address: listen,
            secret,
            clock,
            lifetime: Duration::from_secs(3600),
        });
    (world, stun, relay)
}

/// Runs one session between `parties` (the first the helper, the second
/// the novice): see the module documentation.
pub fn run(parties: [Party<'_>; 2], seed: u64) -> SessionSummary {
    let (mut world, stun, relay) = servers(seed);
    let start = world.now();
    let rendezvous: SocketAddr = RENDEZVOUS.parse().expect("constant address");
    let hosts =
        [0, 1].map(|i| pair::add_host(&mut world, i, Side::new(parties[usize::from(i)].gateway)).0);
    let secret: Secret = CODE.parse().expect("a constant code");
    let helper = world.add(
        hosts[0],
        Member::helper(
            rendezvous,
            secret,
            Introduction::new("help desk"),
            [1; 32],
            start,
        ),
    );
    let mut invite = None;
    world.run_until(
        |w| {
            while let Some(event) = w.machine_mut::<Member>(helper).poll_event() {
                if let RendezvousEvent::Welcome(welcome) = event {
                    invite = welcome.invite();
                }
            }
            invite.is_some()
        },
        Some(start + LIMIT),
    );
    let mut engines = vec![Engine::new(0, hosts[0], parties[0], stun, helper, seed)];
    if let Some(invite) = invite {
        let now = world.now();
        let novice = world.add(
            hosts[1],
            Member::novice(
                rendezvous,
                invite,
                Introduction::new("novice"),
                [2; 32],
                now,
            ),
        );
        engines.push(Engine::new(
            1,
            hosts[1],
            parties[1],
            stun,
            novice,
            seed.wrapping_add(1),
        ));
    }
    world.run_until(
        |w| {
            for engine in engines.iter_mut() {
                engine.step(w);
            }
            engines.len() == 2 && engines.iter().all(Engine::finished)
        },
        Some(start + LIMIT),
    );
    let took = world.elapsed();
    for engine in &engines {
        engine.release(&mut world);
    }
    world.run_for(RELEASE);
    summarize(&world, &engines, relay, took, parties)
}

/// What the engines ended with.
fn summarize(
    world: &World,
    engines: &[Engine<'_>],
    relay: NodeId,
    took: Duration,
    parties: [Party<'_>; 2],
) -> SessionSummary {
    let side = |i: usize| engines.get(i);
    let choices: Vec<Choice> = engines.iter().map(|e| e.choice).collect();
    let received = [0, 1].map(|i| side(i).map_or(0, |e| e.received));
    let path = match choices.as_slice() {
        [Choice::Direct, Choice::Direct] => Some(SessionPath::Direct),
        [Choice::Relayed(_), Choice::Relayed(_)] if received.iter().all(|r| *r >= DATAGRAMS) => {
            Some(SessionPath::Relayed)
        }
        _ => None,
    };
    let relayed = [0, 1].map(|i| match side(i).map(|e| e.allocation) {
        Some(AllocationState::Allocated(relayed)) => Some(relayed),
        _ => None,
    });
    let transports = parties.map(|p| transport(p.report));
    let server = world.machine::<Relay>(relay);
    SessionSummary {
        path,
        punches: [0, 1].map(|i| side(i).is_some_and(|e| e.verdict == Some(true))),
        transports,
        relayed,
        received,
        allocations_made: server.stats().allocations,
        allocations_left: server.allocations(),
        failure: engines.iter().find_map(|e| e.failure.clone()),
        took,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand::seq::index;

    use super::*;
    use crate::predict::{PunchExpectation, predict};
    use crate::proto::nat::{FilteringBehavior as F, MappingBehavior as M};
    use crate::sim::nat::{Allocation, NatBehavior};
    use crate::sim::reports::{gateways, probe};

    /// How many pairs of the whole scenario space the sweep adds to the
    /// classic ones, drawn by a fixed seed.
    const SAMPLE: usize = 150;

    /// The eight classic profiles: the open Internet, UDP blocked, the
    /// three cones (each with one port allocation) and the symmetric NAT
    /// with each.
    fn classic(gateway: &Gateway) -> bool {
        match gateway {
            Gateway::None | Gateway::Blocked => true,
            Gateway::Nat {
                behavior:
                    NatBehavior {
                        mapping,
                        filtering,
                        allocation,
                        hairpinning: false,
                    },
                ..
            } => match (mapping, filtering) {
                (M::EndpointIndependent, F::EndpointIndependent) => {
                    *allocation == Allocation::Preserving
                }
                (M::EndpointIndependent, F::AddressDependent) => {
                    matches!(allocation, Allocation::Sequential { .. })
                }
                (M::EndpointIndependent, F::AddressAndPortDependent) => {
                    matches!(allocation, Allocation::Random { .. })
                }
                (M::AddressAndPortDependent, F::AddressAndPortDependent) => true,
                _ => false,
            },
            Gateway::Nat { .. } => false,
        }
    }

    #[test]
    fn every_pair_connects_directly_when_both_punches_do_and_through_the_relay_otherwise() {
        let sides: Vec<(Gateway, ProbeReport)> =
            gateways(11).into_iter().map(|g| (g, probe(g))).collect();
        let peers: Vec<(Gateway, ProbeReport)> =
            gateways(23).into_iter().map(|g| (g, probe(g))).collect();
        let chosen: Vec<usize> = (0..sides.len()).filter(|&i| classic(&sides[i].0)).collect();
        assert_eq!(chosen.len(), 8);
        // Every behaviour against every classic profile, both ways round.
        let space = sides.len() * peers.len();
        let at = |k: usize| (k / peers.len(), k % peers.len());
        let classic_pair = |(i, j): (usize, usize)| chosen.contains(&i) || chosen.contains(&j);
        let mut pairs: Vec<(usize, usize)> =
            (0..space).map(at).filter(|p| classic_pair(*p)).collect();
        let crossed = pairs.len();
        // And a sample of the pairs of two other behaviours.
        let rest: Vec<(usize, usize)> = (0..space).map(at).filter(|p| !classic_pair(*p)).collect();
        let mut rng = StdRng::seed_from_u64(5);
        pairs.extend(
            index::sample(&mut rng, rest.len(), SAMPLE)
                .into_iter()
                .map(|k| rest[k]),
        );
        let (mut direct, mut relayed) = (0, 0);
        for &(i, j) in &pairs {
            let ((ga, ra), (gb, rb)) = (&sides[i], &peers[j]);
            let parties = [
                Party {
                    gateway: *ga,
                    report: ra,
                },
                Party {
                    gateway: *gb,
                    report: rb,
                },
            ];
            let s = run(parties, (i * 1000 + j) as u64);
            let context = format!("{ga:?}\n{gb:?}\n{s:?}");
            assert_eq!(s.failure, None, "{context}");
            let both = s.punches == [true, true];
            match s.path {
                Some(SessionPath::Direct) => {
                    assert!(both, "{context}");
                    direct += 1;
                }
                Some(SessionPath::Relayed) => {
                    assert!(!both, "{context}");
                    assert_eq!(s.received, [DATAGRAMS; 2], "{context}");
                    relayed += 1;
                }
                None => panic!("neither direct nor relayed:\n{context}"),
            }
            let expected = match predict(ra, rb).punch_expectation() {
                PunchExpectation::Connects | PunchExpectation::Likely => Some(SessionPath::Direct),
                PunchExpectation::Fails => Some(SessionPath::Relayed),
                PunchExpectation::Unknown => s.path,
            };
            assert_eq!(s.path, expected, "the prediction disagrees:\n{context}");
            for (gateway, transport, at) in [
                (ga, s.transports[0], s.relayed[0]),
                (gb, s.transports[1], s.relayed[1]),
            ] {
                let over = if *gateway == Gateway::Blocked {
                    RelayTransport::Tcp
                } else {
                    RelayTransport::Udp
                };
                assert_eq!(transport, over, "{context}");
                assert!(at.is_some(), "every side allocates: {context}");
            }
            assert_eq!(s.allocations_made, 2, "{context}");
            assert_eq!(s.allocations_left, 0, "all deleted: {context}");
        }
        assert_eq!(crossed, 56 * 56 - 48 * 48);
        assert_eq!(direct + relayed, pairs.len());
        assert!(
            direct > pairs.len() / 2 && relayed > pairs.len() / 5,
            "{direct} direct, {relayed} relayed"
        );
    }
}
