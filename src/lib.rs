//! ranat: NAT traversal diagnosis for remote assistance.
//!
//! The protocol logic lives in [`proto`] as sans-IO state machines; [`io`]
//! drives them over real sockets.

pub mod cli;
pub mod io;
pub mod predict;
pub mod proto;
pub mod report;
pub mod sim;
