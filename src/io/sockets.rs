//! Fresh UDP sockets for a multi-socket machine (STUN discovery, Teredo
//! qualification, hole punching), each with a receiver task feeding one
//! channel, and the loop step that drives the machine over them.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::proto::nat::{Discovery, SocketId, Transmit};
use crate::proto::punch::Punch;
use crate::proto::teredo::Qualification;

/// Room for any datagram, so that an oversize one is seen whole and refused.
const RECV_BUFFER: usize = 65_536;

/// A machine that asks for fresh sockets before it starts, and is then
/// driven over them.
pub trait MultiSocket {
    fn poll_bind(&mut self) -> Option<SocketId>;
    fn handle_bound(&mut self, now: Instant, socket: SocketId, local: SocketAddr);
    fn poll_transmit(&mut self) -> Option<Transmit>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn handle_input(&mut self, now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]);
    fn handle_timeout(&mut self, now: Instant);
}

/// Forwards [`MultiSocket`] to the machines' own methods of those names.
macro_rules! multi_socket {
    ($($machine:ty),*) => {$(
        impl MultiSocket for $machine {
            fn poll_bind(&mut self) -> Option<SocketId> {
                <$machine>::poll_bind(self)
            }
            fn handle_bound(&mut self, now: Instant, socket: SocketId, local: SocketAddr) {
                <$machine>::handle_bound(self, now, socket, local);
            }
            fn poll_transmit(&mut self) -> Option<Transmit> {
                <$machine>::poll_transmit(self)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$machine>::poll_timeout(self)
            }
            fn handle_input(&mut self, now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
                <$machine>::handle_input(self, now, socket, from, bytes);
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$machine>::handle_timeout(self, now);
            }
        }
    )*};
}

multi_socket!(Discovery, Qualification, Punch);

/// A datagram that arrived on one of the set's sockets.
pub type Arrival = (SocketId, SocketAddr, Vec<u8>);

/// The sockets of one machine; dropping the set stops its receivers.
pub struct SocketSet {
    sockets: Vec<(SocketId, Arc<UdpSocket>)>,
    arrivals: mpsc::Receiver<Arrival>,
    _receivers: JoinSet<()>,
}

impl SocketSet {
    /// Binds a fresh port on `local_ip` for every socket `machine` asks
    /// for, and tells it each local address.
    pub async fn bind(local_ip: IpAddr, machine: &mut impl MultiSocket) -> io::Result<Self> {
        let mut sockets = Vec::new();
        while let Some(id) = machine.poll_bind() {
            let socket = UdpSocket::bind(SocketAddr::new(local_ip, 0)).await?;
            machine.handle_bound(Instant::now(), id, socket.local_addr()?);
            sockets.push((id, Arc::new(socket)));
        }
        let (tx, arrivals) = mpsc::channel(256);
        let mut receivers = JoinSet::new();
        for (id, socket) in &sockets {
            let (id, socket, tx) = (*id, Arc::clone(socket), tx.clone());
            receivers.spawn(async move {
                let mut buf = vec![0; RECV_BUFFER];
                loop {
                    // A receive error (an ICMP report) is a lost packet, not
                    // the end of the socket.
                    let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                        continue;
                    };
                    if tx.send((id, from, buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Self {
            sockets,
            arrivals,
            _receivers: receivers,
        })
    }

    /// Sends from socket `id`; a failed send is a lost packet, which the
    /// machines' schedules retransmit.
    pub async fn send(&self, id: SocketId, destination: SocketAddr, payload: &[u8]) {
        if let Some((_, socket)) = self.sockets.iter().find(|(s, _)| *s == id) {
            let _ = socket.send_to(payload, destination).await;
        }
    }

    /// Sends everything `machine` has queued.
    pub async fn send_queued(&self, machine: &mut impl MultiSocket) {
        while let Some(t) = machine.poll_transmit() {
            self.send(t.socket, t.destination, &t.payload).await;
        }
    }

    /// Waits for one datagram or `machine`'s next timer and hands it over;
    /// false, with nothing handed over, when `limit` comes first.
    pub async fn wait(
        &mut self,
        machine: &mut impl MultiSocket,
        limit: Option<tokio::time::Instant>,
    ) -> bool {
        let until = |at: Option<tokio::time::Instant>| async move {
            match at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let wake = machine.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            Some((id, from, bytes)) = self.recv() => {
                machine.handle_input(Instant::now(), id, from, &bytes);
                true
            }
            () = until(wake) => {
                machine.handle_timeout(Instant::now());
                true
            }
            () = until(limit) => false,
        }
    }

    /// The next datagram on any socket.
    pub async fn recv(&mut self) -> Option<Arrival> {
        self.arrivals.recv().await
    }
}
