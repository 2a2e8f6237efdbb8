//! The password-authenticated key exchange, behind a small trait so that
//! another PAKE (CPace) can take SPAKE2's place.
//!
//! SPAKE2 (RFC 9382) over Ed25519, from RustCrypto's `spake2`: one message
//! each way, keyed by the invitation's secret (the secret part of a code
//! read aloud, or the password of an invitation file) and bound to an
//! identity per role that names the protocol version and the room. One run
//! is one guess at the secret: a wrong secret yields a different key, which
//! the first sealed message shows (key confirmation).

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use spake2::{Ed25519Group, Identity, Spake2};

use super::password::Password;
use crate::proto::rendezvous::{Code, Role, Secret};

/// Why the peer's PAKE message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the other side's PAKE message is malformed ({0})")]
pub struct PakeError(String);

/// What keys a run: the secret part of a code read aloud (`4MX2TB`), or
/// the password that goes with an invitation file (`BCDFGHJKLMNP`).
#[derive(Clone, Copy)]
pub enum PakeSecret<'a> {
    Code(&'a Secret),
    Password(&'a Password),
}

impl<'a> From<&'a Secret> for PakeSecret<'a> {
    fn from(secret: &'a Secret) -> Self {
        PakeSecret::Code(secret)
    }
}

impl<'a> From<&'a Password> for PakeSecret<'a> {
    fn from(password: &'a Password) -> Self {
        PakeSecret::Password(password)
    }
}

/// The secret a meeting's PAKE is keyed by, owned: a spoken code's secret
/// part, or the password that goes with an invitation file.
#[derive(Clone, PartialEq, Eq)]
pub enum SharedSecret {
    Code(Secret),
    Password(Password),
}

impl SharedSecret {
    /// The secret as the PAKE takes it.
    pub fn pake(&self) -> PakeSecret<'_> {
        match self {
            SharedSecret::Code(secret) => PakeSecret::Code(secret),
            SharedSecret::Password(password) => PakeSecret::Password(password),
        }
    }
}

/// Never shows the secret.
impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SharedSecret::Code(_) => f.write_str("SharedSecret::Code(..)"),
            SharedSecret::Password(_) => f.write_str("SharedSecret::Password(..)"),
        }
    }
}

impl From<Secret> for SharedSecret {
    fn from(secret: Secret) -> Self {
        SharedSecret::Code(secret)
    }
}

impl From<Password> for SharedSecret {
    fn from(password: Password) -> Self {
        SharedSecret::Password(password)
    }
}

impl PakeSecret<'_> {
    /// The PAKE's password input: the kind of secret, then its symbols.
    /// Both alphabets are ASCII without spaces, so no code and no password
    /// give the same input, even where their symbols are the same bytes.
    fn input(self) -> Vec<u8> {
        match self {
            PakeSecret::Code(secret) => input("code", secret.as_str().as_bytes()),
            PakeSecret::Password(password) => input("password", password.symbols()),
        }
    }
}

/// `ranat KIND SYMBOLS`: the kind keeps the two sorts of secret apart.
fn input(kind: &str, symbols: &[u8]) -> Vec<u8> {
    [b"ranat ", kind.as_bytes(), b" ", symbols].concat()
}

