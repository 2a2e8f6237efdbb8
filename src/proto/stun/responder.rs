//! A sans-IO RFC 5780 Binding responder: the logic of `ranat serve`.
//!
//! It answers Binding requests arriving on up to four local endpoints (two
//! addresses × two ports), honours CHANGE-REQUEST, RESPONSE-PORT and PADDING
//! (RFC 5780 §6.1), and answers RFC 3489 clients in their own dialect. It
//! only ever answers toward the requester's own address, and never with more
//! bytes than the RFCs require or the request brought.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use stun_types::attribute::{
    AttributeType, ErrorCode, Fingerprint, UnknownAttributes, XorMappedAddress,
};
use stun_types::message::{Message, MessageClass, MessageType, MessageWriteVec};
use stun_types::prelude::*;

use super::attributes::{
    ChangeRequest, ChangedAddress, MappedAddress, OtherAddress, Padding, ResponseOrigin,
    ResponsePort, SourceAddress,
};
use super::datagram::Datagram;
use crate::proto::machine::{Bind, Machine, SocketId, Transmit};

/// Where the responder listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponderConfig {
    /// The primary address and port.
    pub primary: SocketAddr,
    /// The alternate address and port (RFC 5780 §3); `None` runs in basic mode,
    /// with no OTHER-ADDRESS and no CHANGE-REQUEST.
    pub alternate: Option<SocketAddr>,
}

/// Why a configuration is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "the alternate address {alternate} must differ from the primary {primary} in both IP and port"
    )]
    NotDistinct {
        primary: SocketAddr,
        alternate: SocketAddr,
    },
    #[error("the primary {primary} and alternate {alternate} addresses must be of one family")]
    MixedFamilies {
        primary: SocketAddr,
        alternate: SocketAddr,
    },
}

impl ResponderConfig {
    /// Checks the RFC 5780 §3 requirements on the two endpoints.
    pub fn new(primary: SocketAddr, alternate: Option<SocketAddr>) -> Result<Self, ConfigError> {
        if let Some(alternate) = alternate {
            if primary.is_ipv4() != alternate.is_ipv4() {
                return Err(ConfigError::MixedFamilies { primary, alternate });
            }
            if primary.ip() == alternate.ip() || primary.port() == alternate.port() {
                return Err(ConfigError::NotDistinct { primary, alternate });
            }
        }
        Ok(Self { primary, alternate })
    }

    /// Every local endpoint the server must listen on: one in basic mode,
    /// four in full mode.
    pub fn endpoints(&self) -> Vec<SocketAddr> {
        match self.alternate {
            None => vec![self.primary],
            Some(alt) => vec![
                self.primary,
                SocketAddr::new(self.primary.ip(), alt.port()),
                SocketAddr::new(alt.ip(), self.primary.port()),
                alt,
            ],
        }
    }

    /// The endpoint a response leaves from when a request that arrived on
    /// `local` asks for the given changes; `None` in basic mode.
    fn changed(&self, local: SocketAddr, change: ChangeRequest) -> Option<SocketAddr> {
        let alt = self.alternate?;
        let other_ip = |ip: IpAddr| {
            if ip == alt.ip() {
                self.primary.ip()
            } else {
                alt.ip()
            }
        };
        let other_port = |port: u16| {
            if port == alt.port() {
                self.primary.port()
            } else {
                alt.port()
            }
        };
        let ip = if change.change_ip {
            other_ip(local.ip())
        } else {
            local.ip()
        };
        let port = if change.change_port {
            other_port(local.port())
        } else {
            local.port()
        };
        Some(SocketAddr::new(ip, port))
    }
}

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

/// How a request is answered.
enum Answer {
    Success {
        source: SocketAddr,
        destination: SocketAddr,
    },
    Error {
        code: u16,
        unknown: Vec<AttributeType>,
    },
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

    /// A datagram arrived on `local` from `from`.
    fn answer(&mut self, local: SocketAddr, from: SocketAddr, bytes: &[u8]) {
        let Ok(datagram) = Datagram::parse(bytes) else {
            self.stats.malformed += 1;
            return;
        };
        if !datagram.is_binding_request() {
            self.stats.ignored += 1;
            return;
        }
        self.stats.requests += 1;
        let Ok(message) = datagram.message() else {
            self.stats.malformed += 1;
            return;
        };
        let answer = self.decide(&message, local, from);
        let (source, destination, payload) = match answer {
            Answer::Success {
                source,
                destination,
            } => {
                self.stats.responses += 1;
                let payload = self.success(&datagram, &message, from, source);
                (source, destination, payload)
            }
            Answer::Error { code, unknown } => {
                self.stats.error_responses += 1;
                (local, from, error(&datagram, &message, code, &unknown))
            }
        };
        // Every source `decide` picks is one of the configured endpoints.
        if let Some(socket) = self.socket(source) {
            self.transmits.push_back(Transmit {
                socket,
                destination,
                payload,
            });
        }
    }

