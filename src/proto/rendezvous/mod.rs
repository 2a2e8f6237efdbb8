//! The rendezvous ("Easy Connect"): two clients that share an invitation
//! code meet through the server by its public part, run a PAKE keyed by its
//! secret part, and swap sealed messages (introductions, probe reports,
//! punch candidates, punch outcomes) that the server passes on but can neither read nor
//! forge, and never to anyone but the other member of the room.

mod admission;
mod client;
mod code;
mod directory;
mod events;
mod forward;
mod frame;
mod message;
mod server;

pub use admission::{Action, Rate, Source, SourceLimits};
pub use client::{Meeting, Member, STREAM};
pub(crate) use code::uniform_symbol;
pub use code::{ALPHABET, CODE_LEN, Code, CodeError, SECRET_LEN, Secret, Symbols};
#[cfg(test)]
pub(crate) use code::{assert_uniform, lcg};
pub use directory::{Answer, MemoryDirectory, Question};
pub use events::{
    HANDSHAKE, Introduction, MAX_CANDIDATES, PeerCandidates, ProtocolViolation, PunchVerdict,
    RendezvousEvent, RendezvousFailure, SendError, Welcome,
};
pub use forward::{FORWARD_WINDOW, ForwardKey, Preamble};
pub use frame::{FrameDecoder, FrameError, MAX_FRAME, client_message, encode, next_client_message};
pub use message::{
    Blob, ClientMessage, PROTOCOL_VERSION, RelayGrant, RendezvousError, Role, ServerMessage,
};
pub use server::{
    ConnId, MAX_ATTEMPTS, MAX_PAKE, MAX_SEALED, Output, RelayOffer, Rendezvous, RendezvousConfig,
    RendezvousStats,
};

#[cfg(test)]
mod tests;
