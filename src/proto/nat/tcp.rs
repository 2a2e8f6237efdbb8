//! NAT behaviour over TCP (RFC 5382), measured with STUN over TCP (RFC
//! 8489 §6.2.2): the mapping behaviour and port preservation, and from
//! them whether a simultaneous-open TCP punch could work.
//!
//! The mapping test is RFC 5780 §4.3's over streams: three connections
//! from one local endpoint (RFC 5780 §4.3 asks the same local address and
//! port of every test; the driver shares it with SO_REUSEADDR and
//! SO_REUSEPORT), to the primary, to the alternate address on the
//! primary's port, and to the alternate address and port, each asking
//! for its XOR-MAPPED-ADDRESS. The alternate is the OTHER-ADDRESS of the
//! primary's answer, else the one the UDP tests learned from the same
//! server. Filtering is not measured over TCP: a server cannot open a
//! connection toward the client on request.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use stun_types::message::{
    BINDING, Message, MessageClass, MessageType, MessageWriteVec, TransactionId,
};
use stun_types::prelude::*;

use super::behavior::MappingBehavior;
use crate::proto::machine::{Bind, Machine, SocketId, Transmit};
use crate::proto::relay::framing::Framer;
use crate::proto::stun::{ClientTransaction, Datagram, Outcome, Schedule};

/// How long the whole TCP test may take: connections and answers.
pub const TCP_TEST_BOUND: Duration = Duration::from_secs(3);

/// The three connections, in RFC 5780 §4.3's order.
const TESTS: [SocketId; 3] = [SocketId(0), SocketId(1), SocketId(2)];

/// The STUN server's two endpoints a test connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpMappingConfig {
    /// The primary address and port (STUN over TCP on the UDP port).
    pub server: SocketAddr,
    /// The alternate the UDP tests learned from the same server, used
    /// when the TCP answer names none.
    pub alternate_hint: Option<SocketAddr>,
    pub bound: Duration,
}

/// What one connection's Binding request got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum TcpAnswer {
    /// XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS).
    Mapped {
        server: SocketAddr,
        mapped: SocketAddr,
    },
    /// The connection failed: refused, reset, or no SYN-ACK in time.
    NoConnection { server: SocketAddr },
    /// Connected, but no usable answer (an error, a malformed stream, or
    /// none in time).
    NoAnswer { server: SocketAddr, why: String },
}

impl TcpAnswer {
    fn mapped(&self) -> Option<SocketAddr> {
        match self {
            Self::Mapped { mapped, .. } => Some(*mapped),
            _ => None,
        }
    }
}

/// Whether a simultaneous-open TCP punch could work from here (RFC 5382
/// §4.2, REQ-2, asks NATs to let one through), judged from the mapping;
/// it is not tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SimultaneousOpen {
    /// The public endpoint toward a peer is known in advance: the one the
    /// server saw (endpoint-independent mapping, or no NAT), or the local
    /// port (kept by a NAT whose mapping depends on the destination).
    Possible,
    /// A new public port for each destination, not the local one: the
    /// peer cannot know where to send its SYN.
    Unlikely,
    /// Not enough was measured.
    Unknown,
}

/// The outcome of the TCP tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TcpMappingOutcome {
    /// The local endpoint every connection came from.
    pub local: Option<SocketAddr>,
    /// Tests I–III of RFC 5780 §4.3, those that ran.
    pub answers: Vec<TcpAnswer>,
    /// None when the answers do not tell.
    pub mapping: Option<MappingBehavior>,
    /// Whether the NAT kept the local port on every connection (port
    /// preservation, RFC 4787 §4.1); None with no NAT or no answer.
    pub port_preserved: Option<bool>,
    /// No NAT on TCP: the server saw the local endpoint.
    pub no_nat: bool,
    pub simultaneous_open: SimultaneousOpen,
    /// Why the figures are missing or what limits them.
    pub notes: Vec<String>,
}

/// One connection's state.
#[derive(Debug)]
struct Connection {
    destination: SocketAddr,
    transaction: Option<ClientTransaction>,
    framer: Framer,
    answer: Option<TcpAnswer>,
}

impl Connection {
    fn to(destination: SocketAddr) -> Self {
        Self {
            destination,
            transaction: None,
            framer: Framer::default(),
            answer: None,
        }
    }
}

/// The machine; see the module documentation.
#[derive(Debug)]
pub struct TcpMapping {
    config: TcpMappingConfig,
    rng: StdRng,
    started: Option<Instant>,
    connections: Vec<Connection>,
    binds: VecDeque<(SocketId, Bind)>,
    closes: VecDeque<SocketId>,
    transmits: VecDeque<Transmit>,
    local: Option<SocketAddr>,
    outcome: Option<TcpMappingOutcome>,
}

