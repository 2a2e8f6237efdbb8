//! `ranat relay-test`: does this network reach its TURN relay? Allocates a
//! relayed address (over UDP, or TCP where UDP is blocked) and, given the
//! relayed address of another `relay-test` (directly or through a file the
//! other side writes), exchanges a bounded number of datagrams with it
//! through the relay: a channel to the peer (which brings its permission),
//! pings answered by the other side, round trips and loss measured.
//!
//! The exchange, both sides alike: "hello" every [`HELLO_EVERY`] until
//! anything arrives from the peer (then both permissions are in place: the
//! peer sends only once its own channel is bound), then `count` pings at
//! `interval`, each answered by the other side; once every ping is
//! answered or [`ANSWER_WAIT`] has passed since the last, "done" a few
//! times, and the end when the peer's "done" arrives (it has nothing left
//! to ask) or [`DONE_WAIT`] has passed. Everything within `timeout`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::io::driver::Driver;
use crate::io::quic::relayed::{self, RelayedError};
use crate::proto::relay::client::{RelayClient, RelayEvent, RelayTransport};
use crate::proto::relay::credentials::Credentials;

/// How often "hello" goes out until the peer is heard.
pub const HELLO_EVERY: Duration = Duration::from_millis(100);
/// How long answers are awaited after the last ping.
pub const ANSWER_WAIT: Duration = Duration::from_secs(1);
/// How long the peer's "done" is awaited after ours.
pub const DONE_WAIT: Duration = Duration::from_secs(3);
/// How often a peer file is looked at until it names an address.
const PEER_FILE_POLL: Duration = Duration::from_millis(50);
/// The bytes every datagram of the exchange starts with.
const MAGIC: &[u8; 4] = b"RNRT";

/// Where the peer's relayed address comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerSource {
    Address(SocketAddr),
    /// A file the other side writes (its `write_relayed`), waited for.
    File(PathBuf),
}

/// What `relay-test` does.
#[derive(Debug, Clone)]
pub struct RelayTestOptions {
    pub server: SocketAddr,
    pub transport: RelayTransport,
    pub credentials: Credentials,
    /// Write the relayed address here once allocated (for the peer).
    pub write_relayed: Option<PathBuf>,
    /// The other side; none: allocate only.
    pub peer: Option<PeerSource>,
    /// Pings to send (the exchange's bound).
    pub count: u32,
    pub interval: Duration,
    /// Bytes of each ping and answer (at least 9).
    pub size: usize,
    /// The whole test's limit.
    pub timeout: Duration,
}

/// Progress, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayTestEvent {
    Allocated(SocketAddr),
    PeerKnown(SocketAddr),
    ChannelBound(SocketAddr),
    /// The first datagram from the peer: both ways are open.
    PeerHeard,
}

/// How the exchange went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub peer: SocketAddr,
    pub sent: u32,
    /// Round trips of the pings answered, in the order sent.
    pub round_trips: Vec<Duration>,
    /// The peer's pings this side answered.
    pub answered_peer: u32,
    /// Whether the peer said it was done.
    pub peer_done: bool,
}

impl Exchange {
    pub fn received(&self) -> u32 {
        u32::try_from(self.round_trips.len()).unwrap_or(u32::MAX)
    }

    /// Lost pings or answers, in percent of those sent.
    pub fn loss_percent(&self) -> f64 {
        if self.sent == 0 {
            return 100.0;
        }
        100.0 * f64::from(self.sent - self.received().min(self.sent)) / f64::from(self.sent)
    }
}

/// Why the test stopped short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayTestError {
    #[error("cannot open a socket toward the relay: {0}")]
    Bind(String),
    /// Refused, or no answer: which, and the code.
    #[error("{0}")]
    Allocation(String),
    #[error("the relay refused the credentials (401): wrong secret, user or password, or expired")]
    Unauthorized,
    #[error("no peer address within the time limit ({0})")]
    NoPeer(String),
    #[error("the relay refused the channel to {0}")]
    Channel(SocketAddr),
    #[error("the connection to the relay closed")]
    Closed,
    #[error("cannot write the relayed address: {0}")]
    Write(String),
}

/// The result: the relayed address, and the exchange if there was a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayTest {
    pub relayed: SocketAddr,
    pub exchange: Option<Exchange>,
}

/// What a datagram of the exchange says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Message {
    Hello,
    Ping(u32),
    Answer(u32),
    Done,
}

