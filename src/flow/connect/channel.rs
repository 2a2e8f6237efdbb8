//! The session's channel: QUIC over the punched path when both punches
//! connected (its handshake runs while the two sides still tell each
//! other how their punches ended), else (or when that handshake fails)
//! over the two relayed addresses. The novice is the QUIC server, the
//! helper the client, on either path; each accepts only the certificate
//! the other named in its sealed introduction.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use quinn::{AsyncUdpSocket, Connection, Endpoint};
use tokio::task::JoinHandle;

use super::path::{PathInfo, PathOutcome, RelayInfo};
use crate::io::punch::Winner;
use crate::io::quic::direct::Direct;
use crate::io::quic::relayed::Relayed;
use crate::io::quic::{self, Fingerprint, Identity, QuicError};
use crate::proto::punch::{Consent, Credentials, Path};
use crate::proto::rendezvous::Role;

/// How long the direct handshake may take before the relay is tried.
const DIRECT_WAIT: Duration = Duration::from_secs(5);

/// How long the channel of the relayed addresses may take to come up.
const RELAY_WAIT: Duration = Duration::from_secs(10);

/// How long the side that ends the session waits for its close to be
/// heard, and the other for the close.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The punched socket, taken over at once when this side's punch
/// connected: it answers the peer's checks from then on (the peer's
/// punch may still be waiting for an answer) and checks consent (RFC 7675)
/// while QUIC shares it (RFC 7983).
pub struct DirectPath {
    direct: Direct,
    path: Path,
}

impl DirectPath {
    pub fn new(winner: Winner, own: Credentials, peer: Credentials) -> Result<Self, String> {
        let consent = Consent::new(
            own,
            peer,
            winner.path.remote,
            Instant::now(),
            rand::random(),
        );
        let direct = Direct::new(winner.socket, consent)
            .map_err(|e| format!("the punched socket failed ({e})"))?;
        Ok(Self {
            direct,
            path: winner.path,
        })
    }
}

/// A QUIC handshake's end: the endpoint and its one connection.
pub type Handshake = Result<(Endpoint, Connection), QuicError>;

/// The QUIC handshake over the punched socket.
pub async fn handshake(
    role: Role,
    me: &Identity,
    peer: Fingerprint,
    direct: &DirectPath,
) -> Handshake {
    let to = (direct.path.remote, Some(direct.path.rtt));
    by_role(role, direct.direct.socket(), me, peer, to, DIRECT_WAIT).await
}

/// The handshake as `role` makes it over `socket`, within `wait`: the
/// novice serves, the helper connects to `remote` (`rtt`: the round trip
/// measured on the way there, if any).
async fn by_role(
    role: Role,
    socket: Arc<dyn AsyncUdpSocket>,
    me: &Identity,
    peer: Fingerprint,
    (remote, rtt): (SocketAddr, Option<Duration>),
    wait: Duration,
) -> Handshake {
    match role {
        Role::Novice => quic::accept(socket, me, peer, rtt, wait).await,
        Role::Helper => tokio::time::timeout(wait, quic::connect(socket, me, remote, peer, rtt))
            .await
            .map_err(|_| QuicError::NoConnection)?,
    }
}

/// A future run beside another: finished, or still to be awaited.
pub enum Beside<F: Future> {
    Done(F::Output),
    Pending(F),
}

impl<F: Future + Unpin> Beside<F> {
    pub async fn finish(self) -> F::Output {
        match self {
            Beside::Done(output) => output,
            Beside::Pending(future) => future.await,
        }
    }
}

/// Runs `main` to its end while `beside` makes progress too (the direct
/// handshake during the outcomes' exchange: one round trip saved).
pub async fn beside<T, F: Future + Unpin>(
    main: impl Future<Output = T>,
    beside: Option<F>,
) -> (T, Option<Beside<F>>) {
    let Some(mut future) = beside else {
        return (main.await, None);
    };
    tokio::pin!(main);
    tokio::select! {
        out = &mut main => (out, Some(Beside::Pending(future))),
        done = &mut future => (main.await, Some(Beside::Done(done))),
    }
}

/// What the channel is opened from.
pub struct Sides<'a> {
    pub role: Role,
    pub me: &'a Identity,
    pub peer: Fingerprint,
    /// The direct handshake when both punches connected, or why there was
    /// none.
    pub direct: Result<(DirectPath, Handshake), String>,
    /// This side's allocation, or why it has none.
    pub relay: Result<Relayed, String>,
    pub peer_relayed: Option<SocketAddr>,
}

