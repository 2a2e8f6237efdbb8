//! NAT behaviour discovery (RFC 5780) and classification, and the binding
//! lifetime (RFC 5780 §4.6).

mod behavior;
mod discovery;
mod lifetime;
mod tcp;

pub use behavior::*;
pub use discovery::*;
pub use lifetime::*;
pub use tcp::*;
