//! The shape every sans-IO machine shares: socket ids, the one transmit
//! type, the bind phase and the [`Machine`] trait that drivers run.
//!
//! A machine never opens a socket or reads a clock. It asks for sockets
//! ([`Machine::poll_bind`]), learns where each was bound
//! ([`Machine::handle_bound`]), and from then on is fed datagrams and timer
//! expiries. After every input the driver drains [`Machine::poll_transmit`]
//! and sleeps until [`Machine::poll_timeout`]; the machine says when it is
//! done. The same machine runs over tokio sockets (`io::driver`), in the
//! simulated world (`sim::world`) and in the test bed.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// Identifies one of a machine's local sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u16);

/// Where a socket is to be bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bind {
    /// A fresh ephemeral port on the local address that routes toward this
    /// destination (a client's socket).
    Toward(SocketAddr),
    /// Exactly this local endpoint (a server's socket); port 0 asks for a
    /// fresh port on that address.
    At(SocketAddr),
    /// A stream (TCP) connection to this endpoint. Its input arrives as
    /// chunks in order, however the stream cut them; a transmit on it is
    /// written to the stream whatever its destination says.
    Connect(SocketAddr),
    /// A stream (TCP) connection to this endpoint from the local endpoint
    /// of the machine's stream socket named second (RFC 5780 §4.3 asks
    /// the same local address and port of every mapping test; RFC 5382
    /// mappings are per local endpoint). Every stream connection is made
    /// so that another can share its endpoint.
    ConnectFrom(SocketAddr, SocketId),
    /// A stream (TCP) listener on exactly this local endpoint (port 0: a
    /// fresh port). Nothing arrives on the listener itself: each connection
    /// it accepts is offered to [`Machine::handle_accept`], which names the
    /// socket that connection is from then on.
    Listen(SocketAddr),
}

/// A datagram the driver must send from one of the machine's sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub socket: SocketId,
    pub destination: SocketAddr,
    pub payload: Vec<u8>,
}

/// A sans-IO machine as every driver sees it.
///
/// The run-loop contract: bind every socket the machine asks for, then
/// loop: bind what it asks for now and close what it gives up, send
/// everything [`Machine::poll_transmit`] gives, stop when
/// [`Machine::is_done`], otherwise wait for a datagram
/// ([`Machine::handle_input`]) or the instant [`Machine::poll_timeout`]
/// names ([`Machine::handle_timeout`]). A driver with a time limit of its
/// own calls [`Machine::cut_short`] when it comes.
pub trait Machine: std::any::Any {
    /// The next socket to bind, and where.
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)>;
    /// `socket` was bound to `local`.
    fn handle_bound(&mut self, now: Instant, socket: SocketId, local: SocketAddr);
    /// A socket asked for after the start could not be bound (the sockets
    /// of the start are the driver's to fail on).
    fn handle_bind_failed(&mut self, now: Instant, socket: SocketId) {
        let _ = (now, socket);
    }
    /// A socket the machine is done with, for the driver to close.
    fn poll_close(&mut self) -> Option<SocketId> {
        None
    }
    /// A listener (`Bind::Listen`) accepted a connection from `remote`:
    /// the machine names the socket the stream becomes, or refuses it
    /// (`None`: the driver closes it at once). The stream then behaves as a
    /// `Bind::Connect` socket does: its bytes arrive in order on that
    /// socket, a transmit on it is written to it, [`Machine::poll_close`]
    /// closes it and [`Machine::handle_closed`] says the other end did. The
    /// id must not name a socket the machine already has.
    fn handle_accept(
        &mut self,
        now: Instant,
        listener: SocketId,
        remote: SocketAddr,
    ) -> Option<SocketId> {
        let _ = (now, listener, remote);
        None
    }
    /// A datagram arrived on `socket` from `from`.
    fn handle_input(&mut self, now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]);
    /// Whether the machine's client sockets ([`Bind::Toward`]) report ICMP
    /// errors ([`Machine::handle_unreachable`]). The kernel hands an error
    /// to whichever call on the socket comes next, so a send may fail in
    /// its stead: a machine that keeps sending to many destinations, some
    /// of them dead (a punch), does better without.
    fn hears_unreachable(&self) -> bool {
        false
    }
    /// A datagram `socket` sent to `destination` drew an ICMP "port
    /// unreachable" (RFC 792 type 3 code 3, RFC 4443 type 1 code 4):
    /// nothing listens there, so no answer will come. Only the client
    /// sockets of a machine that [`Machine::hears_unreachable`] hear of
    /// it. RFC 1122 §4.1.3.3: UDP passes ICMP errors up to the application.
    fn handle_unreachable(&mut self, now: Instant, socket: SocketId, destination: SocketAddr) {
        let _ = (now, socket, destination);
    }
    /// A stream socket was closed by the other end or failed. Datagram
    /// sockets never close.
    fn handle_closed(&mut self, now: Instant, socket: SocketId) {
        let _ = (now, socket);
    }
    /// The instant [`Machine::poll_timeout`] named has come.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// When the machine next needs [`Machine::handle_timeout`].
    fn poll_timeout(&self) -> Option<Instant>;
    /// The machine has reached its end; a server never has.
    fn is_done(&self) -> bool;
    /// The caller's time limit has come: conclude now from what was
    /// measured. Machines without a conclusion of their own ignore it.
    fn cut_short(&mut self) {}
}

