//! The one driver: runs any [`Machine`] over real tokio sockets (UDP, TCP
//! streams it connects, and TCP listeners whose connections the machine
//! names).
//!
//! It binds what the machine asks for (or adopts a socket the caller
//! already has), starts one receiver task per socket feeding one channel,
//! and then keeps the run-loop contract of [`crate::proto::machine`]: send
//! everything queued, wait for a datagram or the machine's timer, hand it
//! over, again. Clients run to their end or a time limit; servers run until
//! a shutdown future completes. When the run is over the sockets can be
//! taken back ([`Driver::into_parts`]) for another protocol to use. A socket
//! another reader owns can be shared ([`Driver::bind_sharing`]): the driver
//! only sends from it, and the reader hands over what is the machine's.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};

use super::gateway::route_source;
use super::icmp;
use crate::proto::machine::{Bind, Machine, SocketId};
pub use sharing::Inlet;
use sharing::Shared;

/// Room for any datagram, so that an oversize one is seen whole and refused.
const RECV_BUFFER: usize = 65_536;

/// Datagrams waiting between the receiver tasks and the machine.
const QUEUE: usize = 1024;

/// How long a stream may take to connect, and a write to be taken.
const STREAM_WAIT: Duration = Duration::from_secs(5);

/// Transmits waiting to be written to one stream; a stream whose reader
/// falls this far behind is closed.
const STREAM_QUEUE: usize = 256;

/// How long to pause accepting after a listener fails (out of file
/// descriptors, most likely).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Why a machine's sockets could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// This host has no route toward the destination a socket is for.
    #[error("no route from this host to {toward}: {source}")]
    NoRoute {
        toward: SocketAddr,
        source: io::Error,
    },
    /// The local endpoint could not be bound.
    #[error("cannot open a UDP socket on {at}: {source}")]
    Socket { at: SocketAddr, source: io::Error },
    /// The stream could not be connected.
    #[error("cannot connect to {server}: {source}")]
    Connect {
        server: SocketAddr,
        source: io::Error,
    },
    /// The listener could not be opened.
    #[error("cannot listen on TCP {at}: {source}")]
    Listen { at: SocketAddr, source: io::Error },
}

/// What the receiver tasks hand over.
#[derive(Debug)]
enum Arrival {
    Datagram(SocketId, SocketAddr, Vec<u8>),
    /// A datagram sent to this destination drew "port unreachable".
    Unreachable(SocketId, SocketAddr),
    /// A stream ended or failed.
    Closed(SocketId),
    /// A listener accepted a connection.
    Accepted(SocketId, TcpStream, SocketAddr),
}

/// A UDP socket the driver bound, or one it was given.
pub type Socket = (SocketId, Arc<UdpSocket>);

/// A machine and its sockets; dropping the driver stops the receivers.
#[derive(Debug)]
pub struct Driver<M> {
    machine: M,
    sockets: Vec<Socket>,
    /// Each stream's queue to its writer task.
    streams: HashMap<SocketId, mpsc::Sender<Vec<u8>>>,
    /// The local endpoint of each stream the driver connected.
    stream_locals: HashMap<SocketId, SocketAddr>,
    arrivals: mpsc::Receiver<Arrival>,
    /// For the receivers of sockets bound later.
    arrivals_tx: mpsc::Sender<Arrival>,
    receivers: JoinSet<()>,
    /// The streams' writer tasks.
    writers: JoinSet<()>,
    /// Each socket's receiver, to stop it when the machine closes it.
    receiving: HashMap<SocketId, AbortHandle>,
    /// The local address toward each destination, as the kernel chose it.
    routes: HashMap<SocketAddr, IpAddr>,
    /// Sockets the driver only sends from.
    shared: Shared,
}

impl<M: Machine> Driver<M> {
    /// Binds every socket `machine` asks for.
    pub async fn bind(machine: M) -> Result<Self, BindError> {
        Self::bind_with(machine, Vec::new()).await
    }

