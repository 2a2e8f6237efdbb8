//! A sans-IO RFC 5780 Binding responder: the logic of `ranat serve`.
//!
//! It answers Binding requests arriving on up to four local endpoints (two
//! addresses × two ports), honours CHANGE-REQUEST, RESPONSE-PORT and PADDING
//! (RFC 5780 §6.1), and answers RFC 3489 clients in their own dialect. It
//! only ever answers toward the requester's own address, and never with more
//! bytes than the RFCs require or the request brought.
//!
//! Two ways in, one set of rules: as a [`Machine`] (its answers queued as
//! transmits), or [`Responder::answer_into`], which writes the answer into
//! the caller's buffer, as the server's workers do.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use stun_types::attribute::{AttributeType, ErrorCode};
use stun_types::message::Message;
use stun_types::prelude::*;

use super::attributes::{ChangeRequest, Padding, ResponsePort};
use super::datagram::Datagram;
use crate::proto::machine::{Bind, Machine, SocketId, Transmit};

mod config;
mod write;

pub use config::{ConfigError, ResponderConfig};
pub use write::MAX_ANSWER;

/// What the responder has seen, for the operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponderStats {
    pub requests: u64,
    pub responses: u64,
    pub error_responses: u64,
    /// Datagrams that were not well-formed STUN.
    pub malformed: u64,
    /// Well-formed STUN that is not a Binding request (responses, indications,
    /// other methods): dropped.
    pub ignored: u64,
}

impl std::ops::AddAssign for ResponderStats {
    /// Sums the counts of responders that share the work (one per thread).
    fn add_assign(&mut self, other: Self) {
        self.requests += other.requests;
        self.responses += other.responses;
        self.error_responses += other.error_responses;
        self.malformed += other.malformed;
        self.ignored += other.ignored;
    }
}

/// The attributes a request may carry that the responder understands or may
/// safely ignore; any other comprehension-required one earns a 420
/// (RFC 8489 §6.3.1.1).
const KNOWN_REQUEST_ATTRIBUTES: [u16; 7] = [
    0x0003, // CHANGE-REQUEST
    0x0006, // USERNAME (no authentication here: ignored)
    0x0008, // MESSAGE-INTEGRITY (ignored likewise)
    0x001c, // MESSAGE-INTEGRITY-SHA256 (ignored likewise)
    0x0026, // PADDING
    0x0027, // RESPONSE-PORT
    0x8028, // FINGERPRINT
];

/// The sans-IO responder. Its sockets are the endpoints of its
/// configuration, in the order of [`ResponderConfig::endpoints`].
#[derive(Debug)]
pub struct Responder {
    config: ResponderConfig,
    endpoints: Vec<SocketAddr>,
    /// How many sockets the driver was asked for so far.
    asked: usize,
    transmits: VecDeque<Transmit>,
    stats: ResponderStats,
}

/// How a request came: one in a datagram may be answered from another
/// endpoint or to another port; one on a stream only on that stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carried {
    Datagram,
    Stream,
}

/// How a request is answered.
enum Decision {
    Success {
        source: SocketAddr,
        destination: SocketAddr,
    },
    Error {
        code: u16,
        unknown: Vec<AttributeType>,
    },
}

/// An answer [`Responder::answer_into`] wrote: its first `len` bytes of the
/// buffer, to send from `socket` to `destination`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub socket: SocketId,
    pub destination: SocketAddr,
    pub len: usize,
}

impl Responder {
    pub fn new(config: ResponderConfig) -> Self {
        Self {
            endpoints: config.endpoints(),
            asked: 0,
            config,
            transmits: VecDeque::new(),
            stats: ResponderStats::default(),
        }
    }

    pub fn stats(&self) -> ResponderStats {
        self.stats
    }

    /// The local endpoint of `socket`.
    pub fn endpoint(&self, socket: SocketId) -> Option<SocketAddr> {
        self.endpoints.get(usize::from(socket.0)).copied()
    }

    fn socket(&self, endpoint: SocketAddr) -> Option<SocketId> {
        let i = self.endpoints.iter().position(|e| *e == endpoint)?;
        u16::try_from(i).ok().map(SocketId)
    }

    /// A datagram arrived on `socket` from `from`: writes the answer, if it
    /// earns one, into `out` instead of queueing a transmit. The rules are
    /// those of [`Machine::handle_input`], which answers through this.
    pub fn answer_into(
        &mut self,
        socket: SocketId,
        from: SocketAddr,
        bytes: &[u8],
        out: &mut [u8; MAX_ANSWER],
    ) -> Option<Reply> {
        let local = self.endpoint(socket)?;
        let (source, destination, len) = self.answer(local, from, bytes, out, Carried::Datagram)?;
        // Every source `decide` picks is one of the configured endpoints.
        Some(Reply {
            socket: self.socket(source)?,
            destination,
            len,
        })
    }

    /// A request that came over a stream (TCP, RFC 8489 §6.2.2) to
    /// endpoint `local` from `from`: writes the answer into `out` and
    /// returns its length. The answer goes back on that stream, so a
    /// request for another source (CHANGE-REQUEST) or port
    /// (RESPONSE-PORT) gets 400: no other endpoint can answer on this
    /// connection. OTHER-ADDRESS names `local`'s alternate, as over UDP.
    pub fn answer_stream(
        &mut self,
        local: SocketAddr,
        from: SocketAddr,
        bytes: &[u8],
        out: &mut [u8; MAX_ANSWER],
    ) -> Option<usize> {
        let (_, _, len) = self.answer(local, from, bytes, out, Carried::Stream)?;
        Some(len)
    }

