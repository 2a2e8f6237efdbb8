//! The rendezvous server's logic, sans IO (protocol version 2): rooms keyed
//! by the invitation code's public part, each with a helper and at most one
//! novice at a time, who swap one PAKE message each and then a few sealed
//! messages the server can neither read nor forge. A failed key
//! confirmation (a wrong code) sends the novice away and lets another try;
//! after three the room is closed.
//!
//! The driver owns the connections: it announces each one ([`connect`]),
//! passes on every decoded message ([`handle_message`]), undecodable or
//! oversize frames ([`handle_malformed`]) and closes
//! ([`handle_disconnect`]), calls [`handle_timeout`] at
//! [`poll_timeout`], and after every call carries out what
//! [`poll_output`] asks: sends, closes, and the room directory's
//! questions, whose answers come back through [`handle_answer`] (see
//! [`directory`](super::directory): the directory admits each Hello and
//! says which host of the deployment holds each room).
//!
//! [`connect`]: Rendezvous::connect
//! [`handle_answer`]: Rendezvous::handle_answer
//! [`handle_message`]: Rendezvous::handle_message
//! [`handle_malformed`]: Rendezvous::handle_malformed
//! [`handle_disconnect`]: Rendezvous::handle_disconnect
//! [`handle_timeout`]: Rendezvous::handle_timeout
//! [`poll_timeout`]: Rendezvous::poll_timeout
//! [`poll_output`]: Rendezvous::poll_output

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::admission::{Source, SourceLimits};
use super::code::Code;
use super::directory::{MemoryDirectory, Question};
use super::message::{
    Blob, ClientMessage, PROTOCOL_VERSION, RelayGrant, RendezvousError, Role, ServerMessage,
};
use crate::proto::relay::credentials::{Secret, UnixClock};
use crate::proto::session::CODE_LIFETIME;

/// Wrong codes a room takes before it is closed: one PAKE run is one guess
/// at the secret, so an attacker who knows the public part gets three
/// guesses among 729 million secrets.
pub const MAX_ATTEMPTS: u32 = 3;

/// Sealed messages one member may send in one pairing.
pub const MAX_SEALED: u32 = 8;

/// The largest PAKE message passed on (SPAKE2 over Ed25519 sends 33 bytes).
pub const MAX_PAKE: usize = 256;

/// How many fresh codes are drawn before giving up on finding one this
/// host does not use. With at most a thousand rooms among 27 000 codes, a
/// second draw is rare; the bound only matters for a broken random source.
const CODE_ATTEMPTS: usize = 64;

/// How many codes unused here a creation offers the directory, which
/// claims the first no other host holds either.
const CANDIDATES: usize = 8;

/// The server's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RendezvousConfig {
    /// Rooms open at once; a Hello that would create one more is refused.
    pub max_rooms: usize,
    /// How long a room lives after its creation, paired or not, unless
    /// its creator asks otherwise.
    pub room_lifetime: Duration,
    /// The longest lifetime a creator may ask for (an invitation file's).
    pub max_room_lifetime: Duration,
    /// Connections open at once; more are refused at once.
    pub max_connections: usize,
    /// How long a new connection may take to send its Hello.
    pub hello_timeout: Duration,
    /// How long a novice may take, from joining, to send its PAKE message
    /// and its first sealed one (the key confirmation): one that stays
    /// silent is sent away, as after a wrong code, so that whoever knows a
    /// room's public part cannot hold it against the true novice.
    pub pairing_timeout: Duration,
    /// What one source address may do.
    pub per_source: SourceLimits,
}

impl Default for RendezvousConfig {
    fn default() -> Self {
        Self {
            max_rooms: 1024,
            room_lifetime: CODE_LIFETIME,
            max_room_lifetime: Duration::from_secs(24 * 60 * 60),
            max_connections: 4096,
            hello_timeout: Duration::from_secs(10),
            pairing_timeout: Duration::from_secs(30),
            per_source: SourceLimits::default(),
        }
    }
}

