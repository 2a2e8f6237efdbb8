//! Writing the responder's answers in place, into a buffer the caller owns:
//! no allocation per answer.

use std::net::SocketAddr;

use stun_types::attribute::{
    AttributeType, ErrorCode, Fingerprint, UnknownAttributes, XorMappedAddress,
};
use stun_types::message::{Message, MessageClass, MessageType, MessageWriteMutSlice};
use stun_types::prelude::*;

use super::super::attributes::{
    ChangedAddress, MappedAddress, OtherAddress, Padding, ResponseOrigin, SourceAddress,
};
use super::super::datagram::{Datagram, MAX_DATAGRAM};

/// Room for any answer: padding stops at the request's own size, and no
/// request is longer than [`MAX_DATAGRAM`]; an error answer lists at most
/// the request's attributes, in half their room.
pub const MAX_ANSWER: usize = MAX_DATAGRAM;

/// The addresses a success answer names.
pub(super) struct Addresses {
    /// The requester, as seen.
    pub from: SocketAddr,
    /// The endpoint the answer leaves from.
    pub source: SocketAddr,
    /// OTHER-ADDRESS (RFC 5780 §7.4) or CHANGED-ADDRESS (RFC 3489 §11.2.3);
    /// none in basic mode.
    pub other: Option<SocketAddr>,
}

/// Writes the success answer to `request` into `out`; its length.
pub(super) fn success(
    datagram: &Datagram<'_>,
    request: &Message<'_>,
    at: &Addresses,
    out: &mut [u8; MAX_ANSWER],
) -> usize {
    let mut w = builder(request, MessageClass::Success, out);
    // `out` has room for every attribute here; a failure would only drop an
    // attribute, never panic.
    if datagram.is_classic() {
        // RFC 3489 §11.2: MAPPED-ADDRESS, SOURCE-ADDRESS, CHANGED-ADDRESS.
        let _ = w.add_attribute(&MappedAddress::new(at.from));
        let _ = w.add_attribute(&SourceAddress::new(at.source));
        if let Some(other) = at.other {
            let _ = w.add_attribute(&ChangedAddress::new(other));
        }
    } else {
        // RFC 8489 §14.2 and RFC 5780 §6.1.
        let _ = w.add_attribute(&XorMappedAddress::new(at.from, request.transaction_id()));
        let _ = w.add_attribute(&MappedAddress::new(at.from));
        let _ = w.add_attribute(&ResponseOrigin::new(at.source));
        if let Some(other) = at.other {
            let _ = w.add_attribute(&OtherAddress::new(other));
        }
    }
    if request.has_attribute(Padding::TYPE) {
        let _ = w.add_attribute(&Padding(padding_for(datagram.len(), w.len())));
    }
    finish(w, datagram, request)
}

/// Writes the error answer `code` to `request` into `out`, listing the
/// `unknown` attributes (RFC 8489 §14.9); its length.
pub(super) fn error(
    datagram: &Datagram<'_>,
    request: &Message<'_>,
    code: u16,
    unknown: &[AttributeType],
    out: &mut [u8; MAX_ANSWER],
) -> usize {
    let mut w = builder(request, MessageClass::Error, out);
    if let Ok(error) = ErrorCode::builder(code).build() {
        let _ = w.add_attribute(&error);
    }
    if !unknown.is_empty() {
        let _ = w.add_attribute(&UnknownAttributes::new(unknown));
    }
    finish(w, datagram, request)
}

/// RFC 5780 §6.1 asks for padding up to the path MTU; ranat pads only up to
/// the request's own size, so a padded answer is never larger than what the
/// requester sent.
fn padding_for(request_len: usize, response_len: usize) -> u16 {
    let room = request_len.saturating_sub(response_len + 4);
    (room - room % 4).min(usize::from(Padding::MAX)) as u16
}

fn builder<'a>(
    request: &Message<'_>,
    class: MessageClass,
    out: &'a mut [u8; MAX_ANSWER],
) -> MessageWriteMutSlice<'a> {
    let mtype = MessageType::from_class_method(class, request.method());
    Message::builder(
        mtype,
        request.transaction_id(),
        MessageWriteMutSlice::new(out),
    )
}

/// Adds FINGERPRINT when the request had one (RFC 8489 §7.3: mirror the
/// client), and restores an RFC 3489 client's own transaction id; the
/// answer's length.
fn finish(
    mut w: MessageWriteMutSlice<'_>,
    datagram: &Datagram<'_>,
    request: &Message<'_>,
) -> usize {
    if datagram.is_classic() {
        w[4..20].copy_from_slice(&datagram.wire_transaction());
    } else if request.has_attribute(Fingerprint::TYPE) {
        let _ = w.add_fingerprint();
    }
    w.finish()
}