    /// Answers a request that reached `local` from `from`: the answer's
    /// source, destination and length in `out`.
    fn answer(
        &mut self,
        local: SocketAddr,
        from: SocketAddr,
        bytes: &[u8],
        out: &mut [u8; MAX_ANSWER],
        carried: Carried,
    ) -> Option<(SocketAddr, SocketAddr, usize)> {
        let Ok(datagram) = Datagram::parse(bytes) else {
            self.stats.malformed += 1;
            return None;
        };
        if !datagram.is_binding_request() {
            self.stats.ignored += 1;
            return None;
        }
        self.stats.requests += 1;
        let Ok(message) = datagram.message() else {
            self.stats.malformed += 1;
            return None;
        };
        let decision = match self.decide(&message, local, from) {
            Decision::Success {
                source,
                destination,
            } if carried == Carried::Stream && (source != local || destination != from) => {
                Decision::Error {
                    code: ErrorCode::BAD_REQUEST,
                    unknown: Vec::new(),
                }
            }
            decision => decision,
        };
        Some(match decision {
            Decision::Success {
                source,
                destination,
            } => {
                self.stats.responses += 1;
                // OTHER-ADDRESS (RFC 5780 §7.4) and CHANGED-ADDRESS (RFC 3489
                // §11.2.3) name the endpoint the answer would have left from
                // had the request asked to change both IP and port: the
                // alternate of `local`, where the request arrived, whatever
                // this request asked and whichever endpoint answers it (as
                // stuntman does, and coturn and stund for requests to their
                // primary endpoint).
                let at = write::Addresses {
                    from,
                    source,
                    other: self.config.changed(local, ChangeRequest::new(true, true)),
                };
                let len = write::success(&datagram, &message, &at, out);
                (source, destination, len)
            }
            Decision::Error { code, unknown } => {
                self.stats.error_responses += 1;
                let len = write::error(&datagram, &message, code, &unknown, out);
                (local, from, len)
            }
        })
    }

    fn decide(&self, message: &Message<'_>, local: SocketAddr, from: SocketAddr) -> Decision {
        let unknown: Vec<AttributeType> = message
            .iter_attributes()
            .map(|(_, raw)| raw.get_type())
            .filter(|t| {
                t.comprehension_required() && !KNOWN_REQUEST_ATTRIBUTES.contains(&t.value())
            })
            .collect();
        if !unknown.is_empty() {
            return Decision::Error {
                code: ErrorCode::UNKNOWN_ATTRIBUTE,
                unknown,
            };
        }
        let bad_request = Decision::Error {
            code: ErrorCode::BAD_REQUEST,
            unknown: Vec::new(),
        };
        let change = match message.raw_attribute(ChangeRequest::TYPE) {
            None => ChangeRequest::default(),
            Some(raw) => match ChangeRequest::from_raw_ref(&raw) {
                Ok(change) => change,
                Err(_) => return bad_request,
            },
        };
        let response_port = match message.raw_attribute(ResponsePort::TYPE) {
            None => None,
            Some(raw) => match ResponsePort::from_raw_ref(&raw) {
                Ok(ResponsePort(0)) | Err(_) => return bad_request,
                Ok(ResponsePort(port)) => Some(port),
            },
        };
        // RFC 5780 §6.1: PADDING together with RESPONSE-PORT is refused, so a
        // padded answer can never be aimed at another port.
        if response_port.is_some() && message.has_attribute(Padding::TYPE) {
            return bad_request;
        }
        let wants_change = change.change_ip || change.change_port;
        let source = match self.config.changed(local, change) {
            Some(source) => source,
            None if !wants_change => local,
            // RFC 5780 §6.1: a server without an alternate address answers a
            // CHANGE-REQUEST it cannot honour with 420.
            None => {
                return Decision::Error {
                    code: ErrorCode::UNKNOWN_ATTRIBUTE,
                    unknown: vec![ChangeRequest::TYPE],
                };
            }
        };
        // RFC 5780 §7.5: the response goes to the request's source address;
        // only the port may be chosen, never another host.
        let destination = SocketAddr::new(from.ip(), response_port.unwrap_or(from.port()));
        Decision::Success {
            source,
            destination,
        }
    }
}

impl Machine for Responder {
    /// Each configured endpoint, exactly.
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        let endpoint = *self.endpoints.get(self.asked)?;
        let socket = SocketId(u16::try_from(self.asked).ok()?);
        self.asked += 1;
        Some((socket, Bind::At(endpoint)))
    }

    fn handle_bound(&mut self, _now: Instant, _socket: SocketId, _local: SocketAddr) {}

    fn handle_input(&mut self, _now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        let mut out = [0; MAX_ANSWER];
        if let Some(reply) = self.answer_into(socket, from, bytes, &mut out) {
            self.transmits.push_back(Transmit {
                socket: reply.socket,
                destination: reply.destination,
                payload: out[..reply.len].to_vec(),
            });
        }
    }

    /// A responder keeps no timers.
    fn handle_timeout(&mut self, _now: Instant) {}

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn is_done(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
