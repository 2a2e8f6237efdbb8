//! What a punch is told before it starts.

use std::time::Duration;

use super::Credentials;
use crate::proto::stun::Schedule;

/// How a side guesses the port its NAT will give the mapping toward the
/// peer, when that mapping depends on the destination (RFC 5128 §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortGuess {
    /// A sequential allocator: the mapping toward the peer is the next one
    /// after the server's, `delta` further on.
    Sequential { delta: i32 },
    /// A port-preserving NAT: a second socket that never spoke to the
    /// server keeps its local port number outside (as RFC 6081 §3.3 does).
    Preserving,
}

/// Birthday-paradox probing toward a peer whose NAT gives every
/// destination a new random port: `probes` checks to distinct random ports
/// of the peer's address, `rate` per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spray {
    pub probes: u16,
    pub rate: u32,
}

/// The clock of a punch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The Binding to the STUN server that learns the server-reflexive
    /// candidate (RFC 8489 §6.2.1 retransmissions).
    pub gather: Schedule,
    /// The gap after the first round of checks; it doubles after each round
    /// up to `max_interval`, like a STUN transaction's RTO, so a peer that
    /// starts late is still met and a path that never opens costs few
    /// packets.
    pub interval: Duration,
    pub max_interval: Duration,
    /// How long after `start` the punch gives up.
    pub deadline: Duration,
    /// How long a connected side goes on answering the peer's checks, so
    /// that the peer too completes its own check.
    pub linger: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            gather: Schedule {
                rto: Duration::from_millis(200),
                transmissions: 4,
                backoff: true,
                last_wait: Duration::from_millis(800),
            },
            interval: Duration::from_millis(100),
            max_interval: Duration::from_millis(800),
            deadline: Duration::from_secs(5),
            linger: Duration::from_secs(1),
        }
    }
}

/// One side's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PunchConfig {
    pub credentials: Credentials,
    /// Local sockets to punch from: 1, 2 for a preserving port guess, up
    /// to 256 to open many mappings for the peer's birthday probes.
    pub sockets: u16,
    /// The STUN server that tells socket 0 its server-reflexive endpoint.
    pub server: Option<std::net::SocketAddr>,
    pub guess: Option<PortGuess>,
    pub spray: Option<Spray>,
    /// One more socket after the IPv4 ones, bound to `[::]`, to check the
    /// peer's IPv6 and Teredo candidates from (RFC 8445 §5.1.1.1: a host
    /// candidate per address family; RFC 8421 for dual-stack hosts). The
    /// driver advertises this host's IPv6 addresses with its port. Off by
    /// default: a host without IPv6 cannot bind it.
    pub ipv6: bool,
    pub timing: Timing,
}

impl PunchConfig {
    /// Plain punching from one socket, with the default timing.
    pub fn new(credentials: Credentials, server: Option<std::net::SocketAddr>) -> Self {
        Self {
            credentials,
            sockets: 1,
            server,
            guess: None,
            spray: None,
            ipv6: false,
            timing: Timing::default(),
        }
    }

    /// The number of sockets the plan punches from toward its STUN server
    /// (or from `0.0.0.0` without one): at least one, two for a preserving
    /// guess, at most 256. The IPv6 socket, if any, comes after them.
    pub(crate) fn socket_count(&self) -> usize {
        let floor = if self.guess == Some(PortGuess::Preserving) {
            2
        } else {
            1
        };
        usize::from(self.sockets).clamp(floor, 256)
    }
}
