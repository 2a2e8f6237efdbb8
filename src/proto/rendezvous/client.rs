//! The client side of the rendezvous as a sans-IO machine: say Hello, then
//! take the server's messages in the one order the protocol allows —
//! Welcome, PeerJoined (the helper only), PeerReport, PeerCandidates —
//! checking each before it is believed. The caller sends its report and its
//! candidates when it has them; every wait is bounded.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::code::Code;
use super::frame::{FrameDecoder, FrameError, MAX_FRAME, encode};
use super::message::{ClientMessage, PROTOCOL_VERSION, RendezvousError, Role, ServerMessage};
use super::server::MAX_CANDIDATES;
use crate::proto::machine::{Bind, Machine, SocketId, Transmit};
use crate::proto::punch::{Candidate, Credentials};

/// The one socket: a stream to the server.
pub const STREAM: SocketId = SocketId(0);

/// How long connecting and the Hello–Welcome handshake may take.
pub const HANDSHAKE: Duration = Duration::from_secs(5);

/// Added to the room's remaining lifetime when waiting for the peer, so
/// that the server's own Expired arrives before this side gives up.
const PEER_MARGIN: Duration = Duration::from_secs(5);

/// The longest room lifetime believed: a server claiming more cannot hold
/// this side waiting for longer.
const MAX_ROOM_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// The server's answer to the Hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Welcome {
    /// The room's code: to read out to the novice when this side created it.
    pub code: Code,
    pub role: Role,
    /// How long the room has left.
    pub expires_in_secs: u64,
}

/// What the other side sent for the hole punching, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCandidates {
    pub credentials: Credentials,
    pub candidates: Vec<Candidate>,
    /// The peer's TCP source address as the server saw it: informational.
    pub observed: SocketAddr,
}

/// What the member learned, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum RendezvousEvent {
    Welcome(Welcome),
    /// The novice has joined (the helper hears this; the novice's own
    /// Welcome implies it).
    PeerJoined,
    /// The other side's report, unchecked JSON for the caller to check.
    PeerReport(serde_json::Value),
    PeerCandidates(PeerCandidates),
    /// The rendezvous failed; nothing more will happen.
    Failed(RendezvousFailure),
}

/// Why the rendezvous failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RendezvousFailure {
    #[error("the rendezvous server {server} did not respond within {} s", HANDSHAKE.as_secs())]
    Unresponsive { server: SocketAddr },
    #[error("the rendezvous server said: {0}")]
    Server(RendezvousError),
    #[error("the rendezvous server broke the protocol: {0}")]
    Protocol(#[from] ProtocolViolation),
    #[error("gave up after {waited_secs} s waiting for the other side's {waiting_for}")]
    PeerTimeout {
        waiting_for: &'static str,
        waited_secs: u64,
    },
    #[error("the rendezvous server closed the connection")]
    Closed,
}

/// How a server broke the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolViolation {
    #[error("it sent {got} while this side waited for {expected}")]
    Unexpected {
        expected: &'static str,
        got: &'static str,
    },
    #[error("it sent something that is not a rendezvous message ({0})")]
    Malformed(String),
    #[error("it announced a {declared}-byte message, over the {MAX_FRAME}-byte limit")]
    TooLarge { declared: u64 },
    #[error("it sent an empty frame")]
    EmptyFrame,
    #[error("it put this side in room {got}, not {asked}")]
    WrongRoom { asked: Code, got: Code },
    #[error("it made this side the {got:?}, which does not fit the Hello")]
    WrongRole { got: Role },
    #[error("it passed on {0} candidates; at most {MAX_CANDIDATES} are allowed")]
    TooManyCandidates(usize),
    #[error("it passed on credentials that are not valid ICE credentials (RFC 8839 §5.4)")]
    BadCredentials,
}

/// This side's message does not fit in a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this side's {what} is {bytes} bytes, over the {MAX_FRAME}-byte limit")]
pub struct TooLarge {
    pub what: &'static str,
    pub bytes: usize,
}

/// The next server message the protocol allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Welcome,
    PeerJoined,
    PeerReport,
    PeerCandidates,
    Nothing,
}

impl Expect {
    fn kind(self) -> &'static str {
        match self {
            Expect::Welcome => "welcome",
            Expect::PeerJoined => "peer_joined",
            Expect::PeerReport => "peer_report",
            Expect::PeerCandidates => "peer_candidates",
            Expect::Nothing => "nothing",
        }
    }

    /// What the wait is for, in a timeout's message.
    fn waiting_for(self) -> &'static str {
        match self {
            Expect::PeerJoined => "arrival",
            Expect::PeerReport => "report",
            _ => "candidates",
        }
    }
}

/// A member of a room on a rendezvous server; see the module documentation.
#[derive(Debug)]
pub struct Member {
    server: SocketAddr,
    asked: Option<Code>,
    asked_bind: bool,
    decoder: FrameDecoder,
    expect: Expect,
    transmits: VecDeque<Transmit>,
    events: VecDeque<RendezvousEvent>,
    /// When the current wait ends, and since when it has lasted.
    deadline: Option<Instant>,
    waiting_since: Instant,
    /// The room's end plus a margin, once welcomed.
    room_deadline: Option<Instant>,
    ended: bool,
}

impl Member {
    /// A member that creates a room (no code: the helper) or joins one
    /// (the novice) on `server`; the handshake's clock starts at `now`.
    pub fn new(server: SocketAddr, code: Option<Code>, now: Instant) -> Self {
        Self {
            server,
            asked: code,
            asked_bind: false,
            decoder: FrameDecoder::new(),
            expect: Expect::Welcome,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            deadline: Some(now + HANDSHAKE),
            waiting_since: now,
            room_deadline: None,
            ended: false,
        }
    }

    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The next thing the member learned.
    pub fn poll_event(&mut self) -> Option<RendezvousEvent> {
        self.events.pop_front()
    }

