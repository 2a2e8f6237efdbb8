//! What the session tells the UI and the log.

use super::state::State;
use crate::proto::screen::ScreenUpdate;

/// Something the UI shows or the log records, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The session is in a new state (pausing and continuing included).
    StateChanged(State),
    /// The peer said who it is.
    PeerHello { name: String },
    /// Novice: ask "Allow NAME to see your terminal?", then
    /// [`Action::Approve`](super::Action::Approve) or
    /// [`Action::Refuse`](super::Action::Refuse).
    ApprovalAsked { name: String },
    /// A chat message from the peer.
    ChatReceived(String),
    /// Novice: the expert asks for control; grant or deny it.
    ControlRequested,
    /// The novice's policy denied control without asking (DENIEDRC): on
    /// both sides.
    ControlDeniedByPolicy,
    /// Novice: the expert's keystrokes, for the shell. Only while control
    /// is granted and the session not paused.
    KeysForShell(Vec<u8>),
    /// Expert: the novice's screen, for the terminal model. Only while the
    /// screen may be shown.
    ShowScreen(ScreenUpdate),
    /// Novice: the next update shared must be a full snapshot (after the
    /// approval, after Continue, after a diff too large to send); diffs
    /// are dropped until then. Answer it with one snapshot when next
    /// sharing, not by sharing in a loop.
    NeedFullScreen,
    /// Expert: the novice paused; blank the view until Continue and the
    /// full snapshot after it.
    ClearScreen,
    /// A message from the peer that came out of sequence was ignored and
    /// changed nothing ([MS-RA] §3.4.5); `state` is this side's at the
    /// time.
    Ignored { message: &'static str, state: State },
    /// The session is over, ended by the peer (its Bye, its refusal, the
    /// connection lost) or by this side.
    Ended { reason: String, by_peer: bool },
}
