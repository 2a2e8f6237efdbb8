//! NAT behaviour discovery (RFC 5780) and classification.

mod behavior;

pub use behavior::*;
