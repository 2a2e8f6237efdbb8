//! A TURN allocation (RFC 8656) that quinn uses as its socket, for QUIC
//! between two relayed addresses when no direct path exists: each side
//! allocates on its relay (over UDP, or TCP where UDP is blocked), the two
//! exchange their relayed addresses, each lets the other in
//! ([`Relayed::permit`]), and QUIC runs over [`Relayed::socket`].
//!
//! [`allocate`] runs the sans-IO [`RelayClient`] under the [`Driver`] until
//! the relay allocates, then hands the driver to a background task that
//! keeps running the machine (the allocation's, permissions' and
//! channels' refreshes are the client's timers) and carries datagrams:
//!
//! - out: quinn's datagrams go through a bounded queue to the task, which
//!   sends each to its peer through the relay, as ChannelData once a
//!   channel is bound (RFC 8656 §12.5), else in a Send indication
//!   (§11.1). A full queue is a socket that is not writable: quinn waits
//!   for room. Over TCP, a datagram that would fill the stream's write
//!   queue is dropped instead, as a congested router drops one.
//! - in: what peers send through the relay (ChannelData, §12.6, or Data
//!   indications, §11.4) comes up as datagrams from the peer's relayed
//!   address, through a bounded queue; a datagram finding it full is
//!   dropped, as a real socket's full buffer drops one.
//!
//! Demultiplexing (RFC 7983, updated by RFC 9443 for QUIC) is not needed
//! here: the client's socket talks to its relay only, and QUIC packets
//! reach quinn already taken out of their ChannelData (whose first byte,
//! 64–79, a QUIC short header shares) or Data indication.
//!
//! The socket may fragment (quinn's default): the relay sends on, not this
//! side, so quinn keeps to its 1200-byte datagrams and skips path MTU
//! discovery. ChannelData adds 4 bytes to each (a Send indication 36) on
//! the way to the relay.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use tokio::sync::mpsc::error::{SendError, TrySendError};
use tokio::sync::mpsc::{self, OwnedPermit};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::io::driver::{BindError, Driver};
use crate::proto::machine::Machine;
use crate::proto::relay::client::{RelayClient, RelayEvent, RelayTransport, SERVER};
use crate::proto::relay::credentials::Credentials;
use stun_types::attribute::ErrorCode;

/// Datagrams waiting to go out through the relay.
const OUTBOUND: usize = 1024;

/// Datagrams from peers waiting for quinn.
const INBOUND: usize = 1024;

/// Datagrams the task takes from the queue before it sends them.
const BATCH: usize = 64;

/// Room the TCP stream's write queue must have for a datagram to go: a
/// whole batch (sent before the next flush), and some left for the
/// client's own requests (refreshes, channels).
const STREAM_ROOM: usize = BATCH + 16;

/// Client transport addresses an allocation tries before a 437 is final
/// (RFC 8656 §7.4: three).
const MISMATCH_TRIES: u32 = 3;

/// Requests waiting for the task ([`Relayed::permit`], the release).
const CONTROL: usize = 16;

/// How long a release waits for the Refresh of lifetime 0 to go out and
/// be answered.
const RELEASE_WAIT: Duration = Duration::from_millis(200);

