//! A simulated NAT with RFC 4787 behaviours.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

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

impl Allocation {
    /// One allocator of each kind: preserving, sequential from 20000 by 1,
    /// and random from `seed`.
    pub fn every(seed: u64) -> [Allocation; 3] {
        [
            Allocation::Preserving,
            Allocation::Sequential {
                start: 20000,
                delta: 1,
            },
            Allocation::Random { seed },
        ]
    }
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

impl NatBehavior {
    /// Every RFC 4787 mapping × filtering × [`Allocation::every`] ×
    /// hairpinning off and on: 54 behaviours.
    pub fn every(seed: u64) -> impl Iterator<Item = NatBehavior> {
        MappingBehavior::ALL.into_iter().flat_map(move |mapping| {
            FilteringBehavior::ALL
                .into_iter()
                .flat_map(move |filtering| {
                    Allocation::every(seed)
                        .into_iter()
                        .flat_map(move |allocation| {
                            [false, true].map(|hairpinning| NatBehavior {
                                mapping,
                                filtering,
                                allocation,
                                hairpinning,
                            })
                        })
                })
        })
    }
}

#[derive(Debug)]
struct Mapping {
    internal: SocketAddr,
    /// The destination part the mapping is keyed on (per `MappingBehavior`).
    key: Option<SocketAddr>,
    /// Remote endpoints the internal side has sent to through this mapping.
    contacted: HashSet<SocketAddr>,
    contacted_ips: HashSet<IpAddr>,
    /// The last outbound packet: RFC 4787 REQ-6 refreshes on outbound
    /// traffic only.
    refreshed: Instant,
    /// A UPnP-style static mapping: never expires, admits anyone.
    fixed: bool,
}

/// A NAT with one external address.
#[derive(Debug)]
pub struct Nat {
    behavior: NatBehavior,
    external_ip: IpAddr,
    /// External port -> mapping.
    mappings: HashMap<u16, Mapping>,
    /// (internal endpoint, key) -> external port.
    index: HashMap<(SocketAddr, Option<SocketAddr>), u16>,
    /// How long an idle dynamic mapping lives (RFC 4787 §4.3); `None`: for ever.
    lifetime: Option<Duration>,
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
            mappings: HashMap::new(),
            index: HashMap::new(),
            lifetime: None,
            next_sequential,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Idle dynamic mappings expire after `lifetime` (RFC 4787 REQ-5 asks
    /// for at least two minutes; real NATs often keep 30 s).
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// A static mapping, as a UPnP IGD AddPortMapping or PCP MAP makes:
    /// `external_port` forwards to `internal` from anyone, and `internal`'s
    /// packets leave from it. False if the port is taken.
    pub fn add_static(&mut self, now: Instant, internal: SocketAddr, external_port: u16) -> bool {
        if self.mappings.contains_key(&external_port) {
            return false;
        }
        self.insert(now, internal, None, external_port, true);
        true
    }

    /// Removes the static mapping of `internal`; the external port it had.
    pub fn remove_static(&mut self, internal: SocketAddr) -> Option<u16> {
        let port = self.static_port(internal)?;
        self.index.remove(&(internal, None));
        self.mappings.remove(&port);
        Some(port)
    }

    /// The external port of `internal`'s static mapping.
    pub fn static_port(&self, internal: SocketAddr) -> Option<u16> {
        self.index
            .get(&(internal, None))
            .copied()
            .filter(|p| self.mappings.get(p).is_some_and(|m| m.fixed))
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

    fn insert(
        &mut self,
        now: Instant,
        internal: SocketAddr,
        key: Option<SocketAddr>,
        port: u16,
        fixed: bool,
    ) {
        self.index.insert((internal, key), port);
        self.mappings.insert(
            port,
            Mapping {
                internal,
                key,
                contacted: HashSet::new(),
                contacted_ips: HashSet::new(),
                refreshed: now,
                fixed,
            },
        );
    }

    /// Forgets the mapping on `port` if it has been idle too long.
    fn expire(&mut self, now: Instant, port: u16) {
        let Some(lifetime) = self.lifetime else {
            return;
        };
        if let Some(m) = self.mappings.get(&port)
            && !m.fixed
            && now >= m.refreshed + lifetime
        {
            self.index.remove(&(m.internal, m.key));
            self.mappings.remove(&port);
        }
    }

    /// An internal endpoint sends to `destination`: returns the external
    /// endpoint the packet leaves with, creating a mapping if needed.
    pub fn outbound(
        &mut self,
        now: Instant,
        internal: SocketAddr,
        destination: SocketAddr,
    ) -> SocketAddr {
        let key = self.key(destination);
        let port = match self.static_port(internal) {
            Some(port) => port,
            None => {
                if let Some(port) = self.index.get(&(internal, key)).copied() {
                    self.expire(now, port);
                }
                match self.index.get(&(internal, key)).copied() {
                    Some(port) => port,
                    None => {
                        let port = self.allocate(now, internal.port());
                        self.insert(now, internal, key, port, false);
                        port
                    }
                }
            }
        };
        if let Some(mapping) = self.mappings.get_mut(&port) {
            mapping.refreshed = now;
            mapping.contacted.insert(destination);
            mapping.contacted_ips.insert(destination.ip());
        }
        SocketAddr::new(self.external_ip, port)
    }

    /// A packet from `from` arrives for `external`: returns the internal
    /// endpoint it is let through to, if filtering allows (RFC 4787 §5).
    pub fn inbound(
        &mut self,
        now: Instant,
        from: SocketAddr,
        external: SocketAddr,
    ) -> Option<SocketAddr> {
        if external.ip() != self.external_ip {
            return None;
        }
        self.expire(now, external.port());
        let m = self.mappings.get(&external.port())?;
        let admitted = m.fixed
            || match self.behavior.filtering {
                FilteringBehavior::EndpointIndependent => true,
                FilteringBehavior::AddressDependent => m.contacted_ips.contains(&from.ip()),
                FilteringBehavior::AddressAndPortDependent => m.contacted.contains(&from),
            };
        admitted.then_some(m.internal)
    }

    /// The internal endpoint behind an external port, ignoring filtering:
    /// what a hairpinning NAT delivers to.
    pub fn hairpin_target(&self, external: SocketAddr) -> Option<SocketAddr> {
        (external.ip() == self.external_ip)
            .then(|| self.mappings.get(&external.port()).map(|m| m.internal))
            .flatten()
    }

    fn in_use(&mut self, now: Instant, port: u16) -> bool {
        self.expire(now, port);
        self.mappings.contains_key(&port)
    }

    fn allocate(&mut self, now: Instant, internal_port: u16) -> u16 {
        if self.behavior.allocation == Allocation::Preserving && !self.in_use(now, internal_port) {
            return internal_port;
        }
        loop {
            let candidate = match self.behavior.allocation {
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
            if !self.in_use(now, candidate) {
                return candidate;
            }
        }
    }
}

#[cfg(test)]
mod tests;
