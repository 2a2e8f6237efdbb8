//! The rendezvous server's logic, sans IO: rooms keyed by code, each with
//! at most two members who swap exactly one report and one set of
//! candidates, and nothing else.
//!
//! The driver owns the connections: it announces each one ([`connect`]),
//! passes on every decoded message ([`handle_message`]), undecodable or
//! oversize frames ([`handle_malformed`]) and closes
//! ([`handle_disconnect`]), calls [`handle_timeout`] at
//! [`poll_timeout`], and after every call carries out what
//! [`poll_output`] asks.
//!
//! [`connect`]: Rendezvous::connect
//! [`handle_message`]: Rendezvous::handle_message
//! [`handle_malformed`]: Rendezvous::handle_malformed
//! [`handle_disconnect`]: Rendezvous::handle_disconnect
//! [`handle_timeout`]: Rendezvous::handle_timeout
//! [`poll_timeout`]: Rendezvous::poll_timeout
//! [`poll_output`]: Rendezvous::poll_output

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::code::Code;
use super::message::{ClientMessage, PROTOCOL_VERSION, RendezvousError, Role, ServerMessage};
use crate::proto::punch::{Candidate, Credentials};

/// The most candidates a member may send, by default.
pub const MAX_CANDIDATES: usize = 16;

/// How many fresh codes are drawn before giving up on finding an unused
/// one. With at most a few thousand rooms among 729 million codes, a
/// second draw is already rare; the bound only matters for a broken
/// random source.
const CODE_ATTEMPTS: usize = 16;

/// The server's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RendezvousConfig {
    /// Rooms open at once; a Hello that would create one more is refused.
    pub max_rooms: usize,
    /// How long a room lives after its creation, paired or not.
    pub room_lifetime: Duration,
    /// The most candidates one member may send.
    pub max_candidates: usize,
    /// Connections open at once; more are refused at once.
    pub max_connections: usize,
    /// How long a new connection may take to send its Hello.
    pub hello_timeout: Duration,
}

impl Default for RendezvousConfig {
    fn default() -> Self {
        Self {
            max_rooms: 1024,
            room_lifetime: Duration::from_secs(10 * 60),
            max_candidates: MAX_CANDIDATES,
            max_connections: 4096,
            hello_timeout: Duration::from_secs(10),
        }
    }
}

/// A connection, as numbered by the driver. Numbers are never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this message on the connection.
    Send(ConnId, ServerMessage),
    /// Close the connection once what was sent before has gone out. The
    /// machine has forgotten it: later input from it is ignored.
    Close(ConnId),
}

/// What the server has done, for the operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RendezvousStats {
    /// Rooms opened by a helper's Hello.
    pub rooms_created: u64,
    /// Rooms a novice joined.
    pub rooms_paired: u64,
    /// Rooms whose members swapped their candidates: the rendezvous done.
    pub rooms_completed: u64,
    /// Rooms that reached the end of their lifetime first.
    pub rooms_expired: u64,
    /// Connections and Hellos turned away: unknown, used or expired code,
    /// server full, another protocol version.
    pub refused: u64,
    /// Connections ended for breaking the protocol: malformed, oversize or
    /// out-of-order messages, too many candidates, bad credentials.
    pub protocol_errors: u64,
    /// Connections closed for sending no Hello in time.
    pub idle_closed: u64,
}

/// Where a connection stands.
#[derive(Debug)]
enum ConnState {
    /// Connected; its Hello must come before `deadline`.
    AwaitingHello { deadline: Instant },
    /// A member of the room with this code.
    Member { code: Code, role: Role },
}

#[derive(Debug)]
struct Conn {
    peer: SocketAddr,
    state: ConnState,
}

/// One member's progress through the exchange.
#[derive(Debug)]
struct Member {
    conn: ConnId,
    /// Whether its report came in.
    reported: bool,
    /// Its report, held until the other one arrives.
    report: Option<serde_json::Value>,
    /// Its candidates, held until the other member's arrive.
    candidates: Option<(Credentials, Vec<Candidate>)>,
}

