//! Sans-IO protocol logic: no sockets, no clock, no randomness of its own.

pub mod assist;
pub mod machine;
pub mod nat;
pub mod portmap;
pub mod punch;
pub mod relay;
pub mod rendezvous;
pub mod screen;
pub mod serve;
pub mod session;
pub mod shared_address_space;
pub mod stun;
pub mod teredo;
pub mod ticket;