/// A TURN relay the server hands to the members of each paired room: its
/// address, and the secret it shares with the relay (`ranat serve`'s own,
/// or coturn's `--static-auth-secret`). The members never learn the
/// secret, only credentials derived from it, each valid for `lifetime`.
#[derive(Debug, Clone)]
pub struct RelayOffer {
    pub address: SocketAddr,
    pub secret: Secret,
    /// Unix time, read off the machine's clock.
    pub clock: UnixClock,
    /// How long a member's credentials stay valid: a session relayed for
    /// longer must reconnect.
    pub lifetime: Duration,
}

impl RelayOffer {
    /// The credentials one member gets: a name of its own (room and role),
    /// so that the relay's per-user quotas count each member apart.
    fn grant(&self, now: Instant, code: Code, role: Role) -> Option<RelayGrant> {
        let expiry = self.clock.seconds(now) + self.lifetime.as_secs();
        let credentials = self
            .secret
            .issue(&format!("ranat-{code}-{}", role.as_str()), expiry)
            .ok()?;
        Some(RelayGrant {
            address: self.address,
            username: credentials.username,
            password: credentials.password,
            expires_in_secs: self.lifetime.as_secs(),
        })
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
    /// Ask the room directory about the connection's Hello; the answer
    /// goes to [`Rendezvous::handle_answer`].
    Ask(ConnId, Question),
    /// The room with this code has ended: free its code in the directory.
    Release(Code),
    /// The connection's room lives on the host at this address: carry the
    /// connection there (the Hello first, then everything both ways). The
    /// machine has forgotten it.
    Forward(ConnId, SocketAddr),
}

/// What the server has done, for the operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RendezvousStats {
    /// Rooms opened by a helper's Hello.
    pub rooms_created: u64,
    /// Rooms a novice joined.
    pub rooms_paired: u64,
    /// Rooms whose members both sent their last sealed message: the
    /// rendezvous done.
    pub rooms_completed: u64,
    /// Failed key confirmations: a novice with a wrong code.
    pub wrong_codes: u64,
    /// Rooms closed after [`MAX_ATTEMPTS`] wrong codes.
    pub rooms_closed_after_wrong_codes: u64,
    /// Rooms that reached the end of their lifetime first.
    pub rooms_expired: u64,
    /// Connections and Hellos turned away: unknown, used or expired code,
    /// server full, another protocol version.
    pub refused: u64,
    /// Connections ended for breaking the protocol: malformed, oversize or
    /// out-of-order messages.
    pub protocol_errors: u64,
    /// Connections closed for sending no Hello in time.
    pub idle_closed: u64,
    /// Novices sent away for not confirming the key in time (also counted
    /// in `wrong_codes`).
    pub slow_novices: u64,
    /// Connections and Hellos turned away by a per-source limit (also
    /// counted in `refused`).
    pub rate_limited: u64,
    /// Hellos turned away because the room directory could not be reached
    /// (also counted in `refused`).
    pub store_unavailable: u64,
    /// Novices carried to the host that holds their room.
    pub forwarded: u64,
}

/// Where a connection stands.
#[derive(Debug)]
enum ConnState {
    /// Connected; its Hello must come before `deadline`.
    AwaitingHello { deadline: Instant },
    /// Its Hello awaits the directory's answer.
    Asking(Hello),
    /// A member of the room with this code.
    Member { code: Code, role: Role },
}

/// A Hello the directory was asked about.
#[derive(Debug, Clone, Copy)]
enum Hello {
    /// A new room, living this long.
    Create { lifetime: Duration },
    /// The room with this code.
    Join { code: Code },
}

#[derive(Debug)]
struct Conn {
    peer: SocketAddr,
    /// Carried here by another host of the deployment, which the directory
    /// has already admitted it through.
    forwarded: bool,
    state: ConnState,
}

