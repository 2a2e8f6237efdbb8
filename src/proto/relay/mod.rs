//! The relay: a TURN server (RFC 8656) for `ranat serve` and a TURN client,
//! both sans-IO machines around the `turn-server-proto` and
//! `turn-client-proto` crates, with time-limited credentials of the
//! "TURN REST API" kind.

pub mod client;
pub mod credentials;
pub mod framing;
pub mod policy;
pub mod server;
#[cfg(test)]
pub mod tests;
