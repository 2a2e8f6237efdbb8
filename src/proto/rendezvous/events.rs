//! What a member of a room learns, in order, and how a rendezvous fails:
//! the vocabulary of [`super::client::Member`] and of those who drive it.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::code::Code;
use super::frame::MAX_FRAME;
use super::message::{RendezvousError, Role};
use super::server::MAX_ATTEMPTS;
use crate::proto::punch::{Candidate, Credentials};
use crate::proto::session::{InviteCode, SharedSecret};

/// How long connecting and the Hello–Welcome handshake may take.
pub const HANDSHAKE: Duration = Duration::from_secs(5);

/// The most candidates taken from the other side.
pub const MAX_CANDIDATES: usize = 16;

/// The server's answer to the Hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    /// The room's public part.
    pub room: Code,
    /// The secret this side's PAKE is keyed by.
    pub secret: SharedSecret,
    pub role: Role,
    /// How long the room has left.
    pub expires_in_secs: u64,
}

impl Welcome {
    /// The whole spoken code, for the helper to read out to the novice;
    /// `None` where the secret is an invitation file's password.
    pub fn invite(&self) -> Option<InviteCode> {
        match &self.secret {
            SharedSecret::Code(secret) => Some(InviteCode {
                room: self.room,
                secret: *secret,
            }),
            SharedSecret::Password(_) => None,
        }
    }
}

/// What a side says of itself in its first sealed message; the other side
/// learns it once the key is confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Introduction {
    /// A display name, printable, at most 64 characters.
    pub name: String,
    /// The side's ranat version.
    pub version: String,
    /// The SHA-256 of the certificate the side will prove in the session's
    /// QUIC handshake (`io::quic`), when it will run one: sealed, so only
    /// the holder of the same code can have named it.
    #[serde(default)]
    pub certificate: Option<[u8; 32]>,
}

impl Introduction {
    /// This side, by `name`, of this ranat version, with no certificate.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            certificate: None,
        }
    }
}

/// What the other side sent for the hole punching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCandidates {
    /// The peer's check credentials, derived from the shared key.
    pub credentials: Credentials,
    pub candidates: Vec<Candidate>,
    /// The peer's TCP source address as the server saw it: informational.
    pub observed: SocketAddr,
}

/// How a side's hole punch ended, told to the other side so that both
/// take the same path: the direct one only when both saw it work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PunchVerdict {
    pub connected: bool,
    /// This side's relayed address (RFC 8656), when it has one and did not
    /// send it among its candidates: the way in should the direct path
    /// not be taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relayed: Option<SocketAddr>,
}

/// What the member learned, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum RendezvousEvent {
    Welcome(Welcome),
    /// A novice joined (the helper hears this; the novice's own Welcome
    /// implies it). The PAKE starts.
    PeerJoined,
    /// The other side proved it holds the same code.
    Confirmed(Introduction),
    /// (The helper.) A novice's code was wrong; the room waits for another
    /// try.
    AttemptFailed {
        attempts_left: u32,
    },
    /// The other side's report, unchecked JSON for the caller to check.
    PeerReport(serde_json::Value),
    PeerCandidates(PeerCandidates),
    /// How the other side's punch ended: the rendezvous is over.
    PeerOutcome(PunchVerdict),
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
    #[error("the code is wrong: the other side holds another one (check it and try again)")]
    WrongCode,
    #[error("{MAX_ATTEMPTS} wrong codes were tried: this room is closed; make a new code")]
    TooManyAttempts,
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
    #[error(
        "a sealed message from the other side did not open or did not fit: someone between the two sides altered it"
    )]
    Tampered,
    #[error("it passed on {0} candidates; at most {MAX_CANDIDATES} are allowed")]
    TooManyCandidates(usize),
}

/// This side's message does not fit in a frame, or comes before the keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("this side's {what} is {bytes} bytes, over the {MAX_FRAME}-byte limit")]
    TooLarge { what: &'static str, bytes: usize },
    #[error("nothing can be sent to the other side before its code is confirmed")]
    NotConfirmed,
}
