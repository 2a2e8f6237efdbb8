//! The punched socket shared by QUIC and the connectivity checks: after
//! the punch, the one UDP socket of the selected path carries the peer's
//! checks, their answers, consent freshness (RFC 7675) and QUIC, so a side
//! that connected first needs no lingering punch to answer the peer's
//! checks, and the path's consent is checked while the channel runs.
//!
//! A background task owns the socket's receiving and sorts every datagram
//! by its first byte (RFC 7983 §7, updated by RFC 9443 §5 for QUIC):
//!
//! - 0–3: STUN (the STUN parser then checks the magic cookie) goes to the
//!   [`Consent`] machine; the answers it makes to the peer's checks
//!   (RFC 8445 §7.3) go out on the same socket at once.
//! - 64–127 (a QUIC short header, greasing being off: see
//!   [`super`]) and 192–255 (a long header): QUIC, through a bounded
//!   queue to quinn; a datagram finding it full is dropped, as a real
//!   socket's full buffer drops one.
//! - anything else is dropped.
//!
//! The task also runs the machine's timer, sending its consent checks
//! (RFC 7675 §5.1), so checks are answered and consent is kept from the
//! moment the [`Direct`] exists, before quinn runs on it and after.
//!
//! quinn sends straight on the socket, one datagram per transmit
//! (`max_transmit_segments` 1; a GSO batch would be split), and receives
//! one datagram per buffer, each one classified on its own. Once consent
//! has expired quinn's datagrams are dropped: the peer no longer consents
//! to them (RFC 7675 §5.1), and the connection idles out.

use std::fmt;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::proto::punch::{Consent, ConsentState};

/// QUIC datagrams waiting for quinn.
const INBOUND: usize = 1024;

/// The receive buffer: the largest UDP payload, so nothing is cut short.
const RECEIVE_BUFFER: usize = 65_535;

/// A datagram and the address it came from.
type Datagram = (SocketAddr, Vec<u8>);

/// The punched socket, demultiplexed, with consent freshness running on
/// it; see the module documentation. Dropping it stops the task: drop it
/// after the QUIC endpoint, whose socket stops receiving then.
#[derive(Debug)]
pub struct Direct {
    socket: Arc<DirectSocket>,
    consent: watch::Receiver<ConsentState>,
    task: JoinHandle<()>,
}

impl Direct {
    /// Takes over `socket` (the punch's winner) with `consent` for its
    /// path, and starts the task that receives and runs the consent timer;
    /// fails outside a tokio runtime.
    pub fn new(socket: UdpSocket, consent: Consent) -> io::Result<Direct> {
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let udp = Arc::new(socket);
        let (inbound_tx, inbound) = mpsc::channel(INBOUND);
        let (state, state_rx) = watch::channel(consent.state(Instant::now()));
        let task = Task {
            udp: Arc::clone(&udp),
            consent,
            inbound: inbound_tx,
            state,
        };
        Ok(Direct {
            socket: Arc::new(DirectSocket {
                udp,
                inbound: Mutex::new(inbound),
                consent: state_rx.clone(),
            }),
            consent: state_rx,
            task: runtime.spawn(task.run()),
        })
    }

    /// The socket for quinn ([`super::Carrier::Abstract`]); every call
    /// gives the same socket, for one endpoint at a time.
    pub fn socket(&self) -> Arc<dyn AsyncUdpSocket> {
        Arc::clone(&self.socket) as Arc<dyn AsyncUdpSocket>
    }

    /// The socket's local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.udp.local_addr()
    }

    /// Whether the peer still consents to this side's traffic.
    pub fn consent(&self) -> ConsentState {
        *self.consent.borrow()
    }

    /// Completes when consent expires (RFC 7675 §5.1), or when the socket
    /// failed and the task ended, which loses it as surely.
    pub async fn consent_lost(&self) {
        let mut consent = self.consent.clone();
        let _ = consent
            .wait_for(|state| *state == ConsentState::Expired)
            .await;
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a datagram on the shared socket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Stun,
    Quic,
    /// DTLS, TURN ChannelData, ZRTP, RTP: nothing this socket speaks.
    Other,
}

