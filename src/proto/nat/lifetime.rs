//! The binding lifetime (RFC 5780 §4.6): how long a NAT keeps an idle UDP
//! mapping, measured by bisection within a bound, as a sans-IO machine.
//!
//! The test (RFC 5780 §4.6): socket X asks the server's primary endpoint for
//! its mapping; once X has been idle for a wait T, a different socket Y
//! sends the server a Binding request with RESPONSE-PORT (RFC 5780 §7.5)
//! naming X's mapped port. The answer leaves from the primary endpoint, the
//! one X talked to, so filtering lets it in: it reaches X only while X's
//! mapping lives. An inbound packet may refresh a mapping (Linux conntrack
//! does), so every X is tested once, and X sends nothing while it waits.
//!
//! The plan:
//! - calibration: Y and X₀ ask for their mappings, then Y tests X₀ at once.
//!   An answer on Y means the server ignores RESPONSE-PORT, an error that it
//!   refuses it, silence that its answers cannot reach even a fresh mapping:
//!   the lifetime is then not measured, and the result says why.
//! - round 1: a ladder of waits from the resolution up to the caller's
//!   bound, each about 25 % longer than the one before, all running at
//!   once. The round ends at the first wait that showed expiry, once every
//!   shorter wait is decided; the longer ones are given up.
//! - later rounds: [`REFINE`] waits spread evenly between the longest wait
//!   seen alive and the shortest seen expired, until the two are within the
//!   resolution or a tenth of the lifetime (at most [`MAX_ROUNDS`] rounds).
//! - last, a plain request from Y shows the server still answers, so that
//!   its silence is never read as expiry.
//!
//! Loss: each test retransmits its request. "Alive" is certain (an answer
//! reached X); "expired" counts only when both X sockets of a wait heard
//! nothing through all their retransmissions, and a longer wait seen alive
//! overrules it. The bracket is conservative: alive is the idle time when a
//! test's first request left, expired the idle time when its last one did.
//! Idle time counts from the moment X's own answer arrived.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stun_types::message::TransactionId;
use stun_types::message::{BINDING, Message, MessageClass, MessageType, MessageWriteVec};
use stun_types::prelude::*;

use super::discovery::adapted_schedule;
use crate::proto::machine::{Bind, Machine, SocketId, Transmit};
use crate::proto::stun::{ClientTransaction, Datagram, Offer, Outcome, ResponsePort, Schedule};

mod machine;
mod measure;
pub use measure::{LifetimeConfig, LifetimeEvent, LifetimeOutcome, LifetimeResult};

/// Y: the socket that sends every RESPONSE-PORT request.
const QUERY: SocketId = SocketId(0);

/// Waits per refinement round; each is tested on [`PER_WAIT`] sockets.
pub const REFINE: u32 = 8;

/// X sockets per wait: an expiry counts only when all of them agree.
const PER_WAIT: usize = 2;

/// The ladder of round 1 and at most this many refinements together.
pub const MAX_ROUNDS: u32 = 4;

/// A test of one X socket.
#[derive(Debug)]
struct Probe {
    socket: SocketId,
    /// The wait group: the sockets tested after the same wait.
    group: u32,
    round: u32,
    wait: Duration,
    /// X's own Binding request, once bound.
    mapping: Option<ClientTransaction>,
    /// X's mapped endpoint, and when its answer arrived.
    mapped: Option<(SocketAddr, Instant)>,
    test: Option<Test>,
    state: State,
}

/// Y's RESPONSE-PORT request for one X.
#[derive(Debug)]
struct Test {
    transaction: ClientTransaction,
    /// X's idle time when the first request left.
    first: Duration,
    /// X's idle time when the latest (re)transmission left.
    last: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Alive(Duration),
    Expired(Duration),
    /// No verdict: no socket, no mapping, or another public address than Y.
    Failed,
    /// Given up: a shorter wait already showed expiry.
    Cancelled,
}

/// One wait group's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupVerdict {
    Pending,
    Alive,
    /// Every socket of the group expired; the latest last transmission.
    Expired(Duration),
    Undecided,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Calibrating,
    Rounds,
    /// The final plain request from Y.
    Control,
}

