//! The three solicitations of a qualification run, each with its nonce and
//! its own retransmission schedule, and why an arriving datagram may be
//! refused as an answer.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::advert::{RaError, RouterAdvertisement};
use super::config::QualificationConfig;
use super::packet::{Nonce, RsKind, router_solicitation};
use crate::proto::machine::{SocketId, Transmit};
use crate::proto::stun::Schedule;

/// The socket of the cone test; nothing else is ever sent from it.
pub const CONE_SOCKET: SocketId = SocketId(0);
/// The socket of the restricted and symmetric tests.
pub const RESTRICTED_SOCKET: SocketId = SocketId(1);

/// The nonce of each solicitation. They should differ, so that an answer is
/// never mistaken for another probe's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeNonces {
    pub cone: Nonce,
    pub primary: Nonce,
    pub secondary: Nonce,
}

impl ProbeNonces {
    /// Nonces drawn from a generator seeded with `seed`.
    pub fn from_seed(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        Self {
            cone: rng.random(),
            primary: rng.random(),
            secondary: rng.random(),
        }
    }
}

/// One of the three solicitations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Probe {
    /// Cone bit, to the primary; answered from the secondary.
    Cone,
    /// No cone bit, to the primary: O1.
    Primary,
    /// No cone bit, to the secondary: O2.
    Secondary,
}

impl Probe {
    pub fn socket(self) -> SocketId {
        match self {
            Self::Cone => CONE_SOCKET,
            Self::Primary | Self::Secondary => RESTRICTED_SOCKET,
        }
    }

    pub fn kind(self) -> RsKind {
        match self {
            Self::Cone => RsKind::Cone,
            Self::Primary | Self::Secondary => RsKind::Restricted,
        }
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cone => "cone",
            Self::Primary => "primary",
            Self::Secondary => "secondary",
        })
    }
}

/// Why a datagram that arrived was not taken as an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("not a Router Advertisement with a nonce: {0}")]
    Unreadable(RaError),
    #[error("its nonce matches no solicitation sent from this socket")]
    UnknownNonce,
    #[error("the answer to the {probe} solicitation came from {from}, not {expected}")]
    WrongSource {
        probe: Probe,
        from: SocketAddr,
        expected: SocketAddrV4,
    },
    #[error("invalid answer to the {probe} solicitation: {error}")]
    Invalid { probe: Probe, error: RaError },
    #[error("the {probe} answer advertises the prefix of server {found}, not {expected}")]
    WrongServer {
        probe: Probe,
        found: Ipv4Addr,
        expected: Ipv4Addr,
    },
}

/// A datagram that was ignored, kept as evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAnswer {
    pub socket: SocketId,
    pub from: SocketAddr,
    pub error: AnswerError,
}

/// A probe's answer: the advertisement and the round trip it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Answer {
    pub ra: RouterAdvertisement,
    pub rtt: Duration,
}

/// How a probe ended, or that it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ProbeEnd {
    NotRun,
    Running,
    Answered(Answer),
    TimedOut,
    /// Its destination answered "port unreachable": no Teredo server there.
    Refused,
}

impl ProbeEnd {
    pub fn answer(&self) -> Option<&Answer> {
        match self {
            Self::Answered(a) => Some(a),
            _ => None,
        }
    }
}

/// One solicitation and its retransmissions.
#[derive(Debug)]
pub(super) struct Pending {
    pub probe: Probe,
    destination: SocketAddrV4,
    /// The only address whose answer counts.
    pub expected_source: SocketAddrV4,
    pub nonce: Nonce,
    request: Vec<u8>,
    schedule: Schedule,
    /// When the first transmission was due: the RTT's origin.
    pub started: Instant,
    next_send: Option<Instant>,
    /// When the last transmission went out.
    last_sent: Instant,
    sent: u32,
    rto: Duration,
    /// `None` while running.
    pub end: Option<ProbeEnd>,
}

impl Pending {
    pub fn new(
        probe: Probe,
        config: &QualificationConfig,
        nonce: Nonce,
        schedule: Schedule,
        now: Instant,
    ) -> Self {
        let (destination, expected_source) = match probe {
            Probe::Cone => (config.primary, config.secondary),
            Probe::Primary => (config.primary, config.primary),
            Probe::Secondary => (config.secondary, config.secondary),
        };
        Self {
            probe,
            destination,
            expected_source,
            nonce,
            request: router_solicitation(probe.kind(), nonce),
            schedule,
            started: now,
            next_send: Some(now),
            last_sent: now,
            sent: 0,
            rto: schedule.rto,
            end: None,
        }
    }

    /// Where the solicitation goes.
    pub fn destination(&self) -> SocketAddrV4 {
        self.destination
    }

    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        let due = self.next_send.filter(|at| *at <= now)?;
        self.sent += 1;
        self.last_sent = now;
        self.next_send = (self.sent < self.schedule.transmissions).then(|| {
            let next = due + self.rto;
            if self.schedule.backoff {
                self.rto *= 2;
            }
            next
        });
        Some(Transmit {
            socket: self.probe.socket(),
            destination: SocketAddr::V4(self.destination),
            payload: self.request.clone(),
        })
    }

    /// The last transmission's wait is over.
    fn give_up_at(&self) -> Instant {
        self.last_sent + self.schedule.last_wait
    }

    /// Paces the rest of the probe by `schedule` (its transmissions count
    /// those already sent): for a wait that a measured round trip now
    /// bounds better than the first guess did.
    pub fn adapt(&mut self, schedule: Schedule, now: Instant) {
        if self.end.is_some() {
            return;
        }
        self.schedule = schedule;
        self.rto = schedule.rto;
        self.next_send =
            (self.sent < schedule.transmissions).then(|| (self.last_sent + schedule.rto).max(now));
    }

    /// The wait this probe was given: from its first transmission to the
    /// end of its last one's.
    pub fn waited(&self) -> Duration {
        self.give_up_at().saturating_duration_since(self.started)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.end {
            Some(_) => None,
            None => Some(self.next_send.unwrap_or_else(|| self.give_up_at())),
        }
    }

    /// Ends the probe: no more retransmissions.
    pub fn finish(&mut self, end: ProbeEnd) {
        self.end = Some(end);
        self.next_send = None;
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.end.is_none() && self.next_send.is_none() && now >= self.give_up_at() {
            self.end = Some(ProbeEnd::TimedOut);
        }
    }
}
