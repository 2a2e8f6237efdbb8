//! Teredo qualification (RFC 4380 §5.2.1) as a sans-IO diagnostic: what NAT
//! type a Teredo client would see behind this NAT, and whether it would
//! qualify.
//!
//! Three Router Solicitations, from two fresh sockets that run in parallel:
//! - socket [`CONE_SOCKET`]: an RS with the cone bit to the primary address.
//!   The server answers it from its *secondary* address (RFC 4380 §5.3.2,
//!   miredo `SendRA`), an address this socket never sent to, so the answer
//!   arrives only through endpoint-independent filtering: a cone NAT. It is
//!   the socket's first and only packet, so no earlier traffic opens the
//!   filter.
//! - socket [`RESTRICTED_SOCKET`]: an RS without the cone bit to the primary,
//!   whose origin indication gives the mapping O1; once answered, the same to
//!   the secondary, giving O2. O1 = O2 means a restricted NAT, O1 ≠ O2 a
//!   symmetric one (RFC 4380 §5.2.1).
//!
//! Timing deviates from RFC 4380 on purpose. The RFC waits T = 4 s for each
//! of N = 3 tries per stage, and runs the stages one after the other: up to
//! 36 s. A diagnosis cannot wait that long, so the cone and primary probes
//! share one schedule (by default sends at 0, 0.3, 0.9 and 2.1 s, given up at
//! 3 s) and run in parallel. Once the primary answered, its round trip
//! bounds the rest: the secondary probe starts with a schedule derived from
//! it, and the cone probe, still unanswered, goes on at that pace too (its
//! answer travels as far as the primary's did, so a cone NAT shows within a
//! few round trips, not seconds). A "port unreachable" from the server ends
//! the probes sent there at once. Timing changes only how long an absent
//! answer is waited for, never how an answer is judged.

use std::collections::VecDeque;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Instant;

use super::advert::{RaError, RouterAdvertisement};
use super::config::QualificationConfig;
use super::outcome::{Evidence, QualificationOutcome};
use super::packet::TeredoPacket;
use super::probe::{
    Answer, AnswerError, CONE_SOCKET, InvalidAnswer, Pending, Probe, ProbeEnd, ProbeNonces,
    RESTRICTED_SOCKET,
};
use crate::proto::machine::{Bind, Binds, Machine, SocketId, Transmit};
use crate::proto::nat::adapted_schedule;

/// The qualification machine against one Teredo server.
#[derive(Debug)]
pub struct Qualification {
    config: QualificationConfig,
    nonces: ProbeNonces,
    binds: Binds,
    probes: Vec<Pending>,
    transmits: VecDeque<Transmit>,
    invalid: u32,
    last_invalid: Option<InvalidAnswer>,
    cone_from_primary: bool,
    outcome: Option<QualificationOutcome>,
}

impl Qualification {
    pub fn new(config: QualificationConfig, nonces: ProbeNonces) -> Self {
        Self {
            config,
            nonces,
            binds: Binds::toward(2, SocketAddr::V4(config.primary)),
            probes: Vec::new(),
            transmits: VecDeque::new(),
            invalid: 0,
            last_invalid: None,
            cone_from_primary: false,
            outcome: None,
        }
    }

    /// A machine whose nonces come from `seed`.
    pub fn from_seed(config: QualificationConfig, seed: u64) -> Self {
        Self::new(config, ProbeNonces::from_seed(seed))
    }

    pub fn config(&self) -> &QualificationConfig {
        &self.config
    }

    /// The result, once every probe has ended.
    pub fn outcome(&self) -> Option<&QualificationOutcome> {
        self.outcome.as_ref()
    }

    fn accept(
        &mut self,
        now: Instant,
        socket: SocketId,
        from: SocketAddr,
        payload: &[u8],
    ) -> Result<(), AnswerError> {
        let nonce = match TeredoPacket::parse(payload) {
            Ok(TeredoPacket {
                auth: Some(auth), ..
            }) => auth.nonce,
            Ok(_) => return Err(AnswerError::Unreadable(RaError::MissingAuth)),
            Err(e) => return Err(AnswerError::Unreadable(e.into())),
        };
        let mine = |p: &Pending| p.probe.socket() == socket && p.nonce == nonce;
        // A running probe first: nonces given by the caller may repeat.
        let index = self
            .probes
            .iter()
            .position(|p| p.end.is_none() && mine(p))
            .or_else(|| self.probes.iter().position(mine))
            .ok_or(AnswerError::UnknownNonce)?;
        let primary = self.config.primary;
        let p = &mut self.probes[index];
        if p.end.is_some() {
            // A late copy, answering a retransmission: nothing new.
            return Ok(());
        }
        let probe = p.probe;
        if from != SocketAddr::V4(p.expected_source) {
            if probe == Probe::Cone && from == SocketAddr::V4(primary) {
                self.cone_from_primary = true;
            }
            return Err(AnswerError::WrongSource {
                probe,
                from,
                expected: p.expected_source,
            });
        }
        let ra = RouterAdvertisement::parse(payload, probe.kind(), &p.nonce)
            .map_err(|error| AnswerError::Invalid { probe, error })?;
        // The prefix names the primary address whichever address answers
        // (miredo `SendRA`; its client checks the same).
        if ra.server != *primary.ip() {
            return Err(AnswerError::WrongServer {
                probe,
                found: ra.server,
                expected: *primary.ip(),
            });
        }
        let rtt = now.saturating_duration_since(p.started);
        p.finish(ProbeEnd::Answered(Answer { ra, rtt }));
        if probe == Probe::Primary {
            let schedule = self
                .config
                .secondary_schedule
                .unwrap_or_else(|| adapted_schedule(rtt));
            if let Some(cone) = self.probes.iter_mut().find(|p| p.probe == Probe::Cone) {
                cone.adapt(schedule, now);
            }
            let secondary = Pending::new(
                Probe::Secondary,
                &self.config,
                self.nonces.secondary,
                schedule,
                now,
            );
            self.probes.push(secondary);
        }
        Ok(())
    }

