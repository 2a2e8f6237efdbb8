//! What the novice and the expert say to each other during a session, and
//! the size limits of what they say.

use crate::proto::rendezvous::Role;
use crate::proto::screen::ScreenUpdate;

/// The session protocol's version, sent in each side's Hello.
pub const ASSIST_VERSION: u16 = 1;

/// The longest display name in a Hello, in bytes.
pub const MAX_NAME: usize = 64;

/// The longest chat text in one message, in bytes.
pub const MAX_CHAT: usize = 4 * 1024;

/// The most keystroke bytes in one message.
pub const MAX_KEYS: usize = 4 * 1024;

/// The longest reason in a Bye, in bytes.
pub const MAX_REASON: usize = 512;

/// One message of the session, either way. Which side may send which, and
/// when, is the session machine's business ([`super::AssistSession`]); the
/// comments say what it expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Both sides, first: who this side is and which protocol it speaks
    /// ([`ASSIST_VERSION`]).
    Hello {
        name: String,
        version: u16,
        /// The side the sender plays: one novice and one expert make a
        /// session.
        role: Role,
    },
    /// Novice → expert: the answer to "Allow NAME to see your terminal?";
    /// `false` is Remote Assistance's HELPEESAIDNO and ends the session.
    Approval { allowed: bool },
    /// Novice → expert: the screen, only while approved and not paused.
    Screen(ScreenUpdate),
    /// Either way, only after the approval.
    Chat { text: String },
    /// Expert → novice: a request for control.
    ControlRequest,
    /// Novice → expert: control granted (ACCEPTRC).
    ControlGrant,
    /// Novice → expert: control refused, by the novice (REJECTRC) or by the
    /// novice's policy (DENIEDRC).
    ControlDeny { by_policy: bool },
    /// Novice → expert: the novice takes control back (Esc, TAKECONTROL).
    ControlRevoke,
    /// Expert → novice: the expert lets control go (REMOTECTRLEND).
    ControlRelease,
    /// Expert → novice: keystrokes for the novice's shell, while in control.
    Keys { bytes: Vec<u8> },
    /// Novice → expert: the screen is hidden until Continue.
    Pause,
    /// Novice → expert: the screen is shown again.
    Continue,
    /// Either side, last: why the session ends.
    Bye { reason: String },
}

impl Message {
    /// The message's name, for errors and the log.
    pub fn name(&self) -> &'static str {
        match self {
            Message::Hello { .. } => "Hello",
            Message::Approval { .. } => "Approval",
            Message::Screen(_) => "Screen",
            Message::Chat { .. } => "Chat",
            Message::ControlRequest => "ControlRequest",
            Message::ControlGrant => "ControlGrant",
            Message::ControlDeny { .. } => "ControlDeny",
            Message::ControlRevoke => "ControlRevoke",
            Message::ControlRelease => "ControlRelease",
            Message::Keys { .. } => "Keys",
            Message::Pause => "Pause",
            Message::Continue => "Continue",
            Message::Bye { .. } => "Bye",
        }
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
pub(super) fn prefix_within(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` cut into pieces of at most `max` bytes, each ending on a
/// character boundary; none for an empty text. A `max` under 4 bytes, the
/// longest UTF-8 character, counts as 4.
pub(super) fn pieces_within(mut text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    while !text.is_empty() {
        let piece = prefix_within(text, max.max(4));
        pieces.push(piece);
        text = &text[piece.len()..];
    }
    pieces
}