/// The binding-lifetime machine; see the module documentation.
#[derive(Debug)]
pub struct Lifetime {
    config: LifetimeConfig,
    rng: StdRng,
    binds: VecDeque<(SocketId, Bind)>,
    closes: VecDeque<SocketId>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<LifetimeEvent>,
    next_socket: u16,
    next_group: u32,
    round: u32,
    phase: Phase,
    /// Y's own Binding request and the public endpoint it showed.
    query: Option<ClientTransaction>,
    query_mapped: Option<SocketAddr>,
    control: Option<ClientTransaction>,
    rtt: Option<Duration>,
    probes: Vec<Probe>,
    result: Option<LifetimeResult>,
}

impl Lifetime {
    /// A machine whose transaction ids come from `seed`.
    pub fn new(config: LifetimeConfig, seed: u64) -> Self {
        let mut machine = Self {
            config,
            rng: StdRng::seed_from_u64(seed),
            binds: VecDeque::from([(QUERY, Bind::Toward(config.server))]),
            closes: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            next_socket: 1,
            next_group: 0,
            round: 0,
            phase: Phase::Calibrating,
            query: None,
            query_mapped: None,
            control: None,
            rtt: None,
            probes: Vec::new(),
            result: None,
        };
        machine.add_group(Duration::ZERO, 1);
        machine
    }

    pub fn server(&self) -> SocketAddr {
        self.config.server
    }

    /// The result, once the measurement has ended.
    pub fn result(&self) -> Option<&LifetimeResult> {
        self.result.as_ref()
    }

    /// The next progress event.
    pub fn poll_event(&mut self) -> Option<LifetimeEvent> {
        self.events.pop_front()
    }

    /// Whether a progress event is waiting.
    pub fn has_event(&self) -> bool {
        !self.events.is_empty()
    }

    /// Asks for `sockets` fresh X sockets, tested after `wait`.
    fn add_group(&mut self, wait: Duration, sockets: usize) {
        let group = self.next_group;
        self.next_group += 1;
        for _ in 0..sockets {
            let socket = SocketId(self.next_socket);
            self.next_socket = self.next_socket.saturating_add(1);
            self.binds
                .push_back((socket, Bind::Toward(self.config.server)));
            self.probes.push(Probe {
                socket,
                group,
                round: self.round,
                wait,
                mapping: None,
                mapped: None,
                test: None,
                state: State::Running,
            });
        }
    }

    fn request(
        &mut self,
        response_port: Option<u16>,
        schedule: Schedule,
        now: Instant,
    ) -> ClientTransaction {
        let id = TransactionId::from(self.rng.random::<u128>());
        let mut request = Message::builder(
            MessageType::from_class_method(MessageClass::Request, BINDING),
            id,
            MessageWriteVec::new(),
        );
        if let Some(port) = response_port {
            // Adding a 4-byte attribute to an empty message cannot fail.
            let _ = request.add_attribute(&ResponsePort(port));
        }
        let server = self.config.server;
        ClientTransaction::new(id, request.finish(), server, server, schedule, now)
    }

    /// The schedule once the RTT is known.
    fn schedule(&self) -> Schedule {
        self.rtt.map_or(self.config.initial, adapted_schedule)
    }

    fn finish(&mut self, outcome: LifetimeOutcome, notes: Vec<String>) {
        let probes = self
            .probes
            .iter()
            .filter(|p| matches!(p.state, State::Alive(_) | State::Expired(_)))
            .count();
        for p in &mut self.probes {
            if p.state == State::Running {
                p.state = State::Cancelled;
                self.closes.push_back(p.socket);
            }
        }
        self.transmits.clear();
        self.result = Some(LifetimeResult {
            server: self.config.server,
            bound: self.config.bound,
            outcome,
            probes: u32::try_from(probes).unwrap_or(u32::MAX),
            rounds: self.round,
            notes,
        });
    }

    fn not_measured(&mut self, reason: String) {
        self.finish(LifetimeOutcome::NotMeasured { reason }, Vec::new());
    }

    fn set_state(&mut self, i: usize, state: State) {
        self.probes[i].state = state;
        self.closes.push_back(self.probes[i].socket);
    }

