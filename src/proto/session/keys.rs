//! The key schedule after the PAKE: HKDF-SHA256 (RFC 5869) from the shared
//! key gives one ChaCha20-Poly1305 key (RFC 8439) per direction, which
//! seals that side's messages in order, and each side's ICE credentials
//! (RFC 8445 §5.3), so that the rendezvous server can neither read what
//! the two sides tell each other nor forge a connectivity check.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::proto::punch::Credentials;
use crate::proto::rendezvous::{Code, Role};

/// Which way a sealed message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    HelperToNovice,
    NoviceToHelper,
}

impl Direction {
    fn from(role: Role) -> Self {
        match role {
            Role::Helper => Direction::HelperToNovice,
            Role::Novice => Direction::NoviceToHelper,
        }
    }

    fn label(self) -> &'static [u8] {
        match self {
            Direction::HelperToNovice => b"ranat v2 seal helper to novice",
            Direction::NoviceToHelper => b"ranat v2 seal novice to helper",
        }
    }
}

/// A sealed message did not open: another key (a wrong code, on the first
/// message), or bytes altered or replayed on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a sealed message did not open")]
pub struct OpenError;

/// One side's keys for one pairing.
pub struct SessionKeys {
    send: ChaCha20Poly1305,
    send_direction: Direction,
    sent: u64,
    receive: ChaCha20Poly1305,
    receive_direction: Direction,
    received: u64,
    local_credentials: Credentials,
    peer_credentials: Credentials,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("sent", &self.sent)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl SessionKeys {
    /// The keys of `role` in `room` from the PAKE's shared key.
    pub fn derive(role: Role, room: Code, shared: &[u8; 32]) -> Self {
        let salt = format!("ranat rendezvous v2 room {room}");
        let hkdf = Hkdf::<Sha256>::new(Some(salt.as_bytes()), shared);
        let expand = |label: &[u8]| {
            let mut out = [0u8; 32];
            // 32 bytes are far below HKDF-SHA256's 8160-byte limit.
            let _ = hkdf.expand(label, &mut out);
            out
        };
        let cipher = |d: Direction| ChaCha20Poly1305::new(Key::from_slice(&expand(d.label())));
        let credentials = |role: Role| {
            let bytes = expand(match role {
                Role::Helper => b"ranat v2 ice helper",
                Role::Novice => b"ranat v2 ice novice",
            });
            let mut next = bytes.into_iter();
            Credentials::generate(|| next.next().unwrap_or(0))
        };
        let peer = role.other();
        Self {
            send: cipher(Direction::from(role)),
            send_direction: Direction::from(role),
            sent: 0,
            receive: cipher(Direction::from(peer)),
            receive_direction: Direction::from(peer),
            received: 0,
            local_credentials: credentials(role),
            peer_credentials: credentials(peer),
        }
    }

    /// Seals this side's next message.
    pub fn seal(&mut self, plaintext: &[u8]) -> Vec<u8> {
        let nonce = nonce(self.sent);
        self.sent += 1;
        let payload = Payload {
            msg: plaintext,
            aad: self.send_direction.label(),
        };
        // Encryption fails only past ChaCha20's 256 GiB per message.
        self.send
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default()
    }

    /// Opens the peer's next message: in order, each exactly once.
    pub fn open(&mut self, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        let nonce = nonce(self.received);
        let payload = Payload {
            msg: sealed,
            aad: self.receive_direction.label(),
        };
        let plain = self
            .receive
            .decrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| OpenError)?;
        self.received += 1;
        Ok(plain)
    }

    /// The credentials this side's checks carry.
    pub fn local_credentials(&self) -> &Credentials {
        &self.local_credentials
    }

    /// The credentials the peer's checks carry.
    pub fn peer_credentials(&self) -> &Credentials {
        &self.peer_credentials
    }
}

/// The 96-bit nonce of message number `n` (RFC 8439 §2.8: unique per key).
fn nonce(n: u64) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[4..].copy_from_slice(&n.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(a: [u8; 32], b: [u8; 32]) -> (SessionKeys, SessionKeys) {
        let room: Code = "K7Q".parse().unwrap();
        (
            SessionKeys::derive(Role::Helper, room, &a),
            SessionKeys::derive(Role::Novice, room, &b),
        )
    }

    #[test]
    fn each_side_opens_the_others_messages_in_order() {
        let (mut h, mut n) = pair([7; 32], [7; 32]);
        let one = h.seal(b"intro");
        let two = h.seal(b"report");
        assert_eq!(n.open(&one).unwrap(), b"intro");
        assert_eq!(n.open(&two).unwrap(), b"report");
        assert_eq!(h.open(&n.seal(b"back")).unwrap(), b"back");
        assert_eq!(h.local_credentials(), n.peer_credentials());
        assert_eq!(n.local_credentials(), h.peer_credentials());
        assert_ne!(h.local_credentials(), n.local_credentials());
        assert!(h.local_credentials().is_valid());
    }

    #[test]
    fn another_key_a_replay_a_reorder_or_a_flipped_bit_does_not_open() {
        let (mut h, mut wrong) = pair([7; 32], [8; 32]);
        assert_eq!(wrong.open(&h.seal(b"intro")), Err(OpenError));
        let (mut h, mut n) = pair([7; 32], [7; 32]);
        let one = h.seal(b"one");
        let two = h.seal(b"two");
        assert_eq!(n.open(&two), Err(OpenError), "out of order");
        assert!(n.open(&one).is_ok());
        assert_eq!(n.open(&one), Err(OpenError), "a replay");
        let mut flipped = two.clone();
        flipped[0] ^= 1;
        assert_eq!(n.open(&flipped), Err(OpenError));
        assert_eq!(n.open(&two[..5]), Err(OpenError), "truncated");
        assert!(n.open(&two).is_ok());
        // A side's own message reflected back does not open either.
        let mine = n.seal(b"mine");
        let (_, mut n2) = pair([7; 32], [7; 32]);
        assert_eq!(n2.open(&mine), Err(OpenError));
    }
}
