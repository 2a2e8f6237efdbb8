//! One worker: an OS thread with its own current-thread runtime, its own
//! socket on each of the responder's endpoints and its own [`Responder`].
//! It receives in batches (`recvmmsg` through quinn-udp), answers each
//! request in place into its [`Outbox`], and sends the batch's answers
//! together, in GSO runs where they share a destination; nothing is
//! allocated per datagram. TURN datagrams on the primary endpoint go to the
//! one relay through the [`Inlet`].

use std::future::poll_fn;
use std::io::{self, IoSliceMut};
use std::net::UdpSocket as StdUdpSocket;
use std::task::Poll;

use quinn_udp::{RecvMeta, Transmit, UdpSockRef, UdpSocketState};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::runtime::Runtime;
use tokio::sync::watch;

use super::outbox::Outbox;
use super::socket::settle;
use crate::io::driver::Inlet;
use crate::proto::machine::SocketId;
use crate::proto::serve::is_turn;
use crate::proto::stun::{MAX_DATAGRAM, Responder, ResponderStats};

/// The primary endpoint, which the relay shares.
const PRIMARY: usize = 0;

/// Batches taken from one socket before the others get a turn.
const BATCHES_PER_TURN: usize = 16;

/// Room for one receive: quinn-udp turns UDP GRO on, so the kernel may hand
/// over up to 64 same-sized datagrams from one sender in one buffer (any
/// datagram longer than [`MAX_DATAGRAM`] is refused as STUN whole, so it
/// needs no room beyond that). Pages the kernel never writes cost no memory.
const SLOT: usize = 64 * (MAX_DATAGRAM + 1);

/// One endpoint's socket, ready for batched I/O.
struct Endpoint {
    socket: UdpSocket,
    state: UdpSocketState,
}

/// A worker, bound and not yet started.
pub struct Worker {
    runtime: Runtime,
    endpoints: Vec<Endpoint>,
    responder: Responder,
    /// Where TURN datagrams go, when a relay runs.
    inlet: Option<Inlet>,
}

impl Worker {
    /// Sets `sockets` (one per endpoint of `responder`, in order) up for
    /// batched I/O on a runtime of their own.
    pub fn new(
        sockets: Vec<StdUdpSocket>,
        responder: Responder,
        inlet: Option<Inlet>,
    ) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let endpoints = {
            let _entered = runtime.enter();
            sockets
                .into_iter()
                .map(|s| {
                    let ipv6 = s.local_addr()?.is_ipv6();
                    let state = UdpSocketState::new(UdpSockRef::from(&s))?;
                    settle(&s, ipv6)?;
                    Ok(Endpoint {
                        socket: UdpSocket::from_std(s)?,
                        state,
                    })
                })
                .collect::<io::Result<Vec<_>>>()?
        };
        Ok(Self {
            runtime,
            endpoints,
            responder,
            inlet,
        })
    }

    /// Serves until `stop` says so (or its sender is gone); what this
    /// worker's responder saw. Blocks the calling thread.
    pub fn run(self, mut stop: watch::Receiver<bool>) -> ResponderStats {
        let Self {
            runtime,
            endpoints,
            mut responder,
            inlet,
        } = self;
        runtime.block_on(async {
            let mut state = Serving::new(&endpoints, &mut responder, inlet.as_ref());
            tokio::select! {
                biased;
                _ = stop.wait_for(|stop| *stop) => {}
                () = state.serve() => {}
            }
        });
        responder.stats()
    }
}

/// A running worker's state; buffers allocated once.
struct Serving<'a> {
    endpoints: &'a [Endpoint],
    responder: &'a mut Responder,
    inlet: Option<&'a Inlet>,
    outbox: Outbox,
    /// Where the next look for a ready socket starts, so that a busy
    /// endpoint cannot starve the others.
    next: usize,
}

impl<'a> Serving<'a> {
    fn new(
        endpoints: &'a [Endpoint],
        responder: &'a mut Responder,
        inlet: Option<&'a Inlet>,
    ) -> Self {
        Self {
            endpoints,
            responder,
            inlet,
            outbox: Outbox::new(),
            next: 0,
        }
    }

