//! NAT behaviour discovery against one RFC 5780 server, as a sans-IO state
//! machine.
//!
//! The plan, from fresh local ports so that no test inherits NAT state from
//! another (RFC 5780 §4.5 allows running them in parallel):
//! - socket `MAPPING`: Test I to the primary endpoint, then Tests II and III
//!   to the alternate address (RFC 5780 §4.3);
//! - socket `FILTERING`: CHANGE-REQUEST for a new address and port, and for a
//!   new port only (RFC 5780 §4.4), once Test I has shown the server's
//!   OTHER-ADDRESS;
//! - socket `HAIRPIN`: a request to the mapped address of `MAPPING`, which
//!   comes back to `MAPPING` only if the NAT hairpins (RFC 5780 §4.7);
//! - a burst of `BURST` sockets, one request each, sent right after Test I in
//!   one go: the pattern of their mapped ports (RFC 5128 §3.5).
//!
//! Tests whose answer may rightly never come use a schedule derived from the
//! RTT that Test I measured, so a negative result costs a few RTTs, not
//! seconds.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stun_types::message::{BINDING, Message, MessageWriteVec, TransactionId};
use stun_types::prelude::*;

use super::behavior::{FilteringBehavior, MappingBehavior, PortAllocation};
use crate::proto::machine::{Bind, Binds, Machine, SocketId, Transmit};
use crate::proto::stun::{
    BindingResponse, ChangeRequest, ClientTransaction, Datagram, Offer, Outcome, Schedule,
};

const MAPPING: SocketId = SocketId(0);
const FILTERING: SocketId = SocketId(1);
const HAIRPIN: SocketId = SocketId(2);
const FIRST_BURST: u8 = 3;

/// What to run against which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscoveryConfig {
    /// The server's primary endpoint.
    pub server: SocketAddr,
    /// Sockets in the allocation burst (0 skips the allocation test).
    pub burst: u8,
    /// Whether to run the hairpinning test.
    pub hairpin: bool,
    /// The schedule of requests sent before any RTT is known.
    pub initial: Schedule,
}

impl DiscoveryConfig {
    /// The default plan: a 5-socket burst, hairpinning on, and a first
    /// schedule that gives up after about 2 s (0, 150, 450, 1050 ms, then
    /// 900 ms of waiting).
    pub fn new(server: SocketAddr) -> Self {
        Self {
            server,
            burst: 5,
            hairpin: true,
            initial: Schedule {
                rto: Duration::from_millis(150),
                transmissions: 4,
                backoff: true,
                last_wait: Duration::from_millis(900),
            },
        }
    }
}

/// The schedule for tests sent once the RTT is known: four transmissions
/// one RTO apart, RTO = 2·RTT + 20 ms (within 40 ms … 1 s), so that 5 %
/// loss each way leaves a positive test unanswered less than once in 10⁴.
pub fn adapted_schedule(rtt: Duration) -> Schedule {
    let rto = (rtt * 2 + Duration::from_millis(20))
        .clamp(Duration::from_millis(40), Duration::from_secs(1));
    Schedule {
        rto,
        transmissions: 4,
        backoff: false,
        last_wait: rto,
    }
}

/// Everything one server's tests showed.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub server: SocketAddr,
    /// Whether Test I was answered.
    pub reachable: bool,
    pub rtt: Option<Duration>,
    /// The local endpoint of the mapping socket.
    pub local: Option<SocketAddr>,
    /// The mapped endpoint from Test I.
    pub mapped: Option<SocketAddr>,
    pub other_address: Option<SocketAddr>,
    /// `Some(false)` when the mapped endpoint equals the local one.
    pub behind_nat: Option<bool>,
    pub mapping: Option<MappingBehavior>,
    pub filtering: Option<FilteringBehavior>,
    pub hairpinning: Option<bool>,
    pub port_preservation: Option<bool>,
    pub allocation: Option<PortAllocation>,
    /// OTHER-ADDRESS given, and both alternate endpoints really answered.
    pub behavior_capable: bool,
    /// Plain-language reasons for anything missing or odd.
    pub notes: Vec<String>,
}

