//! One side of a Remote Assistance session as a sans-IO machine.
//!
//! The rules that protect the novice are enforced by the novice's own
//! machine, whatever the expert's machine does or is made to do: nothing
//! of the screen leaves before the approval or while paused, no keystroke
//! reaches the shell unless control is granted and the session not
//! paused, no chat goes either way before the approval.
//!
//! Control changes hands in one order, so that the two sides agree once
//! their messages are in: the expert asks from screen sharing and waits
//! for the answer (it cannot withdraw the request); the novice answers
//! each request once; control granted ends by the novice's revoke or the
//! expert's release, whichever comes first, and the other one, crossing
//! it, is ignored.

mod peer;

use std::collections::VecDeque;

use super::action::{Action, ActionError, Policy};
use super::event::Event;
use super::frame::MAX_SCREEN;
use super::message::{
    ASSIST_VERSION, MAX_CHAT, MAX_KEYS, MAX_NAME, MAX_REASON, Message, pieces_within, prefix_within,
};
use super::state::State;
use crate::proto::rendezvous::Role;
use crate::proto::screen::ScreenUpdate;

/// Why a session ends when the novice refuses the expert (HELPEESAIDNO).
pub const REFUSED: &str = "the novice refused";

/// One side of a session, the novice's or the expert's (`Role::Helper`).
///
/// Feed it the peer's messages, the people's actions, the novice's screen
/// and the expert's keys; after each input drain [`Self::poll_send`] (to
/// the peer, in order) and [`Self::poll_event`] (to the UI and the log).
#[derive(Debug)]
pub struct AssistSession {
    role: Role,
    policy: Policy,
    state: State,
    /// Novice: the next update shared must be a full snapshot. Expert: the
    /// view is blank until a full snapshot comes.
    awaiting_full: bool,
    outbox: VecDeque<Message>,
    events: VecDeque<Event>,
}

impl AssistSession {
    /// A session waiting for the peer, its Hello (with `my_name`, cut to
    /// [`MAX_NAME`] bytes) ready to send.
    pub fn new(role: Role, policy: Policy, my_name: String) -> Self {
        let hello = Message::Hello {
            name: prefix_within(&my_name, MAX_NAME).to_owned(),
            version: ASSIST_VERSION,
            role,
        };
        Self {
            role,
            policy,
            state: State::WaitingForPeer,
            awaiting_full: true,
            outbox: VecDeque::from([hello]),
            events: VecDeque::new(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the novice's screen may be shown: approved, not paused.
    pub fn may_show_screen(&self) -> bool {
        self.state.approved() && !self.state.paused()
    }

    /// Whether the expert's keystrokes reach the novice's shell: control
    /// granted, not paused.
    pub fn keys_reach_shell(&self) -> bool {
        self.state == State::ControlSharing { paused: false }
    }

    /// The next message for the peer.
    pub fn poll_send(&mut self) -> Option<Message> {
        self.outbox.pop_front()
    }

    /// The next event for the UI and the log.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// A person's action at this end. An action that is not this side's,
    /// or not possible in this state, changes nothing.
    pub fn act(&mut self, action: Action) -> Result<(), ActionError> {
        match (self.role, action, self.state) {
            (_, Action::Disconnect(reason), state) if state != State::Ended => {
                self.disconnect(reason);
            }
            (_, Action::Chat(text), state) if state.approved() => {
                for piece in pieces_within(&text, MAX_CHAT) {
                    self.send(Message::Chat {
                        text: piece.to_owned(),
                    });
                }
            }
            (Role::Novice, Action::Approve, State::AwaitingApproval) => {
                self.send(Message::Approval { allowed: true });
                self.set_state(State::ScreenSharing { paused: false });
                self.ask_full_screen();
            }
            (Role::Novice, Action::Refuse, State::AwaitingApproval) => {
                self.send(Message::Approval { allowed: false });
                self.end(REFUSED.to_owned(), false);
            }
            (Role::Novice, Action::GrantControl, State::ControlRequested { paused }) => {
                self.send(Message::ControlGrant);
                self.set_state(State::ControlSharing { paused });
            }
            (Role::Novice, Action::DenyControl, State::ControlRequested { paused }) => {
                self.send(Message::ControlDeny { by_policy: false });
                self.set_state(State::ScreenSharing { paused });
            }
            (Role::Novice, Action::TakeControlBack, State::ControlSharing { paused }) => {
                self.send(Message::ControlRevoke);
                self.set_state(State::ScreenSharing { paused });
            }
            (Role::Novice, Action::Pause, state) if state.approved() && !state.paused() => {
                self.send(Message::Pause);
                self.set_state(state.pausing(true));
            }
            (Role::Novice, Action::Continue, state) if state.paused() => {
                self.send(Message::Continue);
                self.set_state(state.pausing(false));
                self.ask_full_screen();
            }
            (Role::Helper, Action::RequestControl, State::ScreenSharing { paused }) => {
                self.send(Message::ControlRequest);
                self.set_state(State::ControlRequested { paused });
            }
            (Role::Helper, Action::ReleaseControl, State::ControlSharing { paused }) => {
                self.send(Message::ControlRelease);
                self.set_state(State::ScreenSharing { paused });
            }
            (role, action, state) => {
                let name = action.name();
                return Err(match action.only_by() {
                    Some(by) if by != role => ActionError::NotThisSide { action: name, by },
                    _ => ActionError::OutOfTurn {
                        action: name,
                        state,
                    },
                });
            }
        }
        Ok(())
    }

    /// Novice: the terminal's screen, to send if it may be shown. Dropped
    /// otherwise, and so are diffs until the full snapshot asked for by
    /// [`Event::NeedFullScreen`]. An update over [`MAX_SCREEN`] bytes is
    /// dropped too; a diff then asks for a full snapshot.
    pub fn share_screen(&mut self, update: ScreenUpdate) {
        if self.role != Role::Novice
            || !self.may_show_screen()
            || (self.awaiting_full && !update.full)
        {
            return;
        }
        if update.bytes.len() > MAX_SCREEN {
            if !update.full {
                self.ask_full_screen();
            }
            return;
        }
        if update.full {
            self.awaiting_full = false;
        }
        self.send(Message::Screen(update));
    }

    /// Expert: keystrokes for the novice's shell, sent (in pieces of at
    /// most [`MAX_KEYS`] bytes) only while this side holds control and the
    /// session is not paused. The novice's machine checks again.
    pub fn type_keys(&mut self, bytes: &[u8]) {
        if self.role != Role::Helper || !self.keys_reach_shell() {
            return;
        }
        for piece in bytes.chunks(MAX_KEYS) {
            self.send(Message::Keys {
                bytes: piece.to_vec(),
            });
        }
    }

    fn send(&mut self, message: Message) {
        self.outbox.push_back(message);
    }

    fn set_state(&mut self, state: State) {
        self.state = state;
        self.events.push_back(Event::StateChanged(state));
    }

    /// Novice: diffs wait for a full snapshot, which the driver is asked
    /// for.
    fn ask_full_screen(&mut self) {
        self.awaiting_full = true;
        self.events.push_back(Event::NeedFullScreen);
    }

    /// This side ends the session and tells the peer why (the reason cut
    /// to [`MAX_REASON`] bytes on the wire).
    fn disconnect(&mut self, reason: String) {
        self.send(Message::Bye {
            reason: prefix_within(&reason, MAX_REASON).to_owned(),
        });
        self.end(reason, false);
    }

    fn end(&mut self, reason: String, by_peer: bool) {
        self.set_state(State::Ended);
        self.events.push_back(Event::Ended { reason, by_peer });
    }
}
