//! Where a Remote Assistance session stands.

use std::fmt;

/// The session's state, as Windows 7's Remote Assistance names it.
/// Pausing is orthogonal to the sharing level: a paused session
/// keeps its level, and Continue resumes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Waiting for connect: the peer's Hello has not come yet.
    WaitingForPeer,
    /// Both Hellos are in; the novice has not yet said whether the expert
    /// may see the terminal.
    AwaitingApproval,
    /// Screen sharing: the expert sees the terminal, view only, and both
    /// may chat.
    ScreenSharing { paused: bool },
    /// The expert asked for control; the novice has not answered yet.
    ControlRequested { paused: bool },
    /// Control sharing: the expert's keystrokes reach the novice's shell
    /// (while not paused).
    ControlSharing { paused: bool },
    /// Over; nothing more happens.
    Ended,
}

impl State {
    /// Whether the novice has let the expert in and the session goes on:
    /// screen, chat and control are possible only then.
    pub fn approved(self) -> bool {
        matches!(
            self,
            State::ScreenSharing { .. }
                | State::ControlRequested { .. }
                | State::ControlSharing { .. }
        )
    }

    /// Whether the novice has paused the session.
    pub fn paused(self) -> bool {
        matches!(
            self,
            State::ScreenSharing { paused: true }
                | State::ControlRequested { paused: true }
                | State::ControlSharing { paused: true }
        )
    }

    /// The same sharing level, paused or not; other states unchanged.
    pub(super) fn pausing(self, paused: bool) -> State {
        match self {
            State::ScreenSharing { .. } => State::ScreenSharing { paused },
            State::ControlRequested { .. } => State::ControlRequested { paused },
            State::ControlSharing { .. } => State::ControlSharing { paused },
            other => other,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self {
            State::WaitingForPeer => "waiting for the peer",
            State::AwaitingApproval => "awaiting the novice's approval",
            State::ScreenSharing { .. } => "screen sharing",
            State::ControlRequested { .. } => "control requested",
            State::ControlSharing { .. } => "control sharing",
            State::Ended => "ended",
        };
        f.write_str(level)?;
        if self.paused() {
            f.write_str(", paused")?;
        }
        Ok(())
    }
}
