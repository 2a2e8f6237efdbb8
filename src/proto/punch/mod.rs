//! UDP hole punching (RFC 5128 §3.3) with ICE-style connectivity checks
//! (RFC 8445 §7): the routine `ranat check --via` runs, the simulator
//! proves, and the session engine will use.

mod candidate;

pub use candidate::*;