/// Which test a transaction belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    MappingI,
    MappingII,
    MappingIII,
    FilteringChangeAddressAndPort,
    FilteringChangePort,
    Hairpin,
    Burst(u8),
}

#[derive(Debug)]
struct Pending {
    socket: SocketId,
    test: Test,
    transaction: ClientTransaction,
}

/// The discovery state machine for one server.
#[derive(Debug)]
pub struct Discovery {
    config: DiscoveryConfig,
    rng: StdRng,
    binds: Binds,
    tests: Vec<Pending>,
    transmits: VecDeque<Transmit>,
    hairpin_seen: bool,
    /// Whether Test I's answer has been acted on.
    behaviour_tests_started: bool,
    observation: Option<Observation>,
}

impl Discovery {
    /// A machine whose transaction ids come from `seed`.
    pub fn new(config: DiscoveryConfig, seed: u64) -> Self {
        let sockets = FIRST_BURST + config.burst;
        Self {
            config,
            rng: StdRng::seed_from_u64(seed),
            binds: Binds::toward(usize::from(sockets), config.server),
            tests: Vec::new(),
            transmits: VecDeque::new(),
            hairpin_seen: false,
            behaviour_tests_started: false,
            observation: None,
        }
    }

    pub fn server(&self) -> SocketAddr {
        self.config.server
    }

    /// The result, once every test has ended.
    pub fn observation(&self) -> Option<&Observation> {
        self.observation.as_ref()
    }

    fn check_hairpin(&mut self, datagram: &Datagram<'_>) {
        let id = datagram.transaction_id();
        if let Some(i) = self
            .tests
            .iter()
            .position(|p| p.test == Test::Hairpin && p.transaction.id() == id)
        {
            self.hairpin_seen = true;
            self.tests.remove(i);
        }
    }

    fn start(&mut self, now: Instant) {
        let server = self.config.server;
        let initial = self.config.initial;
        self.add(now, MAPPING, Test::MappingI, server, server, None, initial);
        for i in 0..self.config.burst {
            let socket = SocketId(u16::from(FIRST_BURST + i));
            self.add(now, socket, Test::Burst(i), server, server, None, initial);
        }
        self.flush(now);
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        now: Instant,
        socket: SocketId,
        test: Test,
        destination: SocketAddr,
        expected_source: SocketAddr,
        change: Option<ChangeRequest>,
        schedule: Schedule,
    ) {
        let id = TransactionId::from(self.rng.random::<u128>());
        let mut request = Message::builder(
            stun_types::message::MessageType::from_class_method(
                stun_types::message::MessageClass::Request,
                BINDING,
            ),
            id,
            MessageWriteVec::new(),
        );
        if let Some(change) = change {
            // Adding a 4-byte attribute to an empty message cannot fail.
            let _ = request.add_attribute(&change);
        }
        let transaction = ClientTransaction::new(
            id,
            request.finish(),
            destination,
            expected_source,
            schedule,
            now,
        );
        self.tests.push(Pending {
            socket,
            test,
            transaction,
        });
    }

    fn flush(&mut self, now: Instant) {
        for p in &mut self.tests {
            let destination = p.transaction.destination();
            if let Some(payload) = p.transaction.poll_transmit(now) {
                self.transmits.push_back(Transmit {
                    socket: p.socket,
                    destination,
                    payload: payload.to_vec(),
                });
            }
        }
    }

    fn outcome(&self, test: Test) -> Option<&Outcome> {
        self.tests
            .iter()
            .find(|p| p.test == test)
            .and_then(|p| p.transaction.outcome())
    }

    fn success(&self, test: Test) -> Option<&BindingResponse> {
        match self.outcome(test) {
            Some(Outcome::Success(r)) => Some(r),
            _ => None,
        }
    }

