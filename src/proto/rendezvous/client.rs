//! The client side of the rendezvous (protocol version 2) as a sans-IO
//! machine.
//!
//! Say Hello, be paired, run the PAKE keyed by the invitation's secret,
//! then seal every message for the other side: first an introduction
//! (opening it is the key confirmation), then the probe report, then the
//! hole-punching candidates, and last how this side's punch ended (so that
//! both sides take the same path). The server passes sealed bytes on and can
//! neither read nor forge them; the ICE credentials of the checks come
//! from the shared key too. A wrong code ends the novice's try with a clear
//! error; the helper's room waits for another try, three at most. Every
//! wait is bounded.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::code::{Code, Secret};
use super::events::{
    HANDSHAKE, Introduction, MAX_CANDIDATES, PeerCandidates, ProtocolViolation, PunchVerdict,
    RendezvousEvent, RendezvousFailure, SendError, Welcome,
};
use super::frame::{FrameDecoder, FrameError, MAX_FRAME, encode};
use super::message::{Blob, ClientMessage, PROTOCOL_VERSION, RelayGrant, Role, ServerMessage};
use super::server::MAX_ATTEMPTS;
use crate::proto::machine::{Bind, Machine, SocketId, Transmit};
use crate::proto::punch::{Candidate, Credentials};
use crate::proto::session::{InviteCode, Pake, SessionKeys, SharedSecret, Spake2Ed25519};

/// The one socket: a stream to the server.
pub const STREAM: SocketId = SocketId(0);

/// Added to the room's remaining lifetime when waiting for the peer, so
/// that the server's own Expired arrives before this side gives up.
const PEER_MARGIN: Duration = Duration::from_secs(5);

/// The longest room lifetime believed: a server claiming more cannot hold
/// this side waiting for longer.
const MAX_ROOM_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest display name passed on, in characters.
const MAX_NAME: usize = 64;

/// What the two sides seal for each other, in this order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Sealed {
    Intro(Introduction),
    Report { report: serde_json::Value },
    Candidates { candidates: Vec<Candidate> },
    Outcome(PunchVerdict),
}

impl Sealed {
    fn kind(&self) -> &'static str {
        match self {
            Sealed::Intro(_) => "introduction",
            Sealed::Report { .. } => "report",
            Sealed::Candidates { .. } => "candidates",
            Sealed::Outcome(_) => "punch outcome",
        }
    }
}

/// Where the member stands.
#[derive(Debug)]
enum Stage {
    /// Waiting for the Welcome.
    Hello,
    /// (The helper.) Waiting for a novice.
    Waiting,
    /// This side's PAKE message is out; waiting for the peer's.
    Pake(Box<Spake2Ed25519>),
    /// Keys derived, the introduction sealed; waiting for the peer's.
    Confirming(Box<SessionKeys>),
    /// Confirmed: the next sealed message expected is number `next`.
    Confirmed {
        keys: Box<SessionKeys>,
        next: u8,
    },
    Ended,
}

/// How a side meets the other at the rendezvous: it makes a room (and is
/// the room's helper) or joins one (the novice), keyed by a spoken code's
/// secret or an invitation file's password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meeting {
    /// Make a room keyed by `secret`, living `lifetime` where given (an
    /// invitation file's), else as long as the server's default.
    Make {
        secret: SharedSecret,
        lifetime: Option<Duration>,
    },
    /// Join `room`, keyed by `secret`.
    Join { room: Code, secret: SharedSecret },
}

impl Meeting {
    /// A spoken code's meeting: join its room with `code`, or, without
    /// one, make a room keyed by `fresh` (a new code's secret part).
    pub fn for_code(code: Option<InviteCode>, fresh: impl FnOnce() -> Secret) -> Self {
        match code {
            Some(code) => Meeting::Join {
                room: code.room,
                secret: code.secret.into(),
            },
            None => Meeting::Make {
                secret: fresh().into(),
                lifetime: None,
            },
        }
    }
}