    /// Like [`Driver::bind`], but a socket id found in `adopted` gets that
    /// socket instead of a fresh one.
    pub async fn bind_with(machine: M, adopted: Vec<Socket>) -> Result<Self, BindError> {
        Self::bind_adopting(machine, adopted, Shared::default()).await
    }

    /// Like [`Driver::bind`], but a socket id found in `shared` gets that
    /// socket, which the driver only sends from and never reads: another
    /// reader does (a worker of a SO_REUSEPORT group, whose share of the
    /// traffic a socket nobody reads would swallow) and hands over what is
    /// the machine's through the returned [`Inlet`]. The driver never waits
    /// to send on a shared socket: when its buffer is full the datagram is
    /// lost, as UDP allows.
    pub async fn bind_sharing(
        machine: M,
        shared: Vec<(SocketId, std::net::UdpSocket)>,
    ) -> Result<(Self, Inlet), BindError> {
        let driver = Self::bind_adopting(machine, Vec::new(), Shared::new(shared)).await?;
        let inlet = Inlet::new(driver.arrivals_tx.clone());
        Ok((driver, inlet))
    }

    async fn bind_adopting(
        machine: M,
        mut adopted: Vec<Socket>,
        shared: Shared,
    ) -> Result<Self, BindError> {
        let (arrivals_tx, arrivals) = mpsc::channel(QUEUE);
        let mut driver = Self {
            machine,
            sockets: Vec::new(),
            streams: HashMap::new(),
            stream_locals: HashMap::new(),
            arrivals,
            arrivals_tx,
            receivers: JoinSet::new(),
            writers: JoinSet::new(),
            receiving: HashMap::new(),
            routes: HashMap::new(),
            shared,
        };
        while let Some((id, bind)) = driver.machine.poll_bind() {
            driver.open(id, bind, &mut adopted).await?;
        }
        Ok(driver)
    }

    /// Opens socket `id` (or takes it from `adopted`), starts its receiver
    /// and tells the machine where it is bound.
    async fn open(
        &mut self,
        id: SocketId,
        bind: Bind,
        adopted: &mut Vec<Socket>,
    ) -> Result<(), BindError> {
        match bind {
            Bind::Connect(server) | Bind::ConnectFrom(server, _) => {
                let from = match bind {
                    Bind::ConnectFrom(_, beside) => self.stream_locals.get(&beside).copied(),
                    _ => None,
                };
                let stream = connect(server, from).await?;
                let local = stream
                    .local_addr()
                    .map_err(|source| BindError::Connect { server, source })?;
                self.adopt_stream(id, stream, server);
                self.stream_locals.insert(id, local);
                self.machine.handle_bound(Instant::now(), id, local);
                return Ok(());
            }
            Bind::Listen(at) => {
                let listen_error = |source| BindError::Listen { at, source };
                let listener = TcpListener::bind(at).await.map_err(listen_error)?;
                let local = listener.local_addr().map_err(listen_error)?;
                let tx = self.arrivals_tx.clone();
                let acceptor = self.receivers.spawn(async move {
                    loop {
                        match listener.accept().await {
                            Ok((stream, peer)) => {
                                if tx.send(Arrival::Accepted(id, stream, peer)).await.is_err() {
                                    break;
                                }
                            }
                            Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
                        }
                    }
                });
                self.receiving.insert(id, acceptor);
                self.machine.handle_bound(Instant::now(), id, local);
                return Ok(());
            }
            Bind::At(_) | Bind::Toward(_) => {}
        }
        if let Some(local) = self.shared.local_addr(id) {
            self.machine.handle_bound(Instant::now(), id, local);
            return Ok(());
        }
        let socket = match adopted.iter().position(|(a, _)| *a == id) {
            Some(i) => adopted.swap_remove(i).1,
            None => {
                let socket = open_udp(bind, &mut self.routes).await?;
                if matches!(bind, Bind::Toward(_)) && self.machine.hears_unreachable() {
                    icmp::report_errors(&socket);
                }
                Arc::new(socket)
            }
        };
        let local = socket.local_addr().map_err(|source| BindError::Socket {
            at: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })?;
        let tx = self.arrivals_tx.clone();
        let for_receiver = Arc::clone(&socket);
        let receiver = self.receivers.spawn(async move {
            let mut buf = vec![0; RECV_BUFFER];
            loop {
                // A receive error is an ICMP report, not the end of the
                // socket: the ones that say nothing listens are handed on.
                let delivered = match for_receiver.recv_from(&mut buf).await {
                    Ok((n, from)) => tx
                        .send(Arrival::Datagram(id, from, buf[..n].to_vec()))
                        .await
                        .is_ok(),
                    Err(_) => {
                        let mut delivered = true;
                        for to in icmp::unreachable_destinations(&for_receiver) {
                            delivered &= tx.send(Arrival::Unreachable(id, to)).await.is_ok();
                        }
                        delivered
                    }
                };
                if !delivered {
                    break;
                }
            }
        });
        self.receiving.insert(id, receiver);
        self.sockets.push((id, socket));
        self.machine.handle_bound(Instant::now(), id, local);
        Ok(())
    }

