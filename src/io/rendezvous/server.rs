//! Runs the [`Rendezvous`] machine on a TCP listener: a task per
//! connection splits its bytes into frames, one loop owns the machine, and
//! the room store answers its questions in tasks of their own. A novice
//! whose room another host holds is carried there: its task opens a
//! connection to that host, sends the [`Preamble`] and the Hello, and
//! then copies bytes both ways until either side closes.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::timeout;

use super::carry::{Carried, carry, unix_now};
use crate::io::store::{MemoryStore, RoomStore};
use crate::proto::rendezvous::{
    Answer, ClientMessage, Code, ConnId, FrameDecoder, FrameError, Output, Preamble, RelayOffer,
    Rendezvous, RendezvousConfig, RendezvousError, RendezvousStats, client_message, encode,
};

/// How much is read from a connection at a time.
const READ_CHUNK: usize = 8 * 1024;

/// How long a write may wait for a client that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a closed connection is drained, so that unread input does not
/// turn the close into a reset that destroys the last message (an Error)
/// before the client reads it.
const LINGER: Duration = Duration::from_secs(2);

/// How long to pause accepting after the listener fails (out of file
/// descriptors, most likely).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How often the codes of this host's rooms are claimed again in the
/// store, for a store that restarted empty.
const RECLAIM_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum RendezvousServeError {
    #[error(
        "cannot listen for the rendezvous on TCP {addr} (is the address assigned to this host, and the port free?)"
    )]
    Bind { addr: SocketAddr, source: io::Error },
}

/// Listens on `addr`; returns the server ready to run.
pub async fn bind(
    addr: SocketAddr,
    config: RendezvousConfig,
) -> Result<RendezvousServer, RendezvousServeError> {
    let bind_error = |source| RendezvousServeError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    Ok(RendezvousServer {
        listener,
        local_addr,
        config,
        relay: None,
    })
}

/// A bound rendezvous server.
pub struct RendezvousServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    config: RendezvousConfig,
    relay: Option<RelayOffer>,
}

/// What a connection task, or the store, reports to the central loop.
enum Event {
    Message(ConnId, ClientMessage),
    Malformed(ConnId, RendezvousError),
    Closed(ConnId),
    /// Another host carried this connection here for this client.
    Forwarded(ConnId, SocketAddr),
    Answer(ConnId, Answer),
}

/// What the central loop asks of a connection task.
enum Outbound {
    Frame(Vec<u8>),
    Close,
    /// Carry the connection to the host at this address.
    Forward(SocketAddr),
}

impl RendezvousServer {
    /// Where it listens (with the port resolved if 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Hands the members of every paired room credentials for `offer`'s
    /// relay.
    pub fn offer_relay(mut self, offer: RelayOffer) -> Self {
        self.relay = Some(offer);
        self
    }

    /// Serves alone, its rooms in memory, until `shutdown` completes;
    /// returns what it did.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> RendezvousStats {
        let store = Arc::new(MemoryStore::new(self.config.per_source));
        self.run_with(store, shutdown).await
    }

    /// Serves with its rooms in `store` until `shutdown` completes;
    /// returns what it did.
    pub async fn run_with<S: RoomStore>(
        self,
        store: Arc<S>,
        shutdown: impl Future<Output = ()>,
    ) -> RendezvousStats {
        let mut machine = Rendezvous::sharing(self.config, rand::random::<u32>);
        if let Some(offer) = self.relay {
            machine.offer_relay(offer);
        }
        let (events_tx, mut events) = mpsc::channel::<Event>(1024);
        // Unbounded, yet small: the protocol sends at most six messages
        // and a close to one connection.
        let mut outbound: HashMap<ConnId, mpsc::UnboundedSender<Outbound>> = HashMap::new();
        let mut tasks = JoinSet::new();
        let mut next_id = 0;
        let (writes, pending) = mpsc::unbounded_channel();
        tasks.spawn(write_in_order(Arc::clone(&store), pending));
        let mut reclaim = tokio::time::interval(RECLAIM_EVERY);
        reclaim.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            let deadline = machine.poll_timeout();
            let wake = tokio::time::Instant::from_std(deadline.unwrap_or_else(Instant::now));
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let id = ConnId(next_id);
                        next_id += 1;
                        let (tx, rx) = mpsc::unbounded_channel();
                        outbound.insert(id, tx);
                        let link = Link { id, peer, store: Arc::clone(&store), events: events_tx.clone() };
                        tasks.spawn(connection(link, stream, rx));
                        machine.connect(Instant::now(), id, peer);
                    }
                    Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
                },
                Some(event) = events.recv() => {
                    let now = Instant::now();
                    match event {
                        Event::Message(id, message) => machine.handle_message(now, id, message),
                        Event::Malformed(id, error) => machine.handle_malformed(now, id, error),
                        Event::Closed(id) => {
                            outbound.remove(&id);
                            machine.handle_disconnect(now, id);
                        }
                        Event::Forwarded(id, client) => machine.handle_forwarded(now, id, client),
                        Event::Answer(id, answer) => machine.handle_answer(now, id, answer),
                    }
                }
                () = tokio::time::sleep_until(wake), if deadline.is_some() => {
                    machine.handle_timeout(Instant::now());
                }
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = reclaim.tick() => {
                    let rooms = machine.rooms_left(Instant::now());
                    if !rooms.is_empty() {
                        let _ = writes.send(Write::Reclaim(rooms));
                    }
                }
                () = &mut shutdown => break,
            }
            while let Some(output) = machine.poll_output() {
                match output {
                    Output::Send(id, message) => {
                        if let Some(tx) = outbound.get(&id) {
                            let _ = tx.send(Outbound::Frame(encode(&message)));
                        }
                    }
                    Output::Close(id) => {
                        if let Some(tx) = outbound.remove(&id) {
                            let _ = tx.send(Outbound::Close);
                        }
                    }
                    Output::Forward(id, host) => {
                        if let Some(tx) = outbound.remove(&id) {
                            let _ = tx.send(Outbound::Forward(host));
                        }
                    }
                    Output::Ask(id, question) => {
                        let (store, events) = (Arc::clone(&store), events_tx.clone());
                        tasks.spawn(async move {
                            let answer = store.answer(question).await;
                            let _ = events.send(Event::Answer(id, answer)).await;
                        });
                    }
                    Output::Release(code) => {
                        let _ = writes.send(Write::Release(code));
                    }
                }
            }
        }
        machine.stats()
    }
}