/// Why the relayed address could not be had or used.
#[derive(Debug, thiserror::Error)]
pub enum RelayedError {
    #[error("cannot reach the relay: {0}")]
    Bind(#[from] BindError),
    /// A second 401 to an Allocate that carried the credentials (RFC 8489
    /// §9.2.5).
    #[error("the relay refused the credentials (401): wrong secret, user or password, or expired")]
    Unauthorized,
    /// An Allocate error response with this code (RFC 8656 §7.3), or
    /// none if the connection closed first.
    #[error("the relay refused the allocation{} or closed the connection", .0.map(|c| format!(" ({c})")).unwrap_or_default())]
    Refused(Option<u16>),
    #[error("no answer from the relay within {0:?}")]
    NoAnswer(Duration),
    /// RFC 8656 §12: a channel, which also installs the permission (§9).
    #[error("the relay refused a channel to {0} (a peer it does not relay to?)")]
    Channel(SocketAddr),
    #[error("the connection to the relay closed")]
    Closed,
}

/// A datagram and the peer it goes to or comes from.
type Datagram = (SocketAddr, Vec<u8>);

type Reply = oneshot::Sender<Result<(), RelayedError>>;

/// What the handle asks of the task.
enum Control {
    /// Bind a channel to the peer, then answer.
    Permit(SocketAddr, Reply),
    /// Delete the allocation, then answer and end.
    Release(oneshot::Sender<()>),
}

/// A relayed address, kept alive by a background task; see the module
/// documentation. Dropping it stops the task (the relay frees the
/// allocation when its lifetime runs out); [`Relayed::release`] frees it
/// at once.
#[derive(Debug)]
pub struct Relayed {
    server: SocketAddr,
    transport: RelayTransport,
    relayed: SocketAddr,
    socket: Arc<RelaySocket>,
    control: mpsc::Sender<Control>,
    task: JoinHandle<()>,
}

/// Allocates a relayed address on `server` over `transport` (RFC 8656
/// §7), within `wait`.
pub async fn allocate(
    server: SocketAddr,
    transport: RelayTransport,
    credentials: Credentials,
    wait: Duration,
) -> Result<Relayed, RelayedError> {
    start(server, transport, credentials, wait)
        .await?
        .finish()
        .await
}

/// An allocation whose first request is out: its socket, and so its NAT
/// mapping toward the relay, exists.
pub struct Allocating {
    server: SocketAddr,
    transport: RelayTransport,
    credentials: Credentials,
    driver: Driver<RelayClient>,
    limit: Instant,
    wait: Duration,
}

/// Binds the socket toward `server` and sends the first Allocate; the
/// rest of [`allocate`] is [`Allocating::finish`]. A caller that makes
/// other mappings on the same NAT next (a punch's gathering, whose port
/// guess a sequential NAT must not see taken) starts here first.
pub async fn start(
    server: SocketAddr,
    transport: RelayTransport,
    credentials: Credentials,
    wait: Duration,
) -> Result<Allocating, RelayedError> {
    let limit = Instant::now() + wait;
    let driver = first_request(server, transport, credentials.clone(), limit, wait).await?;
    Ok(Allocating {
        server,
        transport,
        credentials,
        driver,
        limit,
        wait,
    })
}

/// Binds a new socket toward `server` and sends the first Allocate from
/// it, by `limit`.
async fn first_request(
    server: SocketAddr,
    transport: RelayTransport,
    credentials: Credentials,
    limit: Instant,
    wait: Duration,
) -> Result<Driver<RelayClient>, RelayedError> {
    let client = RelayClient::new(server, transport, credentials, Instant::now());
    let left = limit.saturating_duration_since(Instant::now());
    let mut driver = tokio::time::timeout(left, Driver::bind(client))
        .await
        .map_err(|_| RelayedError::NoAnswer(wait))??;
    driver.flush().await;
    Ok(driver)
}

impl Allocating {
    /// Runs the allocation to its answer, within what is left of the wait.
    ///
    /// A 437 (Allocation Mismatch: the NAT gave this socket's public port
    /// to someone whose allocation still lives) moves to a new socket, up
    /// to [`MISMATCH_TRIES`] in all (RFC 8656 §7.4); the socket refused
    /// stays open until the next one is bound, so that it is another.
    /// Returns the driver of the client that holds the allocation, and
    /// the relayed address.
    pub async fn allocated(self) -> Result<(Driver<RelayClient>, SocketAddr), RelayedError> {
        let Allocating {
            server,
            transport,
            credentials,
            mut driver,
            limit,
            wait,
        } = self;
        let mut tries = 1;
        loop {
            let event = driver.next(RelayClient::poll_event, Some(limit)).await;
            let refused = driver.machine().credentials_refused();
            match event {
                Some(RelayEvent::Allocated(relayed)) => return Ok((driver, relayed)),
                _ if refused => return Err(RelayedError::Unauthorized),
                Some(RelayEvent::AllocationFailed | RelayEvent::Closed) => {
                    let code = driver.machine().allocate_refusal();
                    if code != Some(ErrorCode::ALLOCATION_MISMATCH) || tries >= MISMATCH_TRIES {
                        return Err(RelayedError::Refused(code));
                    }
                    tries += 1;
                    let credentials = credentials.clone();
                    driver = first_request(server, transport, credentials, limit, wait).await?;
                }
                None => return Err(RelayedError::NoAnswer(wait)),
                Some(_) => {}
            }
        }
    }

