//! The trial's measurements over the session's QUIC channel
//! ([`crate::proto::session::measure`] says what goes on the wire): the
//! helper asks, the novice answers, and both end with the same figures.

use std::time::{Duration, Instant};

use quinn::{Connection, RecvStream, SendStream};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::proto::session::measure::{
    HEADER, MAX_SUMMARY, PING, Request, RequestError, percentile,
};

/// What the helper measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeasurePlan {
    pub pings: u64,
    /// Bytes moved each way for the throughput.
    pub transfer: u64,
}

impl Default for MeasurePlan {
    /// 20 pings and 1 MiB each way: about a second through a relay held to
    /// 1 MB/s a user.
    fn default() -> Self {
        Self {
            pings: 20,
            transfer: 1024 * 1024,
        }
    }
}

/// The figures, as both sides report them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Figures {
    /// Round trips of the pings, in milliseconds.
    pub rtt_ms: Vec<f64>,
    pub rtt_p50_ms: Option<f64>,
    pub rtt_p95_ms: Option<f64>,
    /// Megabits a second, helper to novice and back.
    pub helper_to_novice_mbit_s: Option<f64>,
    pub novice_to_helper_mbit_s: Option<f64>,
    /// QUIC packets each side sent, and those it declared lost.
    pub helper_sent_packets: u64,
    pub helper_lost_packets: u64,
    pub novice_sent_packets: u64,
    pub novice_lost_packets: u64,
}

impl Figures {
    /// Packets lost of all sent, both ways, in percent.
    pub fn loss_percent(&self) -> Option<f64> {
        let sent = self.helper_sent_packets + self.novice_sent_packets;
        let lost = self.helper_lost_packets + self.novice_lost_packets;
        (sent > 0).then(|| 100.0 * lost as f64 / sent as f64)
    }
}

