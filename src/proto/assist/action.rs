//! What the people at either end do, and what the novice's policy allows.

use super::state::State;
use crate::proto::rendezvous::Role;

/// The novice's standing answers, given before any session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Whether an expert may be given control at all. When not, every
    /// request is denied without asking the novice (Remote Assistance's
    /// DENIEDRC). An expert's own policy is not consulted.
    pub allow_control: bool,
}

/// A person's action at one end of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Novice: let the expert see the terminal.
    Approve,
    /// Novice: do not (HELPEESAIDNO); the session ends.
    Refuse,
    /// Novice: give the expert control (ACCEPTRC).
    GrantControl,
    /// Novice: keep control (REJECTRC).
    DenyControl,
    /// Novice: take control back, as Esc does (TAKECONTROL).
    TakeControlBack,
    /// Novice: hide the screen and suspend the expert's keys.
    Pause,
    /// Novice: show the screen again, at the same sharing level.
    Continue,
    /// Expert: ask for control.
    RequestControl,
    /// Expert: let control go (REMOTECTRLEND).
    ReleaseControl,
    /// Either: a chat message.
    Chat(String),
    /// Either: end the session, saying why.
    Disconnect(String),
}

impl Action {
    /// What the action does, for errors and the log.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Refuse => "refuse",
            Action::GrantControl => "grant control",
            Action::DenyControl => "deny control",
            Action::TakeControlBack => "take control back",
            Action::Pause => "pause",
            Action::Continue => "continue",
            Action::RequestControl => "request control",
            Action::ReleaseControl => "release control",
            Action::Chat(_) => "chat",
            Action::Disconnect(_) => "disconnect",
        }
    }

    /// The one role that may take the action, if only one may.
    pub fn only_by(&self) -> Option<Role> {
        match self {
            Action::Approve
            | Action::Refuse
            | Action::GrantControl
            | Action::DenyControl
            | Action::TakeControlBack
            | Action::Pause
            | Action::Continue => Some(Role::Novice),
            Action::RequestControl | Action::ReleaseControl => Some(Role::Helper),
            Action::Chat(_) | Action::Disconnect(_) => None,
        }
    }
}

/// Why an action was not taken. Nothing was sent and nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("only the {} can {action}", side(*by))]
    NotThisSide { action: &'static str, by: Role },
    #[error("cannot {action} now: the session is {state}")]
    OutOfTurn { action: &'static str, state: State },
}

/// A role in the session's own words.
fn side(role: Role) -> &'static str {
    match role {
        Role::Helper => "expert",
        Role::Novice => "novice",
    }
}