/// A member of a room on a rendezvous server; see the module documentation.
#[derive(Debug)]
pub struct Member {
    server: SocketAddr,
    role: Role,
    /// The room's public part, once known, and the secret.
    room: Option<Code>,
    secret: SharedSecret,
    /// What this side says of itself.
    intro: Introduction,
    /// Seeds of the PAKE runs, one per try.
    seed: [u8; 32],
    tries: u32,
    failures: u32,
    /// The peer's TCP source as the server saw it, from its PAKE message.
    observed: Option<SocketAddr>,
    /// The relay the server offered this side, with its PAKE message.
    relay: Option<RelayGrant>,
    /// How long the room this side creates should live, when it asks.
    lifetime: Option<Duration>,
    asked_bind: bool,
    decoder: FrameDecoder,
    stage: Stage,
    transmits: VecDeque<Transmit>,
    events: VecDeque<RendezvousEvent>,
    /// When the current wait ends, and since when it has lasted.
    deadline: Option<Instant>,
    waiting_since: Instant,
    /// The room's end plus a margin, once welcomed.
    room_deadline: Option<Instant>,
    /// Whether the rendezvous is over: the peer's punch outcome arrived,
    /// or it failed.
    over: bool,
}

impl Member {
    /// The helper: creates a room on `server`, with a fresh `secret` (a
    /// code's secret part, or an invitation file's password).
    pub fn helper(
        server: SocketAddr,
        secret: impl Into<SharedSecret>,
        intro: Introduction,
        seed: [u8; 32],
        now: Instant,
    ) -> Self {
        Self::new(server, Role::Helper, None, secret.into(), intro, seed, now)
    }

    /// Asks the server to keep the room this helper creates for
    /// `lifetime` (an invitation file's), instead of its default.
    pub fn with_room_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// A member of `server` meeting the other side as `meeting` says.
    pub fn meeting(
        server: SocketAddr,
        meeting: Meeting,
        intro: Introduction,
        seed: [u8; 32],
        now: Instant,
    ) -> Self {
        match meeting {
            Meeting::Make { secret, lifetime } => {
                let member = Self::helper(server, secret, intro, seed, now);
                match lifetime {
                    Some(lifetime) => member.with_room_lifetime(lifetime),
                    None => member,
                }
            }
            Meeting::Join { room, secret } => Self::joining(server, room, secret, intro, seed, now),
        }
    }

    /// The novice: joins the room of `invite` on `server`.
    pub fn novice(
        server: SocketAddr,
        invite: InviteCode,
        intro: Introduction,
        seed: [u8; 32],
        now: Instant,
    ) -> Self {
        Self::joining(server, invite.room, invite.secret, intro, seed, now)
    }

    /// The novice: joins `room` on `server`, keyed by `secret` (an
    /// invitation file's room and its password).
    pub fn joining(
        server: SocketAddr,
        room: Code,
        secret: impl Into<SharedSecret>,
        intro: Introduction,
        seed: [u8; 32],
        now: Instant,
    ) -> Self {
        Self::new(
            server,
            Role::Novice,
            Some(room),
            secret.into(),
            intro,
            seed,
            now,
        )
    }

    fn new(
        server: SocketAddr,
        role: Role,
        room: Option<Code>,
        secret: SharedSecret,
        intro: Introduction,
        seed: [u8; 32],
        now: Instant,
    ) -> Self {
        Self {
            server,
            role,
            room,
            secret,
            intro: Introduction {
                name: printable(&intro.name, MAX_NAME),
                ..intro
            },
            seed,
            tries: 0,
            failures: 0,
            observed: None,
            relay: None,
            lifetime: None,
            asked_bind: false,
            decoder: FrameDecoder::new(),
            stage: Stage::Hello,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            deadline: Some(now + HANDSHAKE),
            waiting_since: now,
            room_deadline: None,
            over: false,
        }
    }