    /// Moves every probe on: its mapping's end, its test's start and end.
    fn update_probes(&mut self, now: Instant) {
        let schedule = self.schedule();
        for i in 0..self.probes.len() {
            if self.probes[i].state != State::Running {
                continue;
            }
            let p = &self.probes[i];
            if p.mapped.is_none() {
                let answer = match p.mapping.as_ref().and_then(|t| t.outcome()) {
                    None => continue,
                    Some(Outcome::Success(r)) => r.mapped.map(|mapped| (mapped, r.rtt)),
                    Some(_) => None,
                };
                match answer {
                    Some((mapped, rtt)) => {
                        self.rtt.get_or_insert(rtt);
                        self.probes[i].mapped = Some((mapped, now));
                    }
                    None => self.set_state(i, State::Failed),
                }
                continue;
            }
            let Some((mapped, heard)) = p.mapped else {
                continue;
            };
            match &p.test {
                None => {
                    let Some(query) = self.query_mapped else {
                        continue;
                    };
                    if now < heard + p.wait {
                        continue;
                    }
                    if query.ip() != mapped.ip() {
                        self.set_state(i, State::Failed);
                        continue;
                    }
                    let transaction = self.request(Some(mapped.port()), schedule, now);
                    let idle = now.saturating_duration_since(heard);
                    self.probes[i].test = Some(Test {
                        transaction,
                        first: idle,
                        last: idle,
                    });
                }
                Some(test) => {
                    if test.transaction.outcome() == Some(&Outcome::TimedOut) {
                        let last = test.last;
                        self.set_state(i, State::Expired(last));
                    }
                }
            }
        }
    }

    fn group_verdict(&self, group: u32) -> GroupVerdict {
        let mut pending = false;
        let mut expired = Some(Duration::ZERO);
        for p in self.probes.iter().filter(|p| p.group == group) {
            match p.state {
                State::Alive(_) => return GroupVerdict::Alive,
                State::Running => pending = true,
                State::Expired(last) => expired = expired.map(|e| e.max(last)),
                State::Failed | State::Cancelled => expired = None,
            }
        }
        match (pending, expired) {
            (true, _) => GroupVerdict::Pending,
            (false, Some(e)) => GroupVerdict::Expired(e),
            (false, None) => GroupVerdict::Undecided,
        }
    }

    /// The groups of `round`, shortest wait first.
    fn groups(&self, round: u32) -> Vec<(u32, Duration)> {
        let mut groups: Vec<(u32, Duration)> = Vec::new();
        for p in self.probes.iter().filter(|p| p.round == round) {
            if !groups.iter().any(|(g, _)| *g == p.group) {
                groups.push((p.group, p.wait));
            }
        }
        groups.sort_by_key(|(_, wait)| *wait);
        groups
    }

    /// The longest idle time seen alive, the shortest expiry above it, and
    /// how many expiries a longer alive wait overruled.
    fn bracket(&self) -> (Option<Duration>, Option<Duration>, usize) {
        let alive = self
            .probes
            .iter()
            .filter_map(|p| match p.state {
                State::Alive(first) => Some(first),
                _ => None,
            })
            .max();
        let mut expired: Option<Duration> = None;
        let mut overruled = 0;
        for group in 0..self.next_group {
            if let GroupVerdict::Expired(e) = self.group_verdict(group) {
                if alive.is_some_and(|a| e <= a) {
                    overruled += 1;
                } else {
                    expired = Some(expired.map_or(e, |x| x.min(e)));
                }
            }
        }
        (alive, expired, overruled)
    }

    fn start_round(&mut self, waits: &[Duration]) {
        self.round += 1;
        for wait in waits {
            self.add_group(*wait, PER_WAIT);
        }
        let (alive, expired, _) = self.bracket();
        self.events.push_back(LifetimeEvent::Round {
            round: self.round,
            alive,
            expired,
            longest_wait: waits.iter().copied().max().unwrap_or_default(),
        });
    }

    fn advance(&mut self, now: Instant) {
        if self.result.is_some() {
            return;
        }
        self.update_probes(now);
        match self.phase {
            Phase::Calibrating => self.calibrate(),
            Phase::Rounds => self.end_round(now),
            Phase::Control => self.check_control(),
        }
        if self.result.is_none() {
            // A new round's sockets start once bound; a test that just
            // became due is sent now.
            self.update_probes(now);
            self.flush(now);
        }
    }