    /// Sends this side's probe report.
    pub fn send_report(&mut self, now: Instant, report: serde_json::Value) -> Result<(), TooLarge> {
        self.send(now, &ClientMessage::Report { report }, "report")
    }

    /// Sends this side's candidates and credentials (after the reports).
    pub fn send_candidates(
        &mut self,
        now: Instant,
        credentials: Credentials,
        candidates: Vec<Candidate>,
    ) -> Result<(), TooLarge> {
        let message = ClientMessage::Candidates {
            credentials,
            candidates,
        };
        self.send(now, &message, "candidates")
    }

    fn send(
        &mut self,
        now: Instant,
        message: &ClientMessage,
        what: &'static str,
    ) -> Result<(), TooLarge> {
        let frame = encode(message);
        let bytes = frame.len().saturating_sub(4);
        if bytes > MAX_FRAME {
            return Err(TooLarge { what, bytes });
        }
        if !self.ended {
            self.transmits.push_back(Transmit {
                socket: STREAM,
                destination: self.server,
                payload: frame,
            });
            self.waiting_since = now;
        }
        Ok(())
    }

    fn fail(&mut self, failure: RendezvousFailure) {
        if !self.ended {
            self.ended = true;
            self.deadline = None;
            self.events.push_back(RendezvousEvent::Failed(failure));
        }
    }

    /// Takes one server message in its place in the order.
    fn receive(&mut self, now: Instant, message: ServerMessage) -> Result<(), RendezvousFailure> {
        let got = message.kind();
        let unexpected = |expected: Expect| ProtocolViolation::Unexpected {
            expected: expected.kind(),
            got,
        };
        let event = match (self.expect, message) {
            (_, ServerMessage::Error { error }) => return Err(RendezvousFailure::Server(error)),
            (
                Expect::Welcome,
                ServerMessage::Welcome {
                    code,
                    role,
                    expires_in_secs,
                },
            ) => {
                let expected_role = match self.asked {
                    Some(asked) if asked != code => {
                        return Err(ProtocolViolation::WrongRoom { asked, got: code }.into());
                    }
                    Some(_) => Role::Novice,
                    None => Role::Helper,
                };
                if role != expected_role {
                    return Err(ProtocolViolation::WrongRole { got: role }.into());
                }
                let lifetime = Duration::from_secs(expires_in_secs).min(MAX_ROOM_LIFETIME);
                self.room_deadline = Some(now + lifetime + PEER_MARGIN);
                self.expect = match role {
                    Role::Helper => Expect::PeerJoined,
                    Role::Novice => Expect::PeerReport,
                };
                RendezvousEvent::Welcome(Welcome {
                    code,
                    role,
                    expires_in_secs,
                })
            }
            (Expect::PeerJoined, ServerMessage::PeerJoined) => {
                self.expect = Expect::PeerReport;
                RendezvousEvent::PeerJoined
            }
            (Expect::PeerReport, ServerMessage::PeerReport { report }) => {
                self.expect = Expect::PeerCandidates;
                RendezvousEvent::PeerReport(report)
            }
            (
                Expect::PeerCandidates,
                ServerMessage::PeerCandidates {
                    credentials,
                    candidates,
                    observed,
                },
            ) => {
                if candidates.len() > MAX_CANDIDATES {
                    return Err(ProtocolViolation::TooManyCandidates(candidates.len()).into());
                }
                if !credentials.is_valid() {
                    return Err(ProtocolViolation::BadCredentials.into());
                }
                self.expect = Expect::Nothing;
                self.ended = true;
                RendezvousEvent::PeerCandidates(PeerCandidates {
                    credentials,
                    candidates,
                    observed,
                })
            }
            (expect, _) => return Err(unexpected(expect).into()),
        };
        self.events.push_back(event);
        self.waiting_since = now;
        self.deadline = if self.ended { None } else { self.room_deadline };
        Ok(())
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
            code: self.asked,
        };
        self.transmits.push_back(Transmit {
            socket: STREAM,
            destination: self.server,
            payload: encode(&hello),
        });
    }

    /// Bytes from the stream, however they were cut.
    fn handle_input(&mut self, now: Instant, socket: SocketId, _from: SocketAddr, bytes: &[u8]) {
        if socket != STREAM || self.ended {
            return;
        }
        self.decoder.push(bytes);
        while !self.ended {
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
                Err(e) => Err(ProtocolViolation::Malformed(printable(&e.to_string())).into()),
            };
            if let Err(failure) = result {
                self.fail(failure);
            }
        }
    }

    fn handle_closed(&mut self, _now: Instant, socket: SocketId) {
        if socket == STREAM {
            self.fail(RendezvousFailure::Closed);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_none_or(|at| now < at) {
            return;
        }
        let failure = match self.expect {
            Expect::Welcome => RendezvousFailure::Unresponsive {
                server: self.server,
            },
            expect => RendezvousFailure::PeerTimeout {
                waiting_for: expect.waiting_for(),
                waited_secs: now.saturating_duration_since(self.waiting_since).as_secs(),
            },
        };
        self.fail(failure);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Done once the peer's candidates arrived or the rendezvous failed.
    fn is_done(&self) -> bool {
        self.ended
    }
}

/// A server-supplied text made safe to print: control characters escaped,
/// and cut short.
fn printable(text: &str) -> String {
    const LIMIT: usize = 160;
    let mut out: String = text.chars().take(LIMIT).collect::<String>();
    if text.chars().nth(LIMIT).is_some() {
        out.push('…');
    }
    out.escape_debug().to_string()
}
