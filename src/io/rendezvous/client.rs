//! The client side of the rendezvous: join or create a room, swap reports,
//! swap candidates. Every wait is bounded, and whatever the server sends is
//! checked before it is believed.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};

use crate::proto::punch::{Candidate, Credentials};
use crate::proto::rendezvous::{
    ClientMessage, Code, FrameDecoder, FrameError, MAX_CANDIDATES, MAX_FRAME, PROTOCOL_VERSION,
    RendezvousError, Role, ServerMessage, encode,
};

/// How long connecting and the Hello–Welcome handshake may take, and how
/// long a send may wait for the server to read.
const HANDSHAKE: Duration = Duration::from_secs(5);

/// Added to the room's remaining lifetime when waiting for the peer, so
/// that the server's own Expired arrives before this side gives up.
const PEER_MARGIN: Duration = Duration::from_secs(5);

/// The longest room lifetime believed: a server claiming more cannot hold
/// this side waiting for longer.
const MAX_ROOM_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// The server's answer to the Hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Welcome {
    /// The room's code: to read out to the novice when this side created it.
    pub code: Code,
    pub role: Role,
    /// How long the room has left.
    pub expires_in_secs: u64,
}

/// What the other side sent for the hole punching, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCandidates {
    pub credentials: Credentials,
    pub candidates: Vec<Candidate>,
    /// The peer's TCP source address as the server saw it: informational.
    pub observed: SocketAddr,
}

