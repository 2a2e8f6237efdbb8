//! The links of the simulated world: one-way delay, loss, and the order in
//! which packets arrive.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

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

/// A packet in flight.
#[derive(Debug)]
pub struct Packet {
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub payload: Vec<u8>,
    /// Looped back inside a NAT (RFC 4787 §6): `to` is the internal
    /// endpoint, delivered without filtering.
    pub hairpinned: bool,
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
    /// once and is never lost, any other after the one-way delay unless
    /// the link loses it.
    pub fn send(&mut self, now: Instant, packet: Packet) {
        self.sequence += 1;
        let lost = self.rng.random::<f64>() < self.link.loss;
        if packet.hairpinned {
            self.in_flight.insert((now, self.sequence), packet);
        } else if !lost {
            self.in_flight
                .insert((now + self.link.one_way, self.sequence), packet);
        }
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
