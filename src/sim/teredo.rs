//! A Teredo server in the simulated world, answering Router Solicitations
//! as miredo-server does (`libteredo/server.c`), or misbehaving on purpose;
//! and the real qualification machine run against it behind every NAT the
//! world can build.

use std::net::{SocketAddr, SocketAddrV4};
use std::time::Instant;

use crate::proto::machine::{Bind, Machine, SocketId, Transmit};
use crate::proto::teredo::testing::{RaBuilder, prefix_option};
use crate::proto::teredo::{ALL_ROUTERS, Nonce, RsKind, TeredoPacket, server_prefix};

/// How the server departs from miredo's behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// None: miredo-server on two addresses.
    None,
    /// Only the primary address exists.
    NoSecondary,
    /// Answers the cone RS from the address it was sent to.
    ConeFromPrimary,
    /// Echoes a wrong nonce.
    WrongNonce,
    /// Advertises a prefix naming another server.
    WrongPrefix,
}

const PRIMARY_SOCKET: SocketId = SocketId(0);
const SECONDARY_SOCKET: SocketId = SocketId(1);

/// A Teredo server on `primary` and, unless it has none, `secondary`.
pub struct TeredoServer {
    primary: SocketAddrV4,
    secondary: SocketAddrV4,
    misbehaviour: Misbehaviour,
    asked: u8,
    transmits: Vec<Transmit>,
}

impl TeredoServer {
    pub fn new(primary: SocketAddrV4, secondary: SocketAddrV4, misbehaviour: Misbehaviour) -> Self {
        Self {
            primary,
            secondary,
            misbehaviour,
            asked: 0,
            transmits: Vec::new(),
        }
    }
}

/// The server side of miredo's `libteredo_process_packet`: an RS is an IPv6
/// packet from a link-local address to ff02::2 carrying ICMPv6 type 133;
/// the cone bit is bit 64 of the source.
pub fn parse_rs(payload: &[u8]) -> Option<(RsKind, Nonce)> {
    let p = TeredoPacket::parse(payload).ok()?;
    let nonce = p.auth?.nonce;
    let ip = p.ipv6;
    if ip[24..40] != ALL_ROUTERS.octets() || ip[6] != 58 || ip.get(40) != Some(&133) {
        return None;
    }
    let kind = if ip[16] & 0x80 != 0 {
        RsKind::Cone
    } else {
        RsKind::Restricted
    };
    Some((kind, nonce))
}

impl Machine for TeredoServer {
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        let next = match (self.asked, self.misbehaviour) {
            (0, _) => (PRIMARY_SOCKET, self.primary),
            (1, Misbehaviour::NoSecondary) => return None,
            (1, _) => (SECONDARY_SOCKET, self.secondary),
            _ => return None,
        };
        self.asked += 1;
        Some((next.0, Bind::At(SocketAddr::V4(next.1))))
    }

    fn handle_bound(&mut self, _now: Instant, _socket: SocketId, _local: SocketAddr) {}

    /// An RS with the cone bit is answered from the other address (RFC 4380
    /// §5.3.2), any other from the address it came to; the origin
    /// indication carries the source the server saw.
    fn handle_input(&mut self, _now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        let (SocketAddr::V4(mapped), Some((kind, nonce))) = (from, parse_rs(bytes)) else {
            return;
        };
        let other = if socket == PRIMARY_SOCKET {
            SECONDARY_SOCKET
        } else {
            PRIMARY_SOCKET
        };
        let answer_from = match (kind, self.misbehaviour) {
            (RsKind::Cone, Misbehaviour::ConeFromPrimary) | (RsKind::Restricted, _) => socket,
            (RsKind::Cone, _) => other,
        };
        if answer_from == SECONDARY_SOCKET && self.misbehaviour == Misbehaviour::NoSecondary {
            return;
        }
        let mut ra = RaBuilder::miredo(*self.primary.ip(), nonce, mapped, kind);
        match self.misbehaviour {
            Misbehaviour::WrongNonce => ra.nonce = Some(nonce.map(|b| b ^ 0x96)),
            Misbehaviour::WrongPrefix => {
                ra.options[0] = prefix_option(server_prefix(*self.secondary.ip()), 64);
            }
            _ => {}
        }
        self.transmits.push(Transmit {
            socket: answer_from,
            destination: from,
            payload: ra.encode(),
        });
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn poll_transmit(&mut self) -> Option<Transmit> {
        (!self.transmits.is_empty()).then(|| self.transmits.remove(0))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn is_done(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
