//! How one host of a deployment carries a novice's connection to the host
//! that holds its room: it opens a connection of its own there and sends,
//! before the novice's Hello, a preamble naming the novice's address,
//! which the room's host then counts and reports as the novice's own.
//!
//! Only a host may say whose connection it carries: the preamble is
//! authenticated with HMAC-SHA256 (RFC 2104) under a key the deployment's
//! hosts share through their room store, over the client's address and
//! the Unix time it was made at; a preamble older or newer than
//! [`FORWARD_WINDOW`] is refused, so a recorded one soon stops working.

use std::fmt;
use std::net::SocketAddr;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::message::Blob;

/// How far a preamble's time may be from the receiving host's clock.
pub const FORWARD_WINDOW: u64 = 60;

/// The key the hosts of one deployment share.
#[derive(Clone, PartialEq, Eq)]
pub struct ForwardKey(Vec<u8>);

impl ForwardKey {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The MAC of `client` at `at`; `None` never happens, as HMAC takes
    /// a key of any length (RFC 2104 §2).
    fn mac(&self, client: SocketAddr, at: u64) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).ok()?;
        mac.update(format!("ranat-forward\n{client}\n{at}").as_bytes());
        Some(mac)
    }
}

impl fmt::Debug for ForwardKey {
    /// The key stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ForwardKey({} bytes)", self.0.len())
    }
}

/// The first frame on a connection one host carries to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "forwarded")]
pub struct Preamble {
    /// The novice's address, as the first host saw it.
    pub client: SocketAddr,
    /// Unix time, in seconds, when the preamble was made.
    pub at: u64,
    /// HMAC-SHA256 of the client and the time under the deployment's key.
    pub proof: Blob,
}

impl Preamble {
    /// A preamble for `client`'s connection, made at Unix time `at`.
    pub fn new(key: &ForwardKey, client: SocketAddr, at: u64) -> Option<Self> {
        let proof = Blob(key.mac(client, at)?.finalize().into_bytes().to_vec());
        Some(Self { client, at, proof })
    }

    /// The client's address, if the preamble was made under `key` within
    /// [`FORWARD_WINDOW`] of Unix time `now`. The proof is compared in
    /// constant time.
    pub fn verify(&self, key: &ForwardKey, now: u64) -> Option<SocketAddr> {
        if now.abs_diff(self.at) > FORWARD_WINDOW {
            return None;
        }
        key.mac(self.client, self.at)?
            .verify_slice(&self.proof.0)
            .ok()
            .map(|()| self.client)
    }

    /// Reads a frame body as a preamble; `None` if it is anything else.
    pub fn read(body: &[u8]) -> Option<Self> {
        serde_json::from_slice(body).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> SocketAddr {
        "198.51.100.7:40001".parse().expect("addr")
    }

    #[test]
    fn a_preamble_verifies_under_its_key_within_the_window() {
        let key = ForwardKey::new(b"deployment".to_vec());
        let preamble = Preamble::new(&key, client(), 1_000).expect("a MAC");
        let body = serde_json::to_vec(&preamble).expect("serialize");
        assert!(body.starts_with(br#"{"type":"forwarded""#));
        let read = Preamble::read(&body).expect("a preamble");
        assert_eq!(read.verify(&key, 1_000), Some(client()));
        assert_eq!(read.verify(&key, 1_000 + FORWARD_WINDOW), Some(client()));
        assert_eq!(read.verify(&key, 1_001 + FORWARD_WINDOW), None);
        assert_eq!(read.verify(&key, 1_000 - FORWARD_WINDOW - 1), None);
    }

    #[test]
    fn another_key_a_changed_client_or_a_hello_do_not_verify() {
        let key = ForwardKey::new(b"deployment".to_vec());
        let preamble = Preamble::new(&key, client(), 1_000).expect("a MAC");
        let other = ForwardKey::new(b"another".to_vec());
        assert_eq!(preamble.verify(&other, 1_000), None);
        let moved = Preamble {
            client: "198.51.100.8:40001".parse().expect("addr"),
            ..preamble.clone()
        };
        assert_eq!(moved.verify(&key, 1_000), None);
        assert_eq!(Preamble::read(br#"{"type":"hello","version":2}"#), None);
        assert_eq!(Preamble::read(b"garbage"), None);
    }
}
