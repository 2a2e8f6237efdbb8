//! ranat: NAT traversal diagnosis for remote assistance.
//!
//! The protocol logic lives in [`proto`] as sans-IO state machines; [`io`]
//! drives them over real sockets; [`flow`] holds the commands' flows as
//! library code, which [`cli`] runs and prints.

pub mod cli;
pub mod flow;
pub mod io;
pub mod predict;
pub mod proto;
pub mod report;
pub mod sim;