    fn decide(&self, message: &Message<'_>, local: SocketAddr, from: SocketAddr) -> Answer {
        let unknown: Vec<AttributeType> = message
            .iter_attributes()
            .map(|(_, raw)| raw.get_type())
            .filter(|t| {
                t.comprehension_required() && !KNOWN_REQUEST_ATTRIBUTES.contains(&t.value())
            })
            .collect();
        if !unknown.is_empty() {
            return Answer::Error {
                code: ErrorCode::UNKNOWN_ATTRIBUTE,
                unknown,
            };
        }
        let bad_request = Answer::Error {
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
                return Answer::Error {
                    code: ErrorCode::UNKNOWN_ATTRIBUTE,
                    unknown: vec![ChangeRequest::TYPE],
                };
            }
        };
        // RFC 5780 §7.5: the response goes to the request's source address;
        // only the port may be chosen, never another host.
        let destination = SocketAddr::new(from.ip(), response_port.unwrap_or(from.port()));
        Answer::Success {
            source,
            destination,
        }
    }

    fn success(
        &self,
        datagram: &Datagram<'_>,
        request: &Message<'_>,
        from: SocketAddr,
        source: SocketAddr,
    ) -> Vec<u8> {
        let mut out = response_builder(request, MessageClass::Success);
        let other = self.config.alternate.and_then(|_| {
            self.config.changed(
                source,
                ChangeRequest {
                    change_ip: true,
                    change_port: true,
                },
            )
        });
        // Writing into a growable buffer cannot fail for these attributes; a
        // failure would only drop an attribute, never panic.
        if datagram.is_classic() {
            // RFC 3489 §11.2: MAPPED-ADDRESS, SOURCE-ADDRESS, CHANGED-ADDRESS.
            let _ = out.add_attribute(&MappedAddress::new(from));
            let _ = out.add_attribute(&SourceAddress::new(source));
            if let Some(other) = other {
                let _ = out.add_attribute(&ChangedAddress::new(other));
            }
        } else {
            // RFC 8489 §14.2 and RFC 5780 §6.1.
            let _ = out.add_attribute(&XorMappedAddress::new(from, request.transaction_id()));
            let _ = out.add_attribute(&MappedAddress::new(from));
            let _ = out.add_attribute(&ResponseOrigin::new(source));
            if let Some(other) = other {
                let _ = out.add_attribute(&OtherAddress::new(other));
            }
        }
        if request.has_attribute(Padding::TYPE) {
            let _ = out.add_attribute(&Padding(padding_for(datagram.len(), out.len())));
        }
        finish(out, datagram, request)
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
        if let Some(local) = self.endpoint(socket) {
            self.answer(local, from, bytes);
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

/// RFC 5780 §6.1 asks for padding up to the path MTU; ranat pads only up to
/// the request's own size, so a padded answer is never larger than what the
/// requester sent.
fn padding_for(request_len: usize, response_len: usize) -> u16 {
    let room = request_len.saturating_sub(response_len + 4);
    (room - room % 4).min(usize::from(Padding::MAX)) as u16
}

fn response_builder(request: &Message<'_>, class: MessageClass) -> MessageWriteVec {
    let mtype = MessageType::from_class_method(class, request.method());
    Message::builder(mtype, request.transaction_id(), MessageWriteVec::new())
}

fn error(
    datagram: &Datagram<'_>,
    request: &Message<'_>,
    code: u16,
    unknown: &[AttributeType],
) -> Vec<u8> {
    let mut out = response_builder(request, MessageClass::Error);
    if let Ok(error) = ErrorCode::builder(code).build() {
        let _ = out.add_attribute(&error);
    }
    if !unknown.is_empty() {
        let _ = out.add_attribute(&UnknownAttributes::new(unknown));
    }
    finish(out, datagram, request)
}

/// Adds FINGERPRINT when the request had one (RFC 8489 §7.3: mirror the
/// client), and restores an RFC 3489 client's own transaction id.
fn finish(mut out: MessageWriteVec, datagram: &Datagram<'_>, request: &Message<'_>) -> Vec<u8> {
    if !datagram.is_classic() && request.has_attribute(Fingerprint::TYPE) {
        let _ = out.add_fingerprint();
    }
    let mut bytes = out.finish();
    if datagram.is_classic() {
        bytes[4..20].copy_from_slice(&datagram.wire_transaction());
    }
    bytes
}

#[cfg(test)]
mod tests;
