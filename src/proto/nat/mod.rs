//! NAT behaviour discovery (RFC 5780) and classification.

mod behavior;
mod discovery;

pub use behavior::*;
pub use discovery::*;