    /// Runs the allocation to its answer, within what is left of the wait,
    /// and keeps it alive in the background (see the module
    /// documentation).
    pub async fn finish(self) -> Result<Relayed, RelayedError> {
        let (server, transport) = (self.server, self.transport);
        let (driver, relayed) = self.allocated().await?;
        let (outbound_tx, outbound) = mpsc::channel(OUTBOUND);
        let (inbound, inbound_rx) = mpsc::channel(INBOUND);
        let (control, control_rx) = mpsc::channel(CONTROL);
        let task = Task {
            driver,
            outbound,
            control: control_rx,
            inbound,
            binding: HashMap::new(),
            bound: HashSet::new(),
        };
        Ok(Relayed {
            server,
            transport,
            relayed,
            socket: Arc::new(RelaySocket {
                relayed,
                outbound: outbound_tx,
                inbound: Mutex::new(inbound_rx),
            }),
            control,
            task: tokio::spawn(task.run()),
        })
    }
}

impl Relayed {
    /// The relay, and how this side reaches it.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    pub fn transport(&self) -> RelayTransport {
        self.transport
    }

    /// The address the relay allocated: where peers send to reach this
    /// side, and the QUIC endpoint's local address.
    pub fn relayed_address(&self) -> SocketAddr {
        self.relayed
    }

    /// Lets `peer` (the other side's relayed address) in: binds a channel
    /// to it (RFC 8656 §12), which installs the permission too (§9), and
    /// waits until the relay confirms, within `wait`. Datagrams from a
    /// peer without a permission never reach this side.
    pub async fn permit(&self, peer: SocketAddr, wait: Duration) -> Result<(), RelayedError> {
        let asked = async {
            let (reply, answer) = oneshot::channel();
            self.control
                .send(Control::Permit(peer, reply))
                .await
                .map_err(|_| RelayedError::Closed)?;
            answer.await.map_err(|_| RelayedError::Closed)?
        };
        tokio::time::timeout(wait, asked)
            .await
            .map_err(|_| RelayedError::NoAnswer(wait))?
    }

    /// The socket for quinn ([`super::Carrier::Abstract`]); every call
    /// gives the same socket, for one endpoint at a time.
    pub fn socket(&self) -> Arc<dyn AsyncUdpSocket> {
        Arc::clone(&self.socket) as Arc<dyn AsyncUdpSocket>
    }

    /// Gives the allocation back: a Refresh with lifetime 0 (RFC 8656
    /// §8.1), waited for briefly, then the task stops.
    pub async fn release(self) {
        let (reply, done) = oneshot::channel();
        let asked = async {
            if self.control.send(Control::Release(reply)).await.is_ok() {
                let _ = done.await;
            }
        };
        let _ = tokio::time::timeout(RELEASE_WAIT * 2, asked).await;
    }
}

impl Drop for Relayed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The background task: the client's driver and the queues.
struct Task {
    driver: Driver<RelayClient>,
    outbound: mpsc::Receiver<Datagram>,
    control: mpsc::Receiver<Control>,
    inbound: mpsc::Sender<Datagram>,
    /// Channels asked for and not yet confirmed, with who waits.
    binding: HashMap<SocketAddr, Vec<Reply>>,
    /// Channels bound.
    bound: HashSet<SocketAddr>,
}

/// What woke the task.
enum Woke {
    Outbound(Option<Datagram>),
    Control(Option<Control>),
    Stepped(bool),
}

impl Task {
    async fn run(mut self) {
        loop {
            if !self.events() {
                return;
            }
            self.driver.flush().await;
            // Only the wait for an arrival or a timer is cut short here:
            // what was queued has gone out above.
            let woke = tokio::select! {
                datagram = self.outbound.recv() => Woke::Outbound(datagram),
                control = self.control.recv() => Woke::Control(control),
                progressed = self.driver.step(None) => Woke::Stepped(progressed),
            };
            match woke {
                Woke::Outbound(Some(datagram)) => {
                    self.send(datagram);
                    for _ in 1..BATCH {
                        match self.outbound.try_recv() {
                            Ok(datagram) => self.send(datagram),
                            Err(_) => break,
                        }
                    }
                }
                Woke::Control(Some(Control::Permit(peer, reply))) => self.permit(peer, reply),
                Woke::Control(Some(Control::Release(reply))) => {
                    self.release().await;
                    let _ = reply.send(());
                    return;
                }
                // The socket and the handle are gone: nobody is left.
                Woke::Outbound(None) | Woke::Control(None) | Woke::Stepped(false) => return,
                Woke::Stepped(true) => {}
            }
        }
    }

