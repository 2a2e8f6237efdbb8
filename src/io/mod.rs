//! Drivers that run the sans-IO machines over tokio sockets, and DNS.

pub mod probe;
pub mod resolve;
pub mod serve;