impl TcpMapping {
    /// A machine whose transaction ids come from `seed`.
    pub fn new(config: TcpMappingConfig, seed: u64) -> Self {
        Self {
            config,
            rng: StdRng::seed_from_u64(seed),
            started: None,
            connections: vec![Connection::to(config.server)],
            binds: VecDeque::from([(TESTS[0], Bind::Connect(config.server))]),
            closes: VecDeque::new(),
            transmits: VecDeque::new(),
            local: None,
            outcome: None,
        }
    }

    pub fn outcome(&self) -> Option<&TcpMappingOutcome> {
        self.outcome.as_ref()
    }

    fn connection(&mut self, socket: SocketId) -> Option<&mut Connection> {
        self.connections.get_mut(usize::from(socket.0))
    }

    /// Test II or III: a connection to `destination` from test I's local
    /// endpoint.
    fn open(&mut self, destination: SocketAddr) {
        let id = SocketId(u16::try_from(self.connections.len()).unwrap_or(u16::MAX));
        self.connections.push(Connection::to(destination));
        self.binds
            .push_back((id, Bind::ConnectFrom(destination, TESTS[0])));
    }

    /// Sends the Binding request on a connection just made; over TCP it
    /// goes once and its answer is awaited until the bound (RFC 8489
    /// §6.2.2: no retransmission on a reliable transport).
    fn ask(&mut self, now: Instant, socket: SocketId) {
        let id = TransactionId::from(self.rng.random::<u128>());
        let request = Message::builder(
            MessageType::from_class_method(MessageClass::Request, BINDING),
            id,
            MessageWriteVec::new(),
        )
        .finish();
        let limit = self.started.unwrap_or(now) + self.config.bound;
        let schedule = Schedule {
            rto: self.config.bound,
            transmissions: 1,
            backoff: false,
            last_wait: limit.saturating_duration_since(now),
        };
        let Some(c) = self.connection(socket) else {
            return;
        };
        let destination = c.destination;
        let mut transaction =
            ClientTransaction::new(id, request, destination, destination, schedule, now);
        if let Some(payload) = transaction.poll_transmit(now) {
            self.transmits.push_back(Transmit {
                socket,
                destination,
                payload: payload.to_vec(),
            });
        }
        if let Some(c) = self.connection(socket) {
            c.transaction = Some(transaction);
        }
    }

    /// Records connection `socket`'s answer and closes it; after test I,
    /// starts tests II and III.
    fn answered(&mut self, socket: SocketId, answer: TcpAnswer, other: Option<SocketAddr>) {
        let Some(c) = self.connection(socket) else {
            return;
        };
        if c.answer.is_some() {
            return;
        }
        c.answer = Some(answer);
        c.transaction = None;
        self.closes.push_back(socket);
        if socket == TESTS[0] {
            let alternate = other.or(self.config.alternate_hint);
            let mapped = self.connections[0]
                .answer
                .as_ref()
                .and_then(TcpAnswer::mapped);
            match (mapped, alternate, self.local) {
                (Some(_), Some(alternate), Some(_)) => {
                    let server = self.config.server;
                    let second = SocketAddr::new(alternate.ip(), server.port());
                    self.open(second);
                    self.open(alternate);
                }
                _ => self.conclude(),
            }
        }
        if self.connections.len() == TESTS.len()
            && self.connections.iter().all(|c| c.answer.is_some())
        {
            self.conclude();
        }
    }

    fn conclude(&mut self) {
        if self.outcome.is_some() {
            return;
        }
        let answers: Vec<TcpAnswer> = self
            .connections
            .iter()
            .map(|c| {
                c.answer.clone().unwrap_or(TcpAnswer::NoAnswer {
                    server: c.destination,
                    why: format!("none within {:.1} s", self.config.bound.as_secs_f64()),
                })
            })
            .collect();
        self.outcome = Some(classify(self.local, answers, self.config.alternate_hint));
        for socket in TESTS.into_iter().take(self.connections.len()) {
            if !self.closes.contains(&socket) {
                self.closes.push_back(socket);
            }
        }
    }
}