    /// Makes `stream` (to `remote`) socket `id`: a task reads it into the
    /// arrivals, another writes what the machine sends on it.
    fn adopt_stream(&mut self, id: SocketId, stream: TcpStream, remote: SocketAddr) {
        let (reader, writer) = stream.into_split();
        let receiver =
            self.receivers
                .spawn(read_stream(id, remote, reader, self.arrivals_tx.clone()));
        self.receiving.insert(id, receiver);
        let (queue, outbound) = mpsc::channel(STREAM_QUEUE);
        self.writers
            .spawn(write_stream(id, writer, outbound, self.arrivals_tx.clone()));
        self.streams.insert(id, queue);
    }

    /// Forgets socket `id`, stopping its receiver; true when it was a
    /// stream still open.
    fn forget(&mut self, id: SocketId) -> bool {
        if let Some(receiver) = self.receiving.remove(&id) {
            receiver.abort();
        }
        self.sockets.retain(|(s, _)| *s != id);
        self.stream_locals.remove(&id);
        self.streams.remove(&id).is_some()
    }

    /// Opens the sockets a running machine asks for (a failure is the
    /// machine's to handle).
    async fn rebind(&mut self) {
        while let Some((id, bind)) = self.machine.poll_bind() {
            if self.open(id, bind, &mut Vec::new()).await.is_err() {
                self.machine.handle_bind_failed(Instant::now(), id);
            }
        }
    }

    /// Closes the sockets the machine is done with; what it sent on a
    /// stream before is still written.
    fn close(&mut self) {
        while let Some(id) = self.machine.poll_close() {
            self.forget(id);
        }
    }

    pub fn machine(&self) -> &M {
        &self.machine
    }

    pub fn machine_mut(&mut self) -> &mut M {
        &mut self.machine
    }

    /// The local address of socket `id`.
    pub fn local_addr(&self, id: SocketId) -> Option<SocketAddr> {
        match self.socket(id) {
            Some(s) => s.local_addr().ok(),
            None => self.shared.local_addr(id),
        }
    }

    /// Whether `n` more transmits on socket `id` fit in its stream's write
    /// queue without the driver closing the stream as stalled (see
    /// [`Driver::flush`]); a UDP socket, whose sends wait, always has room.
    /// For a machine carrying datagrams over a stream, which had better
    /// drop one than lose the stream.
    pub fn has_room(&self, id: SocketId, n: usize) -> bool {
        self.streams
            .get(&id)
            .is_none_or(|queue| queue.capacity() >= n)
    }

    fn socket(&self, id: SocketId) -> Option<&Arc<UdpSocket>> {
        self.sockets.iter().find(|(s, _)| *s == id).map(|(_, s)| s)
    }