/// A change to the store's view of this host's rooms.
enum Write {
    Release(Code),
    Reclaim(Vec<(Code, Duration)>),
}

/// The most releases sent to the store at once.
const RELEASE_BATCH: usize = 512;

/// Carries out the writes one after the other, as the machine ordered
/// them: a room's release never overtakes a reclaim of the rooms open
/// before it ended, which would claim its code again. Releases waiting
/// together go in one request, so that they keep up with the rooms.
async fn write_in_order<S: RoomStore>(store: Arc<S>, mut writes: mpsc::UnboundedReceiver<Write>) {
    let mut codes = Vec::new();
    while let Some(write) = writes.recv().await {
        let mut next = Some(write);
        while let Some(write) = next.take() {
            match write {
                Write::Release(code) => codes.push(code),
                Write::Reclaim(rooms) => {
                    store.release(std::mem::take(&mut codes)).await;
                    store.reclaim(rooms).await;
                }
            }
            if codes.len() < RELEASE_BATCH {
                next = writes.try_recv().ok();
            }
        }
        store.release(std::mem::take(&mut codes)).await;
    }
}

/// What a connection task knows of its connection and reports to.
struct Link<S> {
    id: ConnId,
    peer: SocketAddr,
    store: Arc<S>,
    events: mpsc::Sender<Event>,
}

impl<S: RoomStore> Link<S> {
    /// What a frame body means: a message, a bad frame, or (as the
    /// connection's first) a preamble from another host of the deployment,
    /// which counts only if its proof holds under the deployment's key.
    async fn read(&self, body: &[u8], first: bool) -> Event {
        if first && let Some(preamble) = Preamble::read(body) {
            let client = match self.store.forward_key().await {
                Some(key) => preamble.verify(&key, unix_now()),
                None => None,
            };
            return match client {
                Some(client) => Event::Forwarded(self.id, client),
                None => Event::Malformed(self.id, RendezvousError::Malformed),
            };
        }
        match client_message(body) {
            Ok(message) => Event::Message(self.id, message),
            Err(error) => Event::Malformed(self.id, error),
        }
    }
}

/// One connection: frames in, messages out, until either side ends it.
/// After a Hello nothing more is read until the machine has answered it:
/// what follows may be for another host.
async fn connection<S: RoomStore>(
    link: Link<S>,
    stream: TcpStream,
    mut outbound: mpsc::UnboundedReceiver<Outbound>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let mut decoder = FrameDecoder::new();
    let mut buf = vec![0; READ_CHUNK];
    // Cleared after a bad frame: nothing more is read, the loop waits for
    // the machine's Error and Close.
    let mut reading = true;
    let mut first = true;
    // The Hello whose answer is awaited.
    let mut hello: Option<ClientMessage> = None;
    loop {
        while reading && hello.is_none() {
            let event = match decoder.next_frame() {
                Ok(None) => break,
                Ok(Some(body)) => link.read(&body, std::mem::take(&mut first)).await,
                Err(FrameError::TooLarge { .. }) => {
                    Event::Malformed(link.id, RendezvousError::TooLarge)
                }
                Err(FrameError::Empty) => Event::Malformed(link.id, RendezvousError::Malformed),
            };
            match &event {
                Event::Message(_, message @ ClientMessage::Hello { .. }) => {
                    hello = Some(message.clone());
                }
                Event::Malformed(..) => reading = false,
                _ => {}
            }
            if link.events.send(event).await.is_err() {
                return;
            }
        }
        tokio::select! {
            out = outbound.recv() => match out {
                Some(Outbound::Frame(frame)) => {
                    hello = None;
                    if !matches!(timeout(WRITE_TIMEOUT, writer.write_all(&frame)).await, Ok(Ok(()))) {
                        break;
                    }
                }
                Some(Outbound::Forward(host)) => {
                    if let Some(hello) = hello.take() {
                        let carried = Carried { reader, writer, buffered: decoder.take_buffered(), hello };
                        carry(&*link.store, link.peer, carried, host, WRITE_TIMEOUT).await;
                    }
                    return;
                }
                Some(Outbound::Close) | None => {
                    let _ = timeout(WRITE_TIMEOUT, writer.shutdown()).await;
                    let _ = timeout(LINGER, drain(&mut reader, &mut buf)).await;
                    return;
                }
            },
            read = reader.read(&mut buf), if reading && hello.is_none() => {
                let n = match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                decoder.push(&buf[..n]);
            }
        }
    }
    let _ = link.events.send(Event::Closed(link.id)).await;
}

/// Reads and discards until the client closes its side.
async fn drain(reader: &mut (impl AsyncReadExt + Unpin), buf: &mut [u8]) {
    while let Ok(n) = reader.read(buf).await {
        if n == 0 {
            break;
        }
    }
}
