//! STUN (RFC 8489) with the RFC 5780 and RFC 3489 attributes, a client
//! transaction and a responder, all sans-IO.

mod attributes;
mod datagram;
mod reachability;
mod responder;
mod stream;
mod transaction;

pub use attributes::*;
pub use datagram::*;
pub use reachability::*;
pub use responder::*;
pub use stream::{IDLE, MAX_CONNECTIONS, StreamResponder};
pub use transaction::*;