/// A PAKE run on one side.
pub trait Pake: Sized {
    /// Starts this side's run: its state and the message to send. `seed`
    /// draws the run's secret scalar; the caller takes it from the
    /// operating system's random source.
    fn start(role: Role, room: Code, secret: PakeSecret<'_>, seed: [u8; 32]) -> (Self, Vec<u8>);

    /// The shared key, from the peer's message. Both sides get the same key
    /// only when both used the same secret (of the same kind), room and
    /// version.
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
    Identity::new(format!("ranat rendezvous v2 {} room {room}", role.as_str()).as_bytes())
}

impl Spake2Ed25519 {
    /// A run keyed by `input`, the secret's password input.
    fn start_keyed(role: Role, room: Code, input: &[u8], seed: [u8; 32]) -> (Self, Vec<u8>) {
        let password = spake2::Password::new(input);
        let (a, b) = (identity(Role::Helper, room), identity(Role::Novice, room));
        let rng = ChaCha20Rng::from_seed(seed);
        let (state, message) = match role {
            Role::Helper => Spake2::<Ed25519Group>::start_a_with_rng(&password, &a, &b, rng),
            Role::Novice => Spake2::<Ed25519Group>::start_b_with_rng(&password, &a, &b, rng),
        };
        (Self(state), message)
    }
}

impl Pake for Spake2Ed25519 {
    fn start(role: Role, room: Code, secret: PakeSecret<'_>, seed: [u8; 32]) -> (Self, Vec<u8>) {
        Self::start_keyed(role, room, &secret.input(), seed)
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
        let secret = |s: &str| s.parse::<Secret>().unwrap();
        let (h, hm) = Spake2Ed25519::start(
            Role::Helper,
            room(rooms[0]),
            (&secret(helper_secret)).into(),
            [1; 32],
        );
        let (n, nm) = Spake2Ed25519::start(
            Role::Novice,
            room(rooms[1]),
            (&secret(novice_secret)).into(),
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
        let (h, _) = Spake2Ed25519::start(Role::Helper, room, (&secret).into(), [1; 32]);
        assert!(h.finish(&[0x42; 5]).is_err());
        let (h, _) = Spake2Ed25519::start(Role::Helper, room, (&secret).into(), [1; 32]);
        let (_, other_helper) = Spake2Ed25519::start(Role::Helper, room, (&secret).into(), [3; 32]);
        assert!(
            h.finish(&other_helper).is_err(),
            "a reflected helper message"
        );
    }

    /// Both sides' keys from runs keyed by these password inputs.
    fn keyed_run(helper: &[u8], novice: &[u8]) -> ([u8; 32], [u8; 32]) {
        let room: Code = "K7Q".parse().unwrap();
        let (h, hm) = Spake2Ed25519::start_keyed(Role::Helper, room, helper, [1; 32]);
        let (n, nm) = Spake2Ed25519::start_keyed(Role::Novice, room, novice, [2; 32]);
        (h.finish(&nm).unwrap(), n.finish(&hm).unwrap())
    }

    #[test]
    fn a_password_keys_a_run_as_a_code_does() {
        let room: Code = "K7Q".parse().unwrap();
        let run = |helper: &str, novice: &str| {
            let (helper, novice) = (
                helper.parse::<Password>().unwrap(),
                novice.parse::<Password>().unwrap(),
            );
            let (h, hm) = Spake2Ed25519::start(Role::Helper, room, (&helper).into(), [1; 32]);
            let (n, nm) = Spake2Ed25519::start(Role::Novice, room, (&novice).into(), [2; 32]);
            (h.finish(&nm).unwrap(), n.finish(&hm).unwrap())
        };
        let (a, b) = run("BCDFGHJKLMNP", "bcdf ghjk lmnp");
        assert_eq!(a, b);
        let (a, b) = run("BCDFGHJKLMNP", "BCDFGHJKLMNQ");
        assert_ne!(a, b, "a wrong password");
    }

    #[test]
    fn a_password_and_a_code_with_the_same_symbols_never_agree() {
        // Symbols both alphabets have, as a code's secret and as a password.
        for symbols in [&b"BCDFGH"[..], b"BCDFGHJKMNPQ", b"234567"] {
            let (a, b) = keyed_run(&input("code", symbols), &input("code", symbols));
            assert_eq!(a, b, "the same kind agrees");
            let (a, b) = keyed_run(&input("code", symbols), &input("password", symbols));
            assert_ne!(a, b, "a code against a password");
            let (a, b) = keyed_run(&input("password", symbols), &input("code", symbols));
            assert_ne!(a, b, "a password against a code");
        }
        let secret: Secret = "BCDFGH".parse().unwrap();
        assert_eq!(PakeSecret::Code(&secret).input(), b"ranat code BCDFGH");
        let password: Password = "BCDFGHJKLMNP".parse().unwrap();
        assert_eq!(
            PakeSecret::Password(&password).input(),
            b"ranat password BCDFGHJKLMNP"
        );
    }
}
