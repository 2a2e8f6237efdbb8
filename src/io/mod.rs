//! Drivers that run the sans-IO machines over tokio sockets, and DNS.

pub mod driver;
pub mod gateway;
mod icmp;
pub mod interfaces;
mod pcp;
pub mod portmap;
pub mod probe;
pub mod punch;
pub mod quic;
mod reach;
pub mod rendezvous;
pub mod resolve;
pub mod serve;
pub mod session_log;
pub mod store;
pub mod tcp_reach;
pub mod teredo;
pub mod terminal;
pub mod undo;
pub mod upnp;
