//! The rendezvous over TCP: the server that runs the [`Rendezvous`]
//! machine for `ranat serve`, and the client `ranat check --via` uses.
//!
//! [`Rendezvous`]: crate::proto::rendezvous::Rendezvous

mod carry;
mod client;
mod server;

pub use client::{
    Introduction, PeerCandidates, ProtocolViolation, RendezvousClient, RendezvousClientError,
    Welcome,
};
pub use server::{RendezvousServeError, RendezvousServer, bind};