/// One member's progress through a pairing.
#[derive(Debug)]
struct Member {
    conn: ConnId,
    /// Whether its PAKE message was passed on.
    pake: bool,
    /// Sealed messages passed on.
    sealed: u32,
    /// Whether it sent its last sealed message.
    done: bool,
}

impl Member {
    fn new(conn: ConnId) -> Self {
        Self {
            conn,
            pake: false,
            sealed: 0,
            done: false,
        }
    }
}

/// A helper, and a novice while one is trying.
#[derive(Debug)]
struct Room {
    expires: Instant,
    helper: Member,
    novice: Option<Member>,
    /// When the novice must have confirmed the key by.
    novice_deadline: Option<Instant>,
    /// Wrong codes so far.
    failures: u32,
}

impl Room {
    fn members(&self) -> impl Iterator<Item = &Member> {
        std::iter::once(&self.helper).chain(&self.novice)
    }

    /// The member in `role` and the other one; `None` until a novice has
    /// joined.
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
    relay: Option<RelayOffer>,
    /// The directory of a host alone, answered in place; `None` when the
    /// driver answers from a directory the deployment shares.
    directory: Option<MemoryDirectory>,
}

impl Rendezvous {
    /// A server alone (its rooms and per-source counts in memory), drawing
    /// its codes from `random`, which must give uniform, unpredictable
    /// 32-bit values (an OS-seeded CSPRNG): whoever can guess a code can
    /// take the novice's place.
    pub fn new(config: RendezvousConfig, random: impl FnMut() -> u32 + Send + 'static) -> Self {
        let mut server = Self::sharing(config, random);
        server.directory = Some(MemoryDirectory::new(config.per_source));
        server
    }

    /// A server of a deployment whose hosts share one directory: every
    /// Hello is asked about ([`Output::Ask`]), every ended room released
    /// ([`Output::Release`]), and a novice whose room lives on another
    /// host carried there ([`Output::Forward`]). `config.per_source` is the
    /// shared directory's to apply.
    pub fn sharing(config: RendezvousConfig, random: impl FnMut() -> u32 + Send + 'static) -> Self {
        Self {
            config,
            random: Box::new(random),
            conns: BTreeMap::new(),
            rooms: BTreeMap::new(),
            outputs: VecDeque::new(),
            stats: RendezvousStats::default(),
            relay: None,
            directory: None,
        }
    }

    /// Hands `offer`'s relay to the members of every room once paired.
    pub fn offer_relay(&mut self, offer: RelayOffer) {
        self.relay = Some(offer);
    }

    pub fn stats(&self) -> RendezvousStats {
        self.stats
    }

    /// Rooms open now.
    pub fn rooms(&self) -> usize {
        self.rooms.len()
    }

    /// Each open room's code and the time it has left at `now`: what a
    /// shared directory must hold for this host.
    pub fn rooms_left(&self, now: Instant) -> Vec<(Code, Duration)> {
        self.rooms
            .iter()
            .map(|(code, room)| (*code, room.expires.saturating_duration_since(now)))
            .collect()
    }

    /// Connections the machine is tracking now.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// A new connection from `peer`. Over the connection limit it is
    /// refused with ServerFull; over its source's, with TooManyRequests.
    pub fn connect(&mut self, now: Instant, id: ConnId, peer: SocketAddr) {
        if self.conns.contains_key(&id) {
            return;
        }
        if self.conns.len() >= self.config.max_connections {
            self.stats.refused += 1;
            self.send_error(id, RendezvousError::ServerFull);
            return;
        }
        let source = Source::of(peer.ip());
        let open = self
            .conns
            .values()
            .filter(|conn| Source::of(conn.peer.ip()) == source)
            .count();
        if open >= self.config.per_source.connections {
            self.stats.refused += 1;
            self.stats.rate_limited += 1;
            self.send_error(id, RendezvousError::TooManyRequests);
            return;
        }
        let deadline = later(now, self.config.hello_timeout);
        let state = ConnState::AwaitingHello { deadline };
        let forwarded = false;
        self.conns.insert(
            id,
            Conn {
                peer,
                forwarded,
                state,
            },
        );
    }

