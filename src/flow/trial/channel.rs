//! The trial's channel: QUIC over the punched path when both punches
//! connected, else (or when that handshake fails) over the two relayed
//! addresses. The novice is the QUIC server, the helper the client, on
//! either path; each accepts only the certificate the other named in its
//! sealed introduction.

use std::net::SocketAddr;
use std::time::Duration;

use quinn::{Connection, Endpoint};

use super::report::{PathInfo, RelayInfo, TrialOutcome};
use crate::io::punch::{Punched, Winner};
use crate::io::quic::relayed::Relayed;
use crate::io::quic::{self, Fingerprint, Identity, QuicError};
use crate::proto::rendezvous::Role;

/// How long the direct handshake may take before the relay is tried.
const DIRECT_WAIT: Duration = Duration::from_secs(5);

/// How long the channel of the relayed addresses may take to come up.
const RELAY_WAIT: Duration = Duration::from_secs(10);

/// How long the side that ends the trial waits for its close to be
/// heard, and the other for the close.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// What the channel is opened from.
pub(super) struct Sides<'a> {
    pub role: Role,
    pub me: &'a Identity,
    pub peer: Fingerprint,
    pub punched: Punched,
    /// Both sides' punches connected (they told each other).
    pub both_direct: bool,
    /// Why no punch ran, if none did.
    pub skipped: Option<&'static str>,
    /// This side's allocation, or why it has none.
    pub relay: Result<Relayed, String>,
    pub peer_relayed: Option<SocketAddr>,
}

/// An open channel.
pub(super) struct Channel {
    pub connection: Connection,
    pub path: PathInfo,
    /// Why the channel took this path.
    pub why: String,
    endpoint: Endpoint,
    /// The allocation the channel runs through, kept until the end.
    relay: Option<Relayed>,
}

pub(super) enum Opened {
    Up(Box<Channel>),
    Failed { why: String },
}

impl Channel {
    pub fn outcome(&self) -> TrialOutcome {
        if self.relay.is_some() {
            TrialOutcome::Relayed
        } else {
            TrialOutcome::Direct
        }
    }

    /// Ends the trial: the helper closes and waits until the close went
    /// out; the novice waits for it. Then the allocation is given back.
    pub async fn close(self, role: Role) {
        match role {
            Role::Helper => {
                self.connection.close(0u32.into(), b"trial done");
                let _ = tokio::time::timeout(CLOSE_WAIT, self.endpoint.wait_idle()).await;
            }
            Role::Novice => {
                let _ = tokio::time::timeout(CLOSE_WAIT, self.connection.closed()).await;
            }
        }
        if let Some(relay) = self.relay {
            relay.release().await;
        }
    }
}

/// Opens the channel; see the module documentation.
pub(super) async fn open(sides: Sides<'_>) -> Opened {
    let Sides {
        role,
        me,
        peer,
        punched,
        both_direct,
        skipped,
        relay,
        peer_relayed,
    } = sides;
    let mut tried = Vec::new();
    match punched {
        Punched::Connected(winner) if both_direct => match direct(role, me, peer, winner).await {
            Ok((endpoint, connection, path)) => {
                if let Ok(relay) = relay {
                    relay.release().await;
                }
                let why = format!(
                    "both punches connected; QUIC runs over the {} path to {}",
                    path.kind, path.remote
                );
                return Opened::Up(Box::new(Channel {
                    connection,
                    path,
                    why,
                    endpoint,
                    relay: None,
                }));
            }
            Err(e) => tried.push(format!("the direct QUIC handshake failed ({e})")),
        },
        Punched::Connected(_) => {
            tried.push("this side's punch connected, the other side's did not".to_string())
        }
        Punched::Failed(_) if both_direct => {
            tried.push("this side lost its punched socket".to_string())
        }
        Punched::Failed(_) => tried.push(
            skipped
                .unwrap_or("no direct path: the punch failed")
                .to_string(),
        ),
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

/// QUIC over the socket the punch proved.
async fn direct(
    role: Role,
    me: &Identity,
    peer: Fingerprint,
    winner: Winner,
) -> Result<(Endpoint, Connection, PathInfo), QuicError> {
    let rtt = Some(winner.path.rtt);
    let local = winner.socket.local_addr().ok();
    let socket = winner.socket.into_std()?;
    let path = PathInfo::direct(&winner.path, local);
    let (endpoint, connection) = match role {
        Role::Novice => quic::accept(socket, me, peer, rtt, DIRECT_WAIT).await?,
        Role::Helper => tokio::time::timeout(
            DIRECT_WAIT,
            quic::connect(socket, me, winner.path.remote, peer, rtt),
        )
        .await
        .map_err(|_| QuicError::NoConnection)??,
    };
    Ok((endpoint, connection, path))
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
    let socket = relay.socket();
    let opened = match role {
        Role::Novice => quic::accept(socket, me, peer, None, RELAY_WAIT).await,
        Role::Helper => tokio::time::timeout(
            RELAY_WAIT,
            quic::connect(socket, me, peer_relayed, peer, None),
        )
        .await
        .map_err(|_| QuicError::NoConnection)
        .and_then(|r| r),
    };
    opened.map_err(|e| e.to_string())
}