    /// Hands a datagram to the client; one it cannot send (no permission
    /// for the peer) is lost, as a datagram to an unreachable host is. So
    /// is one that would fill the TCP stream to the relay: a stream whose
    /// writes stall is closed, and the allocation with it, while QUIC
    /// takes a lost datagram as a sign of congestion and slows down.
    fn send(&mut self, (peer, bytes): Datagram) {
        if !self.driver.has_room(SERVER, STREAM_ROOM) {
            return;
        }
        let _ = self.driver.machine_mut().send(Instant::now(), peer, &bytes);
    }

    fn permit(&mut self, peer: SocketAddr, reply: Reply) {
        if self.bound.contains(&peer) {
            let _ = reply.send(Ok(()));
            return;
        }
        if let Some(waiting) = self.binding.get_mut(&peer) {
            waiting.push(reply);
            return;
        }
        match self.driver.machine_mut().bind_channel(Instant::now(), peer) {
            Ok(()) => {
                self.binding.insert(peer, vec![reply]);
            }
            Err(_) => {
                let _ = reply.send(Err(RelayedError::Channel(peer)));
            }
        }
    }

    /// Acts on what the client says; false when the allocation is over.
    fn events(&mut self) -> bool {
        while let Some(event) = self.driver.machine_mut().poll_event() {
            match event {
                RelayEvent::Data { peer, bytes } => {
                    // A full queue drops the datagram, as a socket does.
                    let _ = self.inbound.try_send((peer, bytes));
                }
                RelayEvent::ChannelBound(peer) => {
                    self.bound.insert(peer);
                    self.answer(|p| p == peer, |_| Ok(()));
                }
                RelayEvent::ChannelFailed(peer) => {
                    self.answer(|p| p == peer, |p| Err(RelayedError::Channel(p)));
                }
                RelayEvent::PermissionFailed(ip) => {
                    self.answer(|p| p.ip() == ip, |p| Err(RelayedError::Channel(p)));
                }
                RelayEvent::Closed => return false,
                RelayEvent::Allocated(_)
                | RelayEvent::AllocationFailed
                | RelayEvent::PermissionCreated(_) => {}
            }
        }
        true
    }

    /// Answers everyone waiting for a channel to a peer `which` names (a
    /// failed permission names an address only, RFC 8656 §9).
    fn answer(
        &mut self,
        which: impl Fn(SocketAddr) -> bool,
        result: impl Fn(SocketAddr) -> Result<(), RelayedError>,
    ) {
        let peers: Vec<SocketAddr> = self.binding.keys().copied().filter(|p| which(*p)).collect();
        for peer in peers {
            for reply in self.binding.remove(&peer).unwrap_or_default() {
                let _ = reply.send(result(peer));
            }
        }
    }

    /// Deletes the allocation and waits, within [`RELEASE_WAIT`], for the
    /// relay's answer, which ends the client.
    async fn release(&mut self) {
        release(&mut self.driver).await;
    }
}

/// Deletes the allocation `driver`'s client holds (a Refresh with
/// lifetime 0, RFC 8656 §8.1) and waits, within [`RELEASE_WAIT`], for the
/// relay's answer, which ends the client; what a TCP stream still holds
/// is written first.
pub async fn release(driver: &mut Driver<RelayClient>) {
    if driver.machine_mut().delete(Instant::now()).is_err() {
        return;
    }
    let until = Instant::now() + RELEASE_WAIT;
    while !driver.machine().is_done() && driver.step(Some(until)).await {}
    let _ = tokio::time::timeout(RELEASE_WAIT, driver.close_streams()).await;
}

/// The socket quinn sees: the relayed address; see the module
/// documentation.
struct RelaySocket {
    relayed: SocketAddr,
    outbound: mpsc::Sender<Datagram>,
    inbound: Mutex<mpsc::Receiver<Datagram>>,
}