    fn calibrate(&mut self) {
        let server = self.config.server;
        match self.query.as_ref().and_then(|q| q.outcome()) {
            Some(Outcome::Success(r)) if self.query_mapped.is_none() => match r.mapped {
                Some(mapped) => self.query_mapped = Some(mapped),
                None => {
                    return self
                        .not_measured(format!("{server} answered without a mapped address"));
                }
            },
            Some(Outcome::Success(_)) | None => {}
            Some(_) => return self.not_measured(format!("no answer from {server}")),
        }
        let Some(calibration) = self.probes.first() else {
            return;
        };
        match calibration.state {
            State::Running => {}
            State::Alive(_) => {
                self.phase = Phase::Rounds;
                let ladder = ladder(self.config.resolution, self.config.bound);
                self.start_round(&ladder);
            }
            State::Expired(_) => self.not_measured(format!(
                "the answer {server} sent to this host's mapped port (RESPONSE-PORT, \
                 RFC 5780 §7.5) never arrived, even at once: the server drops or does not \
                 honour RESPONSE-PORT, or the way back is lost"
            )),
            State::Failed | State::Cancelled => {
                let reason = match (calibration.mapped, self.query_mapped) {
                    (Some((x, _)), Some(y)) if x.ip() != y.ip() => format!(
                        "two sockets of this host were mapped to different public addresses \
                         ({} and {}): RFC 5780 §4.6 needs answers aimed at one address",
                        x.ip(),
                        y.ip()
                    ),
                    _ => format!("no answer from {server}"),
                };
                self.not_measured(reason);
            }
        }
    }

    fn end_round(&mut self, now: Instant) {
        let groups = self.groups(self.round);
        let verdicts: Vec<GroupVerdict> =
            groups.iter().map(|(g, _)| self.group_verdict(*g)).collect();
        let first_expired = verdicts
            .iter()
            .position(|v| matches!(v, GroupVerdict::Expired(_)))
            .unwrap_or(verdicts.len());
        if verdicts[..first_expired].contains(&GroupVerdict::Pending) {
            return;
        }
        for i in 0..self.probes.len() {
            if self.probes[i].round == self.round && self.probes[i].state == State::Running {
                self.set_state(i, State::Cancelled);
            }
        }
        let (alive, expired, _) = self.bracket();
        let alive = alive.unwrap_or_default();
        let Some(expired) = expired else {
            if alive < self.config.bound {
                return self.not_measured(format!(
                    "{} stopped answering the test sockets: the mapping lived at least {:.1} s, \
                     no longer wait could be tested",
                    self.config.server,
                    alive.as_secs_f64()
                ));
            }
            return self.conclude();
        };
        let width = expired.saturating_sub(alive);
        let target = self.config.resolution.max(alive / 10);
        if width <= target || self.round >= MAX_ROUNDS {
            self.phase = Phase::Control;
            let transaction = self.request(None, self.schedule(), now);
            self.control = Some(transaction);
            return;
        }
        let waits: Vec<Duration> = (1..=REFINE)
            .map(|i| alive + width * i / (REFINE + 1))
            .collect();
        self.start_round(&waits);
    }

    fn check_control(&mut self) {
        match self.control.as_ref().and_then(|c| c.outcome()) {
            None => {}
            Some(Outcome::Success(_)) => self.conclude(),
            Some(_) => {
                let server = self.config.server;
                self.not_measured(format!(
                    "{server} stopped answering (a final plain request went unanswered): \
                     the expiries seen may be its silence, not the NAT's"
                ));
            }
        }
    }

    /// The result from the bracket.
    fn conclude(&mut self) {
        let (alive, expired, overruled) = self.bracket();
        let alive = alive.unwrap_or_default();
        let mut notes = Vec::new();
        if overruled > 0 {
            notes.push(format!(
                "{overruled} wait(s) read as expired were overruled by a longer wait seen \
                 alive: packets were lost, or the NAT does not expire mappings in order"
            ));
        }
        let failed = self
            .probes
            .iter()
            .filter(|p| p.state == State::Failed)
            .count();
        if failed > 0 {
            notes.push(format!(
                "{failed} test socket(s) got no mapping from the server and were not counted"
            ));
        }
        let outcome = match expired {
            Some(expired) => LifetimeOutcome::Measured { alive, expired },
            None => LifetimeOutcome::Longer { alive },
        };
        self.finish(outcome, notes);
    }

