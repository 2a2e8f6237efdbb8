//! The password-authenticated key exchange, behind a small trait so that
//! another PAKE (CPace) can take SPAKE2's place.
//!
//! SPAKE2 (RFC 9382) over Ed25519, from RustCrypto's `spake2`: one message
//! each way, keyed by the invitation's secret part and bound to an identity
//! per role that names the protocol version and the room. One run is one
//! guess at the secret: a wrong secret yields a different key, which the
//! first sealed message shows (key confirmation).

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use spake2::{Ed25519Group, Identity, Password, Spake2};

use crate::proto::rendezvous::{Code, Role, Secret};

/// Why the peer's PAKE message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the other side's PAKE message is malformed ({0})")]
pub struct PakeError(String);

/// A PAKE run on one side.
pub trait Pake: Sized {
    /// Starts this side's run: its state and the message to send. `seed`
    /// draws the run's secret scalar; the caller takes it from the
    /// operating system's random source.
    fn start(role: Role, room: Code, secret: &Secret, seed: [u8; 32]) -> (Self, Vec<u8>);

    /// The shared key, from the peer's message. Both sides get the same key
    /// only when both used the same secret, room and version.
    fn finish(self, peer_message: &[u8]) -> Result<[u8; 32], PakeError>;
}

/// SPAKE2 over Ed25519; the helper is side A, the novice side B.
pub struct Spake2Ed25519(Spake2<Ed25519Group>);

/// The run's state is secret: only its name is shown.
impl std::fmt::Debug for Spake2Ed25519 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Spake2Ed25519")
    }
}

/// The identity that binds a run to the protocol version, the room and
/// the role.
fn identity(role: Role, room: Code) -> Identity {
    let role = match role {
        Role::Helper => "helper",
        Role::Novice => "novice",
    };
    Identity::new(format!("ranat rendezvous v2 {role} room {room}").as_bytes())
}

impl Pake for Spake2Ed25519 {
    fn start(role: Role, room: Code, secret: &Secret, seed: [u8; 32]) -> (Self, Vec<u8>) {
        let password = Password::new(secret.as_str().as_bytes());
        let (a, b) = (identity(Role::Helper, room), identity(Role::Novice, room));
        let rng = ChaCha20Rng::from_seed(seed);
        let (state, message) = match role {
            Role::Helper => Spake2::<Ed25519Group>::start_a_with_rng(&password, &a, &b, rng),
            Role::Novice => Spake2::<Ed25519Group>::start_b_with_rng(&password, &a, &b, rng),
        };
        (Self(state), message)
    }

    fn finish(self, peer_message: &[u8]) -> Result<[u8; 32], PakeError> {
        let key = self
            .0
            .finish(peer_message)
            .map_err(|e| PakeError(format!("{e:?}")))?;
        <[u8; 32]>::try_from(key.as_slice()).map_err(|_| PakeError("key length".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(helper_secret: &str, novice_secret: &str, rooms: [&str; 2]) -> ([u8; 32], [u8; 32]) {
        let room = |s: &str| s.parse::<Code>().unwrap();
        let (h, hm) = Spake2Ed25519::start(
            Role::Helper,
            room(rooms[0]),
            &helper_secret.parse().unwrap(),
            [1; 32],
        );
        let (n, nm) = Spake2Ed25519::start(
            Role::Novice,
            room(rooms[1]),
            &novice_secret.parse().unwrap(),
            [2; 32],
        );
        (h.finish(&nm).unwrap(), n.finish(&hm).unwrap())
    }

    #[test]
    fn same_secret_same_key_and_anything_else_another() {
        let (a, b) = run("4MX2TB", "4MX2TB", ["K7Q", "K7Q"]);
        assert_eq!(a, b);
        let (a, b) = run("4MX2TB", "4MX2TC", ["K7Q", "K7Q"]);
        assert_ne!(a, b, "a wrong secret");
        let (a, b) = run("4MX2TB", "4MX2TB", ["K7Q", "K7R"]);
        assert_ne!(a, b, "another room");
    }

    #[test]
    fn malformed_and_same_role_messages_are_refused() {
        let room: Code = "K7Q".parse().unwrap();
        let secret: Secret = "4MX2TB".parse().unwrap();
        let (h, _) = Spake2Ed25519::start(Role::Helper, room, &secret, [1; 32]);
        assert!(h.finish(&[0x42; 5]).is_err());
        let (h, _) = Spake2Ed25519::start(Role::Helper, room, &secret, [1; 32]);
        let (_, other_helper) = Spake2Ed25519::start(Role::Helper, room, &secret, [3; 32]);
        assert!(
            h.finish(&other_helper).is_err(),
            "a reflected helper message"
        );
    }
}