impl fmt::Debug for RelaySocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelaySocket")
            .field("relayed", &self.relayed)
            .finish_non_exhaustive()
    }
}

fn relay_closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the connection to the relay closed",
    )
}

impl AsyncUdpSocket for RelaySocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(Writable {
            outbound: self.outbound.clone(),
            reserving: None,
        })
    }

    /// Queues the datagram (each segment of a GSO batch, all or none) for
    /// the task; `WouldBlock` when the queue has no room.
    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        let size = transmit
            .segment_size
            .unwrap_or(transmit.contents.len())
            .max(1);
        let segments = transmit.contents.chunks(size);
        let permits = match self.outbound.try_reserve_many(segments.len()) {
            Ok(permits) => permits,
            Err(TrySendError::Full(())) => return Err(io::ErrorKind::WouldBlock.into()),
            Err(TrySendError::Closed(())) => return Err(relay_closed()),
        };
        for (permit, segment) in permits.zip(segments) {
            permit.send((transmit.destination, segment.to_vec()));
        }
        Ok(())
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let Ok(mut inbound) = self.inbound.lock() else {
            return Poll::Ready(Err(relay_closed()));
        };
        super::poll_queued(&mut inbound, relay_closed, cx, bufs, meta)
    }

    /// The relayed address.
    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.relayed)
    }

    fn max_transmit_segments(&self) -> usize {
        1
    }

    fn max_receive_segments(&self) -> usize {
        1
    }
}

/// The future that waits for room in the outbound queue.
type Reserving =
    Pin<Box<dyn Future<Output = Result<OwnedPermit<Datagram>, SendError<()>>> + Send + Sync>>;

/// Write readiness: room in the outbound queue.
struct Writable {
    outbound: mpsc::Sender<Datagram>,
    reserving: Option<Reserving>,
}

impl fmt::Debug for Writable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writable")
            .field("room", &self.outbound.capacity())
            .finish_non_exhaustive()
    }
}

