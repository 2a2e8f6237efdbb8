//! What the peer says, heard by one side: each message taken only in the
//! state where it belongs and only from the role that sends it; any other
//! is ignored and changes nothing ([MS-RA] §3.4.5).

use super::{AssistSession, REFUSED};
use crate::proto::assist::event::Event;
use crate::proto::assist::frame::FrameError;
use crate::proto::assist::message::{ASSIST_VERSION, Message};
use crate::proto::assist::state::State;
use crate::proto::rendezvous::Role;

impl AssistSession {
    /// A message from the peer. One out of sequence, or not the peer's to
    /// send, is ignored ([`Event::Ignored`]); once ended, everything is.
    pub fn handle_peer(&mut self, message: Message) {
        if self.state == State::Ended {
            return;
        }
        let name = message.name();
        let taken = match message {
            Message::Hello {
                name,
                version,
                role,
            } => self.hear_hello(name, version, role),
            Message::Bye { reason } => {
                self.end(reason, true);
                true
            }
            Message::Chat { text } if self.state.approved() => {
                self.events.push_back(Event::ChatReceived(text));
                true
            }
            message => match self.role {
                Role::Novice => self.novice_hears(message),
                Role::Helper => self.expert_hears(message),
            },
        };
        if !taken {
            let state = self.state;
            self.events.push_back(Event::Ignored {
                message: name,
                state,
            });
        }
    }

    /// The stream from the peer broke: the session ends, and the peer is
    /// told why.
    pub fn handle_malformed(&mut self, error: FrameError) {
        if self.state != State::Ended {
            self.disconnect(format!("the peer sent a malformed message: {error}"));
        }
    }

    /// The connection went away.
    pub fn handle_peer_closed(&mut self) {
        if self.state != State::Ended {
            self.end("the connection to the peer closed".to_owned(), true);
        }
    }

    /// The peer's Hello, expected first; a version other than this one's
    /// ends the session, as a version mismatch does in Remote Assistance
    /// ([MS-RA] §2.2.1.8).
    fn hear_hello(&mut self, name: String, version: u16, role: Role) -> bool {
        if self.state != State::WaitingForPeer {
            return false;
        }
        if role == self.role {
            let side = match role {
                Role::Novice => "asks for help (`ranat invite`)",
                Role::Helper => "offers help (`ranat assist`)",
            };
            self.disconnect(format!(
                "both sides {side}: one side invites, the other assists"
            ));
            return true;
        }
        if version != ASSIST_VERSION {
            self.disconnect(format!(
                "the peer speaks version {version} of the session protocol and this side \
                 version {ASSIST_VERSION}: both need the same ranat version"
            ));
            return true;
        }
        self.events
            .push_back(Event::PeerHello { name: name.clone() });
        self.set_state(State::AwaitingApproval);
        if self.role == Role::Novice {
            self.events.push_back(Event::ApprovalAsked { name });
        }
        true
    }

    /// What only the expert sends, heard by the novice.
    fn novice_hears(&mut self, message: Message) -> bool {
        match (message, self.state) {
            (Message::ControlRequest, State::ScreenSharing { paused }) => {
                if self.policy.allow_control {
                    self.set_state(State::ControlRequested { paused });
                    self.events.push_back(Event::ControlRequested);
                } else {
                    self.send(Message::ControlDeny { by_policy: true });
                    self.events.push_back(Event::ControlDeniedByPolicy);
                }
                true
            }
            (Message::ControlRelease, State::ControlSharing { paused }) => {
                self.set_state(State::ScreenSharing { paused });
                true
            }
            (Message::Keys { bytes }, State::ControlSharing { paused: false }) => {
                self.events.push_back(Event::KeysForShell(bytes));
                true
            }
            _ => false,
        }
    }

    /// What only the novice sends, heard by the expert.
    fn expert_hears(&mut self, message: Message) -> bool {
        match (message, self.state) {
            (Message::Approval { allowed: true }, State::AwaitingApproval) => {
                self.set_state(State::ScreenSharing { paused: false });
            }
            (Message::Approval { allowed: false }, State::AwaitingApproval) => {
                self.end(REFUSED.to_owned(), true);
            }
            (Message::Screen(update), _)
                if self.may_show_screen() && (update.full || !self.awaiting_full) =>
            {
                if update.full {
                    self.awaiting_full = false;
                }
                self.events.push_back(Event::ShowScreen(update));
            }
            (Message::ControlGrant, State::ControlRequested { paused }) => {
                self.set_state(State::ControlSharing { paused });
            }
            (Message::ControlDeny { by_policy }, State::ControlRequested { paused }) => {
                self.set_state(State::ScreenSharing { paused });
                if by_policy {
                    self.events.push_back(Event::ControlDeniedByPolicy);
                }
            }
            (Message::ControlRevoke, State::ControlSharing { paused }) => {
                self.set_state(State::ScreenSharing { paused });
            }
            (Message::Pause, state) if state.approved() && !state.paused() => {
                self.set_state(state.pausing(true));
                self.awaiting_full = true;
                self.events.push_back(Event::ClearScreen);
            }
            (Message::Continue, state) if state.paused() => {
                self.set_state(state.pausing(false));
            }
            _ => return false,
        }
        true
    }
}
