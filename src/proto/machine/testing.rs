//! Two small machines for the tests of the stream vocabulary: a listener
//! that echoes each connection's bytes in capitals, and a caller.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use super::{Bind, Machine, SocketId, Transmit};

const LISTENER: SocketId = SocketId(0);

/// Echoes in capitals on every connection it accepts, up to `room`
/// connections; closes a connection that says `bye`.
pub struct Echo {
    /// Where it listens, once bound.
    pub at: SocketAddr,
    asked: bool,
    room: usize,
    pub accepted: Vec<(SocketId, SocketAddr)>,
    pub closed: Vec<SocketId>,
    transmits: VecDeque<Transmit>,
    closing: VecDeque<SocketId>,
}

impl Echo {
    pub fn new(at: SocketAddr, room: usize) -> Self {
        Self {
            at,
            asked: false,
            room,
            accepted: Vec::new(),
            closed: Vec::new(),
            transmits: VecDeque::new(),
            closing: VecDeque::new(),
        }
    }
}

impl Machine for Echo {
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        (!self.asked).then(|| {
            self.asked = true;
            (LISTENER, Bind::Listen(self.at))
        })
    }

    fn handle_bound(&mut self, _now: Instant, _socket: SocketId, local: SocketAddr) {
        self.at = local;
    }

    fn handle_accept(
        &mut self,
        _now: Instant,
        listener: SocketId,
        remote: SocketAddr,
    ) -> Option<SocketId> {
        assert_eq!(listener, LISTENER);
        if self.accepted.len() >= self.room {
            return None;
        }
        let id = SocketId(100 + u16::try_from(self.accepted.len()).ok()?);
        self.accepted.push((id, remote));
        Some(id)
    }

    fn poll_close(&mut self) -> Option<SocketId> {
        self.closing.pop_front()
    }

    fn handle_input(&mut self, _now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        if bytes.ends_with(b"bye") {
            self.closing.push_back(socket);
        }
        self.transmits.push_back(Transmit {
            socket,
            destination: from,
            payload: bytes.to_ascii_uppercase(),
        });
    }

    fn handle_closed(&mut self, _now: Instant, socket: SocketId) {
        self.closed.push(socket);
    }

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

/// Connects to `server`, says each of `lines`, and collects the answers
/// until the connection closes.
pub struct Caller {
    server: SocketAddr,
    asked: bool,
    lines: VecDeque<&'static [u8]>,
    /// Bytes said so far.
    said: usize,
    pub heard: Vec<u8>,
    pub closed: bool,
}

impl Caller {
    pub fn new(server: SocketAddr, lines: &[&'static [u8]]) -> Self {
        Self {
            server,
            asked: false,
            lines: lines.iter().copied().collect(),
            said: 0,
            heard: Vec::new(),
            closed: false,
        }
    }
}

impl Machine for Caller {
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        (!self.asked).then(|| {
            self.asked = true;
            (SocketId(0), Bind::Connect(self.server))
        })
    }

    fn handle_bound(&mut self, _now: Instant, _socket: SocketId, _local: SocketAddr) {}

    fn handle_input(&mut self, _now: Instant, _socket: SocketId, _from: SocketAddr, bytes: &[u8]) {
        self.heard.extend_from_slice(bytes);
    }

    fn handle_closed(&mut self, _now: Instant, _socket: SocketId) {
        self.closed = true;
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    /// One line at a time, each once the answer to the last is in.
    fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.closed || self.heard.len() < self.said {
            return None;
        }
        let line = self.lines.pop_front()?;
        self.said += line.len();
        Some(Transmit {
            socket: SocketId(0),
            destination: self.server,
            payload: line.to_vec(),
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn is_done(&self) -> bool {
        self.closed
    }
}
