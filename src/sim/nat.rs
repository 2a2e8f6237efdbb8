//! A simulated NAT with RFC 4787 behaviours.

use std::net::{IpAddr, SocketAddr};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::proto::nat::{FilteringBehavior, MappingBehavior};

/// How a simulated NAT picks the external port of a new mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// The internal port, when free (RFC 4787 §4.2.1 port preservation).
    Preserving,
    /// A counter: `start`, `start + delta`, … (RFC 5128 §3.5).
    Sequential { start: u16, delta: i16 },
    /// Uniformly random in 1024–65535, from the seed.
    Random { seed: u64 },
}

/// A NAT's behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatBehavior {
    pub mapping: MappingBehavior,
    pub filtering: FilteringBehavior,
    pub allocation: Allocation,
    /// Whether a packet to the NAT's own external endpoint is looped back
    /// in (RFC 4787 §6).
    pub hairpinning: bool,
}

#[derive(Debug)]
struct Mapping {
    internal: SocketAddr,
    /// The destination part the mapping is keyed on (per `MappingBehavior`).
    key: Option<SocketAddr>,
    external_port: u16,
    /// Remote endpoints the internal side has sent to through this mapping.
    contacted: Vec<SocketAddr>,
}

/// A NAT with one external address.
#[derive(Debug)]
pub struct Nat {
    behavior: NatBehavior,
    external_ip: IpAddr,
    mappings: Vec<Mapping>,
    next_sequential: Option<u16>,
    rng: StdRng,
}

impl Nat {
    pub fn new(behavior: NatBehavior, external_ip: IpAddr) -> Self {
        let (next_sequential, seed) = match behavior.allocation {
            Allocation::Sequential { start, .. } => (Some(start), 0),
            Allocation::Random { seed } => (None, seed),
            Allocation::Preserving => (None, 0),
        };
        Self {
            behavior,
            external_ip,
            mappings: Vec::new(),
            next_sequential,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub fn external_ip(&self) -> IpAddr {
        self.external_ip
    }

    pub fn hairpinning(&self) -> bool {
        self.behavior.hairpinning
    }

    fn key(&self, destination: SocketAddr) -> Option<SocketAddr> {
        match self.behavior.mapping {
            MappingBehavior::EndpointIndependent => None,
            MappingBehavior::AddressDependent => Some(SocketAddr::new(destination.ip(), 0)),
            MappingBehavior::AddressAndPortDependent => Some(destination),
        }
    }

    /// An internal endpoint sends to `destination`: returns the external
    /// endpoint the packet leaves with, creating a mapping if needed.
    pub fn outbound(&mut self, internal: SocketAddr, destination: SocketAddr) -> SocketAddr {
        let key = self.key(destination);
        let index = match self
            .mappings
            .iter()
            .position(|m| m.internal == internal && m.key == key)
        {
            Some(i) => i,
            None => {
                let external_port = self.allocate(internal.port());
                self.mappings.push(Mapping {
                    internal,
                    key,
                    external_port,
                    contacted: Vec::new(),
                });
                self.mappings.len() - 1
            }
        };
        let mapping = &mut self.mappings[index];
        if !mapping.contacted.contains(&destination) {
            mapping.contacted.push(destination);
        }
        SocketAddr::new(self.external_ip, mapping.external_port)
    }

    /// A packet from `from` arrives for `external`: returns the internal
    /// endpoint it is let through to, if filtering allows (RFC 4787 §5).
    pub fn inbound(&self, from: SocketAddr, external: SocketAddr) -> Option<SocketAddr> {
        if external.ip() != self.external_ip {
            return None;
        }
        self.mappings
            .iter()
            .filter(|m| m.external_port == external.port())
            .find(|m| match self.behavior.filtering {
                FilteringBehavior::EndpointIndependent => true,
                FilteringBehavior::AddressDependent => {
                    m.contacted.iter().any(|c| c.ip() == from.ip())
                }
                FilteringBehavior::AddressAndPortDependent => m.contacted.contains(&from),
            })
            .map(|m| m.internal)
    }

    /// The internal endpoint behind an external port, ignoring filtering:
    /// what a hairpinning NAT delivers to.
    pub fn hairpin_target(&self, external: SocketAddr) -> Option<SocketAddr> {
        (external.ip() == self.external_ip)
            .then(|| {
                self.mappings
                    .iter()
                    .find(|m| m.external_port == external.port())
                    .map(|m| m.internal)
            })
            .flatten()
    }

    fn in_use(&self, port: u16) -> bool {
        self.mappings.iter().any(|m| m.external_port == port)
    }

    fn allocate(&mut self, internal_port: u16) -> u16 {
        loop {
            let candidate = match self.behavior.allocation {
                Allocation::Preserving if !self.in_use(internal_port) => internal_port,
                Allocation::Sequential { delta, .. } => {
                    let port = self.next_sequential.unwrap_or(1024);
                    let next = i32::from(port) + i32::from(delta);
                    self.next_sequential = Some(if (1024..=65535).contains(&next) {
                        next as u16
                    } else {
                        1024
                    });
                    port
                }
                _ => self.rng.random_range(1024..=65535),
            };
            if !self.in_use(candidate) {
                return candidate;
            }
        }
    }
}
