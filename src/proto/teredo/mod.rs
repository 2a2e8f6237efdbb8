//! Teredo (RFC 4380, updated by RFC 5991 and RFC 6081): addresses, the
//! encapsulation headers, the Router Solicitation / Advertisement exchange
//! and a qualification machine that tells what a Teredo client would see
//! behind this NAT. All sans-IO: nonces and time come from the caller.

mod address;
mod advert;
mod config;
mod outcome;
mod packet;
mod probe;
mod qualify;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

pub use address::*;
pub use advert::*;
pub use config::QualificationConfig;
pub use outcome::{QualificationOutcome, TeredoNat, TeredoState};
pub use packet::*;
pub use probe::{AnswerError, CONE_SOCKET, InvalidAnswer, Probe, ProbeNonces, RESTRICTED_SOCKET};
pub use qualify::*;
