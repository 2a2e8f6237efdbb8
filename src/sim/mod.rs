//! A deterministic in-memory network with RFC 4787 NATs, in virtual time,
//! where the sans-IO machines run unchanged.

pub mod lab;
pub mod nat;
pub mod pair;
#[cfg(test)]
mod sweep;