impl Protocol {
    /// Sorts a datagram by its first byte (RFC 7983 §7, RFC 9443 §5).
    fn of(bytes: &[u8]) -> Self {
        match bytes.first() {
            Some(0..=3) => Self::Stun,
            Some(64..=127 | 192..=255) => Self::Quic,
            _ => Self::Other,
        }
    }
}

/// The background task: the socket's receiving and the consent machine.
struct Task {
    udp: Arc<UdpSocket>,
    consent: Consent,
    inbound: mpsc::Sender<Datagram>,
    state: watch::Sender<ConsentState>,
}

impl Task {
    async fn run(mut self) {
        let mut buf = vec![0u8; RECEIVE_BUFFER];
        loop {
            self.flush();
            let deadline = self.consent.poll_timeout();
            let received = tokio::select! {
                received = self.udp.recv_from(&mut buf) => Some(received),
                () = until(deadline) => None,
            };
            let now = Instant::now();
            match received {
                None => self.consent.handle_timeout(now),
                Some(Ok((len, from))) => self.demux(now, from, &buf[..len]),
                // An ICMP error for an earlier datagram, as some systems
                // report it: the socket still works.
                Some(Err(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused
                    ) => {}
                Some(Err(_)) => return,
            }
        }
    }

    fn demux(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        match Protocol::of(bytes) {
            Protocol::Stun => self.consent.handle_stun(now, from, bytes),
            Protocol::Quic => {
                let _ = self.inbound.try_send((from, bytes.to_vec()));
            }
            Protocol::Other => {}
        }
    }

    /// Sends what the machine has to send and publishes its state. A
    /// datagram the socket has no room for is lost, as on any full link.
    fn flush(&mut self) {
        while let Some((to, bytes)) = self.consent.poll_transmit() {
            let _ = self.udp.try_send_to(&bytes, to);
        }
        let state = self.consent.state(Instant::now());
        self.state.send_if_modified(|published| {
            let changed = *published != state;
            *published = state;
            changed
        });
    }
}

/// Waits until `deadline`, or for ever without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The socket quinn sees; see the module documentation.
struct DirectSocket {
    udp: Arc<UdpSocket>,
    inbound: Mutex<mpsc::Receiver<Datagram>>,
    consent: watch::Receiver<ConsentState>,
}

impl fmt::Debug for DirectSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectSocket")
            .field("udp", &self.udp)
            .finish_non_exhaustive()
    }
}

fn task_ended() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the punched socket's receiver stopped",
    )
}

impl AsyncUdpSocket for DirectSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(Writable {
            udp: Arc::clone(&self.udp),
            waiting: None,
        })
    }

    /// Sends the datagram (each segment of a GSO batch in turn);
    /// `WouldBlock` when the socket has no room for the first. Other send
    /// errors lose the datagram, as quinn's own socket does: a path error
    /// is QUIC's to notice, not a reason to fail the endpoint. Nothing
    /// goes once consent has expired (RFC 7675 §5.1).
    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        if *self.consent.borrow() == ConsentState::Expired {
            return Ok(());
        }
        let size = transmit
            .segment_size
            .unwrap_or(transmit.contents.len())
            .max(1);
        for (i, segment) in transmit.contents.chunks(size).enumerate() {
            match self.udp.try_send_to(segment, transmit.destination) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && i == 0 => return Err(e),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Ok(_) | Err(_) => {}
            }
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
            return Poll::Ready(Err(task_ended()));
        };
        super::poll_queued(&mut inbound, task_ended, cx, bufs, meta)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.udp.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        1
    }

    fn max_receive_segments(&self) -> usize {
        1
    }
}

/// The future that waits for the socket to be writable.
type Waiting = Pin<Box<dyn Future<Output = io::Result<()>> + Send + Sync>>;

/// Write readiness of the socket, for one task.
struct Writable {
    udp: Arc<UdpSocket>,
    waiting: Option<Waiting>,
}

impl fmt::Debug for Writable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writable").finish_non_exhaustive()
    }
}

