//! The port-mapping client: PCP first, NAT-PMP as the fallback, all within
//! a short budget.
//!
//! The plan, with the default [`Timing`]:
//! - PCP MAP at 0, 250 and 750 ms.
//! - A version-0 Unsupported Version answer (a NAT-PMP-only gateway,
//!   RFC 6887 §9, RFC 6886 §1.1), or UNSUPP_VERSION from a PCP server of
//!   another version, switches to NAT-PMP at once.
//! - No usable PCP answer by 1.1 s: NAT-PMP for the rest of the budget, for
//!   gateways that drop PCP instead of refusing it. A late PCP success still
//!   counts; a late PCP refusal is kept for the verdict.
//! - NAT-PMP asks for the external address (opcode 0), then for the mapping
//!   (opcode 1), one request at a time (RFC 6886 §3.1), each sent at once
//!   and again 250, 750, 1750 ms later (RFC 6886 §3.1's doubling).
//! - Everything ends at the deadline, 2 s after the start, answered or not;
//!   RFC 6886's full schedule would wait 64 s.
//!
//! Deletion ([`PortMapper::delete`]) runs the same plan with lifetime 0 and
//! succeeds when the gateway answers with lifetime 0 (RFC 6886 §3.4,
//! RFC 6887 §15). Deleting a mapping that does not exist succeeds too, so it
//! is safe to call after any outcome.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::{ConfigError, Mapping, PortMapConfig, PortMapError, Protocol, Transport, natpmp, pcp};
use crate::proto::machine::{Bind, Machine, SocketId, Transmit};

/// The one socket the exchange runs on: a fresh port toward the gateway,
/// not the mapped socket, which stays silent until its end-to-end test.
pub const CONTROL: SocketId = SocketId(0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Pcp,
    NatPmpAddress,
    NatPmpMap,
}

/// One request and its retransmissions.
#[derive(Debug)]
struct Sender {
    payload: Vec<u8>,
    next: Option<Instant>,
    rto: Duration,
    left: u32,
}

/// The sans-IO port-mapping client; see the module documentation.
#[derive(Debug)]
pub struct PortMapper {
    config: PortMapConfig,
    mode: Mode,
    deadline: Instant,
    stage: Stage,
    sender: Sender,
    /// Set once PCP has been tried: its answers stay welcome.
    pcp: Option<pcp::MapRequest>,
    pcp_give_up: Instant,
    natpmp: natpmp::Request,
    transmits: VecDeque<Transmit>,
    /// Whether the control socket was asked for.
    bound: bool,
    outcome: Option<Result<Mapping, PortMapError>>,
    external_ip: Option<Ipv4Addr>,
    pcp_refused_version: Option<u8>,
    late_refusal: Option<PortMapError>,
    evidence: Option<String>,
    stray: u32,
    stale: u32,
}

impl PortMapper {
    /// Starts mapping `config.internal_port`; the first request is ready in
    /// [`PortMapper::poll_transmit`].
    pub fn new(config: PortMapConfig, now: Instant) -> Result<Self, ConfigError> {
        config.check()?;
        if config.lifetime == 0 {
            return Err(ConfigError::LifetimeZero);
        }
        let mut machine = Self::idle(config, Mode::Create, now);
        machine.start_pcp(now);
        Ok(machine)
    }

    /// Starts deleting a mapping made with `config` (the same nonce). With
    /// the `mapping` that was granted, asks in its protocol; without one
    /// (the attempt failed, or its outcome is unknown), runs the full plan.
    pub fn delete(
        config: PortMapConfig,
        mapping: Option<&Mapping>,
        now: Instant,
    ) -> Result<Self, ConfigError> {
        let mut config = config;
        if let Some(m) = mapping {
            config.internal_port = m.internal_port;
        }
        config.check()?;
        let mut machine = Self::idle(config, Mode::Delete, now);
        match mapping.map(|m| m.protocol) {
            Some(Protocol::NatPmp) => machine.start_natpmp(now),
            _ => machine.start_pcp(now),
        }
        Ok(machine)
    }

    fn idle(config: PortMapConfig, mode: Mode, now: Instant) -> Self {
        Self {
            config,
            mode,
            deadline: now + config.timing.deadline,
            stage: Stage::Pcp,
            sender: Sender {
                payload: Vec::new(),
                next: None,
                rto: config.timing.rto,
                left: 0,
            },
            pcp: None,
            pcp_give_up: now + config.timing.pcp_wait,
            natpmp: natpmp::Request::ExternalAddress,
            transmits: VecDeque::new(),
            bound: false,
            outcome: None,
            external_ip: None,
            pcp_refused_version: None,
            late_refusal: None,
            evidence: None,
            stray: 0,
            stale: 0,
        }
    }

    pub fn outcome(&self) -> Option<&Result<Mapping, PortMapError>> {
        self.outcome.as_ref()
    }

    /// Datagrams that came from anywhere but the gateway's port 5351.
    pub fn stray_datagrams(&self) -> u32 {
        self.stray
    }

    /// Valid answers to requests already superseded (retransmissions'
    /// duplicates, a creation answer arriving during a deletion).
    pub fn stale_answers(&self) -> u32 {
        self.stale
    }

    /// The version the gateway said it speaks when it refused PCP version
    /// 2 (0: NAT-PMP only).
    pub fn pcp_refused_version(&self) -> Option<u8> {
        self.pcp_refused_version
    }

