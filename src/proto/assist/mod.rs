//! The Remote Assistance session itself, over an authenticated QUIC
//! connection between the novice (whose terminal is shared) and the expert
//! (who helps), as Windows 7's Remote Assistance runs it: the novice
//! approves the expert, the expert sees the screen, both chat, the expert
//! asks for control and the novice grants, denies or takes it back, the
//! novice pauses and continues, either side disconnects.
//!
//! [`AssistSession`] is one side's machine; [`Message`] what the sides say,
//! framed on the stream by [`encode`] and [`FrameDecoder`].

mod action;
mod event;
mod frame;
mod machine;
mod message;
mod state;

pub use action::{Action, ActionError, Policy};
pub use event::Event;
pub use frame::{FrameDecoder, FrameError, MAX_FRAME, MAX_SCREEN, encode};
pub use machine::{AssistSession, REFUSED};
pub use message::{ASSIST_VERSION, MAX_CHAT, MAX_KEYS, MAX_NAME, MAX_REASON, Message};
pub use state::State;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
