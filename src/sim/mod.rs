//! One deterministic simulated world (hosts, RFC 4787 NATs, servers, a
//! wire, virtual time) where the sans-IO machines run unchanged, and the
//! scenarios built on it.

pub mod lab;
pub mod nat;
pub mod pair;
#[cfg(test)]
pub mod port_control;
pub mod rendezvous;
#[cfg(test)]
pub mod reports;
pub mod session;
#[cfg(test)]
pub mod teredo;
pub mod wire;
pub mod world;

#[cfg(test)]
mod tests;