    fn advance(&mut self, now: Instant) {
        if self.observation.is_some() || !self.binds.all_bound() {
            return;
        }
        if !self.behaviour_tests_started
            && let Some(Outcome::Success(first)) = self.outcome(Test::MappingI).cloned()
        {
            self.behaviour_tests_started = true;
            self.start_behaviour_tests(now, &first);
        }
        self.flush(now);
        let waiting = self.tests.iter().any(|p| p.transaction.outcome().is_none());
        if !waiting {
            self.observation = Some(self.conclude());
        }
    }

    fn start_behaviour_tests(&mut self, now: Instant, first: &BindingResponse) {
        let server = self.config.server;
        let schedule = adapted_schedule(first.rtt);
        let Some(other) = first.other_address.filter(|o| usable_alternate(server, *o)) else {
            return;
        };
        let alt_ip_primary_port = SocketAddr::new(other.ip(), server.port());
        self.add(
            now,
            MAPPING,
            Test::MappingII,
            alt_ip_primary_port,
            alt_ip_primary_port,
            None,
            schedule,
        );
        self.add(now, MAPPING, Test::MappingIII, other, other, None, schedule);
        let both = ChangeRequest::new(true, true);
        self.add(
            now,
            FILTERING,
            Test::FilteringChangeAddressAndPort,
            server,
            other,
            Some(both),
            schedule,
        );
        let port_only = SocketAddr::new(server.ip(), other.port());
        let port = ChangeRequest::new(false, true);
        self.add(
            now,
            FILTERING,
            Test::FilteringChangePort,
            server,
            port_only,
            Some(port),
            schedule,
        );
        let behind_nat = first
            .mapped
            .is_some_and(|m| Some(m) != self.binds.local(MAPPING));
        if let (true, true, Some(mapped)) = (self.config.hairpin, behind_nat, first.mapped) {
            // The answer never comes back to HAIRPIN: the request itself
            // arriving on MAPPING is the result.
            self.add(now, HAIRPIN, Test::Hairpin, mapped, mapped, None, schedule);
        }
    }

    fn conclude(&self) -> Observation {
        let server = self.config.server;
        let local = self.binds.local(MAPPING);
        let mut notes = Vec::new();
        let Some(first) = self.success(Test::MappingI).cloned() else {
            let note = match self.outcome(Test::MappingI) {
                Some(Outcome::Error { code }) => {
                    format!("{server} answered the binding request with error {code}")
                }
                Some(Outcome::UnknownAttributes(types)) => format!(
                    "{server} answered with comprehension-required attributes this client \
                     does not know ({types:04x?}): answer discarded (RFC 8489 §6.3.3)"
                ),
                _ => format!("no answer from {server}"),
            };
            return Observation {
                server,
                reachable: matches!(
                    self.outcome(Test::MappingI),
                    Some(Outcome::Error { .. } | Outcome::UnknownAttributes(_))
                ),
                rtt: None,
                local,
                mapped: None,
                other_address: None,
                behind_nat: None,
                mapping: None,
                filtering: None,
                hairpinning: None,
                port_preservation: None,
                allocation: None,
                behavior_capable: false,
                notes: vec![note],
            };
        };
        let behind_nat = first.mapped.map(|m| Some(m) != local);
        if let Some(rewritten) = first.alg_rewrite {
            notes.push(format!(
                "MAPPED-ADDRESS ({rewritten}) differs from XOR-MAPPED-ADDRESS: \
                 an application-level gateway on the path rewrites addresses"
            ));
        }
        let other_address = first.other_address;
        match other_address {
            None => notes.push(format!(
                "{server} sent no OTHER-ADDRESS: it cannot run RFC 5780 behaviour tests"
            )),
            Some(o) if !usable_alternate(server, o) => notes.push(format!(
                "{server} gave OTHER-ADDRESS {o}, which does not differ in both address \
                 and port: it cannot run RFC 5780 behaviour tests"
            )),
            Some(_) => {}
        }
        let mapping = self.mapping_behavior(&first, &mut notes);
        let filtering = self.filtering_behavior(&mut notes);
        let alternates_answered =
            self.success(Test::MappingII).is_some() && self.success(Test::MappingIII).is_some();
        let change_refused = notes.iter().any(|n| n.contains("CHANGE-REQUEST"));
        let hairpinning = if self.hairpin_seen {
            Some(true)
        } else {
            matches!(self.outcome(Test::Hairpin), Some(Outcome::TimedOut)).then_some(false)
        };
        let samples = self.allocation_samples(&first);
        Observation {
            server,
            reachable: true,
            rtt: Some(first.rtt),
            local,
            mapped: first.mapped,
            other_address,
            behind_nat,
            mapping,
            filtering,
            hairpinning,
            port_preservation: (!samples.is_empty())
                .then(|| samples.iter().all(|(_, l, m)| l == m)),
            allocation: PortAllocation::classify(&samples),
            behavior_capable: alternates_answered && !change_refused,
            notes,
        }
    }