    fn flush(&mut self, now: Instant) {
        let server = self.config.server;
        for t in [self.query.as_mut(), self.control.as_mut()]
            .into_iter()
            .flatten()
        {
            if let Some(payload) = t.poll_transmit(now) {
                self.transmits.push_back(Transmit {
                    socket: QUERY,
                    destination: server,
                    payload: payload.to_vec(),
                });
            }
        }
        for p in self.probes.iter_mut().filter(|p| p.state == State::Running) {
            if let Some(payload) = p.mapping.as_mut().and_then(|t| t.poll_transmit(now)) {
                self.transmits.push_back(Transmit {
                    socket: p.socket,
                    destination: server,
                    payload: payload.to_vec(),
                });
            }
            let heard = p.mapped.map(|(_, heard)| heard);
            if let (Some(test), Some(heard)) = (p.test.as_mut(), heard)
                && let Some(payload) = test.transaction.poll_transmit(now)
            {
                test.last = now.saturating_duration_since(heard);
                self.transmits.push_back(Transmit {
                    socket: QUERY,
                    destination: server,
                    payload: payload.to_vec(),
                });
            }
        }
    }

    /// An answer that arrived on Y: its own, the control's, or a test's
    /// that the server did not send to RESPONSE-PORT.
    fn query_input(&mut self, now: Instant, from: SocketAddr, datagram: &Datagram<'_>) {
        for t in [self.query.as_mut(), self.control.as_mut()]
            .into_iter()
            .flatten()
        {
            if t.handle_response(now, from, datagram) != Offer::NotMine {
                return;
            }
        }
        let server = self.config.server;
        let Some(test) = self.probes.iter_mut().find_map(|p| {
            p.test
                .as_mut()
                .filter(|t| t.transaction.id() == datagram.transaction_id())
        }) else {
            return;
        };
        if test.transaction.handle_response(now, from, datagram) != Offer::Accepted {
            return;
        }
        let reason = match test.transaction.outcome() {
            Some(Outcome::Success(_)) => format!(
                "{server} ignores RESPONSE-PORT (RFC 5780 §7.5): it answered the requesting \
                 socket, not the port named"
            ),
            Some(Outcome::Error { code }) => {
                format!("{server} refused RESPONSE-PORT (RFC 5780 §7.5) with error {code}")
            }
            _ => format!(
                "{server} answered a RESPONSE-PORT request (RFC 5780 §7.5) with attributes \
                 this client does not know"
            ),
        };
        self.not_measured(reason);
    }

    /// An answer that arrived on X: its mapping, or its test's.
    fn probe_input(
        &mut self,
        now: Instant,
        socket: SocketId,
        from: SocketAddr,
        datagram: &Datagram<'_>,
    ) {
        let Some(i) = self
            .probes
            .iter()
            .position(|p| p.socket == socket && p.state == State::Running)
        else {
            return;
        };
        let p = &mut self.probes[i];
        if let Some(mapping) = p.mapping.as_mut()
            && mapping.handle_response(now, from, datagram) != Offer::NotMine
        {
            return;
        }
        let Some(test) = p.test.as_mut() else {
            return;
        };
        if test.transaction.handle_response(now, from, datagram) == Offer::Accepted {
            let state = match test.transaction.outcome() {
                Some(Outcome::Success(_)) => State::Alive(test.first),
                _ => State::Failed,
            };
            self.set_state(i, state);
        }
    }
}

/// Round 1's waits: from `resolution` up, each about 25 % longer than the
/// one before (in whole steps of `resolution`), and `bound` last.
fn ladder(resolution: Duration, bound: Duration) -> Vec<Duration> {
    let step = resolution.max(Duration::from_millis(1));
    let mut waits = Vec::new();
    let mut wait = step;
    while wait < bound {
        waits.push(wait);
        let grown = (wait * 5 / 4).as_nanos().div_ceil(step.as_nanos());
        let grown = step * u32::try_from(grown).unwrap_or(u32::MAX);
        wait = (wait + step).max(grown);
    }
    waits.push(bound);
    waits
}

#[cfg(test)]
mod tests;
