//! Sockets a driver shares with another reader: it only sends from them,
//! and the reader hands over, through an [`Inlet`], the datagrams that are
//! the machine's.

use std::net::{SocketAddr, UdpSocket};

use tokio::sync::mpsc;

use super::Arrival;
use crate::proto::machine::{SocketId, Transmit};

/// The shared sockets: plain non-blocking ones, so that the driver's
/// runtime is not woken by the datagrams another reader takes.
#[derive(Debug, Default)]
pub(super) struct Shared(Vec<(SocketId, UdpSocket)>);

impl Shared {
    pub fn new(sockets: Vec<(SocketId, UdpSocket)>) -> Self {
        Self(sockets)
    }

    fn get(&self, id: SocketId) -> Option<&UdpSocket> {
        self.0.iter().find(|(s, _)| *s == id).map(|(_, s)| s)
    }

    /// The local address of shared socket `id`; `None` when `id` is not one.
    pub fn local_addr(&self, id: SocketId) -> Option<SocketAddr> {
        self.get(id)?.local_addr().ok()
    }

    /// Sends `t` when its socket is a shared one (without waiting: a full
    /// buffer loses the datagram); false when it is not.
    pub fn send(&self, t: &Transmit) -> bool {
        let Some(socket) = self.get(t.socket) else {
            return false;
        };
        let _ = socket.send_to(&t.payload, t.destination);
        true
    }
}

/// Hands datagrams to a driver's machine as if they had arrived on one of
/// its shared sockets (see [`super::Driver::bind_sharing`]).
#[derive(Debug, Clone)]
pub struct Inlet(mpsc::Sender<Arrival>);

impl Inlet {
    pub(super) fn new(arrivals: mpsc::Sender<Arrival>) -> Self {
        Self(arrivals)
    }

    /// `bytes` arrived on `socket` from `from`. Never waits: when the
    /// machine falls behind, the datagram is dropped, as a full socket
    /// buffer would drop it.
    pub fn deliver(&self, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        let _ = self
            .0
            .try_send(Arrival::Datagram(socket, from, bytes.to_vec()));
    }
}
