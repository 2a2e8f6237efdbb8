//! The client side of the rendezvous over TCP: the [`Member`] machine run
//! by the driver, one step of the protocol per call. Every wait is bounded
//! by the machine, and whatever the server or the other side sends is
//! checked by it.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use crate::io::driver::{BindError, Driver};
use crate::proto::punch::{Candidate, Credentials};
use crate::proto::rendezvous::{
    HANDSHAKE, MAX_ATTEMPTS, MAX_FRAME, Meeting, Member, PunchVerdict, RelayGrant, RendezvousError,
    RendezvousEvent, RendezvousFailure, Role, Secret, SendError,
};
use crate::proto::session::InviteCode;

pub use crate::proto::rendezvous::{Introduction, PeerCandidates, ProtocolViolation, Welcome};

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
    #[error("the code is wrong: the other side holds another one (check it and try again)")]
    WrongCode,
    #[error("{MAX_ATTEMPTS} wrong codes were tried: this room is closed; make a new code")]
    TooManyAttempts,
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
            RendezvousFailure::Server(RendezvousError::WrongCode) => Self::WrongCode,
            RendezvousFailure::Server(RendezvousError::TooManyAttempts) => Self::TooManyAttempts,
            RendezvousFailure::Server(e) => Self::Server(e),
            RendezvousFailure::Protocol(v) => Self::Protocol(v),
            RendezvousFailure::WrongCode => Self::WrongCode,
            RendezvousFailure::TooManyAttempts => Self::TooManyAttempts,
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

impl From<SendError> for RendezvousClientError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::TooLarge { what, bytes } => Self::TooLarge { what, bytes },
            SendError::NotConfirmed => Self::Protocol(ProtocolViolation::Unexpected {
                expected: "key confirmation",
                got: "a request to send before it",
            }),
        }
    }
}

/// A member of a room on a rendezvous server.
#[derive(Debug)]
pub struct RendezvousClient {
    driver: Driver<Member>,
}

impl RendezvousClient {
    /// Connects to `server` and says Hello: without an invitation code,
    /// creates a room with a fresh secret (this side is the helper); with
    /// one, joins its room (the novice). `name` is what the other side is
    /// shown. Gives up after 5 s.
    pub async fn connect(
        server: SocketAddr,
        invite: Option<InviteCode>,
        name: &str,
    ) -> Result<(RendezvousClient, Welcome), RendezvousClientError> {
        Self::connect_as(server, invite, Introduction::new(name)).await
    }

    /// As [`RendezvousClient::connect`], introducing this side with `intro`
    /// (a session names the certificate its QUIC handshake will prove).
    pub async fn connect_as(
        server: SocketAddr,
        invite: Option<InviteCode>,
        intro: Introduction,
    ) -> Result<(RendezvousClient, Welcome), RendezvousClientError> {
        let meeting = Meeting::for_code(invite, || Secret::generate(rand::random::<u32>));
        Self::meet(server, meeting, intro).await
    }

    /// Connects to `server` and says Hello, meeting the other side as
    /// `meeting` says, introduced by `intro`. Gives up after 5 s.
    pub async fn meet(
        server: SocketAddr,
        meeting: Meeting,
        intro: Introduction,
    ) -> Result<(RendezvousClient, Welcome), RendezvousClientError> {
        let now = Instant::now();
        let seed = rand::random::<[u8; 32]>();
        let member = Member::meeting(server, meeting, intro, seed, now);
        let driver = Driver::bind(member).await.map_err(|e| match e {
            BindError::Connect { source, .. } if source.kind() == io::ErrorKind::TimedOut => {
                RendezvousClientError::Unresponsive { server }
            }
            BindError::Connect { source, .. }
            | BindError::Socket { source, .. }
            | BindError::Listen { source, .. } => RendezvousClientError::Connect { server, source },
            BindError::NoRoute { source, .. } => RendezvousClientError::Connect { server, source },
        })?;
        let mut client = RendezvousClient { driver };
        match client.next_event().await? {
            RendezvousEvent::Welcome(welcome) => Ok((client, welcome)),
            other => Err(out_of_step("welcome", &other)),
        }
    }

    /// This side's role in the room.
    pub fn role(&self) -> Role {
        self.driver.machine().role()
    }

    /// The server this client talks to.
    pub fn server(&self) -> SocketAddr {
        self.driver.machine().server()
    }