    pub fn server(&self) -> SocketAddr {
        self.server
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// This side's check credentials, once the keys are derived.
    pub fn local_credentials(&self) -> Option<&Credentials> {
        match &self.stage {
            Stage::Confirmed { keys, .. } => Some(keys.local_credentials()),
            _ => None,
        }
    }

    /// The help desk's relay, when the server offered one with the peer's
    /// PAKE message. It comes from the server, not the peer: whatever it
    /// names, the session's channel still proves the peer's key.
    pub fn relay_grant(&self) -> Option<&RelayGrant> {
        self.relay.as_ref()
    }

    /// The next thing the member learned.
    pub fn poll_event(&mut self) -> Option<RendezvousEvent> {
        self.events.pop_front()
    }

    /// Seals and sends this side's probe report.
    pub fn send_report(
        &mut self,
        now: Instant,
        report: serde_json::Value,
    ) -> Result<(), SendError> {
        self.send_sealed(now, &Sealed::Report { report }, false)
    }

    /// Seals and sends this side's candidates.
    pub fn send_candidates(
        &mut self,
        now: Instant,
        candidates: Vec<Candidate>,
    ) -> Result<(), SendError> {
        self.send_sealed(now, &Sealed::Candidates { candidates }, false)
    }

    /// Seals and sends how this side's punch ended: this side's last
    /// message.
    pub fn send_outcome(&mut self, now: Instant, outcome: PunchVerdict) -> Result<(), SendError> {
        self.send_sealed(now, &Sealed::Outcome(outcome), true)
    }

    fn send_sealed(&mut self, now: Instant, message: &Sealed, last: bool) -> Result<(), SendError> {
        let keys = match &mut self.stage {
            Stage::Confirmed { keys, .. } => keys,
            _ => return Err(SendError::NotConfirmed),
        };
        let plain = serde_json::to_vec(message).unwrap_or_default();
        let sealed = Blob(keys.seal(&plain));
        let frame = encode(&ClientMessage::Sealed { sealed, last });
        let bytes = frame.len().saturating_sub(4);
        if bytes > MAX_FRAME {
            return Err(SendError::TooLarge {
                what: message.kind(),
                bytes,
            });
        }
        self.push(frame);
        self.waiting_since = now;
        Ok(())
    }

    fn push(&mut self, frame: Vec<u8>) {
        self.transmits.push_back(Transmit {
            socket: STREAM,
            destination: self.server,
            payload: frame,
        });
    }

    fn fail(&mut self, failure: RendezvousFailure) {
        self.stage = Stage::Ended;
        self.deadline = None;
        if !self.over {
            self.over = true;
            self.events.push_back(RendezvousEvent::Failed(failure));
        }
    }

    /// Paired: starts a PAKE run.
    fn start_pake(&mut self) {
        let Some(room) = self.room else { return };
        self.tries += 1;
        let mut seed = self.seed;
        seed[..4].copy_from_slice(&self.tries.to_be_bytes());
        let (pake, message) = Spake2Ed25519::start(self.role, room, self.secret.pake(), seed);
        self.push(encode(&ClientMessage::Pake {
            message: Blob(message),
        }));
        self.stage = Stage::Pake(Box::new(pake));
    }

    /// The keys do not match: a wrong code, on one side or the other.
    fn confirmation_failed(&mut self) -> Result<(), RendezvousFailure> {
        self.push(encode(&ClientMessage::ConfirmationFailed));
        self.attempt_failed(None)
    }

    /// One try failed; `server_says` is the server's count when it told.
    fn attempt_failed(&mut self, server_says: Option<u32>) -> Result<(), RendezvousFailure> {
        if self.role == Role::Novice {
            return Err(RendezvousFailure::WrongCode);
        }
        self.failures += 1;
        let mine = MAX_ATTEMPTS.saturating_sub(self.failures);
        let attempts_left = server_says.map_or(mine, |s| s.min(mine));
        if attempts_left == 0 {
            return Err(RendezvousFailure::TooManyAttempts);
        }
        self.stage = Stage::Waiting;
        self.observed = None;
        self.events
            .push_back(RendezvousEvent::AttemptFailed { attempts_left });
        Ok(())
    }

    /// Takes one server message in its place in the order.
    fn receive(&mut self, now: Instant, message: ServerMessage) -> Result<(), RendezvousFailure> {
        let got = message.kind();
        let stage = std::mem::replace(&mut self.stage, Stage::Ended);
        let expected = match &stage {
            Stage::Hello => "welcome",
            Stage::Waiting => "peer_joined",
            Stage::Pake(_) => "peer_pake",
            Stage::Confirming(_) | Stage::Confirmed { .. } => "peer_sealed",
            Stage::Ended => "nothing",
        };
        let unexpected = ProtocolViolation::Unexpected { expected, got };
        match (stage, message) {
            (_, ServerMessage::Error { error }) => return Err(RendezvousFailure::Server(error)),
            (
                Stage::Hello,
                ServerMessage::Welcome {
                    code,
                    role,
                    expires_in_secs,
                },
            ) => {
                if let Some(asked) = self.room
                    && asked != code
                {
                    return Err(ProtocolViolation::WrongRoom { asked, got: code }.into());
                }
                if role != self.role {
                    return Err(ProtocolViolation::WrongRole { got: role }.into());
                }
                self.room = Some(code);
                let lifetime = Duration::from_secs(expires_in_secs).min(MAX_ROOM_LIFETIME);
                self.room_deadline = Some(now + lifetime + PEER_MARGIN);
                self.events.push_back(RendezvousEvent::Welcome(Welcome {
                    room: code,
                    secret: self.secret.clone(),
                    role,
                    expires_in_secs,
                }));
                match role {
                    Role::Helper => self.stage = Stage::Waiting,
                    Role::Novice => self.start_pake(),
                }
            }
            (Stage::Waiting, ServerMessage::PeerJoined) => {
                self.events.push_back(RendezvousEvent::PeerJoined);
                self.start_pake();
            }
            // The novice's failure, told by the server: this side may have
            // seen it already, and then it is not counted twice.
            (Stage::Waiting, ServerMessage::PeerFailed { .. }) => self.stage = Stage::Waiting,
            (
                Stage::Pake(_) | Stage::Confirming(_),
                ServerMessage::PeerFailed { attempts_left },
            ) => {
                self.attempt_failed(Some(attempts_left))?;
            }
            (
                Stage::Pake(pake),
                ServerMessage::PeerPake {
                    message,
                    observed,
                    relay,
                },
            ) => {
                self.observed = Some(observed);
                self.relay = relay;
                let Some(room) = self.room else {
                    return Err(unexpected.into());
                };
                match pake.finish(&message.0) {
                    Ok(shared) => {
                        let mut keys = Box::new(SessionKeys::derive(self.role, room, &shared));
                        let intro = Sealed::Intro(self.intro.clone());
                        let plain = serde_json::to_vec(&intro).unwrap_or_default();
                        let sealed = Blob(keys.seal(&plain));
                        self.push(encode(&ClientMessage::Sealed {
                            sealed,
                            last: false,
                        }));
                        self.stage = Stage::Confirming(keys);
                    }
                    Err(_) => self.confirmation_failed()?,
                }
            }
            (Stage::Confirming(mut keys), ServerMessage::PeerSealed { sealed, .. }) => {
                let intro = keys
                    .open(&sealed.0)
                    .ok()
                    .and_then(|plain| serde_json::from_slice::<Sealed>(&plain).ok());
                match intro {
                    Some(Sealed::Intro(intro)) => {
                        let intro = Introduction {
                            name: printable(&intro.name, MAX_NAME),
                            version: printable(&intro.version, 32),
                            certificate: intro.certificate,
                        };
                        self.events.push_back(RendezvousEvent::Confirmed(intro));
                        self.stage = Stage::Confirmed { keys, next: 1 };
                    }
                    Some(_) => return Err(ProtocolViolation::Tampered.into()),
                    None => self.confirmation_failed()?,
                }
            }
            (Stage::Confirmed { mut keys, next }, ServerMessage::PeerSealed { sealed, last }) => {
                let message = keys
                    .open(&sealed.0)
                    .ok()
                    .and_then(|plain| serde_json::from_slice::<Sealed>(&plain).ok())
                    .ok_or(ProtocolViolation::Tampered)?;
                match (next, message, last) {
                    (1, Sealed::Report { report }, false) => {
                        self.events.push_back(RendezvousEvent::PeerReport(report));
                        self.stage = Stage::Confirmed { keys, next: 2 };
                    }
                    (2, Sealed::Candidates { candidates }, false) => {
                        if candidates.len() > MAX_CANDIDATES {
                            return Err(
                                ProtocolViolation::TooManyCandidates(candidates.len()).into()
                            );
                        }
                        let observed = self.observed.unwrap_or(self.server);
                        self.events
                            .push_back(RendezvousEvent::PeerCandidates(PeerCandidates {
                                credentials: keys.peer_credentials().clone(),
                                candidates,
                                observed,
                            }));
                        self.stage = Stage::Confirmed { keys, next: 3 };
                    }
                    (3, Sealed::Outcome(outcome), true) => {
                        self.events.push_back(RendezvousEvent::PeerOutcome(outcome));
                        self.stage = Stage::Confirmed { keys, next: 4 };
                        self.deadline = None;
                        self.over = true;
                        return Ok(());
                    }
                    _ => return Err(ProtocolViolation::Tampered.into()),
                }
            }
            _ => return Err(unexpected.into()),
        }
        self.waiting_since = now;
        self.deadline = self.room_deadline;
        Ok(())
    }

    fn finished(&self) -> bool {
        matches!(self.stage, Stage::Ended | Stage::Confirmed { next: 4, .. })
    }
}

impl Machine for Member {
    /// One stream to the server.
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        (!self.asked_bind).then(|| {
            self.asked_bind = true;
            (STREAM, Bind::Connect(self.server))
        })
    }