    /// A message decoded from connection `id`.
    pub fn handle_message(&mut self, now: Instant, id: ConnId, message: ClientMessage) {
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        match (&conn.state, message) {
            (
                ConnState::AwaitingHello { .. },
                ClientMessage::Hello {
                    version,
                    code,
                    lifetime_secs,
                },
            ) => {
                if version != PROTOCOL_VERSION {
                    self.refuse(id, RendezvousError::UnsupportedVersion);
                } else if let Some(code) = code {
                    if conn.forwarded {
                        self.join(now, id, code);
                    } else {
                        let source = Source::of(conn.peer.ip());
                        let question = Question::Join { source, code };
                        self.ask(now, id, Hello::Join { code }, question);
                    }
                } else {
                    self.ask_create(now, id, lifetime_secs.map(Duration::from_secs));
                }
            }
            (ConnState::Member { code, role }, ClientMessage::Pake { message }) => {
                let (code, role) = (*code, *role);
                self.pake(now, id, code, role, message);
            }
            (ConnState::Member { code, role }, ClientMessage::Sealed { sealed, last }) => {
                let (code, role) = (*code, *role);
                self.sealed(id, code, role, sealed, last);
            }
            (ConnState::Member { code, role }, ClientMessage::ConfirmationFailed) => {
                // Only a verdict on the current pairing counts: one that
                // arrives after the next novice joined is late, not new.
                let (code, role) = (*code, *role);
                let current = self
                    .rooms
                    .get_mut(&code)
                    .and_then(|r| r.pair_mut(role))
                    .is_some_and(|(member, _)| member.pake);
                if current {
                    self.confirmation_failed(code);
                }
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
        let slow: Vec<Code> = self
            .rooms
            .iter()
            .filter(|(_, room)| room.novice_deadline.is_some_and(|at| at <= now))
            .map(|(code, _)| *code)
            .collect();
        for code in slow {
            self.stats.slow_novices += 1;
            self.send_novice_away(code, RendezvousError::TooSlow);
        }
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
        let rooms = self
            .rooms
            .values()
            .flat_map(|room| [Some(room.expires), room.novice_deadline])
            .flatten();
        let hellos = self.conns.values().filter_map(|conn| match conn.state {
            ConnState::AwaitingHello { deadline } => Some(deadline),
            ConnState::Asking(_) | ConnState::Member { .. } => None,
        });
        rooms.chain(hellos).min()
    }

    /// The directory gave connection `id`'s new room `code`: the
    /// connection is its helper.
    fn create(&mut self, now: Instant, id: ConnId, code: Code, lifetime: Duration) {
        if self.rooms.len() >= self.config.max_rooms || self.rooms.contains_key(&code) {
            if !self.rooms.contains_key(&code) {
                self.release(code);
            }
            self.refuse(id, RendezvousError::ServerFull);
            return;
        }
        let expires = later(now, lifetime);
        let room = Room {
            expires,
            helper: Member::new(id),
            novice: None,
            novice_deadline: None,
            failures: 0,
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

    /// A Hello with a code, admitted by the directory: this connection
    /// joins that room as the novice.
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
        room.novice_deadline = Some(later(now, self.config.pairing_timeout));
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

    /// A member's PAKE message, once per pairing, passed on at once with
    /// where the server saw the member come from, and the relay's
    /// credentials for the member it goes to.
    fn pake(&mut self, now: Instant, id: ConnId, code: Code, role: Role, message: Blob) {
        if message.0.len() > MAX_PAKE {
            return self.violation(id, RendezvousError::Malformed);
        }
        let Some((member, other)) = self.rooms.get_mut(&code).and_then(|r| r.pair_mut(role)) else {
            return self.violation(id, RendezvousError::OutOfOrder);
        };
        if member.pake {
            return self.violation(id, RendezvousError::OutOfOrder);
        }
        member.pake = true;
        let other = other.conn;
        let Some(observed) = self.conns.get(&id).map(|c| c.peer) else {
            return;
        };
        let relay = self
            .relay
            .as_ref()
            .and_then(|offer| offer.grant(now, code, role.other()));
        self.send(
            other,
            ServerMessage::PeerPake {
                message,
                observed,
                relay,
            },
        );
    }

    /// A sealed message: after the member's PAKE message, at most
    /// [`MAX_SEALED`], passed on at once. Once both members sent their
    /// last, the room is done and both connections close.
    fn sealed(&mut self, id: ConnId, code: Code, role: Role, sealed: Blob, last: bool) {
        let Some((member, other)) = self.rooms.get_mut(&code).and_then(|r| r.pair_mut(role)) else {
            return self.violation(id, RendezvousError::OutOfOrder);
        };
        if !member.pake || member.done || member.sealed >= MAX_SEALED {
            return self.violation(id, RendezvousError::OutOfOrder);
        }
        member.sealed += 1;
        member.done = last;
        let both_done = member.done && other.done;
        let (member, other) = (member.conn, other.conn);
        if role == Role::Novice
            && let Some(room) = self.rooms.get_mut(&code)
        {
            room.novice_deadline = None;
        }
        self.send(other, ServerMessage::PeerSealed { sealed, last });
        if both_done {
            self.remove_room(code);
            for conn in [member, other] {
                self.conns.remove(&conn);
                self.outputs.push_back(Output::Close(conn));
            }
            self.stats.rooms_completed += 1;
        }
    }

    /// A member of the current pairing could not open the other's first
    /// sealed message: the two codes differ. The novice is sent away; the
    /// helper waits for another try, or after [`MAX_ATTEMPTS`] the room is
    /// closed.
    fn confirmation_failed(&mut self, code: Code) {
        self.send_novice_away(code, RendezvousError::WrongCode);
    }

    /// Ends the current pairing as a failed attempt: the novice hears
    /// `error`, the helper PeerFailed, or TooManyAttempts as the room
    /// closes after the last one.
    fn send_novice_away(&mut self, code: Code, error: RendezvousError) {
        let Some(room) = self.rooms.get_mut(&code) else {
            return;
        };
        let Some(novice) = room.novice.take() else {
            return;
        };
        room.novice_deadline = None;
        room.failures += 1;
        room.helper = Member::new(room.helper.conn);
        let (helper, failures) = (room.helper.conn, room.failures);
        self.stats.wrong_codes += 1;
        self.conns.remove(&novice.conn);
        self.send_error(novice.conn, error);
        if failures >= MAX_ATTEMPTS {
            self.remove_room(code);
            self.conns.remove(&helper);
            self.stats.rooms_closed_after_wrong_codes += 1;
            self.send_error(helper, RendezvousError::TooManyAttempts);
        } else {
            let attempts_left = MAX_ATTEMPTS - failures;
            self.send(helper, ServerMessage::PeerFailed { attempts_left });
        }
    }

    /// A room's lifetime is over: both members are told and closed.
    fn expire(&mut self, code: Code) {
        let Some(room) = self.remove_room(code) else {
            return;
        };
        self.stats.rooms_expired += 1;
        let members: Vec<ConnId> = room.members().map(|m| m.conn).collect();
        for conn in members {
            self.conns.remove(&conn);
            self.send_error(conn, RendezvousError::Expired);
        }
    }

    /// Ends the room `code`, freeing its code in the directory.
    fn remove_room(&mut self, code: Code) -> Option<Room> {
        let room = self.rooms.remove(&code)?;
        self.release(code);
        Some(room)
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
        let Some(room) = self.remove_room(code) else {
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

mod asking;
#[cfg(test)]
mod tests;