impl Member {
    fn new(conn: ConnId) -> Self {
        Self {
            conn,
            reported: false,
            report: None,
            candidates: None,
        }
    }
}

/// Two members at most, created by the helper.
#[derive(Debug)]
struct Room {
    expires: Instant,
    helper: Member,
    novice: Option<Member>,
}

impl Room {
    fn members(&self) -> impl Iterator<Item = &Member> {
        std::iter::once(&self.helper).chain(&self.novice)
    }

    /// The member in `role` and the other one; `None` until the novice
    /// has joined.
    fn pair_mut(&mut self, role: Role) -> Option<(&mut Member, &mut Member)> {
        let novice = self.novice.as_mut()?;
        Some(match role {
            Role::Helper => (&mut self.helper, novice),
            Role::Novice => (novice, &mut self.helper),
        })
    }
}

/// The sans-IO rendezvous server.
pub struct Rendezvous {
    config: RendezvousConfig,
    random: Box<dyn FnMut() -> u32 + Send>,
    conns: BTreeMap<ConnId, Conn>,
    rooms: BTreeMap<Code, Room>,
    outputs: VecDeque<Output>,
    stats: RendezvousStats,
}

impl Rendezvous {
    /// A server drawing its codes from `random`, which must give uniform,
    /// unpredictable 32-bit values (an OS-seeded CSPRNG): whoever can
    /// guess a code can take the novice's place.
    pub fn new(config: RendezvousConfig, random: impl FnMut() -> u32 + Send + 'static) -> Self {
        Self {
            config,
            random: Box::new(random),
            conns: BTreeMap::new(),
            rooms: BTreeMap::new(),
            outputs: VecDeque::new(),
            stats: RendezvousStats::default(),
        }
    }

    pub fn stats(&self) -> RendezvousStats {
        self.stats
    }

    /// Rooms open now.
    pub fn rooms(&self) -> usize {
        self.rooms.len()
    }

    /// Connections the machine is tracking now.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// A new connection from `peer`. Over the connection limit it is
    /// refused with ServerFull.
    pub fn connect(&mut self, now: Instant, id: ConnId, peer: SocketAddr) {
        if self.conns.contains_key(&id) {
            return;
        }
        if self.conns.len() >= self.config.max_connections {
            self.stats.refused += 1;
            self.send_error(id, RendezvousError::ServerFull);
            return;
        }
        let deadline = later(now, self.config.hello_timeout);
        let state = ConnState::AwaitingHello { deadline };
        self.conns.insert(id, Conn { peer, state });
    }

    /// A message decoded from connection `id`.
    pub fn handle_message(&mut self, now: Instant, id: ConnId, message: ClientMessage) {
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        match (&conn.state, message) {
            (ConnState::AwaitingHello { .. }, ClientMessage::Hello { version, code }) => {
                if version != PROTOCOL_VERSION {
                    self.refuse(id, RendezvousError::UnsupportedVersion);
                } else if let Some(code) = code {
                    self.join(now, id, code);
                } else {
                    self.create(now, id);
                }
            }
            (ConnState::Member { code, role }, ClientMessage::Report { report }) => {
                let (code, role) = (*code, *role);
                self.report(id, code, role, report);
            }
            (
                ConnState::Member { code, role },
                ClientMessage::Candidates {
                    credentials,
                    candidates,
                },
            ) => {
                let (code, role) = (*code, *role);
                self.candidates(id, code, role, credentials, candidates);
            }
            _ => self.violation(id, RendezvousError::OutOfOrder),
        }
    }

    /// Connection `id` sent something that is not a message: a frame that
    /// is not JSON of a known message (`Malformed`) or one over the limit
    /// (`TooLarge`).
    pub fn handle_malformed(&mut self, _now: Instant, id: ConnId, error: RendezvousError) {
        if self.conns.contains_key(&id) {
            self.violation(id, error);
        }
    }

