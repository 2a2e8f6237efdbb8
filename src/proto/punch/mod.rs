//! UDP hole punching (RFC 5128 §3.3) with ICE-style connectivity checks
//! (RFC 8445 §7): the routine `ranat check --via` runs, the simulator
//! proves, and the session engine will use.
//!
//! A side binds its sockets, learns its server-reflexive endpoint (and, for
//! a sequential or port-preserving NAT, a predicted one), hands its
//! candidates to the rendezvous, and starts checking once the peer's
//! candidates arrive. Every check is a STUN Binding request authenticated
//! with the credentials both sides exchanged; a side is connected when a
//! check is answered from the very endpoint it was sent to.

mod candidate;
pub(crate) mod check;
mod config;
mod consent;
mod machine;
mod outcome;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

pub use candidate::*;
pub use config::*;
pub use consent::{Consent, ConsentState};
pub use machine::*;
pub use outcome::*;
