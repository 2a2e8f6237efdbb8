//! The session's terminals: the novice's shell in a PTY, the local terminal
//! in raw mode, and the screens both sides draw with ratatui.
//!
//! Nothing the shell writes reaches a real terminal unmodelled: the novice's
//! own display and the expert's both draw the cells of a `vt100` model (see
//! [`crate::proto::screen`]) through [`view`].

pub mod pty;
pub mod raw;
pub mod view;

pub use pty::{Shell, ShellInput, ShellOutput, ShellProcess};
pub use raw::{RawTerminal, restore};
pub use view::{ChatPane, ExpertScreen, NoviceScreen, StatusLine, TerminalView};
