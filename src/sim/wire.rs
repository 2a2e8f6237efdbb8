//! The links of the simulated world: one-way delay, loss, and the order in
//! which packets arrive.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::proto::machine::SocketId;

/// How every link of a world behaves.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub one_way: Duration,
    /// Probability of losing each packet.
    pub loss: f64,
    /// Seeds the loss.
    pub seed: u64,
}

impl Default for Link {
    fn default() -> Self {
        Self {
            one_way: Duration::from_millis(10),
            loss: 0.0,
            seed: 1,
        }
    }
}

/// How a packet travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Across the Internet: delayed, perhaps lost, and through the NATs.
    Internet,
    /// Looped back inside a NAT (RFC 4787 §6): `to` is the internal
    /// endpoint, delivered at once without filtering.
    Hairpin,
    /// From a NAT device to a host on its LAN: `to` is the internal
    /// endpoint, delivered after the one-way delay without filtering.
    Lan,
    /// Part of a stream (TCP), to socket `socket` of the world's node
    /// number `node`: delayed, never lost, past the NATs' UDP state.
    Stream { node: usize, socket: SocketId },
    /// The end of a stream (its FIN), after everything sent on it before.
    StreamEnd { node: usize, socket: SocketId },
}

/// A packet in flight.
#[derive(Debug)]
pub struct Packet {
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub payload: Vec<u8>,
    pub path: Path,
}

/// Packets in flight, in order of arrival (ties in order of sending).
pub struct Wire {
    in_flight: BTreeMap<(Instant, u64), Packet>,
    sequence: u64,
    rng: StdRng,
    link: Link,
}

impl Wire {
    pub fn new(link: Link) -> Self {
        Self {
            in_flight: BTreeMap::new(),
            sequence: 0,
            rng: StdRng::seed_from_u64(link.seed),
            link,
        }
    }

    /// Puts `packet` on the wire at `now`: a hairpinned packet arrives at
    /// once, a stream's after the one-way delay, and neither is lost; any
    /// other arrives after the one-way delay unless the link loses it.
    pub fn send(&mut self, now: Instant, packet: Packet) {
        self.sequence += 1;
        let at = match packet.path {
            Path::Stream { .. } | Path::StreamEnd { .. } => now + self.link.one_way,
            path => {
                // One draw for every datagram, hairpinned or not, so that a
                // seed loses the same packets whatever the NAT does.
                let lost = self.rng.random::<f64>() < self.link.loss;
                match path {
                    Path::Hairpin => now,
                    Path::Lan => now + self.link.one_way,
                    _ if lost => return,
                    _ => now + self.link.one_way,
                }
            }
        };
        self.in_flight.insert((at, self.sequence), packet);
    }

    /// When the next packet arrives.
    pub fn next_at(&self) -> Option<Instant> {
        self.in_flight.keys().next().map(|(at, _)| *at)
    }

    /// The next packet to arrive.
    pub fn pop(&mut self) -> Option<Packet> {
        self.in_flight.pop_first().map(|(_, p)| p)
    }
}