    /// Connected: say Hello.
    fn handle_bound(&mut self, _now: Instant, _socket: SocketId, _local: SocketAddr) {
        let hello = ClientMessage::Hello {
            version: PROTOCOL_VERSION,
            code: self.room,
            lifetime_secs: self.lifetime.map(|l| l.as_secs()),
        };
        self.push(encode(&hello));
    }

    /// Bytes from the stream, however they were cut.
    fn handle_input(&mut self, now: Instant, socket: SocketId, _from: SocketAddr, bytes: &[u8]) {
        if socket != STREAM || self.finished() {
            return;
        }
        self.decoder.push(bytes);
        while !self.finished() {
            let body = match self.decoder.next_frame() {
                Ok(Some(body)) => body,
                Ok(None) => return,
                Err(FrameError::TooLarge { declared }) => {
                    return self.fail(ProtocolViolation::TooLarge { declared }.into());
                }
                Err(FrameError::Empty) => return self.fail(ProtocolViolation::EmptyFrame.into()),
            };
            let result = match serde_json::from_slice::<ServerMessage>(&body) {
                Ok(message) => self.receive(now, message),
                Err(e) => Err(ProtocolViolation::Malformed(printable(&e.to_string(), 160)).into()),
            };
            if let Err(failure) = result {
                self.fail(failure);
            }
        }
    }

