//! A sans-IO STUN client transaction (RFC 8489 §6.2.1): retransmits on a
//! schedule the caller chooses, matches answers by transaction id, and
//! ignores answers from sources the test did not ask for.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stun_types::attribute::XorMappedAddress;
use stun_types::message::{MessageClass, TransactionId};
use stun_types::prelude::Attribute;

use super::attributes::{ChangedAddress, MappedAddress, OtherAddress, ResponseOrigin};
use super::datagram::Datagram;

/// When to retransmit and when to give up.
///
/// Requests go out at 0, `rto`, `rto + rto·b`, … (b = 2 with `backoff`,
/// else 1) up to `transmissions` times; the transaction fails `last_wait`
/// after the final one (RFC 8489 §6.2.1, with Rc = `transmissions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub rto: Duration,
    pub transmissions: u32,
    pub backoff: bool,
    pub last_wait: Duration,
}

impl Schedule {
    /// The moment the transaction fails, relative to its start.
    pub fn give_up_after(&self) -> Duration {
        let mut at = Duration::ZERO;
        let mut rto = self.rto;
        for _ in 1..self.transmissions {
            at += rto;
            if self.backoff {
                rto *= 2;
            }
        }
        at + self.last_wait
    }
}

/// A successful answer, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingResponse {
    /// Where the answer came from on the wire.
    pub source: SocketAddr,
    /// XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS.
    pub mapped: Option<SocketAddr>,
    /// MAPPED-ADDRESS when it differs from XOR-MAPPED-ADDRESS: an ALG on the
    /// path rewrote the plain copy.
    pub alg_rewrite: Option<SocketAddr>,
    pub other_address: Option<SocketAddr>,
    pub response_origin: Option<SocketAddr>,
    /// Round trip from the first transmission.
    pub rtt: Duration,
}

/// How a transaction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success(BindingResponse),
    /// The server answered with an error response.
    Error {
        code: u16,
    },
    /// The answer carried comprehension-required attributes this client
    /// does not know: RFC 8489 §6.3.3 makes that a failed transaction.
    UnknownAttributes(Vec<u16>),
    /// No acceptable answer within the schedule.
    TimedOut,
}

/// What became of one datagram offered to a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Not this transaction's.
    NotMine,
    /// This transaction's id, but from a source the test did not ask for:
    /// ignored, and remembered as evidence.
    WrongSource,
    /// Accepted; the transaction is finished.
    Accepted,
}

/// The comprehension-required attributes a Binding response may carry that
/// this client understands (RFC 8489 §14, RFC 5780 §7, RFC 3489 §11.2).
const KNOWN_RESPONSE_ATTRIBUTES: [u16; 9] = [
    0x0001, // MAPPED-ADDRESS
    0x0004, // SOURCE-ADDRESS
    0x0005, // CHANGED-ADDRESS
    0x0006, // USERNAME
    0x0008, // MESSAGE-INTEGRITY
    0x0009, // ERROR-CODE
    0x000a, // UNKNOWN-ATTRIBUTES
    0x001c, // MESSAGE-INTEGRITY-SHA256
    0x0020, // XOR-MAPPED-ADDRESS
];

/// One request and its retransmissions.
#[derive(Debug)]
pub struct ClientTransaction {
    id: TransactionId,
    request: Vec<u8>,
    destination: SocketAddr,
    expected_source: SocketAddr,
    schedule: Schedule,
    started: Instant,
    next_send: Option<Instant>,
    sent: u32,
    rto: Duration,
    outcome: Option<Outcome>,
    wrong_sources: Vec<SocketAddr>,
}

impl ClientTransaction {
    /// A transaction for an encoded `request` with id `id`, sent to
    /// `destination`, whose answer must come from `expected_source`.
    pub fn new(
        id: TransactionId,
        request: Vec<u8>,
        destination: SocketAddr,
        expected_source: SocketAddr,
        schedule: Schedule,
        now: Instant,
    ) -> Self {
        Self {
            id,
            request,
            destination,
            expected_source,
            schedule,
            started: now,
            next_send: Some(now),
            sent: 0,
            rto: schedule.rto,
            outcome: None,
            wrong_sources: Vec::new(),
        }
    }

    pub fn id(&self) -> TransactionId {
        self.id
    }