    /// RFC 5780 §4.3: compare the mappings seen by the primary, the alternate
    /// address, and the alternate address and port.
    fn mapping_behavior(
        &self,
        first: &BindingResponse,
        notes: &mut Vec<String>,
    ) -> Option<MappingBehavior> {
        let ii = self.success(Test::MappingII);
        let iii = self.success(Test::MappingIII);
        match (
            first.mapped,
            ii.and_then(|r| r.mapped),
            iii.and_then(|r| r.mapped),
        ) {
            (Some(m1), Some(m2), _) if m1 == m2 => Some(MappingBehavior::EndpointIndependent),
            (Some(_), Some(m2), Some(m3)) if m2 == m3 => Some(MappingBehavior::AddressDependent),
            (Some(_), Some(_), Some(_)) => Some(MappingBehavior::AddressAndPortDependent),
            _ => {
                if !self.tests.iter().any(|p| p.test == Test::MappingII) {
                    return None;
                }
                let unanswered = self.unanswered(&[Test::MappingII, Test::MappingIII]);
                // An answer to CHANGE-REQUEST from the alternate shows the
                // server works and only the way there is closed.
                let heard = self
                    .success(Test::FilteringChangeAddressAndPort)
                    .map(|r| r.source);
                notes.push(match heard {
                    Some(alternate) => format!(
                        "requests to the server's alternate endpoints ({unanswered}) went \
                         unanswered, though its answers from {alternate} arrived: requests \
                         to the alternate are lost on the way. Mapping behaviour not measured \
                         (RFC 5780 §4.3 needs requests to the alternate); filtering measured \
                         from its answers alone (§4.4)"
                    ),
                    None => format!(
                        "the server's alternate endpoints ({unanswered}) did not answer: \
                         mapping behaviour not measured"
                    ),
                });
                None
            }
        }
    }

    /// RFC 5780 §4.4: an answer from a new address and port means
    /// endpoint-independent filtering, from a new port only address-dependent,
    /// none at all address-and-port-dependent — provided the server really
    /// honours CHANGE-REQUEST.
    ///
    /// The tests need no request to the alternate address, only its answers,
    /// so they measure even when Tests II and III cannot. A missing answer
    /// from the alternate counts, though, only once the alternate has shown
    /// it can reach this host (Test III answered): else a NAT that filters it
    /// cannot be told from an alternate that sends nothing.
    fn filtering_behavior(&self, notes: &mut Vec<String>) -> Option<FilteringBehavior> {
        let tests = [
            Test::FilteringChangeAddressAndPort,
            Test::FilteringChangePort,
        ];
        if !self.tests.iter().any(|p| p.test == tests[0]) {
            return None;
        }
        for p in self.tests.iter().filter(|p| tests.contains(&p.test)) {
            if let Some(Outcome::Error { code }) = p.transaction.outcome() {
                notes.push(format!(
                    "the server refused CHANGE-REQUEST (error {code}): filtering behaviour unknown"
                ));
                return None;
            }
            if let Some(wrong) = p.transaction.wrong_sources().first() {
                notes.push(format!(
                    "the server answered a CHANGE-REQUEST from {wrong} instead of {}: \
                     it does not honour CHANGE-REQUEST, filtering behaviour unknown",
                    p.transaction.destination()
                ));
                return None;
            }
        }
        // A negative result counts only once its test has run its full
        // schedule: a test cut short proves nothing.
        let timed_out = |t| matches!(self.outcome(t), Some(Outcome::TimedOut));
        if self.success(tests[0]).is_some() {
            Some(FilteringBehavior::EndpointIndependent)
        } else if !timed_out(tests[0]) {
            None
        } else if self.success(Test::MappingIII).is_none() {
            notes.push(format!(
                "nothing came from the server's alternate endpoint ({}), neither an answer \
                 to CHANGE-REQUEST nor one to a request sent to it: a NAT that filters it \
                 cannot be told from an alternate that cannot reach this host. Filtering \
                 behaviour not measured",
                self.unanswered(&[Test::MappingIII])
            ));
            None
        } else if self.success(tests[1]).is_some() {
            Some(FilteringBehavior::AddressDependent)
        } else if timed_out(tests[1]) {
            Some(FilteringBehavior::AddressAndPortDependent)
        } else {
            None
        }
    }

