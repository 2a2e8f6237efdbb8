//! What a binding-lifetime measurement is asked (which server, up to
//! which bound) and what it answers (RFC 5780 §4.6).

use std::net::SocketAddr;
use std::time::Duration;

use super::MAX_ROUNDS;
use crate::proto::nat::DiscoveryConfig;
use crate::proto::stun::Schedule;

/// What to measure against which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifetimeConfig {
    /// The server's primary endpoint; it must honour RESPONSE-PORT.
    pub server: SocketAddr,
    /// The longest idle time tested: a mapping alive after it is reported
    /// as living at least that long.
    pub bound: Duration,
    /// The shortest wait of the ladder and the finest step sought.
    pub resolution: Duration,
    /// The schedule of the first requests, before any RTT is known.
    pub initial: Schedule,
}

impl LifetimeConfig {
    /// Waits from 1 s up to `bound`, and the first schedule of
    /// [`DiscoveryConfig::new`] (gives up after about 2 s).
    pub fn new(server: SocketAddr, bound: Duration) -> Self {
        Self {
            server,
            bound,
            resolution: Duration::from_secs(1),
            initial: DiscoveryConfig::new(server).initial,
        }
    }

    /// The longest the measurement can take: every round waits at most the
    /// bound plus a mapping request's and a test's schedule, which the RTT
    /// keeps under 10 s each (RTO at most 1 s).
    pub fn worst_case(&self) -> Duration {
        let slack = Duration::from_secs(10) + self.initial.give_up_after();
        (self.bound + slack) * MAX_ROUNDS + slack * 2
    }
}

/// What the measurement found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifetimeOutcome {
    /// The mapping still carried an answer after `alive` of idleness, and
    /// no longer after `expired`: the lifetime lies between.
    Measured { alive: Duration, expired: Duration },
    /// Alive after `alive`, the longest wait that could be tested (the
    /// bound, unless the notes say otherwise): the lifetime is longer.
    Longer { alive: Duration },
    /// The method could not run; why, in words.
    NotMeasured { reason: String },
}

/// The measurement's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifetimeResult {
    pub server: SocketAddr,
    pub bound: Duration,
    pub outcome: LifetimeOutcome,
    /// X sockets that gave a verdict, the calibration's included.
    pub probes: u32,
    /// Rounds of waits run (the calibration not counted).
    pub rounds: u32,
    /// Plain-language notes on anything uncertain.
    pub notes: Vec<String>,
}

/// Progress, for a person watching the minutes go by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifetimeEvent {
    /// A round of waits started; the bracket so far, and its longest wait.
    Round {
        round: u32,
        alive: Option<Duration>,
        expired: Option<Duration>,
        longest_wait: Duration,
    },
}
