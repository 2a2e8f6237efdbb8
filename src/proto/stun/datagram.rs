//! Recognising STUN datagrams, including RFC 3489 ("classic") ones.
//!
//! RFC 3489 messages carry a 128-bit transaction id where RFC 5389 put the
//! magic cookie. stun-types only parses cookie-bearing messages, so a classic
//! message is parsed from a copy with the cookie written over the first four
//! bytes of its transaction id; the original id is kept for the answer.

use std::borrow::Cow;

use stun_types::message::{
    BINDING, MAGIC_COOKIE, Message, MessageClass, MessageType, StunParseError, TransactionId,
};

/// The size of a STUN message header (RFC 8489 §5).
pub const HEADER_LEN: usize = 20;

/// The largest datagram ranat accepts as STUN. Anything longer is not a
/// message either side of a probe sends (PADDING stays below it).
pub const MAX_DATAGRAM: usize = 2048;

/// Why a datagram was not accepted as STUN.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatagramError {
    #[error("datagram of {0} bytes is too short for a STUN header")]
    TooShort(usize),
    #[error("datagram of {0} bytes is larger than any STUN message ranat uses")]
    TooLong(usize),
    #[error("not a STUN message: {0}")]
    Malformed(StunParseError),
}

/// A STUN message that arrived in one datagram.
#[derive(Debug)]
pub struct Datagram<'a> {
    bytes: Cow<'a, [u8]>,
    /// The 16 bytes after the length field, as they arrived.
    wire_transaction: [u8; 16],
    classic: bool,
    /// Header facts, kept from the one validating parse so that callers
    /// sorting datagrams need not parse again.
    mtype: MessageType,
    transaction_id: TransactionId,
}

impl<'a> Datagram<'a> {
    /// Accepts RFC 8489 messages and cookie-less RFC 3489 messages.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DatagramError> {
        if bytes.len() < HEADER_LEN {
            return Err(DatagramError::TooShort(bytes.len()));
        }
        if bytes.len() > MAX_DATAGRAM {
            return Err(DatagramError::TooLong(bytes.len()));
        }
        let mut wire_transaction = [0; 16];
        wire_transaction.copy_from_slice(&bytes[4..HEADER_LEN]);
        let classic = bytes[4..8] != MAGIC_COOKIE.to_be_bytes();
        let bytes = if classic {
            let mut patched = bytes.to_vec();
            patched[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
            Cow::Owned(patched)
        } else {
            Cow::Borrowed(bytes)
        };
        let (mtype, transaction_id) = {
            let message = checked_message(&bytes).map_err(DatagramError::Malformed)?;
            (message.get_type(), message.transaction_id())
        };
        Ok(Self {
            bytes,
            wire_transaction,
            classic,
            mtype,
            transaction_id,
        })
    }

    /// The parsed message (for a classic message, with the cookie patched in).
    pub fn message(&self) -> Result<Message<'_>, StunParseError> {
        checked_message(&self.bytes)
    }

    /// The transaction id (for a classic message, its last 96 bits).
    pub fn transaction_id(&self) -> TransactionId {
        self.transaction_id
    }

    /// Whether this is a response (success or error).
    pub fn is_response(&self) -> bool {
        self.mtype.is_response()
    }

    /// Whether the message is an RFC 3489 one (no magic cookie).
    pub fn is_classic(&self) -> bool {
        self.classic
    }

    /// The transaction id bytes as they arrived (cookie included for RFC 8489).
    pub fn wire_transaction(&self) -> [u8; 16] {
        self.wire_transaction
    }

    /// Whether this is a Binding request.
    pub fn is_binding_request(&self) -> bool {
        self.mtype.has_class(MessageClass::Request) && self.mtype.has_method(BINDING)
    }

    /// The datagram's size on the wire.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a datagram holds at least a header.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Parses a whole message: RFC 8489 §5 wants its length to cover the
/// attributes exactly, with nothing trailing.
fn checked_message(bytes: &[u8]) -> Result<Message<'_>, StunParseError> {
    let message = Message::from_bytes(bytes)?;
    let declared = HEADER_LEN + usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
    if declared != bytes.len() {
        return Err(StunParseError::Truncated {
            expected: declared,
            actual: bytes.len(),
        });
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding_request(cookie: [u8; 4]) -> Vec<u8> {
        let mut b = vec![0x00, 0x01, 0x00, 0x00];
        b.extend_from_slice(&cookie);
        b.extend_from_slice(&[7; 12]);
        b
    }

    #[test]
    fn accepts_modern_and_classic_binding_requests() {
        let modern = binding_request(MAGIC_COOKIE.to_be_bytes());
        let d = Datagram::parse(&modern).unwrap();
        assert!(!d.is_classic());
        assert!(d.is_binding_request());

        let classic = binding_request([1, 2, 3, 4]);
        let d = Datagram::parse(&classic).unwrap();
        assert!(d.is_classic());
        assert!(d.is_binding_request());
        assert_eq!(&d.wire_transaction()[..4], &[1, 2, 3, 4]);
    }

    #[test]
    fn rejects_truncated_oversize_and_non_stun() {
        assert_eq!(
            Datagram::parse(&[0, 1, 0, 0]).unwrap_err(),
            DatagramError::TooShort(4)
        );
        assert!(matches!(
            Datagram::parse(&vec![0; MAX_DATAGRAM + 1]),
            Err(DatagramError::TooLong(_))
        ));
        // The top two bits of a STUN message are zero (RFC 8489 §5).
        let mut rtp = binding_request(MAGIC_COOKIE.to_be_bytes());
        rtp[0] = 0x80;
        assert!(Datagram::parse(&rtp).is_err());
        // A declared length longer than the datagram.
        let mut long = binding_request(MAGIC_COOKIE.to_be_bytes());
        long[3] = 8;
        assert!(Datagram::parse(&long).is_err());
        // A declared length shorter than the datagram.
        let mut trailing = binding_request(MAGIC_COOKIE.to_be_bytes());
        trailing.extend_from_slice(&[0, 0x80, 0, 0]);
        assert!(Datagram::parse(&trailing).is_err());
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let mut seed = 0x1234_5678_u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for len in 0..200 {
            for _ in 0..50 {
                let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                if bytes.len() >= 8 && next() % 2 == 0 {
                    bytes[0] &= 0x3f;
                    bytes[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
                    if bytes.len() >= 20 {
                        let body = (bytes.len() - 20) as u16;
                        bytes[2..4].copy_from_slice(&body.to_be_bytes());
                    }
                }
                let _ = Datagram::parse(&bytes).map(|d| d.is_binding_request());
            }
        }
    }
}