    /// Answers whatever arrives, for ever (or until the runtime stops).
    async fn serve(&mut self) {
        let mut buffer = vec![0; quinn_udp::BATCH_SIZE * SLOT];
        let mut slices: Vec<IoSliceMut<'_>> =
            buffer.chunks_mut(SLOT).map(IoSliceMut::new).collect();
        let mut metas = vec![RecvMeta::default(); slices.len()];
        loop {
            let Ok(i) = self.ready().await else {
                return;
            };
            for _ in 0..BATCHES_PER_TURN {
                let endpoint = &self.endpoints[i];
                let received = endpoint.socket.try_io(Interest::READABLE, || {
                    endpoint
                        .state
                        .recv(UdpSockRef::from(&endpoint.socket), &mut slices, &mut metas)
                });
                let n = match received {
                    Ok(n) => n,
                    // Drained (or failed: its readiness is then kept and the
                    // socket tried again after the others).
                    Err(_) => break,
                };
                for (meta, slice) in metas.iter().zip(&slices).take(n) {
                    for datagram in datagrams(&slice[..meta.len], meta.stride) {
                        self.answer(i, meta, datagram).await;
                    }
                }
                self.send().await;
            }
        }
    }

    /// The index of a socket with something to read.
    async fn ready(&mut self) -> io::Result<usize> {
        let count = self.endpoints.len();
        let i = poll_fn(|cx| {
            for k in 0..count {
                let i = (self.next + k) % count;
                match self.endpoints[i].socket.poll_recv_ready(cx) {
                    Poll::Ready(Ok(())) => return Poll::Ready(Ok(i)),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {}
                }
            }
            Poll::Pending
        })
        .await?;
        self.next = (i + 1) % count;
        Ok(i)
    }

    /// Hands one datagram that arrived on endpoint `i` to the relay or the
    /// responder, whose answer joins the outbox.
    async fn answer(&mut self, i: usize, meta: &RecvMeta, datagram: &[u8]) {
        let socket = SocketId(i as u16);
        if i == PRIMARY
            && let Some(inlet) = self.inlet
            && is_turn(datagram)
        {
            inlet.deliver(socket, meta.addr, datagram);
            return;
        }
        if self.outbox.slot().is_none() {
            self.send().await;
        }
        let Some(slot) = self.outbox.slot() else {
            return;
        };
        if let Some(reply) = self
            .responder
            .answer_into(socket, meta.addr, datagram, slot)
        {
            let max_segments = self
                .endpoints
                .get(usize::from(reply.socket.0))
                .map_or(1, |e| e.state.max_gso_segments());
            self.outbox.commit(reply, max_segments);
        }
    }

    /// Sends what the outbox holds, each run from its endpoint's socket.
    async fn send(&mut self) {
        for run in self.outbox.runs() {
            let Some(endpoint) = self.endpoints.get(usize::from(run.socket.0)) else {
                continue;
            };
            let transmit = Transmit {
                destination: run.destination,
                ecn: None,
                contents: &self.outbox.bytes()[run.range()],
                segment_size: (run.count > 1).then_some(run.segment),
                src_ip: None,
            };
            send(endpoint, &transmit).await;
        }
        self.outbox.clear();
    }
}

/// The datagrams of one receive buffer: `stride` bytes each, the last
/// maybe shorter (UDP GRO); an empty datagram is one too.
fn datagrams(bytes: &[u8], stride: usize) -> impl Iterator<Item = &[u8]> {
    let stride = stride.max(1);
    let count = bytes.len().div_ceil(stride).max(1);
    (0..count).map(move |k| &bytes[k * stride..bytes.len().min((k + 1) * stride)])
}

/// Sends `transmit` from `endpoint`, waiting while its send buffer is full.
/// Any other failure loses the datagrams, as UDP may: the client asks again.
async fn send(endpoint: &Endpoint, transmit: &Transmit<'_>) {
    loop {
        let sent = endpoint.socket.try_io(Interest::WRITABLE, || {
            endpoint
                .state
                .send(UdpSockRef::from(&endpoint.socket), transmit)
        });
        match sent {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if endpoint.socket.writable().await.is_err() {
                    return;
                }
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::datagrams;

    #[test]
    fn a_gro_buffer_is_cut_at_the_stride_and_an_empty_datagram_still_counts() {
        let bytes: Vec<u8> = (0..10).collect();
        let cut: Vec<&[u8]> = datagrams(&bytes, 4).collect();
        assert_eq!(cut, [&[0, 1, 2, 3][..], &[4, 5, 6, 7], &[8, 9]]);
        assert_eq!(datagrams(&bytes, 10).count(), 1);
        let empty: Vec<&[u8]> = datagrams(&[], 0).collect();
        assert_eq!(empty, [&[] as &[u8]]);
    }
}
