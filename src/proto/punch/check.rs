//! Connectivity checks on the wire: STUN Binding requests and responses
//! authenticated with short-term credentials (RFC 8445 §7.2.2, §7.3.1;
//! RFC 8489 §9.1).
//!
//! A check to a peer carries USERNAME `peer_ufrag:own_ufrag`, a
//! MESSAGE-INTEGRITY keyed with the peer's password and a FINGERPRINT. The
//! answer carries XOR-MAPPED-ADDRESS (the source the check came from) and a
//! MESSAGE-INTEGRITY keyed with the answering side's own password, so both
//! directions prove they come from the holder of the credentials the
//! rendezvous exchanged. ICE's PRIORITY and role attributes are left out:
//! these checks find a path, they do not negotiate one among many.

use std::net::SocketAddr;

use stun_types::attribute::{Fingerprint, Username, XorMappedAddress};
use stun_types::message::{
    BINDING, IntegrityAlgorithm, Message, MessageClass, MessageIntegrityCredentials, MessageWrite,
    MessageWriteExt, MessageWriteVec, ShortTermCredentials, TransactionId,
};

use super::Credentials;
use crate::proto::stun::Datagram;

fn key(credentials: &Credentials) -> MessageIntegrityCredentials {
    MessageIntegrityCredentials::ShortTerm(ShortTermCredentials::new(credentials.pwd.clone()))
}

/// A check from the side holding `own` to the side holding `peer`.
pub(crate) fn request(id: TransactionId, own: &Credentials, peer: &Credentials) -> Vec<u8> {
    let mut out = Message::builder(
        stun_types::message::MessageType::from_class_method(MessageClass::Request, BINDING),
        id,
        MessageWriteVec::new(),
    );
    // Credentials are checked by `Credentials::is_valid` before they get
    // here, so these writes cannot fail; a failure would only drop the
    // attribute, and the peer would then ignore the check.
    if let Ok(user) = Username::new(&format!("{}:{}", peer.ufrag, own.ufrag)) {
        let _ = out.add_attribute(&user);
    }
    let _ = out.add_message_integrity(&key(peer), IntegrityAlgorithm::Sha1);
    let _ = out.add_fingerprint();
    out.finish()
}

/// The success response to a check `id` that arrived from `from`.
fn response(id: TransactionId, from: SocketAddr, own: &Credentials) -> Vec<u8> {
    let mut out = Message::builder(
        stun_types::message::MessageType::from_class_method(MessageClass::Success, BINDING),
        id,
        MessageWriteVec::new(),
    );
    let _ = out.add_attribute(&XorMappedAddress::new(from, id));
    let _ = out.add_message_integrity(&key(own), IntegrityAlgorithm::Sha1);
    let _ = out.add_fingerprint();
    out.finish()
}

/// What an arriving datagram is to the side holding `own`, talking to
/// `peer`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// A check from the peer, with the answer to send back to its source.
    Check { answer: Vec<u8> },
    /// A success response signed by the peer, to the transaction `id`.
    Answer {
        id: TransactionId,
        mapped: Option<SocketAddr>,
    },
    /// Not from the peer: not STUN, not a Binding, or failing USERNAME,
    /// MESSAGE-INTEGRITY or FINGERPRINT. Dropped silently (RFC 8445
    /// §7.3.1.1 would answer 401; a punch has no use for strangers).
    Stranger,
}

/// Sorts a datagram that arrived from `from`.
pub(crate) fn classify(
    bytes: &[u8],
    from: SocketAddr,
    own: &Credentials,
    peer: &Credentials,
) -> Incoming {
    let Ok(datagram) = Datagram::parse(bytes) else {
        return Incoming::Stranger;
    };
    let Ok(message) = datagram.message() else {
        return Incoming::Stranger;
    };
    if datagram.is_classic()
        || !message.has_method(BINDING)
        || message.attribute::<Fingerprint>().is_err()
    {
        return Incoming::Stranger;
    }
    if message.has_class(MessageClass::Request) {
        let expected = format!("{}:{}", own.ufrag, peer.ufrag);
        let user_ok = message
            .attribute::<Username>()
            .is_ok_and(|u| u.username() == expected);
        if user_ok && message.validate_integrity(&key(own)).is_ok() {
            return Incoming::Check {
                answer: response(message.transaction_id(), from, own),
            };
        }
        return Incoming::Stranger;
    }
    if message.has_class(MessageClass::Success) && message.validate_integrity(&key(peer)).is_ok() {
        let id = message.transaction_id();
        let mapped = message
            .attribute::<XorMappedAddress>()
            .ok()
            .map(|a| a.addr(id));
        return Incoming::Answer { id, mapped };
    }
    Incoming::Stranger
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::punch::testing::credentials as creds;

    fn from() -> SocketAddr {
        "203.0.113.9:40000".parse().unwrap()
    }

    #[test]
    fn a_check_is_answered_and_the_answer_accepted() {
        let (a, b) = (creds(1), creds(2));
        let id = TransactionId::generate();
        let check = request(id, &a, &b);
        let Incoming::Check { answer } = classify(&check, from(), &b, &a) else {
            panic!("B must accept A's check");
        };
        assert_eq!(
            classify(&answer, from(), &a, &b),
            Incoming::Answer {
                id,
                mapped: Some(from())
            }
        );
    }

    #[test]
    fn wrong_credentials_and_tampering_make_a_stranger() {
        let (a, b, c) = (creds(1), creds(2), creds(3));
        let id = TransactionId::generate();
        let check = request(id, &a, &b);
        // A third party's credentials: wrong USERNAME and key.
        assert_eq!(classify(&check, from(), &c, &a), Incoming::Stranger);
        // B, but expecting another peer.
        assert_eq!(classify(&check, from(), &b, &c), Incoming::Stranger);
        // Reflected back to the sender: a check is never accepted as an answer.
        assert_eq!(classify(&check, from(), &a, &b), Incoming::Stranger);
        // Every single-bit flip is refused (integrity, fingerprint, or parse).
        for i in 0..check.len() * 8 {
            let mut t = check.clone();
            t[i / 8] ^= 1 << (i % 8);
            assert!(
                !matches!(classify(&t, from(), &b, &a), Incoming::Check { .. }),
                "bit {i}"
            );
        }
        // An answer signed with the wrong password.
        let Incoming::Check { answer } = classify(&check, from(), &b, &a) else {
            panic!()
        };
        assert_eq!(classify(&answer, from(), &a, &c), Incoming::Stranger);
    }

    #[test]
    fn garbage_never_panics() {
        let (a, b) = (creds(1), creds(2));
        let mut seed = 99u32;
        for len in 0..120 {
            for _ in 0..40 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        seed as u8
                    })
                    .collect();
                assert_eq!(classify(&bytes, from(), &a, &b), Incoming::Stranger);
            }
        }
    }
}
