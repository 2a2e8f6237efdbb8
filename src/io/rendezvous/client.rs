//! The client side of the rendezvous over TCP: the [`Member`] machine run
//! by the driver, one step of the protocol per call. Every wait is bounded
//! by the machine, and whatever the server sends is checked by it.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use crate::io::driver::{BindError, Driver};
use crate::proto::punch::{Candidate, Credentials};
use crate::proto::rendezvous::{
    Code, HANDSHAKE, MAX_FRAME, Member, RendezvousError, RendezvousEvent, RendezvousFailure, Role,
};

pub use crate::proto::rendezvous::{PeerCandidates, ProtocolViolation, Welcome};

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

impl From<RendezvousFailure> for RendezvousClientError {
    fn from(failure: RendezvousFailure) -> Self {
        match failure {
            RendezvousFailure::Unresponsive { server } => Self::Unresponsive { server },
            RendezvousFailure::Server(e) => Self::Server(e),
            RendezvousFailure::Protocol(v) => Self::Protocol(v),
            RendezvousFailure::PeerTimeout {
                waiting_for,
                waited_secs,
            } => Self::PeerTimeout {
                waiting_for,
                waited_secs,
            },
            RendezvousFailure::Closed => Self::Closed,
        }
    }
}

/// A member of a room on a rendezvous server.
#[derive(Debug)]
pub struct RendezvousClient {
    driver: Driver<Member>,
    role: Role,
}

impl RendezvousClient {
    /// Connects to `server` and says Hello: without a code, creates a room
    /// (this side is the helper); with one, joins it (the novice). Gives up
    /// after 5 s.
    pub async fn connect(
        server: SocketAddr,
        code: Option<Code>,
    ) -> Result<(RendezvousClient, Welcome), RendezvousClientError> {
        let member = Member::new(server, code, Instant::now());
        let driver = Driver::bind(member).await.map_err(|e| match e {
            BindError::Connect { source, .. } if source.kind() == io::ErrorKind::TimedOut => {
                RendezvousClientError::Unresponsive { server }
            }
            BindError::Connect { source, .. }
            | BindError::Socket { source, .. }
            | BindError::Listen { source, .. } => RendezvousClientError::Connect { server, source },
            BindError::NoRoute { source, .. } => RendezvousClientError::Connect { server, source },
        })?;
        let mut client = RendezvousClient {
            driver,
            role: Role::Helper,
        };
        match client.next_event().await? {
            RendezvousEvent::Welcome(welcome) => {
                client.role = welcome.role;
                Ok((client, welcome))
            }
            other => Err(out_of_step("welcome", &other)),
        }
    }

    /// This side's role in the room.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The server this client talks to.
    pub fn server(&self) -> SocketAddr {
        self.driver.machine().server()
    }

    /// Waits until the novice has joined; returns at once for the novice.
    pub async fn wait_peer_joined(&mut self) -> Result<(), RendezvousClientError> {
        if self.role == Role::Novice {
            return Ok(());
        }
        match self.next_event().await? {
            RendezvousEvent::PeerJoined => {
                self.role = Role::Novice;
                Ok(())
            }
            other => Err(out_of_step("peer_joined", &other)),
        }
    }

    /// Sends this side's probe report and returns the other side's, as
    /// JSON for the caller to check. Waits for the novice first if need be.
    pub async fn exchange_reports(
        &mut self,
        report: serde_json::Value,
    ) -> Result<serde_json::Value, RendezvousClientError> {
        self.wait_peer_joined().await?;
        self.driver
            .machine_mut()
            .send_report(Instant::now(), report)
            .map_err(|e| RendezvousClientError::TooLarge {
                what: e.what,
                bytes: e.bytes,
            })?;
        match self.next_event().await? {
            RendezvousEvent::PeerReport(report) => Ok(report),
            other => Err(out_of_step("peer_report", &other)),
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
        self.driver
            .machine_mut()
            .send_candidates(Instant::now(), credentials, candidates)
            .map_err(|e| RendezvousClientError::TooLarge {
                what: e.what,
                bytes: e.bytes,
            })?;
        match self.next_event().await? {
            RendezvousEvent::PeerCandidates(peer) => Ok(peer),
            other => Err(out_of_step("peer_candidates", &other)),
        }
    }

    /// Runs the machine until it has something to say.
    async fn next_event(&mut self) -> Result<RendezvousEvent, RendezvousClientError> {
        loop {
            match self.driver.machine_mut().poll_event() {
                Some(RendezvousEvent::Failed(failure)) => return Err(failure.into()),
                Some(event) => return Ok(event),
                None => {}
            }
            if !self.driver.step(None).await {
                return Err(RendezvousClientError::Closed);
            }
        }
    }
}

/// The machine delivered its events in the protocol's order, so a caller
/// asking out of step is told what came instead.
fn out_of_step(expected: &'static str, got: &RendezvousEvent) -> RendezvousClientError {
    let got = match got {
        RendezvousEvent::Welcome(_) => "welcome",
        RendezvousEvent::PeerJoined => "peer_joined",
        RendezvousEvent::PeerReport(_) => "peer_report",
        RendezvousEvent::PeerCandidates(_) => "peer_candidates",
        RendezvousEvent::Failed(_) => "error",
    };
    ProtocolViolation::Unexpected { expected, got }.into()
}