/// Why the rendezvous failed.
#[derive(Debug, thiserror::Error)]
pub enum RendezvousClientError {
    #[error("cannot connect to the rendezvous server {server}")]
    Connect {
        server: SocketAddr,
        source: io::Error,
    },
    #[error("the rendezvous server {server} did not respond within {} s", HANDSHAKE.as_secs())]
    Unresponsive { server: SocketAddr },
    #[error("the rendezvous server said: {0}")]
    Server(RendezvousError),
    #[error("the rendezvous server broke the protocol: {0}")]
    Protocol(#[from] ProtocolViolation),
    #[error("gave up after {waited_secs} s waiting for the other side's {waiting_for}")]
    PeerTimeout {
        waiting_for: &'static str,
        waited_secs: u64,
    },
    #[error("the rendezvous server closed the connection")]
    Closed,
    #[error("the connection to the rendezvous server failed")]
    Io(#[source] io::Error),
    #[error("this side's {what} is {bytes} bytes, over the {MAX_FRAME}-byte limit")]
    TooLarge { what: &'static str, bytes: usize },
}

/// How a server broke the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolViolation {
    #[error("it sent {got} while this side waited for {expected}")]
    Unexpected {
        expected: &'static str,
        got: &'static str,
    },
    #[error("it sent something that is not a rendezvous message ({0})")]
    Malformed(String),
    #[error("it announced a {declared}-byte message, over the {MAX_FRAME}-byte limit")]
    TooLarge { declared: u64 },
    #[error("it sent an empty frame")]
    EmptyFrame,
    #[error("it put this side in room {got}, not {asked}")]
    WrongRoom { asked: Code, got: Code },
    #[error("it made this side the {got:?}, which does not fit the Hello")]
    WrongRole { got: Role },
    #[error("it passed on {0} candidates; at most {MAX_CANDIDATES} are allowed")]
    TooManyCandidates(usize),
    #[error("it passed on credentials that are not valid ICE credentials (RFC 8839 §5.4)")]
    BadCredentials,
}

/// A member of a room on a rendezvous server.
#[derive(Debug)]
pub struct RendezvousClient {
    stream: TcpStream,
    decoder: FrameDecoder,
    server: SocketAddr,
    role: Role,
    peer_joined: bool,
    /// When waiting for the peer stops: the room's end, plus a margin.
    room_deadline: Instant,
}

impl RendezvousClient {
    /// Connects to `server` and says Hello: without a code, creates a room
    /// (this side is the helper); with one, joins it (the novice). Gives up
    /// after 5 s.
    pub async fn connect(
        server: SocketAddr,
        code: Option<Code>,
    ) -> Result<(RendezvousClient, Welcome), RendezvousClientError> {
        match timeout(HANDSHAKE, Self::handshake(server, code)).await {
            Ok(result) => result,
            Err(_) => Err(RendezvousClientError::Unresponsive { server }),
        }
    }

    async fn handshake(
        server: SocketAddr,
        code: Option<Code>,
    ) -> Result<(RendezvousClient, Welcome), RendezvousClientError> {
        let stream = TcpStream::connect(server)
            .await
            .map_err(|source| RendezvousClientError::Connect { server, source })?;
        let mut client = RendezvousClient {
            stream,
            decoder: FrameDecoder::new(),
            server,
            role: Role::Helper,
            peer_joined: false,
            room_deadline: Instant::now(),
        };
        let version = PROTOCOL_VERSION;
        client
            .send(&ClientMessage::Hello { version, code }, "hello")
            .await?;
        let (welcome_code, role, expires_in_secs) = match client.receive().await? {
            ServerMessage::Welcome {
                code,
                role,
                expires_in_secs,
            } => (code, role, expires_in_secs),
            other => return Err(unexpected("welcome", &other)),
        };
        let expected_role = match code {
            Some(asked) if asked != welcome_code => {
                let got = welcome_code;
                return Err(ProtocolViolation::WrongRoom { asked, got }.into());
            }
            Some(_) => Role::Novice,
            None => Role::Helper,
        };
        if role != expected_role {
            return Err(ProtocolViolation::WrongRole { got: role }.into());
        }
        let lifetime = Duration::from_secs(expires_in_secs).min(MAX_ROOM_LIFETIME);
        client.role = role;
        client.peer_joined = role == Role::Novice;
        client.room_deadline = Instant::now() + lifetime + PEER_MARGIN;
        let welcome = Welcome {
            code: welcome_code,
            role,
            expires_in_secs,
        };
        Ok((client, welcome))
    }

    /// This side's role in the room.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The server this client talks to.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// Waits until the novice has joined; returns at once for the novice.
    pub async fn wait_peer_joined(&mut self) -> Result<(), RendezvousClientError> {
        if self.peer_joined {
            return Ok(());
        }
        match self.receive_from_peer("arrival").await? {
            ServerMessage::PeerJoined => {
                self.peer_joined = true;
                Ok(())
            }
            other => Err(unexpected("peer_joined", &other)),
        }
    }

    /// Sends this side's probe report and returns the other side's, as
    /// JSON for the caller to check. Waits for the novice first if need be.
    pub async fn exchange_reports(
        &mut self,
        report: serde_json::Value,
    ) -> Result<serde_json::Value, RendezvousClientError> {
        self.wait_peer_joined().await?;
        self.send(&ClientMessage::Report { report }, "report")
            .await?;
        match self.receive_from_peer("report").await? {
            ServerMessage::PeerReport { report } => Ok(report),
            other => Err(unexpected("peer_report", &other)),
        }
    }

    /// Sends this side's candidates and credentials (after the reports)
    /// and returns the other side's, checked. The server then ends the
    /// room.
    pub async fn exchange_candidates(
        &mut self,
        credentials: Credentials,
        candidates: Vec<Candidate>,
    ) -> Result<PeerCandidates, RendezvousClientError> {
        let message = ClientMessage::Candidates {
            credentials,
            candidates,
        };
        self.send(&message, "candidates").await?;
        let (credentials, candidates, observed) = match self.receive_from_peer("candidates").await?
        {
            ServerMessage::PeerCandidates {
                credentials,
                candidates,
                observed,
            } => (credentials, candidates, observed),
            other => return Err(unexpected("peer_candidates", &other)),
        };
        if candidates.len() > MAX_CANDIDATES {
            return Err(ProtocolViolation::TooManyCandidates(candidates.len()).into());
        }
        if !credentials.is_valid() {
            return Err(ProtocolViolation::BadCredentials.into());
        }
        Ok(PeerCandidates {
            credentials,
            candidates,
            observed,
        })
    }

    /// Sends one message, refusing one over the frame limit.
    async fn send(
        &mut self,
        message: &ClientMessage,
        what: &'static str,
    ) -> Result<(), RendezvousClientError> {
        let frame = encode(message);
        let bytes = frame.len().saturating_sub(4);
        if bytes > MAX_FRAME {
            return Err(RendezvousClientError::TooLarge { what, bytes });
        }
        match timeout(HANDSHAKE, self.stream.write_all(&frame)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(RendezvousClientError::Io(e)),
            Err(_) => Err(RendezvousClientError::Unresponsive {
                server: self.server,
            }),
        }
    }

    /// The next message that depends on the peer, within the room's
    /// lifetime.
    async fn receive_from_peer(
        &mut self,
        waiting_for: &'static str,
    ) -> Result<ServerMessage, RendezvousClientError> {
        let deadline = self.room_deadline;
        let started = Instant::now();
        match timeout_at(deadline, self.receive()).await {
            Ok(result) => result,
            Err(_) => Err(RendezvousClientError::PeerTimeout {
                waiting_for,
                waited_secs: started.elapsed().as_secs(),
            }),
        }
    }

    /// The next message, unbounded: callers bound it. An Error from the
    /// server becomes [`RendezvousClientError::Server`].
    async fn receive(&mut self) -> Result<ServerMessage, RendezvousClientError> {
        let mut buf = [0; 8 * 1024];
        loop {
            let body = match self.decoder.next_frame() {
                Ok(Some(body)) => body,
                Ok(None) => {
                    let n = self
                        .stream
                        .read(&mut buf)
                        .await
                        .map_err(RendezvousClientError::Io)?;
                    if n == 0 {
                        return Err(RendezvousClientError::Closed);
                    }
                    self.decoder.push(&buf[..n]);
                    continue;
                }
                Err(FrameError::TooLarge { declared }) => {
                    return Err(ProtocolViolation::TooLarge { declared }.into());
                }
                Err(FrameError::Empty) => return Err(ProtocolViolation::EmptyFrame.into()),
            };
            return match serde_json::from_slice::<ServerMessage>(&body) {
                Ok(ServerMessage::Error { error }) => Err(RendezvousClientError::Server(error)),
                Ok(message) => Ok(message),
                Err(e) => Err(ProtocolViolation::Malformed(printable(&e.to_string())).into()),
            };
        }
    }
}

fn unexpected(expected: &'static str, got: &ServerMessage) -> RendezvousClientError {
    ProtocolViolation::Unexpected {
        expected,
        got: got.kind(),
    }
    .into()
}

/// A server-supplied text made safe to print: control characters escaped,
/// and cut short.
fn printable(text: &str) -> String {
    const LIMIT: usize = 160;
    let mut out: String = text.chars().take(LIMIT).collect::<String>();
    if text.chars().nth(LIMIT).is_some() {
        out.push('…');
    }
    out.escape_debug().to_string()
}