impl UdpPoller for Writable {
    fn poll_writable(self: Pin<&mut Self>, cx: &mut Context) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let waiting = this.waiting.get_or_insert_with(|| {
            let udp = Arc::clone(&this.udp);
            Box::pin(async move { udp.writable().await })
        });
        let result = waiting.as_mut().poll(cx);
        if result.is_ready() {
            this.waiting = None;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use stun_types::message::TransactionId;

    use super::*;
    use crate::io::quic::{Identity, QuicError, accept, connect};
    use crate::proto::punch::Credentials;
    use crate::proto::punch::check::{self, Incoming};
    use crate::proto::punch::testing::credentials as creds;

    /// The longest any one wait in these tests may take.
    const WAIT: Duration = Duration::from_secs(5);

    async fn loopback() -> (UdpSocket, SocketAddr) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        (socket, addr)
    }

    /// The next datagram `socket` receives, within `wait`.
    async fn next(socket: &UdpSocket, wait: Duration) -> Option<(Vec<u8>, SocketAddr)> {
        let mut buf = [0u8; 2048];
        let (len, from) = tokio::time::timeout(wait, socket.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        Some((buf[..len].to_vec(), from))
    }

    /// Datagrams whose first byte no protocol on the socket owns (RFC 7983
    /// §7: 4–63, 128–191).
    async fn garbage(from: &UdpSocket, to: SocketAddr) {
        for first in (4u8..64).chain(128..192) {
            let mut bytes = vec![first; 48];
            bytes[4..8].copy_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
            from.send_to(&bytes, to).await.unwrap();
        }
    }

    /// Sends `message` on a new stream and returns the echo.
    async fn echo(connection: &quinn::Connection, message: &[u8]) -> Vec<u8> {
        let (mut send, mut recv) = connection.open_bi().await.unwrap();
        send.write_all(message).await.unwrap();
        send.finish().unwrap();
        tokio::time::timeout(WAIT, recv.read_to_end(64))
            .await
            .unwrap()
            .unwrap()
    }

    #[test]
    fn the_first_byte_sorts_a_datagram() {
        let of = |first: u8| Protocol::of(&[first, 0, 0, 0]);
        for first in 0..=3 {
            assert_eq!(of(first), Protocol::Stun, "{first}");
        }
        for first in (4..=63).chain(128..=191) {
            assert_eq!(of(first), Protocol::Other, "{first}");
        }
        for first in (64..=127).chain(192..=255) {
            assert_eq!(of(first), Protocol::Quic, "{first}");
        }
        assert_eq!(Protocol::of(&[]), Protocol::Other);
    }

    /// A third party holding B's credentials (`cb`; A's are `ca`) checks
    /// A at `a_addr`: A answers it on its one socket, to the check's
    /// source, signed for B.
    async fn checked_by_a_third_party(
        stranger: &UdpSocket,
        a_addr: SocketAddr,
        cb: &Credentials,
        ca: &Credentials,
        id: u128,
    ) {
        let id = TransactionId::from(id);
        stranger
            .send_to(&check::request(id, cb, ca), a_addr)
            .await
            .unwrap();
        let (answer, from) = next(stranger, WAIT).await.expect("A answers the check");
        assert_eq!(from, a_addr);
        assert_eq!(
            check::classify(&answer, from, cb, ca),
            Incoming::Answer {
                id,
                mapped: Some(stranger.local_addr().unwrap())
            }
        );
    }

    #[tokio::test]
    async fn quic_and_checks_share_the_socket_and_garbage_is_dropped() {
        let (ca, cb) = (creds(1), creds(2));
        let ((a_udp, a_addr), (b_udp, b_addr)) = (loopback().await, loopback().await);
        let (stranger, _) = loopback().await;
        let now = Instant::now();
        let a = Direct::new(a_udp, Consent::new(ca.clone(), cb.clone(), b_addr, now, 1)).unwrap();
        let b = Direct::new(b_udp, Consent::new(cb.clone(), ca.clone(), a_addr, now, 2)).unwrap();
        garbage(&stranger, a_addr).await;
        garbage(&stranger, b_addr).await;
        // Answered in order after the garbage: none of it reached quinn's
        // queue.
        checked_by_a_third_party(&stranger, a_addr, &cb, &ca, 6).await;
        assert!(a.socket.inbound.lock().unwrap().try_recv().is_err());

        let (novice, helper) = (Identity::generate().unwrap(), Identity::generate().unwrap());
        let (nf, hf) = (novice.fingerprint(), helper.fingerprint());
        let a_socket = a.socket();
        let serving = tokio::spawn(async move {
            let (_endpoint, connection) = accept(a_socket, &novice, hf, None, WAIT).await?;
            for _ in 0..2 {
                let (mut send, mut recv) = connection
                    .accept_bi()
                    .await
                    .map_err(|e| QuicError::Handshake(e.to_string()))?;
                let got = recv.read_to_end(64).await.unwrap();
                send.write_all(&got).await.unwrap();
                send.finish().unwrap();
            }
            connection.closed().await;
            Ok::<_, QuicError>(())
        });
        let (_endpoint, connection) = tokio::time::timeout(
            WAIT,
            connect(
                b.socket(),
                &helper,
                a_addr,
                nf,
                Some(Duration::from_millis(1)),
            ),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(echo(&connection, b"first").await, b"first");

        // During the connection too.
        checked_by_a_third_party(&stranger, a_addr, &cb, &ca, 7).await;
        // Garbage in the middle of the connection does not disturb it, and
        // nothing answers it.
        garbage(&stranger, a_addr).await;
        garbage(&stranger, b_addr).await;
        assert_eq!(echo(&connection, b"second").await, b"second");
        assert!(next(&stranger, Duration::from_millis(200)).await.is_none());
        assert_eq!(
            (a.consent(), b.consent()),
            (ConsentState::Fresh, ConsentState::Fresh)
        );

        connection.close(0u32.into(), b"done");
        tokio::time::timeout(WAIT, serving)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn consent_is_lost_to_a_silent_peer_and_kept_by_an_answering_one() {
        let (ca, cb) = (creds(1), creds(2));
        let (silent, silent_addr) = loopback().await;
        let ((lonely_udp, _), (kept_udp, kept_addr), (peer_udp, peer_addr)) =
            (loopback().await, loopback().await, loopback().await);
        // Both machines started 29 s ago and have had no answer since: a
        // second is left to each.
        let now = Instant::now();
        let past = now
            .checked_sub(Duration::from_secs(29))
            .expect("the clock has run for 29 s");
        let lonely = Direct::new(
            lonely_udp,
            Consent::new(ca.clone(), cb.clone(), silent_addr, past, 3),
        )
        .unwrap();
        let kept = Direct::new(
            kept_udp,
            Consent::new(ca.clone(), cb.clone(), peer_addr, past, 4),
        )
        .unwrap();
        let _peer = Direct::new(
            peer_udp,
            Consent::new(cb.clone(), ca.clone(), kept_addr, now, 5),
        )
        .unwrap();

        tokio::time::timeout(WAIT, lonely.consent_lost())
            .await
            .expect("consent expires when nothing answers");
        assert_eq!(lonely.consent(), ConsentState::Expired);
        // The timer sent consent checks, authenticated for the peer.
        let (check, _) = next(&silent, WAIT).await.expect("a consent check");
        assert!(matches!(
            check::classify(&check, silent_addr, &cb, &ca),
            Incoming::Check { .. }
        ));
        // After expiry, nothing goes out: not quinn's datagrams either.
        while next(&silent, Duration::from_millis(100)).await.is_some() {}
        let quic = [0x40u8; 32];
        let transmit = Transmit {
            destination: silent_addr,
            ecn: None,
            contents: &quic,
            segment_size: None,
            src_ip: None,
        };
        lonely.socket().try_send(&transmit).unwrap();
        assert!(next(&silent, Duration::from_millis(300)).await.is_none());

        // The peer's answers refreshed the other one past its first 30 s.
        assert!(
            tokio::time::timeout(Duration::from_secs(2), kept.consent_lost())
                .await
                .is_err()
        );
        assert_eq!(kept.consent(), ConsentState::Fresh);
    }
}
