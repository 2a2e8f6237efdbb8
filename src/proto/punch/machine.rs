//! The punch: learn the server-reflexive endpoint, then send checks to the
//! peer's candidates until one is answered from where it was sent
//! (RFC 8445 §7.2.5.2.1), answering the peer's checks and checking back
//! at their sources on the way (triggered checks, RFC 8445 §7.3.1.4).
//!
//! With [`PunchConfig::ipv6`], one more socket bound to `[::]` checks the
//! peer's IPv6 and Teredo candidates. A pair joins a socket and a remote
//! of the same address family only (RFC 8445 §6.1.2.2): the IPv6 socket
//! is dual-stack on Linux, but nothing IPv4 is ever sent from it or taken
//! from it, so that it costs no IPv4 NAT mapping.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::index;
use rand::{Rng, SeedableRng};
use stun_types::message::{
    BINDING, Message, MessageClass, MessageType, MessageWrite, MessageWriteVec, TransactionId,
};

use super::check::{self, Incoming};
use super::outcome::{Path, PunchFailure, PunchOutcome};
use super::{Candidate, CandidateKind, Credentials, PortGuess, PunchConfig};
use crate::proto::machine::{Bind, Binds, Machine, SocketId, Transmit};
use crate::proto::stun::{ClientTransaction, Datagram, Outcome};

/// The shortest gap between two triggered checks on one pair: checks are
/// paced (RFC 8445 §14), but a triggered one never waits for a round.
const TRIGGER_GAP: Duration = Duration::from_millis(20);

/// The most peer-reflexive pairs a punch adds: a peer cannot grow the
/// check list without bound by checking from ever new ports.
const MAX_PEER_REFLEXIVE: usize = 64;

/// The port range random allocators draw from (the birthday maths'
/// `PORT_SPACE`).
const FIRST_DYNAMIC_PORT: u16 = 1024;

#[derive(Debug)]
enum Phase {
    /// Waiting for the driver to bind every socket.
    Binding,
    Gathering(Box<ClientTransaction>),
    /// Candidates known; waiting for the peer's.
    Ready,
    Checking(Box<Checking>),
    Done,
}

#[derive(Debug)]
struct Checking {
    started: Instant,
    peer: Credentials,
    pairs: Vec<Pair>,
    next_round: Option<Instant>,
    gap: Duration,
    spray: VecDeque<SocketAddr>,
    next_probe: Option<Instant>,
    probe_gap: Duration,
    pending: HashMap<TransactionId, Sent>,
    connected: Option<(Path, Instant)>,
    stats: PunchFailure,
}

#[derive(Debug, Clone, Copy)]
struct Pair {
    socket: SocketId,
    remote: SocketAddr,
    kind: CandidateKind,
    last_sent: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    socket: SocketId,
    destination: SocketAddr,
    kind: CandidateKind,
    at: Instant,
}

/// A hole punch between this side and one peer.
#[derive(Debug)]
pub struct Punch {
    config: PunchConfig,
    rng: StdRng,
    binds: Binds,
    phase: Phase,
    candidates: Option<Vec<Candidate>>,
    gather_note: Option<String>,
    transmits: VecDeque<Transmit>,
    outcome: Option<PunchOutcome>,
}