/// Why the measurements stopped.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error("the channel closed: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("a stream broke: {0}")]
    Read(#[from] quinn::ReadExactError),
    #[error("a stream broke: {0}")]
    ReadToEnd(#[from] quinn::ReadToEndError),
    #[error("a stream broke: {0}")]
    Write(#[from] quinn::WriteError),
    #[error("a stream broke: {0}")]
    Stream(#[from] quinn::ReadError),
    #[error("a stream broke: it was already finished")]
    Closed(#[from] quinn::ClosedStream),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("the helper's summary is not one: {0}")]
    Summary(#[from] serde_json::Error),
    #[error("the measurements took longer than {} s", .0.as_secs())]
    Timeout(Duration),
    /// RFC 7675 §5.1: the other side stopped answering consent checks.
    #[error("the other side stopped consenting to the direct path (RFC 7675)")]
    ConsentLost,
}

/// Zeros to send from.
const CHUNK: [u8; 16 * 1024] = [0; 16 * 1024];

/// The helper's side: pings, a transfer each way, then the summary that
/// the novice reports too. Bounded by `wait` in all.
pub async fn drive(
    connection: &Connection,
    plan: MeasurePlan,
    wait: Duration,
) -> Result<Figures, MeasureError> {
    tokio::time::timeout(wait, drive_unbounded(connection, plan))
        .await
        .map_err(|_| MeasureError::Timeout(wait))?
}

async fn drive_unbounded(
    connection: &Connection,
    plan: MeasurePlan,
) -> Result<Figures, MeasureError> {
    let rtt_ms = pings(connection, plan.pings).await?;
    let up = upload(connection, plan.transfer).await?;
    let down = download(connection, plan.transfer).await?;
    let stats = connection.stats();
    let mut figures = Figures {
        rtt_p50_ms: percentile(&rtt_ms, 50.0),
        rtt_p95_ms: percentile(&rtt_ms, 95.0),
        rtt_ms,
        helper_to_novice_mbit_s: up,
        novice_to_helper_mbit_s: down,
        helper_sent_packets: stats.path.sent_packets,
        helper_lost_packets: stats.path.lost_packets,
        novice_sent_packets: 0,
        novice_lost_packets: 0,
    };
    let summary = serde_json::to_vec(&figures)?;
    let (mut send, mut recv) = connection.open_bi().await?;
    send.write_all(&Request::Summary(summary.len() as u64).encode())
        .await?;
    send.write_all(&summary).await?;
    send.finish()?;
    let mut counts = [0; 16];
    recv.read_exact(&mut counts).await?;
    figures.novice_lost_packets = u64_at(&counts, 0);
    figures.novice_sent_packets = u64_at(&counts, 8);
    Ok(figures)
}

/// Round trips of `count` pings, one after the other on one stream.
async fn pings(connection: &Connection, count: u64) -> Result<Vec<f64>, MeasureError> {
    let (mut send, mut recv) = connection.open_bi().await?;
    send.write_all(&Request::Pings(count).encode()).await?;
    let mut out = Vec::new();
    for i in 0..count {
        let started = Instant::now();
        send.write_all(&i.to_be_bytes()).await?;
        let mut echo = [0; PING];
        recv.read_exact(&mut echo).await?;
        out.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    send.finish()?;
    Ok(out)
}

/// Sends `bytes` and returns the rate the novice received them at.
async fn upload(connection: &Connection, bytes: u64) -> Result<Option<f64>, MeasureError> {
    let (mut send, mut recv) = connection.open_bi().await?;
    send.write_all(&Request::Upload(bytes).encode()).await?;
    write_zeros(&mut send, bytes).await?;
    send.finish()?;
    let mut micros = [0; 8];
    recv.read_exact(&mut micros).await?;
    Ok(rate(bytes, Duration::from_micros(u64_at(&micros, 0))))
}

/// Asks for `bytes` and returns the rate they arrived at.
async fn download(connection: &Connection, bytes: u64) -> Result<Option<f64>, MeasureError> {
    let (mut send, mut recv) = connection.open_bi().await?;
    send.write_all(&Request::Download(bytes).encode()).await?;
    send.finish()?;
    let took = read_counted(&mut recv, bytes).await?;
    Ok(rate(bytes, took))
}

/// The novice's side: answers the helper's requests until its summary,
/// and returns the figures both report. Bounded by `wait` in all.
pub async fn serve(connection: &Connection, wait: Duration) -> Result<Figures, MeasureError> {
    tokio::time::timeout(wait, serve_unbounded(connection))
        .await
        .map_err(|_| MeasureError::Timeout(wait))?
}

async fn serve_unbounded(connection: &Connection) -> Result<Figures, MeasureError> {
    loop {
        let (mut send, mut recv) = connection.accept_bi().await?;
        let mut header = [0; HEADER];
        recv.read_exact(&mut header).await?;
        match Request::decode(header)? {
            Request::Pings(count) => {
                let mut ping = [0; PING];
                for _ in 0..count {
                    recv.read_exact(&mut ping).await?;
                    send.write_all(&ping).await?;
                }
                send.finish()?;
            }
            Request::Upload(bytes) => {
                let took = read_counted(&mut recv, bytes).await?;
                let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
                send.write_all(&micros.to_be_bytes()).await?;
                send.finish()?;
            }
            Request::Download(bytes) => {
                write_zeros(&mut send, bytes).await?;
                send.finish()?;
            }
            Request::Summary(_) => {
                let summary = recv.read_to_end(MAX_SUMMARY as usize).await?;
                let mut figures: Figures = serde_json::from_slice(&summary)?;
                let stats = connection.stats();
                figures.novice_lost_packets = stats.path.lost_packets;
                figures.novice_sent_packets = stats.path.sent_packets;
                let mut counts = [0; 16];
                counts[..8].copy_from_slice(&figures.novice_lost_packets.to_be_bytes());
                counts[8..].copy_from_slice(&figures.novice_sent_packets.to_be_bytes());
                send.write_all(&counts).await?;
                send.finish()?;
                return Ok(figures);
            }
        }
    }
}

async fn write_zeros(send: &mut SendStream, bytes: u64) -> Result<(), MeasureError> {
    let mut left = bytes;
    while left > 0 {
        let n = left.min(CHUNK.len() as u64) as usize;
        send.write_all(&CHUNK[..n]).await?;
        left -= n as u64;
    }
    Ok(())
}

/// Reads exactly `bytes` (more is an error) and returns the time from the
/// first to the last.
async fn read_counted(recv: &mut RecvStream, bytes: u64) -> Result<Duration, MeasureError> {
    let mut buf = vec![0; CHUNK.len()];
    let mut left = bytes;
    let mut first = None;
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        match recv.read(&mut buf[..want]).await? {
            Some(n) => {
                first.get_or_insert_with(Instant::now);
                left -= n as u64;
            }
            None => {
                return Err(MeasureError::Read(quinn::ReadExactError::FinishedEarly(
                    (bytes - left) as usize,
                )));
            }
        }
    }
    Ok(first.map_or(Duration::ZERO, |at| at.elapsed()))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut n = [0; 8];
    n.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(n)
}

/// Megabits a second, or none for a time too short to tell.
fn rate(bytes: u64, took: Duration) -> Option<f64> {
    (took >= Duration::from_millis(1)).then(|| bytes as f64 * 8.0 / took.as_secs_f64() / 1e6)
}
