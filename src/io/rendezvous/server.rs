//! Runs the [`Rendezvous`] machine on a TCP listener: a task per
//! connection splits its bytes into frames, one loop owns the machine.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::timeout;

use crate::proto::rendezvous::{
    ClientMessage, ConnId, FrameDecoder, Output, RelayOffer, Rendezvous, RendezvousConfig,
    RendezvousError, RendezvousStats, encode, next_client_message,
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

/// What a connection task reports to the central loop.
enum Event {
    Message(ConnId, ClientMessage),
    Malformed(ConnId, RendezvousError),
    Closed(ConnId),
}

/// What the central loop asks of a connection task.
enum Outbound {
    Frame(Vec<u8>),
    Close,
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

    /// Serves until `shutdown` completes; returns what it did.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> RendezvousStats {
        let mut machine = Rendezvous::new(self.config, rand::random::<u32>);
        if let Some(offer) = self.relay {
            machine.offer_relay(offer);
        }
        let (events_tx, mut events) = mpsc::channel::<Event>(1024);
        // Unbounded, yet small: the protocol sends at most six messages
        // and a close to one connection.
        let mut outbound: HashMap<ConnId, mpsc::UnboundedSender<Outbound>> = HashMap::new();
        let mut tasks = JoinSet::new();
        let mut next_id = 0;
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
                        tasks.spawn(connection(id, stream, events_tx.clone(), rx));
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
                    }
                }
                () = tokio::time::sleep_until(wake), if deadline.is_some() => {
                    machine.handle_timeout(Instant::now());
                }
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
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
                }
            }
        }
        machine.stats()
    }
}

/// One connection: frames in, messages out, until either side ends it.
async fn connection(
    id: ConnId,
    stream: TcpStream,
    events: mpsc::Sender<Event>,
    mut outbound: mpsc::UnboundedReceiver<Outbound>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let mut decoder = FrameDecoder::new();
    let mut buf = vec![0; READ_CHUNK];
    // Cleared after a bad frame: nothing more is read, the loop waits for
    // the machine's Error and Close.
    let mut reading = true;
    loop {
        tokio::select! {
            out = outbound.recv() => match out {
                Some(Outbound::Frame(frame)) => {
                    if !matches!(timeout(WRITE_TIMEOUT, writer.write_all(&frame)).await, Ok(Ok(()))) {
                        break;
                    }
                }
                Some(Outbound::Close) | None => {
                    let _ = timeout(WRITE_TIMEOUT, writer.shutdown()).await;
                    let _ = timeout(LINGER, drain(&mut reader, &mut buf)).await;
                    return;
                }
            },
            read = reader.read(&mut buf), if reading => {
                let n = match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                decoder.push(&buf[..n]);
                while reading {
                    let event = match next_client_message(&mut decoder) {
                        None => break,
                        Some(Ok(message)) => Event::Message(id, message),
                        Some(Err(error)) => Event::Malformed(id, error),
                    };
                    reading = matches!(event, Event::Message(..));
                    if events.send(event).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
    let _ = events.send(Event::Closed(id)).await;
}

/// Reads and discards until the client closes its side.
async fn drain(reader: &mut (impl AsyncReadExt + Unpin), buf: &mut [u8]) {
    while let Ok(n) = reader.read(buf).await {
        if n == 0 {
            break;
        }
    }
}
