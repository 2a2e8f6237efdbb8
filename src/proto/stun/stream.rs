//! STUN over TCP for `ranat serve` (RFC 8489 §6.2.2): a listener on each
//! endpoint given, and the [`Responder`]'s answers to the Binding requests
//! of each connection, so that a client can measure its NAT's TCP mapping
//! (RFC 5382; RFC 5780 §4.3 over streams).
//!
//! A connection is bounded: it is closed when it sends what is not STUN,
//! stays idle for [`IDLE`], or would exceed [`MAX_CONNECTIONS`] (the
//! listener's newest connection is refused then). Answers go back on the
//! connection the request came on, never elsewhere.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::responder::{MAX_ANSWER, Responder, ResponderConfig, ResponderStats};
use crate::proto::machine::{Bind, Machine, SocketId, Transmit};
use crate::proto::relay::framing::Framer;

/// How long a connection may stay silent before it is closed (RFC 8489
/// §6.2.2 leaves it to the server; clients send at once).
pub const IDLE: Duration = Duration::from_secs(10);

/// Connections held at once.
pub const MAX_CONNECTIONS: usize = 1024;

/// One accepted connection.
#[derive(Debug)]
struct Connection {
    local: SocketAddr,
    remote: SocketAddr,
    framer: Framer,
    idle_from: Instant,
}

/// The listeners and their connections; see the module documentation.
#[derive(Debug)]
pub struct StreamResponder {
    responder: Responder,
    listeners: Vec<SocketAddr>,
    asked: usize,
    connections: HashMap<SocketId, Connection>,
    next_id: u16,
    transmits: VecDeque<Transmit>,
    closes: VecDeque<SocketId>,
}

impl StreamResponder {
    /// Listens on `listeners`, answering as `config`'s responder does.
    pub fn new(config: ResponderConfig, listeners: Vec<SocketAddr>) -> Self {
        let first_stream = u16::try_from(listeners.len()).unwrap_or(u16::MAX);
        Self {
            responder: Responder::new(config),
            listeners,
            asked: 0,
            connections: HashMap::new(),
            next_id: first_stream,
            transmits: VecDeque::new(),
            closes: VecDeque::new(),
        }
    }

    pub fn stats(&self) -> ResponderStats {
        self.responder.stats()
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.connections.len()
    }

    /// The next socket id for a connection, past the listeners' and not in
    /// use.
    fn fresh_id(&mut self) -> Option<SocketId> {
        let first = u16::try_from(self.listeners.len()).ok()?;
        for _ in 0..=u16::MAX {
            let id = SocketId(self.next_id);
            self.next_id = self.next_id.checked_add(1).unwrap_or(first);
            if !self.connections.contains_key(&id) && usize::from(id.0) >= self.listeners.len() {
                return Some(id);
            }
        }
        None
    }

    fn close(&mut self, socket: SocketId) {
        if self.connections.remove(&socket).is_some() {
            self.closes.push_back(socket);
        }
    }
}

impl Machine for StreamResponder {
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        let at = *self.listeners.get(self.asked)?;
        let socket = SocketId(u16::try_from(self.asked).ok()?);
        self.asked += 1;
        Some((socket, Bind::Listen(at)))
    }

    fn handle_bound(&mut self, _now: Instant, _socket: SocketId, _local: SocketAddr) {}

    fn poll_close(&mut self) -> Option<SocketId> {
        self.closes.pop_front()
    }

    fn handle_accept(
        &mut self,
        now: Instant,
        listener: SocketId,
        remote: SocketAddr,
    ) -> Option<SocketId> {
        let local = *self.listeners.get(usize::from(listener.0))?;
        if self.connections.len() >= MAX_CONNECTIONS {
            return None;
        }
        let id = self.fresh_id()?;
        self.connections.insert(
            id,
            Connection {
                local,
                remote,
                framer: Framer::default(),
                idle_from: now,
            },
        );
        Some(id)
    }

    fn handle_input(&mut self, now: Instant, socket: SocketId, _from: SocketAddr, bytes: &[u8]) {
        let Some(c) = self.connections.get_mut(&socket) else {
            return;
        };
        c.idle_from = now;
        c.framer.push(bytes);
        let (local, remote) = (c.local, c.remote);
        loop {
            let Some(c) = self.connections.get_mut(&socket) else {
                return;
            };
            let frame = match c.framer.next_message() {
                Ok(Some(frame)) => frame,
                Ok(None) => return,
                Err(_) => {
                    self.close(socket);
                    return;
                }
            };
            let mut out = [0; MAX_ANSWER];
            match self
                .responder
                .answer_stream(local, remote, &frame, &mut out)
            {
                Some(len) => self.transmits.push_back(Transmit {
                    socket,
                    destination: remote,
                    payload: out[..len].to_vec(),
                }),
                // Not a Binding request, or not STUN: this is no STUN
                // client.
                None => {
                    self.close(socket);
                    return;
                }
            }
        }
    }

    fn handle_closed(&mut self, _now: Instant, socket: SocketId) {
        self.connections.remove(&socket);
    }

    fn handle_timeout(&mut self, now: Instant) {
        let idle: Vec<SocketId> = self
            .connections
            .iter()
            .filter(|(_, c)| now >= c.idle_from + IDLE)
            .map(|(id, _)| *id)
            .collect();
        for socket in idle {
            self.close(socket);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.connections.values().map(|c| c.idle_from + IDLE).min()
    }

    fn is_done(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