/// The bind phase of a machine that works from several sockets: it asks
/// for each in turn, records where each was bound, and starts once the last
/// one is.
#[derive(Debug, Clone)]
pub struct Binds {
    pending: VecDeque<(SocketId, Bind)>,
    locals: Vec<Option<SocketAddr>>,
    started: bool,
}

impl Binds {
    /// Sockets `0..count`, each a fresh port toward `destination`.
    pub fn toward(count: usize, destination: SocketAddr) -> Self {
        Self::new((0..count).map(|_| Bind::Toward(destination)))
    }

    /// One socket per entry of `binds`, numbered in order.
    pub fn new(binds: impl IntoIterator<Item = Bind>) -> Self {
        let pending: VecDeque<(SocketId, Bind)> = binds
            .into_iter()
            .enumerate()
            .map(|(i, b)| (SocketId(u16::try_from(i).unwrap_or(u16::MAX)), b))
            .collect();
        Self {
            locals: vec![None; pending.len()],
            pending,
            started: false,
        }
    }

    /// The next socket the driver must bind.
    pub fn poll(&mut self) -> Option<(SocketId, Bind)> {
        self.pending.pop_front()
    }

    /// Records where `socket` was bound; true exactly once: when this was
    /// the last socket, so that the machine starts.
    pub fn bound(&mut self, socket: SocketId, local: SocketAddr) -> bool {
        if let Some(slot) = self.locals.get_mut(usize::from(socket.0)) {
            *slot = Some(local);
        }
        if self.started || self.locals.iter().any(Option::is_none) {
            return false;
        }
        self.started = true;
        true
    }

    /// Whether every socket is bound.
    pub fn all_bound(&self) -> bool {
        self.started
    }

    /// Where `socket` was bound.
    pub fn local(&self, socket: SocketId) -> Option<SocketAddr> {
        self.locals.get(usize::from(socket.0)).copied().flatten()
    }

    /// The number of sockets.
    pub fn count(&self) -> usize {
        self.locals.len()
    }
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_starts_once_when_the_last_socket_is_bound() {
        let server: SocketAddr = "198.51.100.1:3478".parse().unwrap();
        let mut binds = Binds::toward(2, server);
        assert_eq!(binds.poll(), Some((SocketId(0), Bind::Toward(server))));
        assert_eq!(binds.poll(), Some((SocketId(1), Bind::Toward(server))));
        assert_eq!(binds.poll(), None);
        let a: SocketAddr = "10.0.0.2:40000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:40007".parse().unwrap();
        assert!(!binds.bound(SocketId(1), b));
        assert!(!binds.all_bound());
        assert!(binds.bound(SocketId(0), a));
        assert!(!binds.bound(SocketId(0), a), "starts only once");
        assert!(!binds.bound(SocketId(9), a), "an unknown socket is ignored");
        assert_eq!(binds.local(SocketId(1)), Some(b));
        assert_eq!(binds.local(SocketId(9)), None);
        assert!(binds.all_bound());
    }
}
