//! What two sides need to trust each other over a rendezvous they do not
//! trust: the invitation (a code read aloud, whose public part the server
//! pairs by and whose secret part it never sees; or a file naming the room,
//! with a password passed by another channel), a PAKE keyed by the secret,
//! and the keys derived from it that seal each side's messages and make the
//! ICE credentials of the checks; the trial's measurements over the
//! channel they open; and the session's log.

mod invitation;
mod invite;
mod keys;
mod log;
pub mod measure;
mod pake;
mod password;
mod xml_text;

pub use invitation::{
    FILE_LIFETIME, Invitation, InvitationError, MAX_CLOCK_SKEW, MAX_INVITATION_SIZE, PROTOCOL,
    SessionId,
};
pub use invite::{CODE_LIFETIME, InviteCode, InviteCodeError};
pub use keys::{Direction, OpenError, SessionKeys};
pub use log::{LocalTime, LogEntry, LogEvent, SessionLog};
pub use pake::{Pake, PakeError, PakeSecret, SharedSecret, Spake2Ed25519};
pub use password::{PASSWORD_ALPHABET, PASSWORD_LEN, Password, PasswordError};
