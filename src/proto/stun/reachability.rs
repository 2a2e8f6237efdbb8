//! Proof that a port mapping admits packets from the Internet, as a sans-IO
//! machine.
//!
//! Two local sockets take part: [`MAPPED`], the socket a gateway (UPnP, PCP
//! or NAT-PMP) mapped external port `P` to, and [`QUERY`], a fresh one. It
//! sends a Binding request carrying RESPONSE-PORT `P` (RFC 5780 §7.5); the
//! server answers to `P` at the request's source address, which is the
//! NAT's public address. [`MAPPED`] has never sent anything to the server, so
//! no NAT state of its own can let the answer in: if it arrives there, it
//! came through the mapping.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use stun_types::message::TransactionId;
use stun_types::message::{BINDING, Message, MessageClass, MessageType, MessageWriteVec};
use stun_types::prelude::*;

use super::{ClientTransaction, Datagram, Outcome, ResponsePort, Schedule};
use crate::proto::machine::{Bind, Machine, SocketId, Transmit};

/// The socket the gateway mapped the external port to; a driver hands the
/// test that socket rather than a fresh one.
pub const MAPPED: SocketId = SocketId(0);
/// The socket that sends the request.
pub const QUERY: SocketId = SocketId(1);

/// How the test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reachability {
    /// The answer came in through the mapping. `public` is the request's
    /// source as the server saw it: the address the Internet sees.
    Reached { public: Option<SocketAddr> },
    /// The server answered to the request's own port: it ignores
    /// RESPONSE-PORT, so the mapping could not be tested through it.
    ResponsePortIgnored { public: Option<SocketAddr> },
    /// The server refused the request (420 means it does not know
    /// RESPONSE-PORT, RFC 5780 §7.5).
    Refused { code: u16 },
    /// Nothing came back through the mapping.
    NotReached,
}

/// One RESPONSE-PORT test against one server.
#[derive(Debug)]
pub struct ReachabilityTest {
    /// Where [`MAPPED`] and [`QUERY`] were bound.
    mapped: Option<SocketAddr>,
    query: Option<SocketAddr>,
    /// How many sockets were asked for.
    asked: u8,
    transmits: VecDeque<Transmit>,
    transaction: ClientTransaction,
    external_port: u16,
    outcome: Option<Reachability>,
}

impl ReachabilityTest {
    /// A test of external port `external_port`, through `server`.
    pub fn new(
        id: TransactionId,
        server: SocketAddr,
        external_port: u16,
        schedule: Schedule,
        now: Instant,
    ) -> Self {
        let mut request = Message::builder(
            MessageType::from_class_method(MessageClass::Request, BINDING),
            id,
            MessageWriteVec::new(),
        );
        // Adding a 4-byte attribute to an empty message cannot fail.
        let _ = request.add_attribute(&ResponsePort(external_port));
        Self {
            mapped: None,
            query: None,
            asked: 0,
            transmits: VecDeque::new(),
            transaction: ClientTransaction::new(
                id,
                request.finish(),
                server,
                server,
                schedule,
                now,
            ),
            external_port,
            outcome: None,
        }
    }

    pub fn external_port(&self) -> u16 {
        self.external_port
    }

    pub fn server(&self) -> SocketAddr {
        self.transaction.destination()
    }

    pub fn outcome(&self) -> Option<&Reachability> {
        self.outcome.as_ref()
    }

    /// Queues the request when the schedule says so.
    fn flush(&mut self, now: Instant) {
        if self.outcome.is_some() || self.mapped.is_none() || self.query.is_none() {
            return;
        }
        let destination = self.transaction.destination();
        while let Some(payload) = self.transaction.poll_transmit(now) {
            self.transmits.push_back(Transmit {
                socket: QUERY,
                destination,
                payload: payload.to_vec(),
            });
        }
    }
}