    /// Opens what the machine asks for, sends everything it has queued,
    /// then closes what it gave up. A failed datagram is a lost packet,
    /// which the machines' schedules retransmit; a stream whose queue is
    /// full (its reader stalls) is closed.
    pub async fn flush(&mut self) {
        self.rebind().await;
        while let Some(t) = self.machine.poll_transmit() {
            if let Some(socket) = self.socket(t.socket) {
                if socket.send_to(&t.payload, t.destination).await.is_err() {
                    // A socket reporting ICMP errors fails the send after
                    // one with the error instead: it is the machine's all
                    // the same.
                    for to in icmp::unreachable_destinations(socket) {
                        self.machine
                            .handle_unreachable(Instant::now(), t.socket, to);
                    }
                }
                continue;
            }
            if self.shared.send(&t) {
                continue;
            }
            let Some(queue) = self.streams.get(&t.socket) else {
                continue;
            };
            if queue.try_send(t.payload).is_err() && self.forget(t.socket) {
                self.machine.handle_closed(Instant::now(), t.socket);
            }
        }
        self.close();
    }

    /// Runs the machine until `poll` takes something from it (an event),
    /// or `limit` comes first, or nothing can ever come (`None`).
    pub async fn next<T>(
        &mut self,
        mut poll: impl FnMut(&mut M) -> Option<T>,
        limit: Option<Instant>,
    ) -> Option<T> {
        loop {
            if let Some(taken) = poll(&mut self.machine) {
                return Some(taken);
            }
            if !self.step(limit).await {
                return None;
            }
        }
    }

    /// Sends what is queued, then waits for one datagram or the machine's
    /// next timer and hands it over; false, with nothing handed over, when
    /// `limit` comes first (or nothing can ever come).
    pub async fn step(&mut self, limit: Option<Instant>) -> bool {
        self.flush().await;
        let wake = self.machine.poll_timeout();
        tokio::select! {
            arrival = self.arrivals.recv() => match arrival {
                Some(Arrival::Datagram(id, from, bytes)) => {
                    self.machine.handle_input(Instant::now(), id, from, &bytes);
                    true
                }
                Some(Arrival::Unreachable(id, destination)) => {
                    self.machine.handle_unreachable(Instant::now(), id, destination);
                    true
                }
                Some(Arrival::Closed(id)) => {
                    // Reader and writer may both report one end.
                    if self.forget(id) {
                        self.machine.handle_closed(Instant::now(), id);
                    }
                    true
                }
                Some(Arrival::Accepted(listener, stream, remote)) => {
                    let named = self.machine.handle_accept(Instant::now(), listener, remote);
                    if let Some(id) = named {
                        self.adopt_stream(id, stream, remote);
                    }
                    true
                }
                None => false,
            },
            () = sleep_until(wake) => {
                self.machine.handle_timeout(Instant::now());
                true
            }
            () = sleep_until(limit) => false,
        }
    }

    /// Runs until `until` holds or the machine is done; at `limit` the
    /// machine is cut short. True when `until` held.
    pub async fn run_until(
        &mut self,
        mut until: impl FnMut(&M) -> bool,
        limit: Option<Instant>,
    ) -> bool {
        loop {
            self.flush().await;
            if until(&self.machine) {
                return true;
            }
            if self.machine.is_done() {
                return false;
            }
            if !self.step(limit).await {
                self.machine.cut_short();
                self.flush().await;
                return until(&self.machine);
            }
        }
    }

    /// Runs the machine to its end; at `limit` it is cut short.
    pub async fn run(&mut self, limit: Option<Instant>) {
        self.run_until(|_| false, limit).await;
    }