    fn handle_closed(&mut self, _now: Instant, socket: SocketId) {
        if socket == STREAM && !self.finished() {
            self.fail(RendezvousFailure::Closed);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_none_or(|at| now < at) {
            return;
        }
        let failure = match &self.stage {
            Stage::Hello => RendezvousFailure::Unresponsive {
                server: self.server,
            },
            Stage::Waiting => RendezvousFailure::PeerTimeout {
                waiting_for: "arrival",
                waited_secs: now.saturating_duration_since(self.waiting_since).as_secs(),
            },
            Stage::Pake(_) | Stage::Confirming(_) => RendezvousFailure::PeerTimeout {
                waiting_for: "key confirmation",
                waited_secs: now.saturating_duration_since(self.waiting_since).as_secs(),
            },
            Stage::Confirmed { next, .. } => RendezvousFailure::PeerTimeout {
                waiting_for: match next {
                    1 => "report",
                    2 => "candidates",
                    _ => "punch outcome",
                },
                waited_secs: now.saturating_duration_since(self.waiting_since).as_secs(),
            },
            Stage::Ended => {
                self.deadline = None;
                return;
            }
        };
        self.fail(failure);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Done once the peer's punch outcome arrived or the rendezvous failed.
    fn is_done(&self) -> bool {
        self.finished()
    }
}

/// Text from the other side or the server made safe to print: control
/// characters escaped, and cut to `limit` characters.
fn printable(text: &str, limit: usize) -> String {
    let mut out: String = text.chars().take(limit).collect::<String>();
    if text.chars().nth(limit).is_some() {
        out.push('…');
    }
    out.escape_debug().to_string()
}