impl Message {
    fn encode(self, size: usize) -> Vec<u8> {
        let (kind, seq) = match self {
            Message::Hello => (b'H', 0),
            Message::Ping(n) => (b'P', n),
            Message::Answer(n) => (b'A', n),
            Message::Done => (b'D', 0),
        };
        let mut bytes = MAGIC.to_vec();
        bytes.push(kind);
        bytes.extend_from_slice(&seq.to_be_bytes());
        if matches!(self, Message::Ping(_) | Message::Answer(_)) && bytes.len() < size {
            bytes.resize(size, 0);
        }
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let rest = bytes.strip_prefix(MAGIC)?;
        let (&kind, seq) = rest.split_first()?;
        let seq = u32::from_be_bytes(seq.get(..4)?.try_into().ok()?);
        Some(match kind {
            b'H' => Message::Hello,
            b'P' => Message::Ping(seq),
            b'A' => Message::Answer(seq),
            b'D' => Message::Done,
            _ => return None,
        })
    }
}

/// Runs the test; events go to `progress` as they happen.
pub async fn relay_test(
    options: RelayTestOptions,
    mut progress: impl FnMut(RelayTestEvent),
) -> Result<RelayTest, RelayTestError> {
    let limit = Instant::now() + options.timeout;
    let allocated = async {
        relayed::start(
            options.server,
            options.transport,
            options.credentials.clone(),
            options.timeout,
        )
        .await?
        .allocated()
        .await
    };
    let (mut driver, relayed) = allocated.await.map_err(|e| match e {
        RelayedError::Bind(e) => RelayTestError::Bind(e.to_string()),
        RelayedError::Unauthorized => RelayTestError::Unauthorized,
        e => RelayTestError::Allocation(e.to_string()),
    })?;
    progress(RelayTestEvent::Allocated(relayed));
    if let Some(path) = &options.write_relayed {
        write_atomically(path, &format!("{relayed}\n")).map_err(RelayTestError::Write)?;
    }
    let exchange = match &options.peer {
        None => None,
        Some(source) => {
            let result = exchange(&mut driver, &options, source, limit, &mut progress).await;
            match result {
                Ok(exchange) => Some(exchange),
                Err(e) => {
                    relayed::release(&mut driver).await;
                    return Err(e);
                }
            }
        }
    };
    relayed::release(&mut driver).await;
    Ok(RelayTest { relayed, exchange })
}

