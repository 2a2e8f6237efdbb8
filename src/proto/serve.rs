//! The machine `ranat serve` runs: the RFC 5780 responder and, when a
//! secret is given, the TURN relay, on one port as STUN servers do. A
//! datagram on the primary endpoint goes to the relay when it is TURN
//! ChannelData (first byte 64–127, RFC 7983 §7 and RFC 8656 §12.4) or a STUN
//! message of any method but Binding (RFC 8489 §5: the method is in the
//! message type); everything else, Binding and RFC 3489 requests included,
//! goes to the responder as before.

use std::net::SocketAddr;
use std::time::Instant;

use crate::proto::machine::{Bind, Machine, SocketId, Transmit};
use crate::proto::relay::server::{LISTEN_UDP, Relay};
use crate::proto::stun::Responder;

/// The relay's socket ids are its own plus this; the responder's stay as
/// they are (at most four).
const RELAY_OFFSET: u16 = 8;

/// The responder's primary socket, which the relay shares.
const PRIMARY: SocketId = SocketId(0);

/// The STUN magic cookie (RFC 8489 §5).
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

/// The responder and the relay; see the module documentation.
#[derive(Debug)]
pub struct Service {
    responder: Responder,
    relay: Option<Relay>,
}

impl Service {
    pub fn new(responder: Responder, relay: Option<Relay>) -> Self {
        Self { responder, relay }
    }

    pub fn responder(&self) -> &Responder {
        &self.responder
    }

    pub fn relay(&self) -> Option<&Relay> {
        self.relay.as_ref()
    }
}

/// Whether a datagram on the shared port is the relay's.
pub fn is_turn(bytes: &[u8]) -> bool {
    match bytes.first() {
        Some(64..=127) => true,
        Some(0..=3) if bytes.len() >= 20 && bytes[4..8] == MAGIC_COOKIE => {
            let kind = u16::from_be_bytes([bytes[0], bytes[1]]);
            let method = (kind & 0x000f) | ((kind & 0x00e0) >> 1) | ((kind & 0x3e00) >> 2);
            method != 0x001
        }
        _ => false,
    }
}

fn to_relay(id: SocketId) -> Option<SocketId> {
    id.0.checked_sub(RELAY_OFFSET).map(SocketId)
}

fn from_relay(id: SocketId) -> SocketId {
    if id == LISTEN_UDP {
        PRIMARY
    } else {
        SocketId(id.0.saturating_add(RELAY_OFFSET))
    }
}

impl Machine for Service {
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        if let Some(bind) = self.responder.poll_bind() {
            return Some(bind);
        }
        let relay = self.relay.as_mut()?;
        loop {
            let (id, bind) = relay.poll_bind()?;
            if id == LISTEN_UDP {
                // The responder's primary socket: already bound.
                let primary = self.responder.endpoint(PRIMARY)?;
                relay.handle_bound(Instant::now(), LISTEN_UDP, primary);
                continue;
            }
            return Some((from_relay(id), bind));
        }
    }

    fn handle_bound(&mut self, now: Instant, socket: SocketId, local: SocketAddr) {
        match (to_relay(socket), self.relay.as_mut()) {
            (Some(id), Some(relay)) => relay.handle_bound(now, id, local),
            _ => self.responder.handle_bound(now, socket, local),
        }
    }

    fn handle_bind_failed(&mut self, now: Instant, socket: SocketId) {
        if let (Some(id), Some(relay)) = (to_relay(socket), self.relay.as_mut()) {
            relay.handle_bind_failed(now, id);
        }
    }

    fn poll_close(&mut self) -> Option<SocketId> {
        self.relay.as_mut()?.poll_close().map(from_relay)
    }

    fn handle_accept(
        &mut self,
        now: Instant,
        listener: SocketId,
        remote: SocketAddr,
    ) -> Option<SocketId> {
        let relay = self.relay.as_mut()?;
        relay
            .handle_accept(now, to_relay(listener)?, remote)
            .map(from_relay)
    }

    fn handle_input(&mut self, now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        match (to_relay(socket), self.relay.as_mut()) {
            (Some(id), Some(relay)) => relay.handle_input(now, id, from, bytes),
            (None, Some(relay)) if socket == PRIMARY && is_turn(bytes) => {
                relay.handle_input(now, LISTEN_UDP, from, bytes);
            }
            _ => self.responder.handle_input(now, socket, from, bytes),
        }
    }

    fn handle_closed(&mut self, now: Instant, socket: SocketId) {
        if let (Some(id), Some(relay)) = (to_relay(socket), self.relay.as_mut()) {
            relay.handle_closed(now, id);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(relay) = self.relay.as_mut() {
            relay.handle_timeout(now);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.responder.poll_transmit() {
            return Some(t);
        }
        let mut t = self.relay.as_mut()?.poll_transmit()?;
        t.socket = from_relay(t.socket);
        Some(t)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.relay.as_ref()?.poll_timeout()
    }

    fn is_done(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::relay::policy::Limits;
    use crate::proto::relay::tests::{allocate, config, error_code};
    use crate::proto::stun::ResponderConfig;
    use stun_types::message::{BINDING, Message, MessageWriteVec};
    use stun_types::prelude::*;

    fn service() -> Service {
        let start = Instant::now();
        let relay_config = config(start, Limits::default());
        let responder = Responder::new(
            ResponderConfig::new(
                relay_config.listen,
                Some("198.51.100.2:3479".parse().unwrap()),
            )
            .unwrap(),
        );
        let mut s = Service::new(responder, Some(Relay::new(relay_config)));
        while let Some((socket, bind)) = s.poll_bind() {
            let (Bind::At(at) | Bind::Listen(at)) = bind else {
                panic!("{bind:?}")
            };
            s.handle_bound(start, socket, at);
        }
        s
    }

    #[test]
    fn turn_and_binding_are_told_apart_by_method_and_first_byte() {
        let binding = Message::builder_request(BINDING, MessageWriteVec::new()).finish();
        assert!(!is_turn(&binding));
        assert!(is_turn(&allocate(None)));
        let mut classic = allocate(None);
        classic[4..8].copy_from_slice(&[1, 2, 3, 4]);
        assert!(!is_turn(&classic), "no cookie: RFC 3489, the responder's");
        assert!(is_turn(&[0x40, 0x00, 0x00, 0x00]), "ChannelData");
        assert!(!is_turn(&[]));
        assert!(!is_turn(&[0x80; 30]));
    }

    #[test]
    fn one_port_answers_binding_as_the_responder_and_allocate_as_the_relay() {
        let mut s = service();
        let client: SocketAddr = "203.0.113.9:40000".parse().unwrap();
        let now = Instant::now();
        let binding = Message::builder_request(BINDING, MessageWriteVec::new()).finish();
        s.handle_input(now, PRIMARY, client, &binding);
        let t = s.poll_transmit().unwrap();
        let m = Message::from_bytes(&t.payload).unwrap();
        assert!(
            m.has_attribute(crate::proto::stun::OtherAddress::TYPE),
            "RFC 5780"
        );
        s.handle_input(now, PRIMARY, client, &allocate(None));
        let t = s.poll_transmit().unwrap();
        assert_eq!(t.socket, PRIMARY);
        assert_eq!(error_code(&t.payload), Some(401), "the relay's challenge");
        assert_eq!(s.responder().stats().requests, 1);
    }
}