impl UdpPoller for Writable {
    /// Ready when the queue has room (the slot is not held: the next
    /// `try_send` may still find it taken, and then asks again).
    fn poll_writable(self: Pin<&mut Self>, cx: &mut Context) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.reserving.is_none() {
            if this.outbound.is_closed() {
                return Poll::Ready(Err(relay_closed()));
            }
            if this.outbound.capacity() > 0 {
                return Poll::Ready(Ok(()));
            }
        }
        let reserving = this
            .reserving
            .get_or_insert_with(|| Box::pin(this.outbound.clone().reserve_owned()));
        let result = match reserving.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(permit)) => {
                drop(permit);
                Ok(())
            }
            Poll::Ready(Err(_)) => Err(relay_closed()),
        };
        this.reserving = None;
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Wake, Waker};

    use super::*;

    /// A waker that remembers it was woken.
    #[derive(Default)]
    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    impl Flag {
        fn woken(&self) -> bool {
            self.0.swap(false, Ordering::SeqCst)
        }
    }

    /// A socket with room for `room` datagrams out, and the task's ends of
    /// its queues.
    fn socket(
        room: usize,
    ) -> (
        Arc<RelaySocket>,
        mpsc::Receiver<Datagram>,
        mpsc::Sender<Datagram>,
    ) {
        let (outbound, outbound_rx) = mpsc::channel(room);
        let (inbound_tx, inbound) = mpsc::channel(8);
        let socket = RelaySocket {
            relayed: "127.0.0.1:50000".parse().unwrap(),
            outbound,
            inbound: Mutex::new(inbound),
        };
        (Arc::new(socket), outbound_rx, inbound_tx)
    }

    fn transmit(contents: &[u8], segment_size: Option<usize>) -> Transmit<'_> {
        Transmit {
            destination: "127.0.0.1:50001".parse().unwrap(),
            ecn: None,
            contents,
            segment_size,
            src_ip: None,
        }
    }

    #[test]
    fn a_full_queue_would_block_until_the_task_takes_a_datagram() {
        let (socket, mut outbound, _inbound) = socket(2);
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(Arc::clone(&flag));
        let mut cx = Context::from_waker(&waker);
        let mut poller = Arc::clone(&socket).create_io_poller();
        assert!(matches!(
            poller.as_mut().poll_writable(&mut cx),
            Poll::Ready(Ok(()))
        ));
        socket.try_send(&transmit(b"one", None)).unwrap();
        socket.try_send(&transmit(b"two", None)).unwrap();
        let full = socket.try_send(&transmit(b"three", None));
        assert_eq!(full.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert!(poller.as_mut().poll_writable(&mut cx).is_pending());
        assert!(!flag.woken());
        // The task takes one: quinn is woken and may send again.
        assert_eq!(outbound.try_recv().unwrap().1, b"one");
        assert!(flag.woken());
        assert!(matches!(
            poller.as_mut().poll_writable(&mut cx),
            Poll::Ready(Ok(()))
        ));
        socket.try_send(&transmit(b"three", None)).unwrap();
        assert_eq!(outbound.try_recv().unwrap().1, b"two");
        assert_eq!(outbound.try_recv().unwrap().1, b"three");
    }

    #[test]
    fn a_gso_batch_goes_out_as_its_segments_all_or_none() {
        let (socket, mut outbound, _inbound) = socket(3);
        socket.try_send(&transmit(b"abcdefghij", Some(4))).unwrap();
        let sent: Vec<Vec<u8>> = (0..3).map(|_| outbound.try_recv().unwrap().1).collect();
        assert_eq!(sent, [&b"abcd"[..], b"efgh", b"ij"]);
        socket.try_send(&transmit(b"x", None)).unwrap();
        let full = socket.try_send(&transmit(b"abcdefghij", Some(4)));
        assert_eq!(full.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert_eq!(outbound.try_recv().unwrap().1, b"x");
        assert!(outbound.try_recv().is_err(), "no part of the batch went");
    }

    #[test]
    fn datagrams_from_peers_fill_quinn_buffers_and_an_oversize_one_is_dropped() {
        let (socket, _outbound, inbound) = socket(1);
        let (a, b): (SocketAddr, SocketAddr) = (
            "127.0.0.1:50001".parse().unwrap(),
            "127.0.0.1:50002".parse().unwrap(),
        );
        inbound.try_send((a, vec![1; 2000])).unwrap();
        inbound.try_send((a, b"hello".to_vec())).unwrap();
        inbound.try_send((b, b"hey".to_vec())).unwrap();
        let waker = Waker::from(Arc::new(Flag::default()));
        let mut cx = Context::from_waker(&waker);
        let (mut one, mut two) = ([0u8; 1500], [0u8; 1500]);
        let mut bufs = [IoSliceMut::new(&mut one), IoSliceMut::new(&mut two)];
        let mut meta = [RecvMeta::default(); 2];
        let got = socket.poll_recv(&mut cx, &mut bufs, &mut meta);
        assert!(matches!(got, Poll::Ready(Ok(2))), "{got:?}");
        assert_eq!((meta[0].addr, meta[0].len, meta[0].stride), (a, 5, 5));
        assert_eq!((meta[1].addr, meta[1].len), (b, 3));
        assert_eq!(&bufs[0][..5], b"hello");
        assert_eq!(&bufs[1][..3], b"hey");
        assert!(socket.poll_recv(&mut cx, &mut bufs, &mut meta).is_pending());
        assert_eq!(socket.local_addr().unwrap(), socket.relayed);
    }

    #[test]
    fn a_socket_whose_task_is_gone_says_so() {
        let (socket, outbound, inbound) = socket(1);
        drop((outbound, inbound));
        let waker = Waker::from(Arc::new(Flag::default()));
        let mut cx = Context::from_waker(&waker);
        let sent = socket.try_send(&transmit(b"x", None));
        assert_eq!(sent.unwrap_err().kind(), io::ErrorKind::NotConnected);
        let mut poller = Arc::clone(&socket).create_io_poller();
        assert!(matches!(
            poller.as_mut().poll_writable(&mut cx),
            Poll::Ready(Err(_))
        ));
        let mut buf = [0u8; 16];
        let mut bufs = [IoSliceMut::new(&mut buf)];
        let mut meta = [RecvMeta::default()];
        assert!(matches!(
            socket.poll_recv(&mut cx, &mut bufs, &mut meta),
            Poll::Ready(Err(_))
        ));
    }
}