    fn unanswered(&self, tests: &[Test]) -> String {
        let list: Vec<String> = self
            .tests
            .iter()
            .filter(|p| {
                tests.contains(&p.test)
                    && !matches!(p.transaction.outcome(), Some(Outcome::Success(_)))
            })
            .map(|p| p.transaction.destination().to_string())
            .collect();
        list.join(", ")
    }

    /// `(position, local port, mapped port)` of Test I and the burst, in the
    /// order their first requests left.
    fn allocation_samples(&self, first: &BindingResponse) -> Vec<(u32, u16, u16)> {
        let mut samples = Vec::new();
        if let (Some(local), Some(mapped)) = (self.binds.local(MAPPING), first.mapped) {
            samples.push((0, local.port(), mapped.port()));
        }
        for p in &self.tests {
            if let (Test::Burst(i), Some(Outcome::Success(r))) = (p.test, p.transaction.outcome()) {
                let local = self.binds.local(p.socket);
                if let (Some(local), Some(mapped)) = (local, r.mapped) {
                    samples.push((u32::from(i) + 1, local.port(), mapped.port()));
                }
            }
        }
        samples
    }
}

impl Machine for Discovery {
    /// Every socket is a fresh port toward the server.
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        self.binds.poll()
    }

    /// Once every socket is bound, the tests start.
    fn handle_bound(&mut self, now: Instant, socket: SocketId, local: SocketAddr) {
        if self.binds.bound(socket, local) {
            self.start(now);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.tests
            .iter()
            .filter_map(|p| p.transaction.poll_timeout())
            .min()
    }

    fn is_done(&self) -> bool {
        self.observation.is_some()
    }

    /// Ends the discovery now (the caller's time limit): what was measured
    /// is kept, and every test still running counts as not measured, never
    /// as unanswered.
    fn cut_short(&mut self) {
        if self.observation.is_none() {
            let mut observation = self.conclude();
            if self.tests.iter().any(|p| p.transaction.outcome().is_none()) {
                observation.notes.push(format!(
                    "the time limit ended the tests against {} before all were answered",
                    self.config.server
                ));
            }
            self.observation = Some(observation);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        for p in &mut self.tests {
            p.transaction.handle_timeout(now);
        }
        self.advance(now);
    }

    fn handle_input(&mut self, now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        let Ok(datagram) = Datagram::parse(bytes) else {
            return;
        };
        if socket == MAPPING && datagram.is_binding_request() {
            self.check_hairpin(&datagram);
        } else {
            for p in self.tests.iter_mut().filter(|p| p.socket == socket) {
                if p.transaction.handle_response(now, from, &datagram) != Offer::NotMine {
                    break;
                }
            }
        }
        self.advance(now);
    }
}

/// RFC 5780 §7.4: OTHER-ADDRESS must differ from the primary in both address
/// and port, and be of the same family.
fn usable_alternate(primary: SocketAddr, other: SocketAddr) -> bool {
    other.ip() != primary.ip()
        && other.port() != primary.port()
        && other.is_ipv4() == primary.is_ipv4()
}

#[cfg(test)]
mod tests;
