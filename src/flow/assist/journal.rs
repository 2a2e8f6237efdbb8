//! The session's log, as Remote Assistance keeps one on both sides:
//! what changed and why, read off the session machine's transitions and
//! the inputs that caused them. Never a password, a code, a key or the
//! screen (the log's events cannot hold them).

use crate::io::session_log::{SessionLogFile, local_now};
use crate::proto::assist::{Action, Message, State};
use crate::proto::rendezvous::Role;
use crate::proto::session::{LogEntry, LogEvent};

/// What made the machine move: one of this side's actions or a message
/// from the peer.
#[derive(Debug, Clone, Copy)]
pub enum Cause<'a> {
    Local(&'a Action),
    Peer(&'a Message),
}

/// The log file of one session, written after every entry; a log that
/// cannot be written leaves the session running and says why once.
pub struct Journal {
    role: Role,
    file: Option<SessionLogFile>,
    failure: Option<String>,
}

impl Journal {
    /// Opens a new log under the data directory for this side (`role`).
    pub fn open(role: Role) -> Self {
        match SessionLogFile::create(local_now()) {
            Ok(file) => Self {
                role,
                file: Some(file),
                failure: None,
            },
            Err(e) => Self {
                role,
                file: None,
                failure: Some(format!("the session's log could not be created: {e}")),
            },
        }
    }

    /// Where the log is, if it could be made.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.file.as_ref().map(SessionLogFile::path)
    }

    /// Why the log is missing or incomplete, if it is.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Writes `event` with the time now.
    pub fn record(&mut self, event: LogEvent) {
        let Some(file) = &mut self.file else {
            return;
        };
        let entry = LogEntry {
            at: local_now(),
            event,
        };
        if let Err(e) = file.record(entry)
            && self.failure.is_none()
        {
            self.failure = Some(format!("the session's log could not be written: {e}"));
        }
    }

    /// Records what `cause` did to the session, going from `before` to
    /// `after`; chat is recorded as it is said, whether the state moved or
    /// not.
    pub fn transition(&mut self, cause: Cause<'_>, before: State, after: State) {
        if let Cause::Local(Action::Chat(text)) = cause {
            if after.approved() {
                self.record(LogEvent::Chat {
                    from: self.role,
                    text: text.clone(),
                });
            }
            return;
        }
        if before == after {
            return;
        }
        if let Some(event) = entry_for(cause, before, after) {
            self.record(event);
        }
    }
}

/// The log's event for a transition, by what caused it.
fn entry_for(cause: Cause<'_>, before: State, after: State) -> Option<LogEvent> {
    use Action as A;
    use Message as M;
    if before.paused() != after.paused() && before.approved() && after.approved() {
        return Some(if after.paused() {
            LogEvent::Paused
        } else {
            LogEvent::Continued
        });
    }
    Some(match cause {
        Cause::Local(A::Approve) | Cause::Peer(M::Approval { allowed: true }) => {
            LogEvent::Approval { allowed: true }
        }
        Cause::Local(A::Refuse) | Cause::Peer(M::Approval { allowed: false }) => {
            LogEvent::Approval { allowed: false }
        }
        Cause::Local(A::RequestControl) | Cause::Peer(M::ControlRequest) => {
            LogEvent::ControlRequested
        }
        Cause::Local(A::GrantControl) | Cause::Peer(M::ControlGrant) => LogEvent::ControlGranted,
        Cause::Local(A::DenyControl) => LogEvent::ControlDenied { by_policy: false },
        Cause::Peer(M::ControlDeny { by_policy }) => LogEvent::ControlDenied {
            by_policy: *by_policy,
        },
        Cause::Local(A::TakeControlBack) | Cause::Peer(M::ControlRevoke) => {
            LogEvent::ControlRevoked { by: Role::Novice }
        }
        Cause::Local(A::ReleaseControl) | Cause::Peer(M::ControlRelease) => {
            LogEvent::ControlReleased
        }
        _ => return None,
    })
}