async fn exchange(
    driver: &mut Driver<RelayClient>,
    options: &RelayTestOptions,
    source: &PeerSource,
    limit: Instant,
    progress: &mut impl FnMut(RelayTestEvent),
) -> Result<Exchange, RelayTestError> {
    let peer = match source {
        PeerSource::Address(peer) => *peer,
        PeerSource::File(path) => read_peer_file(path, limit)
            .await
            .map_err(RelayTestError::NoPeer)?,
    };
    progress(RelayTestEvent::PeerKnown(peer));
    driver
        .machine_mut()
        .bind_channel(Instant::now(), peer)
        .map_err(|_| RelayTestError::Channel(peer))?;
    loop {
        match next_event(driver, limit).await {
            Some(RelayEvent::ChannelBound(p)) if p == peer => break,
            Some(RelayEvent::ChannelFailed(_) | RelayEvent::PermissionFailed(_)) => {
                return Err(RelayTestError::Channel(peer));
            }
            Some(RelayEvent::Closed) => return Err(RelayTestError::Closed),
            None => return Err(RelayTestError::Channel(peer)),
            Some(_) => {}
        }
    }
    progress(RelayTestEvent::ChannelBound(peer));

    let size = options.size.max(9);
    let mut sent_at: Vec<Option<Instant>> = Vec::new();
    let mut round_trips: Vec<Option<Duration>> = Vec::new();
    let mut heard = false;
    let mut answered_peer = 0u32;
    let mut peer_done = false;
    let mut next_send = Instant::now();
    let mut last_ping: Option<Instant> = None;
    let mut done_since: Option<Instant> = None;
    let mut dones_sent = 0u32;
    let mut answers_pending: Vec<Message> = Vec::new();

    loop {
        let now = Instant::now();
        if now >= limit {
            break;
        }
        // What this side sends now.
        let mut out: Vec<Message> = std::mem::take(&mut answers_pending);
        if now >= next_send {
            if !heard {
                out.push(Message::Hello);
                next_send = now + HELLO_EVERY;
            } else if sent_at.len() < options.count as usize {
                let seq = u32::try_from(sent_at.len()).unwrap_or(u32::MAX);
                sent_at.push(Some(now));
                round_trips.push(None);
                out.push(Message::Ping(seq));
                last_ping = Some(now);
                next_send = now + options.interval;
            } else {
                let answered = round_trips.iter().all(Option::is_some);
                let waited = last_ping.is_none_or(|t| now >= t + ANSWER_WAIT);
                if done_since.is_none() && (answered || waited) {
                    done_since = Some(now);
                }
                if done_since.is_some() && dones_sent < 3 {
                    out.push(Message::Done);
                    dones_sent += 1;
                }
                next_send = now + HELLO_EVERY;
            }
        }
        for message in out {
            driver
                .machine_mut()
                .send(Instant::now(), peer, &message.encode(size))
                .map_err(|_| RelayTestError::Closed)?;
        }
        if let Some(since) = done_since
            && (peer_done || now >= since + DONE_WAIT)
        {
            break;
        }
        // Drive the client until the next send or an arrival.
        let wake = next_send.min(limit);
        let mut progressed = true;
        while progressed {
            while let Some(event) = driver.machine_mut().poll_event() {
                match event {
                    RelayEvent::Data { peer: from, bytes } if from == peer => {
                        let Some(message) = Message::decode(&bytes) else {
                            continue;
                        };
                        if !heard {
                            heard = true;
                            progress(RelayTestEvent::PeerHeard);
                            next_send = Instant::now();
                        }
                        match message {
                            Message::Hello => {}
                            Message::Ping(seq) => {
                                answered_peer += 1;
                                answers_pending.push(Message::Answer(seq));
                            }
                            Message::Answer(seq) => {
                                let i = seq as usize;
                                if let (Some(Some(at)), Some(slot)) =
                                    (sent_at.get(i), round_trips.get_mut(i))
                                    && slot.is_none()
                                {
                                    *slot = Some(at.elapsed());
                                }
                            }
                            Message::Done => peer_done = true,
                        }
                    }
                    RelayEvent::Closed => return Err(RelayTestError::Closed),
                    _ => {}
                }
            }
            if !answers_pending.is_empty() || Instant::now() >= next_send.min(wake) {
                break;
            }
            progressed = driver.step(Some(next_send.min(wake))).await;
        }
        driver.flush().await;
    }
    Ok(Exchange {
        peer,
        sent: u32::try_from(sent_at.len()).unwrap_or(u32::MAX),
        round_trips: round_trips.into_iter().flatten().collect(),
        answered_peer,
        peer_done,
    })
}

/// Drives `driver` until its client says something, within `limit`.
async fn next_event(driver: &mut Driver<RelayClient>, limit: Instant) -> Option<RelayEvent> {
    driver.next(RelayClient::poll_event, Some(limit)).await
}

/// Waits until `path` names a socket address, within `limit`.
async fn read_peer_file(path: &Path, limit: Instant) -> Result<SocketAddr, String> {
    loop {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                if let Ok(addr) = text.trim().parse::<SocketAddr>() {
                    return Ok(addr);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
        if Instant::now() + PEER_FILE_POLL > limit {
            return Err(format!("{} names no address", path.display()));
        }
        tokio::time::sleep(PEER_FILE_POLL).await;
    }
}

/// Writes `text` to `path` through a temporary file, so a reader never sees
/// half of it.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_pad() {
        for m in [
            Message::Hello,
            Message::Ping(7),
            Message::Answer(u32::MAX),
            Message::Done,
        ] {
            assert_eq!(Message::decode(&m.encode(100)), Some(m));
        }
        assert_eq!(Message::Ping(1).encode(100).len(), 100);
        assert_eq!(Message::Hello.encode(100).len(), 9);
        assert_eq!(Message::decode(b"RNRT"), None);
        assert_eq!(Message::decode(b"XXXXP\0\0\0\x01"), None);
        assert_eq!(Message::decode(b"RNRTZ\0\0\0\x01"), None);
    }

    #[test]
    fn loss_counts_unanswered_pings() {
        let exchange = Exchange {
            peer: "198.51.100.10:50000".parse().unwrap(),
            sent: 4,
            round_trips: vec![Duration::from_millis(1); 3],
            answered_peer: 4,
            peer_done: true,
        };
        assert_eq!(exchange.received(), 3);
        assert!((exchange.loss_percent() - 25.0).abs() < 1e-9);
    }
}