    pub fn destination(&self) -> SocketAddr {
        self.destination
    }

    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Sources that answered with this transaction's id but were not the
    /// expected one.
    pub fn wrong_sources(&self) -> &[SocketAddr] {
        &self.wrong_sources
    }

    /// The request bytes to send now, if a (re)transmission is due.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<&[u8]> {
        let due = self.next_send.filter(|at| *at <= now)?;
        self.sent += 1;
        self.next_send = if self.sent < self.schedule.transmissions {
            let next = due + self.rto;
            if self.schedule.backoff {
                self.rto *= 2;
            }
            Some(next)
        } else {
            None
        };
        Some(&self.request)
    }

    /// The next moment this transaction needs attention.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.outcome.is_some() {
            return None;
        }
        Some(
            self.next_send
                .unwrap_or(self.started + self.schedule.give_up_after()),
        )
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.outcome.is_none()
            && self.next_send.is_none()
            && now >= self.started + self.schedule.give_up_after()
        {
            self.outcome = Some(Outcome::TimedOut);
        }
    }

    /// Offers a parsed datagram that arrived from `from`.
    pub fn handle_response(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &Datagram<'_>,
    ) -> Offer {
        if self.outcome.is_some()
            || datagram.is_classic()
            || datagram.transaction_id() != self.id
            || !datagram.is_response()
        {
            return Offer::NotMine;
        }
        let Ok(message) = datagram.message() else {
            return Offer::NotMine;
        };
        if from != self.expected_source {
            if !self.wrong_sources.contains(&from) {
                self.wrong_sources.push(from);
            }
            return Offer::WrongSource;
        }
        self.next_send = None;
        let unknown: Vec<u16> = message
            .iter_attributes()
            .map(|(_, raw)| raw.get_type())
            .filter(|t| {
                t.comprehension_required() && !KNOWN_RESPONSE_ATTRIBUTES.contains(&t.value())
            })
            .map(|t| t.value())
            .collect();
        self.outcome = Some(if !unknown.is_empty() {
            Outcome::UnknownAttributes(unknown)
        } else if message.has_class(MessageClass::Success) {
            let xor = message
                .attribute::<XorMappedAddress>()
                .ok()
                .map(|a| a.addr(self.id));
            let plain = message.attribute::<MappedAddress>().ok().map(|a| a.addr());
            Outcome::Success(BindingResponse {
                source: from,
                mapped: xor.or(plain),
                alg_rewrite: plain.filter(|p| xor.is_some_and(|x| x != *p)),
                // RFC 3489 servers (stund) name their alternate with
                // CHANGED-ADDRESS, the predecessor of OTHER-ADDRESS; the
                // behaviour tests still check that it really answers.
                other_address: message
                    .attribute::<OtherAddress>()
                    .map(|a| a.addr())
                    .or_else(|_| message.attribute::<ChangedAddress>().map(|a| a.addr()))
                    .ok(),
                response_origin: message.attribute::<ResponseOrigin>().ok().map(|a| a.addr()),
                rtt: now.saturating_duration_since(self.started),
            })
        } else {
            let code = message
                .attribute::<stun_types::attribute::ErrorCode>()
                .map(|e| e.code())
                .unwrap_or(0);
            Outcome::Error { code }
        });
        Offer::Accepted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::machine::{Machine, SocketId};
    use crate::proto::stun::{Responder, ResponderConfig};
    use stun_types::message::{BINDING, Message, MessageWriteVec};
    use stun_types::prelude::*;

    const SERVER: &str = "198.51.100.1:3478";

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn schedule() -> Schedule {
        Schedule {
            rto: Duration::from_millis(100),
            transmissions: 3,
            backoff: true,
            last_wait: Duration::from_millis(400),
        }
    }

    fn transaction(now: Instant) -> ClientTransaction {
        let id = TransactionId::from(0x1234_5678_9abc_def0_1122_3344u128);
        let req = Message::builder(
            stun_types::message::MessageType::from_class_method(MessageClass::Request, BINDING),
            id,
            MessageWriteVec::new(),
        )
        .finish();
        ClientTransaction::new(id, req, addr(SERVER), addr(SERVER), schedule(), now)
    }

    fn server_answer(request: &[u8], source_override: Option<&str>) -> (SocketAddr, Vec<u8>) {
        let mut r = Responder::new(
            ResponderConfig::new(addr(SERVER), Some(addr("198.51.100.2:3479"))).unwrap(),
        );
        let now = Instant::now();
        while let Some((socket, _)) = r.poll_bind() {
            r.handle_bound(now, socket, r.endpoint(socket).unwrap());
        }
        r.handle_input(now, SocketId(0), addr("203.0.113.5:6000"), request);
        let t = r.poll_transmit().unwrap();
        let source = r.endpoint(t.socket).unwrap();
        (source_override.map(addr).unwrap_or(source), t.payload)
    }

    #[test]
    fn retransmits_on_schedule_then_times_out() {
        let t0 = Instant::now();
        let mut t = transaction(t0);
        assert!(t.poll_transmit(t0).is_some());
        assert!(t.poll_transmit(t0).is_none());
        assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_millis(100)));
        let t1 = t0 + Duration::from_millis(100);
        assert!(t.poll_transmit(t1).is_some());
        assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_millis(300)));
        let t2 = t0 + Duration::from_millis(300);
        assert!(t.poll_transmit(t2).is_some());
        assert_eq!(schedule().give_up_after(), Duration::from_millis(700));
        assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_millis(700)));
        t.handle_timeout(t0 + Duration::from_millis(699));
        assert_eq!(t.outcome(), None);
        t.handle_timeout(t0 + Duration::from_millis(700));
        assert_eq!(t.outcome(), Some(&Outcome::TimedOut));
        assert_eq!(t.poll_timeout(), None);
    }

    #[test]
    fn accepts_the_answer_from_the_expected_source_only() {
        let t0 = Instant::now();
        let mut t = transaction(t0);
        let req = t.poll_transmit(t0).unwrap().to_vec();
        let (_, answer) = server_answer(&req, None);
        let d = Datagram::parse(&answer).unwrap();
        let later = t0 + Duration::from_millis(42);
        assert_eq!(
            t.handle_response(later, addr("198.51.100.66:3478"), &d),
            Offer::WrongSource
        );
        assert_eq!(t.outcome(), None);
        assert_eq!(t.wrong_sources(), &[addr("198.51.100.66:3478")]);
        assert_eq!(t.handle_response(later, addr(SERVER), &d), Offer::Accepted);
        let Some(Outcome::Success(r)) = t.outcome() else {
            panic!("expected success")
        };
        assert_eq!(r.mapped, Some(addr("203.0.113.5:6000")));
        assert_eq!(r.other_address, Some(addr("198.51.100.2:3479")));
        assert_eq!(r.rtt, Duration::from_millis(42));
        assert_eq!(r.alg_rewrite, None);
        // Retransmissions stop once answered.
        assert!(t.poll_transmit(t0 + Duration::from_secs(5)).is_none());
    }

    #[test]
    fn unknown_comprehension_required_attribute_fails_the_transaction() {
        let t0 = Instant::now();
        let mut t = transaction(t0);
        let req = t.poll_transmit(t0).unwrap().to_vec();
        let (_, mut answer) = server_answer(&req, None);
        // Append an attribute of type 0x7777 (comprehension-required).
        answer.extend_from_slice(&[0x77, 0x77, 0, 4, 1, 2, 3, 4]);
        let len = (answer.len() - 20) as u16;
        answer[2..4].copy_from_slice(&len.to_be_bytes());
        let d = Datagram::parse(&answer).unwrap();
        assert_eq!(t.handle_response(t0, addr(SERVER), &d), Offer::Accepted);
        assert_eq!(t.outcome(), Some(&Outcome::UnknownAttributes(vec![0x7777])));
    }

    #[test]
    fn ignores_other_transactions_and_requests() {
        let t0 = Instant::now();
        let mut t = transaction(t0);
        let other = Message::builder_request(BINDING, MessageWriteVec::new()).finish();
        let (_, answer) = server_answer(&other, None);
        let d = Datagram::parse(&answer).unwrap();
        assert_eq!(t.handle_response(t0, addr(SERVER), &d), Offer::NotMine);
        let req = t.poll_transmit(t0).unwrap().to_vec();
        let d = Datagram::parse(&req).unwrap();
        assert_eq!(t.handle_response(t0, addr(SERVER), &d), Offer::NotMine);
        assert_eq!(t.outcome(), None);
    }
}
