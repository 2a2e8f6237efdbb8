//! What two sides need to trust each other over a rendezvous they do not
//! trust: the invitation code (a public part the server pairs by and a
//! secret part it never sees), a PAKE keyed by the secret, and the keys
//! derived from it that seal each side's messages and make the ICE
//! credentials of the checks; and the trial's measurements over the
//! channel they open.

mod invite;
mod keys;
pub mod measure;
mod pake;

pub use invite::{InviteCode, InviteCodeError};
pub use keys::{Direction, OpenError, SessionKeys};
pub use pake::{Pake, PakeError, Spake2Ed25519};