impl Punch {
    /// A punch with `config`; `seed` drives transaction ids and probe ports.
    pub fn new(config: PunchConfig, seed: u64) -> Self {
        let count = config.socket_count();
        let main = (0..count).map(|_| match config.server {
            Some(server) => Bind::Toward(server),
            None => Bind::At(SocketAddr::from(([0, 0, 0, 0], 0))),
        });
        let ipv6 = config
            .ipv6
            .then_some(Bind::At(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))));
        Self {
            binds: Binds::new(main.chain(ipv6)),
            config,
            rng: StdRng::seed_from_u64(seed),
            phase: Phase::Binding,
            candidates: None,
            gather_note: None,
            transmits: VecDeque::new(),
            outcome: None,
        }
    }

    fn gather(&mut self, now: Instant) {
        let Some(server) = self.config.server else {
            self.gather_note = Some("no STUN server: only the host's own addresses".into());
            self.finish_gathering(None);
            return;
        };
        let id = self.transaction_id();
        let request = Message::builder(
            MessageType::from_class_method(MessageClass::Request, BINDING),
            id,
            MessageWriteVec::new(),
        )
        .finish();
        let transaction =
            ClientTransaction::new(id, request, server, server, self.config.timing.gather, now);
        self.phase = Phase::Gathering(Box::new(transaction));
        self.drive_gathering(now);
    }

    fn drive_gathering(&mut self, now: Instant) {
        let Phase::Gathering(transaction) = &mut self.phase else {
            return;
        };
        transaction.handle_timeout(now);
        let destination = transaction.destination();
        while let Some(bytes) = transaction.poll_transmit(now) {
            let payload = bytes.to_vec();
            self.transmits.push_back(Transmit {
                socket: SocketId(0),
                destination,
                payload,
            });
        }
        let mapped = match transaction.outcome() {
            None => return,
            Some(Outcome::Success(r)) => r.mapped,
            Some(other) => {
                self.gather_note = Some(format!(
                    "the STUN server gave no server-reflexive endpoint ({other:?})"
                ));
                None
            }
        };
        self.finish_gathering(mapped);
    }

    /// The candidates to advertise: the server-reflexive endpoint and, by
    /// the port guess, the predicted one (RFC 5128 §3.5).
    fn finish_gathering(&mut self, mapped: Option<SocketAddr>) {
        let mut out = Vec::new();
        if let Some(mapped) = mapped {
            out.push(Candidate {
                address: mapped,
                kind: CandidateKind::ServerReflexive,
            });
            let predicted = match self.config.guess {
                Some(PortGuess::Sequential { delta }) => {
                    let port = i32::from(mapped.port()) + delta;
                    u16::try_from(port)
                        .ok()
                        .filter(|p| *p >= FIRST_DYNAMIC_PORT)
                }
                Some(PortGuess::Preserving) => self.binds.local(SocketId(1)).map(|a| a.port()),
                None => None,
            };
            if let Some(port) = predicted.filter(|p| *p != mapped.port()) {
                out.push(Candidate {
                    address: SocketAddr::new(mapped.ip(), port),
                    kind: CandidateKind::Predicted,
                });
            }
        }
        self.candidates = Some(out);
        self.phase = Phase::Ready;
    }

    /// What this side advertises, once gathering is over (the driver adds
    /// host and port-mapped candidates it knows of).
    pub fn local_candidates(&self) -> Option<&[Candidate]> {
        self.candidates.as_deref()
    }

    /// Why gathering found less than it could, if it did.
    pub fn gather_note(&self) -> Option<&str> {
        self.gather_note.as_deref()
    }

    /// The local address of `socket`, once bound.
    pub fn local_address(&self, socket: SocketId) -> Option<SocketAddr> {
        self.binds.local(socket)
    }

    /// The socket bound to `[::]` for IPv6 and Teredo pairs, when
    /// [`PunchConfig::ipv6`] asked for one: the last socket.
    pub fn ipv6_socket(&self) -> Option<SocketId> {
        self.config
            .ipv6
            .then(|| SocketId(u16::try_from(self.config.socket_count()).unwrap_or(u16::MAX)))
    }

    /// Whether `socket` was bound on the family of `remote`: a pair, a
    /// check or an answer crosses families never.
    fn same_family(&self, socket: SocketId, remote: SocketAddr) -> bool {
        self.binds
            .local(socket)
            .is_some_and(|local| is_ipv6(local.ip()) == is_ipv6(remote.ip()))
    }

    /// Gives up on the checks `deadline` after [`Punch::start`] instead of
    /// the configured time (before the start only).
    pub fn set_deadline(&mut self, deadline: Duration) {
        if matches!(
            self.phase,
            Phase::Binding | Phase::Gathering(_) | Phase::Ready
        ) {
            self.config.timing.deadline = deadline;
        }
    }

    /// The peer's credentials and candidates arrived: checks begin. Does
    /// nothing before gathering is over or a second time.
    ///
    /// Each socket is paired with the checked candidates of its own family,
    /// in `checked`'s order: IPv6 pairs, then the IPv4 ones socket
    /// by socket, then Teredo ones.
    pub fn start(&mut self, now: Instant, peer: Credentials, candidates: &[Candidate]) {
        if !matches!(self.phase, Phase::Ready) {
            return;
        }
        let checked = self.checked(candidates);
        let mut pairs: Vec<Pair> = Vec::new();
        for socket in 0..self.binds.count() {
            let socket = SocketId(u16::try_from(socket).unwrap_or(u16::MAX));
            for c in checked
                .iter()
                .filter(|c| self.same_family(socket, c.address))
            {
                let pair = Pair {
                    socket,
                    remote: c.address,
                    kind: c.kind,
                    last_sent: None,
                };
                if !pairs
                    .iter()
                    .any(|p| p.socket == pair.socket && p.remote == pair.remote)
                {
                    pairs.push(pair);
                }
            }
        }
        pairs.sort_by_key(|p| tier(p.kind, p.remote));
        let spray = self.spray_targets(candidates);
        let probe_gap = self
            .config
            .spray
            .map_or(Duration::ZERO, |s| Duration::from_secs(1) / s.rate.max(1));
        self.phase = Phase::Checking(Box::new(Checking {
            started: now,
            peer,
            pairs,
            next_round: Some(now),
            gap: self.config.timing.interval,
            next_probe: (!spray.is_empty()).then_some(now),
            spray,
            probe_gap,
            pending: HashMap::new(),
            connected: None,
            stats: PunchFailure::default(),
        }));
        self.handle_timeout(now);
    }

    /// The peer's candidates worth checking, in the order of the first
    /// round.
    ///
    /// IPv6 host candidates go first: they cost no IPv4 NAT mapping, so
    /// they cannot spoil a sequential allocator's guess, and RFC 8421 §4
    /// has a dual-stack host prefer IPv6 (a round's pairs go out together,
    /// so a broken IPv6 path delays the IPv4 ones by nothing). Teredo goes
    /// last: RFC 6724 §2.1's policy table gives 2001::/32 precedence 5,
    /// below native IPv6 (40) and IPv4 (35). Between them, a predicted
    /// port goes first: a sequential or preserving NAT gives its guessed
    /// port to the first new mapping, and that must be the one toward the
    /// peer's own guess. IPv4 host candidates are checked only behind the
    /// same public address (RFC 5128 §3.2): sent anywhere else they leave
    /// through the NAT, cost a port of a sequential allocator and spoil its
    /// guess; IPv6 host and Teredo candidates cross no NAT44 and are always
    /// checked. A relayed candidate is not checked at all: the session
    /// reaches it through its own allocation, never from a bare socket
    /// (RFC 8445 §6.1.2.2 pairs relayed candidates only with the local
    /// relayed base).
    fn checked(&self, candidates: &[Candidate]) -> Vec<Candidate> {
        let own_public = self.candidates.as_deref().and_then(public_ipv4);
        let peer_public = public_ipv4(candidates);
        let same_nat = own_public.is_none() || peer_public.is_none() || own_public == peer_public;
        let mut out: Vec<Candidate> = candidates
            .iter()
            .filter(|c| c.kind != CandidateKind::Relayed)
            .filter(|c| same_nat || c.kind != CandidateKind::Host || is_ipv6(c.address.ip()))
            .copied()
            .collect();
        out.sort_by_key(|c| {
            let rank = match c.kind {
                CandidateKind::Host if is_ipv6(c.address.ip()) => 0,
                CandidateKind::Predicted => 1,
                CandidateKind::PortMapped => 2,
                CandidateKind::ServerReflexive => 3,
                CandidateKind::Host => 4,
                CandidateKind::PeerReflexive
                | CandidateKind::BirthdayProbe
                | CandidateKind::Relayed
                | CandidateKind::Teredo => 5,
            };
            (tier(c.kind, c.address), rank)
        });
        out
    }

    /// Distinct random ports of the peer's server-reflexive address of
    /// socket 0's family (the probes go from socket 0).
    fn spray_targets(&mut self, candidates: &[Candidate]) -> VecDeque<SocketAddr> {
        let (Some(spray), Some(target)) = (
            self.config.spray,
            candidates
                .iter()
                .find(|c| {
                    c.kind == CandidateKind::ServerReflexive
                        && self.same_family(SocketId(0), c.address)
                })
                .map(|c| c.address.ip()),
        ) else {
            return VecDeque::new();
        };
        let space = usize::from(u16::MAX - FIRST_DYNAMIC_PORT) + 1;
        let count = usize::from(spray.probes).min(space);
        index::sample(&mut self.rng, space, count)
            .into_iter()
            .map(|i| SocketAddr::new(target, FIRST_DYNAMIC_PORT + i as u16))
            .collect()
    }

    fn transaction_id(&mut self) -> TransactionId {
        TransactionId::from(self.rng.random::<u128>() >> 32)
    }

    fn handle_check_input(
        &mut self,
        now: Instant,
        socket: SocketId,
        from: SocketAddr,
        bytes: &[u8],
    ) {
        let own = self.config.credentials.clone();
        let family_ok = self.same_family(socket, from);
        let Phase::Checking(c) = &mut self.phase else {
            return;
        };
        if !family_ok {
            // IPv4 reaching the dual-stack IPv6 socket: never answered, so
            // that nothing IPv4 leaves from it.
            c.stats.strangers += 1;
            return;
        }
        match check::classify(bytes, from, &own, &c.peer) {
            Incoming::Stranger => c.stats.strangers += 1,
            Incoming::Check { answer } => {
                c.stats.checks_heard += 1;
                self.transmits.push_back(Transmit {
                    socket,
                    destination: from,
                    payload: answer,
                });
                if c.connected.is_none() {
                    self.triggered_check(now, socket, from);
                }
            }
            Incoming::Answer { id, .. } => {
                let Some(sent) = c.pending.get(&id).copied() else {
                    c.stats.strangers += 1;
                    return;
                };
                // RFC 8445 §7.2.5.2.1: an answer from anywhere but the
                // check's destination, or to another socket, proves no path.
                if sent.destination != from || sent.socket != socket {
                    c.stats.asymmetric_answers += 1;
                    return;
                }
                if c.connected.is_none() {
                    let path = Path {
                        socket,
                        local: self.binds.local(socket),
                        remote: from,
                        kind: sent.kind,
                        rtt: now.saturating_duration_since(sent.at),
                        after: now.saturating_duration_since(c.started),
                    };
                    c.connected = Some((path, now));
                    c.next_round = None;
                    c.next_probe = None;
                }
            }
        }
    }

    /// Checks back at the source of a check (RFC 8445 §7.3.1.4), adding it
    /// as a peer-reflexive pair when new (§7.3.1.3). The triggered check
    /// goes at once, whatever the ordinary rounds' schedule: the peer's
    /// check has just opened the way back, and the round's own check on
    /// the pair may have met a NAT still closed. At most one per
    /// [`TRIGGER_GAP`] per pair, so that a burst of the peer's
    /// retransmissions is answered by one check.
    fn triggered_check(&mut self, now: Instant, socket: SocketId, from: SocketAddr) {
        let interval = TRIGGER_GAP;
        let Phase::Checking(c) = &mut self.phase else {
            return;
        };
        let index = match c
            .pairs
            .iter()
            .position(|p| p.socket == socket && p.remote == from)
        {
            Some(i) => i,
            None => {
                let reflexive = c
                    .pairs
                    .iter()
                    .filter(|p| p.kind == CandidateKind::PeerReflexive)
                    .count();
                if reflexive >= MAX_PEER_REFLEXIVE {
                    return;
                }
                c.pairs.push(Pair {
                    socket,
                    remote: from,
                    kind: CandidateKind::PeerReflexive,
                    last_sent: None,
                });
                c.pairs.len() - 1
            }
        };
        if c.pairs[index]
            .last_sent
            .is_some_and(|at| now < at + interval)
        {
            return;
        }
        self.send_check(now, index);
    }

    /// Sends a check on pair `index`.
    fn send_check(&mut self, now: Instant, index: usize) {
        let Phase::Checking(c) = &mut self.phase else {
            return;
        };
        let pair = &mut c.pairs[index];
        pair.last_sent = Some(now);
        let (socket, destination, kind) = (pair.socket, pair.remote, pair.kind);
        self.send(now, socket, destination, kind);
    }

    /// Sends a check from `socket` to `destination`, remembered as `kind`
    /// for the path its answer would prove.
    fn send(
        &mut self,
        now: Instant,
        socket: SocketId,
        destination: SocketAddr,
        kind: CandidateKind,
    ) {
        let id = self.transaction_id();
        let own = &self.config.credentials;
        let Phase::Checking(c) = &mut self.phase else {
            return;
        };
        self.transmits.push_back(Transmit {
            socket,
            destination,
            payload: check::request(id, own, &c.peer),
        });
        c.pending.insert(
            id,
            Sent {
                socket,
                destination,
                kind,
                at: now,
            },
        );
        c.stats.checks_sent += 1;
    }

    pub fn outcome(&self) -> Option<&PunchOutcome> {
        self.outcome.as_ref()
    }
}

