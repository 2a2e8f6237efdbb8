//! Runs the [`Punch`] machine on real UDP sockets, and hands the path it
//! proves, socket and all, to whatever runs next.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::driver::{BindError, Driver};
use crate::proto::machine::SocketId;
use crate::proto::punch::{
    Candidate, CandidateKind, Credentials, Path, Punch, PunchFailure, PunchOutcome,
};

/// A punch whose sockets are bound and whose candidates are gathered,
/// waiting for the peer's.
pub struct Gathered {
    driver: Driver<Punch>,
}

/// The path a punch proved, ready to be taken over: the socket the checks
/// went through (its receiver stopped), and the selected pair with its
/// measured round-trip time.
#[derive(Debug)]
pub struct Winner {
    pub socket: UdpSocket,
    pub path: Path,
}

/// How the punch ended, with the winner when it connected.
#[derive(Debug)]
pub enum Punched {
    Connected(Winner),
    Failed(PunchFailure),
}

impl Punched {
    /// The machine's outcome, without the socket.
    pub fn outcome(&self) -> PunchOutcome {
        match self {
            Punched::Connected(w) => PunchOutcome::Connected(w.path.clone()),
            Punched::Failed(f) => PunchOutcome::Failed(f.clone()),
        }
    }
}

/// Binds the punch's sockets (on the address that routes toward its STUN
/// server) and learns the server-reflexive (and guessed) candidates.
pub async fn gather(machine: Punch) -> Result<Gathered, BindError> {
    let mut driver = Driver::bind(machine).await?;
    driver
        .run_until(|m| m.local_candidates().is_some(), None)
        .await;
    Ok(Gathered { driver })
}

impl Gathered {
    /// Gives up on the checks `deadline` after they start.
    pub fn set_deadline(&mut self, deadline: Duration) {
        self.driver.machine_mut().set_deadline(deadline);
    }

    /// What to advertise: the gathered candidates and socket 0's own
    /// address (RFC 8445 §5.1.1.1 host candidate).
    pub fn candidates(&self) -> Vec<Candidate> {
        let machine = self.driver.machine();
        let mut out = machine.local_candidates().unwrap_or_default().to_vec();
        if let Some(local) = machine.local_address(SocketId(0))
            && !out.iter().any(|c| c.address == local)
        {
            out.push(Candidate {
                address: local,
                kind: CandidateKind::Host,
            });
        }
        out
    }

    /// The local address of socket 0, the punch's main socket (the one a
    /// port mapping for the session is made for).
    pub fn local_address(&self) -> Option<std::net::SocketAddr> {
        self.driver.local_addr(SocketId(0))
    }

    /// Why gathering found less than it could, if it did.
    pub fn note(&self) -> Option<&str> {
        self.driver.machine().gather_note()
    }

    /// Checks the peer's candidates until the punch ends.
    pub async fn punch(mut self, peer: Credentials, candidates: &[Candidate]) -> Punched {
        self.driver
            .machine_mut()
            .start(Instant::now(), peer, candidates);
        self.driver.run(None).await;
        let (machine, sockets) = self.driver.into_parts().await;
        match machine.outcome() {
            Some(PunchOutcome::Connected(path)) => {
                let winner = sockets
                    .into_iter()
                    .find(|(id, _)| *id == path.socket)
                    .and_then(|(_, socket)| Arc::try_unwrap(socket).ok());
                match winner {
                    Some(socket) => Punched::Connected(Winner {
                        socket,
                        path: path.clone(),
                    }),
                    None => Punched::Failed(PunchFailure::default()),
                }
            }
            Some(PunchOutcome::Failed(f)) => Punched::Failed(f.clone()),
            None => Punched::Failed(PunchFailure::default()),
        }
    }
}