/// An open channel.
pub struct Channel {
    pub connection: Connection,
    pub path: PathInfo,
    /// Why the channel took this path.
    pub why: String,
    endpoint: Endpoint,
    /// The allocation the channel runs through, kept until the end.
    relay: Option<Relayed>,
    /// The punched socket a direct channel runs over.
    direct: Option<Direct>,
    /// A direct channel's allocation being given back beside the session,
    /// waited for at its end, so that the relay hears it before this
    /// process ends.
    releasing: Option<JoinHandle<()>>,
}

pub enum Opened {
    Up(Box<Channel>),
    Failed { why: String },
}

impl Channel {
    pub fn outcome(&self) -> PathOutcome {
        if self.relay.is_some() {
            PathOutcome::Relayed
        } else {
            PathOutcome::Direct
        }
    }

    /// Completes when the other side stopped consenting to a direct path
    /// (RFC 7675 §5.1: 30 s without an answer); never on a relayed one,
    /// where the relay's permission is the consent.
    pub async fn consent_lost(&self) {
        match &self.direct {
            Some(direct) => direct.consent_lost().await,
            None => std::future::pending().await,
        }
    }

    /// Ends the session: the helper closes and waits until the close went
    /// out; the novice waits for it. Then the allocation is given back.
    pub async fn close(self, role: Role) {
        match role {
            Role::Helper => {
                self.connection.close(0u32.into(), b"done");
                let _ = tokio::time::timeout(CLOSE_WAIT, self.endpoint.wait_idle()).await;
            }
            Role::Novice => {
                let _ = tokio::time::timeout(CLOSE_WAIT, self.connection.closed()).await;
            }
        }
        if let Some(relay) = self.relay {
            relay.release().await;
        }
        if let Some(releasing) = self.releasing {
            let _ = tokio::time::timeout(CLOSE_WAIT, releasing).await;
        }
    }
}

/// Opens the channel; see the module documentation.
pub async fn open(sides: Sides<'_>) -> Opened {
    let Sides {
        role,
        me,
        peer,
        direct,
        relay,
        peer_relayed,
    } = sides;
    let mut tried = Vec::new();
    match direct {
        Ok((path, Ok((endpoint, connection)))) => {
            // The allocation goes back beside the session, not before it:
            // the relay's answer to the Refresh is no reason to wait.
            let releasing = relay.ok().map(|relay| tokio::spawn(relay.release()));
            let info = PathInfo::direct(&path.path, path.direct.local_addr().ok());
            let why = format!(
                "both punches connected; QUIC runs over the {} path to {}",
                info.kind, info.remote
            );
            return Opened::Up(Box::new(Channel {
                connection,
                path: info,
                why,
                endpoint,
                relay: None,
                direct: Some(path.direct),
                releasing,
            }));
        }
        Ok((_, Err(e))) => tried.push(format!("the direct QUIC handshake failed ({e})")),
        Err(why) => tried.push(why),
    }
    let relay = match relay {
        Ok(relay) => relay,
        Err(why) => {
            tried.push(format!("no relay: {why}"));
            return Opened::Failed {
                why: tried.join("; "),
            };
        }
    };
    let Some(peer_relayed) = peer_relayed else {
        tried.push("the other side has no relayed address".to_string());
        relay.release().await;
        return Opened::Failed {
            why: tried.join("; "),
        };
    };
    match relayed(role, me, peer, &relay, peer_relayed).await {
        Ok((endpoint, connection)) => {
            let path = PathInfo::relayed(RelayInfo {
                server: relay.server(),
                transport: relay.transport(),
                relayed: relay.relayed_address(),
                peer_relayed,
            });
            tried.push("QUIC runs through the relay".to_string());
            Opened::Up(Box::new(Channel {
                connection,
                path,
                why: tried.join("; "),
                endpoint,
                relay: Some(relay),
                direct: None,
                releasing: None,
            }))
        }
        Err(e) => {
            tried.push(format!("the relayed QUIC handshake failed ({e})"));
            relay.release().await;
            Opened::Failed {
                why: tried.join("; "),
            }
        }
    }
}

/// QUIC between the two relayed addresses, each side through its own
/// allocation, once this side's relay lets the other's in (RFC 8656 §9:
/// a permission for the peer's relayed address, with a channel).
async fn relayed(
    role: Role,
    me: &Identity,
    peer: Fingerprint,
    relay: &Relayed,
    peer_relayed: SocketAddr,
) -> Result<(Endpoint, Connection), String> {
    relay
        .permit(peer_relayed, RELAY_WAIT)
        .await
        .map_err(|e| e.to_string())?;
    by_role(
        role,
        relay.socket(),
        me,
        peer,
        (peer_relayed, None),
        RELAY_WAIT,
    )
    .await
    .map_err(|e| e.to_string())
}
