//! The stream responder, driven by hand.

use std::net::SocketAddr;
use std::time::Instant;

use stun_types::attribute::{ErrorCode, XorMappedAddress};
use stun_types::message::{BINDING, Message, MessageClass, MessageWriteVec};
use stun_types::prelude::*;

use super::*;
use crate::proto::stun::{ChangeRequest, OtherAddress, ResponseOrigin};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn responder() -> StreamResponder {
    let config =
        ResponderConfig::new(addr("198.51.100.10:3478"), Some(addr("198.51.100.11:3479"))).unwrap();
    let mut r = StreamResponder::new(config, config.endpoints());
    let now = Instant::now();
    while let Some((socket, bind)) = r.poll_bind() {
        let Bind::Listen(at) = bind else {
            panic!("{bind:?}")
        };
        r.handle_bound(now, socket, at);
    }
    r
}

fn request(change: Option<ChangeRequest>) -> Vec<u8> {
    let mut m = Message::builder_request(BINDING, MessageWriteVec::new());
    if let Some(change) = change {
        m.add_attribute(&change).unwrap();
    }
    m.finish()
}

#[test]
fn a_binding_request_gets_the_connection_s_endpoints_and_the_alternate() {
    let mut r = responder();
    let now = Instant::now();
    let client = addr("203.0.113.1:40000");
    // A connection to the alternate address on the primary's port.
    let id = r.handle_accept(now, SocketId(2), client).expect("accepted");
    let bytes = request(None);
    // In three pieces, as a stream may cut it.
    for piece in [&bytes[..3], &bytes[3..11], &bytes[11..]] {
        r.handle_input(now, id, client, piece);
    }
    let t = r.poll_transmit().expect("an answer");
    assert_eq!((t.socket, t.destination), (id, client));
    let m = Message::from_bytes(&t.payload).unwrap();
    assert!(m.has_class(MessageClass::Success));
    let xor = m.attribute::<XorMappedAddress>().unwrap();
    assert_eq!(xor.addr(m.transaction_id()), client);
    let origin = m.attribute::<ResponseOrigin>().unwrap().addr();
    assert_eq!(origin, r.listeners[2]);
    // OTHER-ADDRESS: the endpoint differing in both address and port.
    let other = m.attribute::<OtherAddress>().unwrap().addr();
    assert_ne!(other.ip(), origin.ip());
    assert_ne!(other.port(), origin.port());
}

#[test]
fn a_change_request_gets_400_and_what_is_not_stun_closes_the_connection() {
    let mut r = responder();
    let now = Instant::now();
    let client = addr("203.0.113.1:40000");
    let id = r.handle_accept(now, SocketId(0), client).unwrap();
    r.handle_input(
        now,
        id,
        client,
        &request(Some(ChangeRequest::new(true, true))),
    );
    let t = r.poll_transmit().expect("an answer");
    let m = Message::from_bytes(&t.payload).unwrap();
    assert_eq!(m.attribute::<ErrorCode>().unwrap().code(), 400);
    // Asking for no change is an ordinary request.
    r.handle_input(
        now,
        id,
        client,
        &request(Some(ChangeRequest::new(false, false))),
    );
    let t = r.poll_transmit().expect("an answer");
    assert!(
        Message::from_bytes(&t.payload)
            .unwrap()
            .has_class(MessageClass::Success)
    );
    r.handle_input(now, id, client, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(r.poll_close(), Some(id));
    assert!(r.poll_transmit().is_none());
    assert_eq!(r.connections(), 0);
}

#[test]
fn idle_connections_close_and_their_number_is_bounded() {
    let mut r = responder();
    let now = Instant::now();
    let mut ids = Vec::new();
    for k in 0..MAX_CONNECTIONS {
        let from = SocketAddr::new(addr("203.0.113.1:1").ip(), 1024 + k as u16);
        ids.push(
            r.handle_accept(now, SocketId(0), from)
                .expect("under the limit"),
        );
    }
    assert!(
        r.handle_accept(now, SocketId(0), addr("203.0.113.2:1"))
            .is_none()
    );
    let deadline = r.poll_timeout().expect("idle deadline");
    assert_eq!(deadline, now + IDLE);
    r.handle_timeout(deadline);
    assert_eq!(
        std::iter::from_fn(|| r.poll_close()).count(),
        MAX_CONNECTIONS
    );
    assert_eq!(r.connections(), 0);
    assert!(r.poll_timeout().is_none());
}