    /// Serves until `shutdown` completes (a server's machine is never done).
    pub async fn serve(&mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                progressed = self.step(None) => if !progressed { break },
                () = &mut shutdown => break,
            }
        }
        self.flush().await;
    }

    /// Writes out what the machine queued on its streams and closes them
    /// for writing: for a machine at its end, whose last words must reach
    /// the other side before the driver is dropped. Each write is bounded
    /// by [`STREAM_WAIT`].
    pub async fn close_streams(&mut self) {
        self.flush().await;
        self.streams.clear();
        while self.writers.join_next().await.is_some() {}
    }

    /// The machine and its UDP sockets, for what runs next on them: the
    /// receivers have stopped and dropped their handles, so each socket is
    /// the caller's alone (streams are closed), and reports no ICMP errors
    /// any more (a receive failing on one would stop QUIC's endpoint).
    pub async fn into_parts(mut self) -> (M, Vec<Socket>) {
        self.receivers.shutdown().await;
        self.writers.shutdown().await;
        for (_, socket) in &self.sockets {
            icmp::stop_reporting(socket);
        }
        (self.machine, self.sockets)
    }
}

/// Connects a stream to `server` (from `from`, when given), within
/// [`STREAM_WAIT`]. Every stream's endpoint may be shared
/// (SO_REUSEADDR, SO_REUSEPORT), so that [`Bind::ConnectFrom`] can make
/// another connection from it.
async fn connect(server: SocketAddr, from: Option<SocketAddr>) -> Result<TcpStream, BindError> {
    let failed = |source| BindError::Connect { server, source };
    let socket = match server {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(failed)?;
    socket.set_reuseaddr(true).map_err(failed)?;
    #[cfg(unix)]
    socket.set_reuseport(true).map_err(failed)?;
    if let Some(from) = from {
        socket.bind(from).map_err(failed)?;
    }
    match tokio::time::timeout(STREAM_WAIT, socket.connect(server)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(source)) => Err(BindError::Connect { server, source }),
        Err(_) => Err(BindError::Connect {
            server,
            source: io::Error::new(io::ErrorKind::TimedOut, "no answer within 5 s"),
        }),
    }
}

/// Reads `reader` into the arrivals until it ends or fails.
async fn read_stream(
    id: SocketId,
    remote: SocketAddr,
    mut reader: OwnedReadHalf,
    tx: mpsc::Sender<Arrival>,
) {
    let mut buf = vec![0; RECV_BUFFER];
    loop {
        let arrival = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => Arrival::Closed(id),
            Ok(n) => Arrival::Datagram(id, remote, buf[..n].to_vec()),
        };
        let closed = matches!(arrival, Arrival::Closed(_));
        if tx.send(arrival).await.is_err() || closed {
            break;
        }
    }
}

/// Writes what the machine sends on stream `id`, each write within
/// [`STREAM_WAIT`]; reports the stream closed when one fails. When the
/// machine closes the stream, what is queued is still written.
async fn write_stream(
    id: SocketId,
    mut writer: OwnedWriteHalf,
    mut outbound: mpsc::Receiver<Vec<u8>>,
    tx: mpsc::Sender<Arrival>,
) {
    while let Some(bytes) = outbound.recv().await {
        let written = tokio::time::timeout(STREAM_WAIT, writer.write_all(&bytes)).await;
        if !matches!(written, Ok(Ok(()))) {
            let _ = tx.send(Arrival::Closed(id)).await;
            return;
        }
    }
}

/// Opens the UDP socket `bind` asks for.
async fn open_udp(
    bind: Bind,
    routes: &mut HashMap<SocketAddr, IpAddr>,
) -> Result<UdpSocket, BindError> {
    let at = match bind {
        Bind::At(at) | Bind::Connect(at) | Bind::ConnectFrom(at, _) | Bind::Listen(at) => at,
        Bind::Toward(toward) => {
            let ip = match routes.get(&toward) {
                Some(ip) => *ip,
                None => {
                    let ip = route_source(toward)
                        .await
                        .map_err(|source| BindError::NoRoute { toward, source })?;
                    routes.insert(toward, ip);
                    ip
                }
            };
            SocketAddr::new(ip, 0)
        }
    };
    UdpSocket::bind(at)
        .await
        .map_err(|source| BindError::Socket { at, source })
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

mod sharing;
#[cfg(test)]
mod tests;