    fn start_pcp(&mut self, now: Instant) {
        let c = &self.config;
        let request = match self.mode {
            Mode::Create => pcp::MapRequest::new(
                c.client,
                c.nonce,
                Transport::Udp,
                c.internal_port,
                c.suggested_external_port,
                c.lifetime,
            ),
            Mode::Delete => {
                pcp::MapRequest::delete(c.client, c.nonce, Transport::Udp, c.internal_port)
            }
        };
        self.pcp = Some(request);
        self.stage = Stage::Pcp;
        self.sender = Sender {
            payload: request.encode(),
            next: Some(now),
            rto: self.config.timing.rto,
            left: self.config.timing.pcp_transmissions,
        };
        self.fire(now);
    }

    fn start_natpmp(&mut self, now: Instant) {
        let (stage, request) = match self.mode {
            Mode::Create => (Stage::NatPmpAddress, natpmp::Request::ExternalAddress),
            Mode::Delete => (
                Stage::NatPmpMap,
                natpmp::Request::delete(Transport::Udp, self.config.internal_port),
            ),
        };
        self.stage = stage;
        self.send(request, now);
    }

    /// Sends a NAT-PMP request now, and again while the budget lasts.
    fn send(&mut self, request: natpmp::Request, now: Instant) {
        self.natpmp = request;
        self.sender = Sender {
            payload: request.encode(),
            next: Some(now),
            rto: self.config.timing.rto,
            left: u32::MAX,
        };
        self.fire(now);
    }

    /// Queues the current request if it is due, and schedules the next.
    fn fire(&mut self, now: Instant) {
        let Some(due) = self.sender.next.filter(|at| *at <= now) else {
            return;
        };
        self.transmits.push_back(Transmit {
            socket: CONTROL,
            destination: self.config.server(),
            payload: self.sender.payload.clone(),
        });
        self.sender.left = self.sender.left.saturating_sub(1);
        self.sender.next = due
            .checked_add(self.sender.rto)
            .filter(|_| self.sender.left > 0);
        self.sender.rto = self.sender.rto.saturating_mul(2);
    }

    fn finish(&mut self, outcome: Result<Mapping, PortMapError>) {
        self.outcome = Some(outcome);
        self.sender.next = None;
        self.transmits.clear();
    }

    /// The deadline passed: say what was learnt.
    fn conclude(&mut self) {
        let server = self.config.server();
        let waited = self.config.timing.deadline;
        let error = if let (Mode::Create, Some(external)) = (self.mode, self.external_ip) {
            PortMapError::MappingUnanswered {
                server,
                external,
                waited,
            }
        } else if let Some(refusal) = self.late_refusal.take() {
            refusal
        } else if let Some(evidence) = self.evidence.take() {
            PortMapError::Malformed(evidence)
        } else if let Some(server_version) = self.pcp_refused_version {
            PortMapError::NoCommonVersion {
                server,
                server_version,
                waited,
            }
        } else {
            PortMapError::NoAnswer {
                server,
                waited,
                stray: self.stray,
            }
        };
        self.finish(Err(error));
    }
}

impl Machine for PortMapper {
    /// The control socket, toward the gateway.
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        (!self.bound).then(|| {
            self.bound = true;
            (CONTROL, Bind::Toward(self.config.server()))
        })
    }

    /// The exchange started when the machine was made; where the control
    /// socket sits changes nothing in it.
    fn handle_bound(&mut self, _now: Instant, _socket: SocketId, _local: SocketAddr) {}

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.outcome.is_some() {
            return None;
        }
        let mut at = self.deadline;
        if let Some(next) = self.sender.next {
            at = at.min(next);
        }
        if self.stage == Stage::Pcp {
            at = at.min(self.pcp_give_up);
        }
        Some(at)
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.outcome.is_some() {
            return;
        }
        if now >= self.deadline {
            self.conclude();
        } else if self.stage == Stage::Pcp && now >= self.pcp_give_up {
            self.start_natpmp(now);
        } else {
            self.fire(now);
        }
    }

    /// A datagram arrived on the mapped socket. (An IPv4-mapped source, as
    /// a dual-stack socket reports it, counts as the IPv4 address.)
    fn handle_input(&mut self, now: Instant, socket: SocketId, from: SocketAddr, payload: &[u8]) {
        if socket != CONTROL {
            return;
        }
        if self.outcome.is_some() {
            return;
        }
        let from = match from {
            SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
                Some(ip) => SocketAddr::V4(SocketAddrV4::new(ip, v6.port())),
                None => from,
            },
            v4 => v4,
        };
        if from != self.config.server() {
            self.stray += 1;
            return;
        }
        match self.pcp {
            Some(request)
                if self.stage == Stage::Pcp || payload.first() != Some(&natpmp::VERSION) =>
            {
                self.on_pcp(now, request.decode_response(payload));
            }
            _ => self.on_natpmp(now, payload),
        }
    }

    /// A closed port is the clearest "no" there is: the machine sends to
    /// one server, which it stops doing once refused.
    fn hears_unreachable(&self) -> bool {
        true
    }

    /// The gateway's port 5351 is closed: there is no PCP or NAT-PMP
    /// server to wait for (RFC 6887 §8.1.1 retransmits only while an
    /// answer may still come).
    fn handle_unreachable(&mut self, _now: Instant, socket: SocketId, destination: SocketAddr) {
        if socket == CONTROL && self.outcome.is_none() && destination == self.config.server() {
            self.finish(Err(PortMapError::PortUnreachable {
                server: destination,
            }));
        }
    }

    fn is_done(&self) -> bool {
        self.outcome.is_some()
    }
}

mod answers;
#[cfg(test)]
mod tests;