    /// Connection `id` closed or failed. Its room, if any, ends: the other
    /// member is told PeerLeft.
    pub fn handle_disconnect(&mut self, _now: Instant, id: ConnId) {
        self.forget(id);
    }

    /// Ends rooms past their lifetime and connections that sent no Hello
    /// in time.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<Code> = self
            .rooms
            .iter()
            .filter(|(_, room)| room.expires <= now)
            .map(|(code, _)| *code)
            .collect();
        for code in expired {
            self.expire(code);
        }
        let idle: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, conn)| {
                matches!(conn.state, ConnState::AwaitingHello { deadline } if deadline <= now)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            self.stats.idle_closed += 1;
            self.conns.remove(&id);
            self.outputs.push_back(Output::Close(id));
        }
    }

    /// The next thing the driver must do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called:
    /// the earliest room expiry or Hello deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let rooms = self.rooms.values().map(|room| room.expires);
        let hellos = self.conns.values().filter_map(|conn| match conn.state {
            ConnState::AwaitingHello { deadline } => Some(deadline),
            ConnState::Member { .. } => None,
        });
        rooms.chain(hellos).min()
    }

    /// A Hello without a code: a new room with this connection as helper.
    fn create(&mut self, now: Instant, id: ConnId) {
        if self.rooms.len() >= self.config.max_rooms {
            self.refuse(id, RendezvousError::ServerFull);
            return;
        }
        let Some(code) = (0..CODE_ATTEMPTS)
            .map(|_| Code::generate(&mut self.random))
            .find(|code| !self.rooms.contains_key(code))
        else {
            self.refuse(id, RendezvousError::ServerFull);
            return;
        };
        let expires = later(now, self.config.room_lifetime);
        let room = Room {
            expires,
            helper: Member::new(id),
            novice: None,
        };
        self.rooms.insert(code, room);
        self.set_member(id, code, Role::Helper);
        self.stats.rooms_created += 1;
        self.send(
            id,
            ServerMessage::Welcome {
                code,
                role: Role::Helper,
                expires_in_secs: whole_seconds(expires - now),
            },
        );
    }

    /// A Hello with a code: this connection joins that room as the novice.
    fn join(&mut self, now: Instant, id: ConnId, code: Code) {
        let Some(room) = self.rooms.get_mut(&code) else {
            self.refuse(id, RendezvousError::UnknownCode);
            return;
        };
        if room.expires <= now {
            self.refuse(id, RendezvousError::Expired);
            self.expire(code);
            return;
        }
        if room.novice.is_some() {
            self.refuse(id, RendezvousError::CodeInUse);
            return;
        }
        room.novice = Some(Member::new(id));
        let (helper, expires) = (room.helper.conn, room.expires);
        self.set_member(id, code, Role::Novice);
        self.stats.rooms_paired += 1;
        self.send(
            id,
            ServerMessage::Welcome {
                code,
                role: Role::Novice,
                expires_in_secs: whole_seconds(expires - now),
            },
        );
        self.send(helper, ServerMessage::PeerJoined);
    }

    /// A member's report: held until the other's is in, then both swap.
    fn report(&mut self, id: ConnId, code: Code, role: Role, report: serde_json::Value) {
        let Some((member, other)) = self.rooms.get_mut(&code).and_then(|r| r.pair_mut(role)) else {
            return self.violation(id, RendezvousError::OutOfOrder);
        };
        if member.reported {
            return self.violation(id, RendezvousError::OutOfOrder);
        }
        member.reported = true;
        if !other.reported {
            member.report = Some(report);
            return;
        }
        let Some(other_report) = other.report.take() else {
            return;
        };
        let (member, other) = (member.conn, other.conn);
        self.send(other, ServerMessage::PeerReport { report });
        self.send(
            member,
            ServerMessage::PeerReport {
                report: other_report,
            },
        );
    }

    /// A member's candidates: valid only after the reports were swapped;
    /// held until the other's are in, then both swap and the room ends.
    fn candidates(
        &mut self,
        id: ConnId,
        code: Code,
        role: Role,
        credentials: Credentials,
        candidates: Vec<Candidate>,
    ) {
        let max_candidates = self.config.max_candidates;
        let Some((member, other)) = self.rooms.get_mut(&code).and_then(|r| r.pair_mut(role)) else {
            return self.violation(id, RendezvousError::OutOfOrder);
        };
        if !member.reported || !other.reported || member.candidates.is_some() {
            return self.violation(id, RendezvousError::OutOfOrder);
        }
        if candidates.len() > max_candidates {
            return self.violation(id, RendezvousError::TooManyCandidates);
        }
        if !credentials.is_valid() {
            return self.violation(id, RendezvousError::BadCredentials);
        }
        let Some((other_credentials, other_candidates)) = other.candidates.take() else {
            member.candidates = Some((credentials, candidates));
            return;
        };
        let (member, other) = (member.conn, other.conn);
        self.rooms.remove(&code);
        let observed = |conn: ConnId| self.conns.get(&conn).map(|c| c.peer);
        if let (Some(member_addr), Some(other_addr)) = (observed(member), observed(other)) {
            self.send(
                other,
                ServerMessage::PeerCandidates {
                    credentials,
                    candidates,
                    observed: member_addr,
                },
            );
            self.send(
                member,
                ServerMessage::PeerCandidates {
                    credentials: other_credentials,
                    candidates: other_candidates,
                    observed: other_addr,
                },
            );
        }
        for conn in [member, other] {
            self.conns.remove(&conn);
            self.outputs.push_back(Output::Close(conn));
        }
        self.stats.rooms_completed += 1;
    }

    /// A room's lifetime is over: both members are told and closed.
    fn expire(&mut self, code: Code) {
        let Some(room) = self.rooms.remove(&code) else {
            return;
        };
        self.stats.rooms_expired += 1;
        let members: Vec<ConnId> = room.members().map(|m| m.conn).collect();
        for conn in members {
            self.conns.remove(&conn);
            self.send_error(conn, RendezvousError::Expired);
        }
    }

    /// Turns away a connection's Hello.
    fn refuse(&mut self, id: ConnId, error: RendezvousError) {
        self.stats.refused += 1;
        self.forget(id);
        self.send_error(id, error);
    }

    /// Ends a connection that broke the protocol, and its room.
    fn violation(&mut self, id: ConnId, error: RendezvousError) {
        self.stats.protocol_errors += 1;
        self.forget(id);
        self.send_error(id, error);
    }

    /// Drops connection `id`; if it was in a room, the room ends and the
    /// other member is told PeerLeft and closed.
    fn forget(&mut self, id: ConnId) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        let ConnState::Member { code, .. } = conn.state else {
            return;
        };
        let Some(room) = self.rooms.remove(&code) else {
            return;
        };
        let others: Vec<ConnId> = room
            .members()
            .map(|m| m.conn)
            .filter(|conn| *conn != id)
            .collect();
        for other in others {
            self.conns.remove(&other);
            self.send_error(other, RendezvousError::PeerLeft);
        }
    }

    fn set_member(&mut self, id: ConnId, code: Code, role: Role) {
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.state = ConnState::Member { code, role };
        }
    }

    fn send(&mut self, id: ConnId, message: ServerMessage) {
        self.outputs.push_back(Output::Send(id, message));
    }

    fn send_error(&mut self, id: ConnId, error: RendezvousError) {
        self.send(id, ServerMessage::Error { error });
        self.outputs.push_back(Output::Close(id));
    }
}

/// `now + after`, saturating far in the future rather than overflowing.
fn later(now: Instant, after: Duration) -> Instant {
    now.checked_add(after)
        .or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(now)
}

/// A duration in seconds, rounded up: a room with 0.3 s left has not
/// expired.
fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests;
