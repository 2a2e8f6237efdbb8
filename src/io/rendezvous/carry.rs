//! Carrying a novice's connection to the host of the deployment that
//! holds its room: a connection of this host's own to that host, the
//! [`Preamble`] naming the novice, its Hello and what followed it, then
//! every byte both ways until either side closes.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::timeout;

use crate::io::store::RoomStore;
use crate::proto::rendezvous::{ClientMessage, Preamble, RendezvousError, ServerMessage, encode};

/// How long connecting to the host that holds a novice's room may take.
const CARRY_TIMEOUT: Duration = Duration::from_secs(5);

/// A client connection on its way to another host: its halves, what was
/// read past its Hello, and the Hello.
pub(super) struct Carried {
    pub(super) reader: OwnedReadHalf,
    pub(super) writer: OwnedWriteHalf,
    pub(super) buffered: Vec<u8>,
    pub(super) hello: ClientMessage,
}

/// Carries a novice's connection to the host at `host`, which holds its
/// room: the preamble, the Hello and what followed it, then every byte
/// both ways until either side closes. If that host cannot be reached,
/// the novice is told the deployment's store is unavailable.
pub(super) async fn carry<S: RoomStore>(
    store: &S,
    client: SocketAddr,
    carried: Carried,
    host: SocketAddr,
    write_timeout: Duration,
) {
    let Carried {
        reader,
        mut writer,
        buffered,
        hello,
    } = carried;
    let upstream = async {
        let key = store.forward_key().await?;
        let mut upstream = timeout(CARRY_TIMEOUT, TcpStream::connect(host))
            .await
            .ok()?
            .ok()?;
        let mut opening = encode(&Preamble::new(&key, client, unix_now())?);
        opening.extend_from_slice(&encode(&hello));
        opening.extend_from_slice(&buffered);
        timeout(write_timeout, upstream.write_all(&opening))
            .await
            .ok()?
            .ok()?;
        Some(upstream)
    };
    let Some(mut upstream) = upstream.await else {
        let error = ServerMessage::Error {
            error: RendezvousError::StoreUnavailable,
        };
        let _ = timeout(write_timeout, writer.write_all(&encode(&error))).await;
        let _ = timeout(write_timeout, writer.shutdown()).await;
        return;
    };
    let Ok(mut client) = reader.reunite(writer) else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// Unix time in seconds (0 for a clock before 1970, which no preamble
/// then verifies against).
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