impl Machine for Punch {
    /// Every socket is a fresh port toward the STUN server.
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        self.binds.poll()
    }

    /// Once every socket is bound, gathering starts.
    fn handle_bound(&mut self, now: Instant, socket: SocketId, local: SocketAddr) {
        if self.binds.bound(socket, local) {
            self.gather(now);
        }
    }

    /// A datagram arrived on `socket` from `from`.
    fn handle_input(&mut self, now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        match &mut self.phase {
            Phase::Gathering(transaction) => {
                if socket == SocketId(0)
                    && let Ok(datagram) = Datagram::parse(bytes)
                {
                    transaction.handle_response(now, from, &datagram);
                    self.drive_gathering(now);
                }
            }
            Phase::Checking(_) => self.handle_check_input(now, socket, from, bytes),
            Phase::Binding | Phase::Ready | Phase::Done => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Gathering(_)) {
            self.drive_gathering(now);
            return;
        }
        let timing = self.config.timing;
        let Phase::Checking(c) = &mut self.phase else {
            return;
        };
        if let Some((path, at)) = &c.connected {
            if now >= *at + timing.linger {
                self.outcome = Some(PunchOutcome::Connected(path.clone()));
                self.phase = Phase::Done;
            }
            return;
        }
        if now >= c.started + timing.deadline {
            self.outcome = Some(PunchOutcome::Failed(c.stats.clone()));
            self.phase = Phase::Done;
            return;
        }
        if c.next_round.is_some_and(|at| at <= now) {
            c.next_round = Some(now + c.gap);
            c.gap = (c.gap * 2).min(timing.max_interval);
            for index in 0..c.pairs.len() {
                self.send_check(now, index);
            }
        }
        loop {
            let Phase::Checking(c) = &mut self.phase else {
                return;
            };
            if c.next_probe.is_none_or(|at| at > now) {
                break;
            }
            let Some(destination) = c.spray.pop_front() else {
                c.next_probe = None;
                break;
            };
            c.next_probe = c.next_probe.map(|at| at + c.probe_gap);
            self.send(now, SocketId(0), destination, CandidateKind::BirthdayProbe);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next moment the punch needs [`Punch::handle_timeout`].
    fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Gathering(t) => t.poll_timeout(),
            Phase::Checking(c) => match &c.connected {
                Some((_, at)) => Some(*at + self.config.timing.linger),
                None => [
                    c.next_round,
                    c.next_probe,
                    Some(c.started + self.config.timing.deadline),
                ]
                .into_iter()
                .flatten()
                .min(),
            },
            Phase::Binding | Phase::Ready | Phase::Done => None,
        }
    }

    fn is_done(&self) -> bool {
        self.outcome.is_some()
    }
}

/// Whether `ip` is IPv6 proper: an IPv4-mapped address (`::ffff:a.b.c.d`,
/// how a dual-stack socket sees IPv4) counts as IPv4.
fn is_ipv6(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => false,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_none(),
    }
}

/// The public IPv4 address among `candidates` (the server-reflexive one).
fn public_ipv4(candidates: &[Candidate]) -> Option<IpAddr> {
    candidates
        .iter()
        .find(|c| c.kind == CandidateKind::ServerReflexive && !is_ipv6(c.address.ip()))
        .map(|c| c.address.ip())
}

/// Which part of a round a pair to `remote` belongs to: native IPv6 first,
/// IPv4 next, Teredo last (see `Punch::checked`).
fn tier(kind: CandidateKind, remote: SocketAddr) -> u8 {
    match kind {
        CandidateKind::Teredo => 2,
        _ if is_ipv6(remote.ip()) => 0,
        _ => 1,
    }
}
