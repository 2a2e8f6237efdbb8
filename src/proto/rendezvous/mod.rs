//! The rendezvous ("Easy Connect"): two clients that share a short code
//! meet through the server, swap their probe reports, then their punch
//! candidates, and part. The server never relays anything else, and never
//! to anyone but the other member of the room.

mod client;
mod code;
mod frame;
mod message;
mod server;

pub use client::{
    HANDSHAKE, Member, PeerCandidates, ProtocolViolation, RendezvousEvent, RendezvousFailure,
    STREAM, TooLarge, Welcome,
};
pub use code::{ALPHABET, CODE_LEN, Code, CodeError, SECRET_LEN, Secret, Symbols};
pub use frame::{FrameDecoder, FrameError, MAX_FRAME, encode, next_client_message};
pub use message::{
    Blob, ClientMessage, PROTOCOL_VERSION, RendezvousError, Role, ServerMessage,
};
pub use server::{ConnId, MAX_CANDIDATES, Output, Rendezvous, RendezvousConfig, RendezvousStats};

#[cfg(test)]
mod tests;