    fn advance(&mut self, now: Instant) {
        if self.outcome.is_some() || !self.binds.all_bound() {
            return;
        }
        for p in &mut self.probes {
            if p.end.is_none()
                && let Some(t) = p.poll_transmit(now)
            {
                self.transmits.push_back(t);
            }
        }
        if self.probes.iter().all(|p| p.end.is_some()) {
            self.outcome = Some(self.conclude(false));
        }
    }

    fn end_of(&self, probe: Probe) -> ProbeEnd {
        self.probes
            .iter()
            .find(|p| p.probe == probe)
            .map_or(ProbeEnd::NotRun, |p| {
                p.end.clone().unwrap_or(ProbeEnd::Running)
            })
    }

    fn conclude(&self, cut_short: bool) -> QualificationOutcome {
        Evidence {
            config: &self.config,
            cone: self.end_of(Probe::Cone),
            primary: self.end_of(Probe::Primary),
            secondary: self.end_of(Probe::Secondary),
            cone_local: self.binds.local(CONE_SOCKET),
            restricted_local: self.binds.local(RESTRICTED_SOCKET),
            invalid: self.invalid,
            last_invalid: self.last_invalid.clone(),
            cone_from_primary: self.cone_from_primary,
            cone_waited: self
                .probes
                .iter()
                .find(|p| p.probe == Probe::Cone)
                .map(Pending::waited),
            cut_short,
        }
        .conclude()
    }
}

impl Machine for Qualification {
    /// Both sockets ([`CONE_SOCKET`], [`RESTRICTED_SOCKET`]) are fresh ports
    /// toward the primary address.
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        self.binds.poll()
    }

    /// Once both are bound, the solicitations start.
    fn handle_bound(&mut self, now: Instant, socket: SocketId, local: SocketAddr) {
        if !self.binds.bound(socket, local) {
            return;
        }
        let schedule = self.config.schedule;
        self.probes.push(Pending::new(
            Probe::Cone,
            &self.config,
            self.nonces.cone,
            schedule,
            now,
        ));
        self.probes.push(Pending::new(
            Probe::Primary,
            &self.config,
            self.nonces.primary,
            schedule,
            now,
        ));
        self.advance(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.outcome.is_some() {
            return None;
        }
        self.probes.iter().filter_map(Pending::poll_timeout).min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        for p in &mut self.probes {
            p.handle_timeout(now);
        }
        self.advance(now);
    }

    fn handle_input(&mut self, now: Instant, socket: SocketId, from: SocketAddr, payload: &[u8]) {
        if self.outcome.is_some() || !self.binds.all_bound() {
            return;
        }
        let from = unmap(from);
        if let Err(error) = self.accept(now, socket, from, payload) {
            self.invalid += 1;
            self.last_invalid = Some(InvalidAnswer {
                socket,
                from,
                error,
            });
        }
        self.advance(now);
    }

    /// A closed port is the clearest "no" there is: the machine sends to
    /// one server, which it stops doing once refused.
    fn hears_unreachable(&self) -> bool {
        true
    }

    /// The server's address drew "port unreachable": the probes sent
    /// there from `socket` end, refused.
    fn handle_unreachable(&mut self, now: Instant, socket: SocketId, destination: SocketAddr) {
        if self.outcome.is_some() {
            return;
        }
        let destination = unmap(destination);
        for p in &mut self.probes {
            if p.end.is_none()
                && p.probe.socket() == socket
                && SocketAddr::V4(p.destination()) == destination
            {
                p.finish(ProbeEnd::Refused);
            }
        }
        self.advance(now);
    }

    fn is_done(&self) -> bool {
        self.outcome.is_some()
    }

    /// Ends the qualification now (the caller's time limit): answers kept,
    /// probes still running count as not measured.
    fn cut_short(&mut self) {
        if self.outcome.is_none() {
            self.outcome = Some(self.conclude(true));
        }
    }
}

/// An IPv4-mapped IPv6 source (a dual-stack socket) as the IPv4 address it
/// is.
fn unmap(from: SocketAddr) -> SocketAddr {
    match from {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, v6.port())),
            None => from,
        },
        v4 => v4,
    }
}