impl Machine for ReachabilityTest {
    /// [`MAPPED`] first (a driver gives the mapped socket itself), then
    /// [`QUERY`], a fresh port on the same host address, so that the
    /// request leaves from the address the mapping belongs to.
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        match (self.asked, self.mapped) {
            (0, _) => {
                self.asked = 1;
                Some((MAPPED, Bind::Toward(self.transaction.destination())))
            }
            (1, Some(mapped)) => {
                self.asked = 2;
                Some((QUERY, Bind::At(SocketAddr::new(mapped.ip(), 0))))
            }
            _ => None,
        }
    }

    fn handle_bound(&mut self, now: Instant, socket: SocketId, local: SocketAddr) {
        match socket {
            MAPPED => self.mapped = Some(local),
            QUERY => self.query = Some(local),
            _ => return,
        }
        self.flush(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.outcome.is_some() {
            return None;
        }
        self.transaction.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.transaction.handle_timeout(now);
        if self.outcome.is_none() && self.transaction.outcome() == Some(&Outcome::TimedOut) {
            self.outcome = Some(Reachability::NotReached);
        }
        self.flush(now);
    }

    /// Offers a datagram that arrived on `socket` from `from`; anything
    /// that is not this test's answer is ignored.
    fn handle_input(&mut self, now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        if self.outcome.is_some() {
            return;
        }
        let Ok(datagram) = Datagram::parse(bytes) else {
            return;
        };
        if self.transaction.handle_response(now, from, &datagram) != super::Offer::Accepted {
            return;
        }
        self.outcome = Some(match self.transaction.outcome() {
            Some(Outcome::Success(r)) if socket == MAPPED => {
                Reachability::Reached { public: r.mapped }
            }
            Some(Outcome::Success(r)) => Reachability::ResponsePortIgnored { public: r.mapped },
            Some(Outcome::Error { code }) => Reachability::Refused { code: *code },
            Some(Outcome::UnknownAttributes(_)) => Reachability::Refused { code: 0 },
            Some(Outcome::TimedOut) | None => Reachability::NotReached,
        });
    }

    fn is_done(&self) -> bool {
        self.outcome.is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use stun_types::attribute::{ErrorCode, XorMappedAddress};

    use super::*;

    const SERVER: &str = "198.51.100.10:3478";
    const PUBLIC: &str = "203.0.113.1:40000";

    fn schedule() -> Schedule {
        Schedule {
            rto: Duration::from_millis(100),
            transmissions: 3,
            backoff: true,
            last_wait: Duration::from_millis(400),
        }
    }

    fn test(now: Instant) -> ReachabilityTest {
        let mut t = ReachabilityTest::new(
            TransactionId::from(7u128),
            SERVER.parse().unwrap(),
            41000,
            schedule(),
            now,
        );
        let mapped: SocketAddr = "10.0.0.2:40000".parse().unwrap();
        assert_eq!(
            t.poll_bind(),
            Some((MAPPED, Bind::Toward(SERVER.parse().unwrap())))
        );
        assert_eq!(
            t.poll_bind(),
            None,
            "the query socket waits for the mapped one"
        );
        t.handle_bound(now, MAPPED, mapped);
        assert_eq!(
            t.poll_bind(),
            Some((QUERY, Bind::At("10.0.0.2:0".parse().unwrap())))
        );
        assert!(t.poll_transmit().is_none(), "nothing before both are bound");
        t.handle_bound(now, QUERY, "10.0.0.2:40007".parse().unwrap());
        t
    }

    /// The request the test sends, from [`QUERY`] to the server.
    fn request(t: &mut ReachabilityTest) -> Vec<u8> {
        let sent = t.poll_transmit().unwrap();
        assert_eq!(sent.socket, QUERY);
        assert_eq!(sent.destination, SERVER.parse().unwrap());
        sent.payload
    }

    fn answer(request: &[u8], error: Option<u16>) -> Vec<u8> {
        let request = Message::from_bytes(request).unwrap();
        let class = if error.is_some() {
            MessageClass::Error
        } else {
            MessageClass::Success
        };
        let mut reply = Message::builder(
            MessageType::from_class_method(class, BINDING),
            request.transaction_id(),
            MessageWriteVec::new(),
        );
        match error {
            Some(code) => reply
                .add_attribute(&ErrorCode::builder(code).build().unwrap())
                .unwrap(),
            None => reply
                .add_attribute(&XorMappedAddress::new(
                    PUBLIC.parse().unwrap(),
                    request.transaction_id(),
                ))
                .unwrap(),
        }
        reply.finish()
    }

    #[test]
    fn the_request_asks_for_the_mapped_port() {
        let now = Instant::now();
        let mut t = test(now);
        let request = request(&mut t);
        let message = Message::from_bytes(&request).unwrap();
        assert_eq!(
            message.attribute::<ResponsePort>().unwrap(),
            ResponsePort(41000)
        );
        assert!(t.poll_transmit().is_none(), "one transmission at a time");
    }

    #[test]
    fn an_answer_on_the_mapped_socket_proves_the_mapping() {
        let now = Instant::now();
        let mut t = test(now);
        let request = request(&mut t);
        t.handle_input(
            now,
            MAPPED,
            SERVER.parse().unwrap(),
            &answer(&request, None),
        );
        assert_eq!(
            t.outcome(),
            Some(&Reachability::Reached {
                public: Some(PUBLIC.parse().unwrap())
            })
        );
        assert_eq!(t.poll_timeout(), None);
    }

    #[test]
    fn an_answer_on_the_query_socket_means_the_server_ignored_response_port() {
        let now = Instant::now();
        let mut t = test(now);
        let request = request(&mut t);
        t.handle_input(now, QUERY, SERVER.parse().unwrap(), &answer(&request, None));
        assert!(matches!(
            t.outcome(),
            Some(Reachability::ResponsePortIgnored { .. })
        ));
    }

    #[test]
    fn a_420_is_a_refusal_not_a_verdict_on_the_mapping() {
        let now = Instant::now();
        let mut t = test(now);
        let request = request(&mut t);
        t.handle_input(
            now,
            QUERY,
            SERVER.parse().unwrap(),
            &answer(&request, Some(420)),
        );
        assert_eq!(t.outcome(), Some(&Reachability::Refused { code: 420 }));
    }

    #[test]
    fn answers_from_elsewhere_and_garbage_are_ignored() {
        let now = Instant::now();
        let mut t = test(now);
        let request = request(&mut t);
        t.handle_input(
            now,
            MAPPED,
            "198.51.100.99:3478".parse().unwrap(),
            &answer(&request, None),
        );
        t.handle_input(now, MAPPED, SERVER.parse().unwrap(), &[0u8; 3]);
        t.handle_input(
            now,
            MAPPED,
            SERVER.parse().unwrap(),
            &request[..request.len() - 1],
        );
        assert_eq!(t.outcome(), None);
    }

    #[test]
    fn silence_ends_as_not_reached_after_the_schedule() {
        let start = Instant::now();
        let mut t = test(start);
        let mut sent = 0;
        let mut now = start;
        while t.outcome().is_none() {
            while t.poll_transmit().is_some() {
                sent += 1;
            }
            now = t.poll_timeout().unwrap();
            t.handle_timeout(now);
        }
        assert_eq!(sent, 3);
        assert_eq!(t.outcome(), Some(&Reachability::NotReached));
        assert_eq!(now - start, schedule().give_up_after());
    }
}