/// Classifies tests I–III (RFC 5780 §4.3) and judges a simultaneous open.
pub fn classify(
    local: Option<SocketAddr>,
    answers: Vec<TcpAnswer>,
    alternate_hint: Option<SocketAddr>,
) -> TcpMappingOutcome {
    let mut notes = Vec::new();
    let mapped: Vec<Option<SocketAddr>> = answers.iter().map(TcpAnswer::mapped).collect();
    let first = mapped.first().copied().flatten();
    let no_nat = first.is_some() && first == local;
    let mapping = match (
        first,
        mapped.get(1).copied().flatten(),
        mapped.get(2).copied().flatten(),
    ) {
        _ if no_nat => None,
        (Some(m1), Some(m2), _) if m1 == m2 => Some(MappingBehavior::EndpointIndependent),
        (Some(_), Some(m2), Some(m3)) if m2 == m3 => Some(MappingBehavior::AddressDependent),
        (Some(_), Some(_), Some(_)) => Some(MappingBehavior::AddressAndPortDependent),
        _ => None,
    };
    let preserved = |m: &Option<SocketAddr>| m.zip(local).map(|(m, l)| m.port() == l.port());
    let ports: Vec<bool> = mapped.iter().filter_map(preserved).collect();
    let port_preserved = (!no_nat && !ports.is_empty()).then(|| ports.iter().all(|p| *p));
    if first.is_none() {
        notes.push("the server answered no Binding request over TCP".to_string());
    } else if answers.len() < TESTS.len() && !no_nat {
        let why = if alternate_hint.is_none() {
            "the server named no alternate address"
        } else {
            "the local endpoint is unknown"
        };
        notes.push(format!(
            "the mapping tests need a second server address: {why}"
        ));
    } else if mapping.is_none() && !no_nat {
        notes.push("the alternate address answered no Binding request over TCP".to_string());
    }
    let simultaneous_open = match (no_nat, mapping, port_preserved) {
        (true, _, _) | (_, Some(MappingBehavior::EndpointIndependent), _) => {
            SimultaneousOpen::Possible
        }
        (_, Some(_), Some(true)) => SimultaneousOpen::Possible,
        (_, Some(_), _) => SimultaneousOpen::Unlikely,
        (_, None, _) => SimultaneousOpen::Unknown,
    };
    TcpMappingOutcome {
        local,
        answers,
        mapping,
        port_preserved,
        no_nat,
        simultaneous_open,
        notes,
    }
}

impl Machine for TcpMapping {
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        self.binds.pop_front()
    }

    fn handle_bound(&mut self, now: Instant, socket: SocketId, local: SocketAddr) {
        if socket == TESTS[0] {
            self.started = Some(now);
            self.local = Some(local);
        }
        self.ask(now, socket);
    }

    fn handle_bind_failed(&mut self, now: Instant, socket: SocketId) {
        self.started.get_or_insert(now);
        let Some(server) = self.connection(socket).map(|c| c.destination) else {
            return;
        };
        self.answered(socket, TcpAnswer::NoConnection { server }, None);
    }

    fn handle_input(&mut self, now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        let Some(c) = self.connection(socket) else {
            return;
        };
        let server = c.destination;
        c.framer.push(bytes);
        let frame = match c.framer.next_message() {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            Err(e) => {
                let why = e.to_string();
                self.answered(socket, TcpAnswer::NoAnswer { server, why }, None);
                return;
            }
        };
        let Some(transaction) = c.transaction.as_mut() else {
            return;
        };
        let Ok(datagram) = Datagram::parse(&frame) else {
            let why = "a malformed STUN message".to_string();
            self.answered(socket, TcpAnswer::NoAnswer { server, why }, None);
            return;
        };
        transaction.handle_response(now, from, &datagram);
        let (answer, other) = match transaction.outcome() {
            None => return,
            Some(Outcome::Success(r)) => match r.mapped {
                Some(mapped) => (TcpAnswer::Mapped { server, mapped }, r.other_address),
                None => {
                    let why = "an answer without XOR-MAPPED-ADDRESS".to_string();
                    (TcpAnswer::NoAnswer { server, why }, None)
                }
            },
            Some(Outcome::Error { code }) => {
                let why = format!("error {code}");
                (TcpAnswer::NoAnswer { server, why }, None)
            }
            Some(other) => {
                let why = format!("{other:?}");
                (TcpAnswer::NoAnswer { server, why }, None)
            }
        };
        self.answered(socket, answer, other);
    }

    fn handle_closed(&mut self, _now: Instant, socket: SocketId) {
        let Some(server) = self.connection(socket).map(|c| c.destination) else {
            return;
        };
        let why = "the server closed the connection".to_string();
        self.answered(socket, TcpAnswer::NoAnswer { server, why }, None);
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.started.is_some_and(|s| now >= s + self.config.bound) {
            self.conclude();
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_close(&mut self) -> Option<SocketId> {
        self.closes.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.outcome.is_some() {
            return None;
        }
        self.started.map(|s| s + self.config.bound)
    }

    fn is_done(&self) -> bool {
        self.outcome.is_some()
    }

    fn cut_short(&mut self) {
        self.conclude();
    }
}

#[cfg(test)]
mod tests;