    /// Waits until the other side proved it holds the same code, and
    /// returns its introduction. The helper waits for a novice first, and
    /// hears of each one that joins (`PeerJoined`) and each wrong code
    /// (`AttemptFailed`) through `on_event` while it keeps waiting.
    pub async fn confirm(
        &mut self,
        mut on_event: impl FnMut(&RendezvousEvent),
    ) -> Result<Introduction, RendezvousClientError> {
        loop {
            match self.next_event().await? {
                RendezvousEvent::Confirmed(intro) => return Ok(intro),
                event @ (RendezvousEvent::PeerJoined | RendezvousEvent::AttemptFailed { .. }) => {
                    on_event(&event)
                }
                other => return Err(out_of_step("key confirmation", &other)),
            }
        }
    }

    /// This side's check credentials, derived from the shared key.
    pub fn local_credentials(&self) -> Option<Credentials> {
        self.driver.machine().local_credentials().cloned()
    }

    /// Seals and sends this side's probe report and returns the other
    /// side's, as JSON for the caller to check.
    pub async fn exchange_reports(
        &mut self,
        report: serde_json::Value,
    ) -> Result<serde_json::Value, RendezvousClientError> {
        if let Err(e) = self
            .driver
            .machine_mut()
            .send_report(Instant::now(), report)
        {
            return Err(self.pending_failure().unwrap_or(e.into()));
        }
        match self.next_event().await? {
            RendezvousEvent::PeerReport(report) => Ok(report),
            other => Err(out_of_step("peer_report", &other)),
        }
    }

    /// Seals and sends this side's candidates (after the reports) and
    /// returns the other side's, with its check credentials.
    pub async fn exchange_candidates(
        &mut self,
        candidates: Vec<Candidate>,
    ) -> Result<PeerCandidates, RendezvousClientError> {
        if let Err(e) = self
            .driver
            .machine_mut()
            .send_candidates(Instant::now(), candidates)
        {
            return Err(self.pending_failure().unwrap_or(e.into()));
        }
        match self.next_event().await? {
            RendezvousEvent::PeerCandidates(peer) => Ok(peer),
            other => Err(out_of_step("peer_candidates", &other)),
        }
    }

    /// Seals and sends how this side's punch ended (after the candidates)
    /// and returns how the other side's did. The server then ends the
    /// room.
    pub async fn exchange_outcomes(
        &mut self,
        outcome: PunchVerdict,
    ) -> Result<PunchVerdict, RendezvousClientError> {
        if let Err(e) = self
            .driver
            .machine_mut()
            .send_outcome(Instant::now(), outcome)
        {
            return Err(self.pending_failure().unwrap_or(e.into()));
        }
        match self.next_event().await? {
            RendezvousEvent::PeerOutcome(peer) => Ok(peer),
            other => Err(out_of_step("peer_outcome", &other)),
        }
    }

    /// The help desk's relay, when the server offered one.
    pub fn relay_grant(&self) -> Option<RelayGrant> {
        self.driver.machine().relay_grant().cloned()
    }

    /// A failure the machine already queued: the real reason a send was
    /// refused.
    fn pending_failure(&mut self) -> Option<RendezvousClientError> {
        while let Some(event) = self.driver.machine_mut().poll_event() {
            if let RendezvousEvent::Failed(failure) = event {
                return Some(failure.into());
            }
        }
        None
    }

    /// Runs the machine until it has something to say.
    async fn next_event(&mut self) -> Result<RendezvousEvent, RendezvousClientError> {
        let event = self
            .driver
            .next(Member::poll_event, None)
            .await
            .ok_or(RendezvousClientError::Closed)?;
        // What the machine queued (this side's own message, its verdict on
        // a wrong code) goes out before the caller moves on; at the end,
        // before it can drop the connection.
        let last = matches!(
            event,
            RendezvousEvent::Failed(_) | RendezvousEvent::PeerOutcome(_)
        );
        if last {
            self.driver.close_streams().await;
        } else {
            self.driver.flush().await;
        }
        match event {
            RendezvousEvent::Failed(failure) => Err(failure.into()),
            event => Ok(event),
        }
    }
}

/// The machine delivered its events in the protocol's order, so a caller
/// asking out of step is told what came instead.
fn out_of_step(expected: &'static str, got: &RendezvousEvent) -> RendezvousClientError {
    let got = match got {
        RendezvousEvent::Welcome(_) => "welcome",
        RendezvousEvent::PeerJoined => "peer_joined",
        RendezvousEvent::Confirmed(_) => "key confirmation",
        RendezvousEvent::AttemptFailed { .. } => "a wrong code",
        RendezvousEvent::PeerReport(_) => "peer_report",
        RendezvousEvent::PeerCandidates(_) => "peer_candidates",
        RendezvousEvent::PeerOutcome(_) => "peer_outcome",
        RendezvousEvent::Failed(_) => "error",
    };
    ProtocolViolation::Unexpected { expected, got }.into()
}
