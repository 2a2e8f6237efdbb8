//! Runs the [`Punch`] machine on real UDP sockets.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use super::gateway::route_source;
use super::sockets::SocketSet;
use crate::proto::nat::SocketId;
use crate::proto::punch::{Candidate, CandidateKind, Credentials, Punch, PunchOutcome};

/// A punch whose sockets are bound and whose candidates are gathered,
/// waiting for the peer's.
pub struct Gathered {
    machine: Punch,
    sockets: SocketSet,
}

/// Binds the punch's sockets on the address that routes to `server` and
/// learns the server-reflexive (and guessed) candidates.
pub async fn gather(mut machine: Punch, server: SocketAddr) -> io::Result<Gathered> {
    let local_ip = route_source(server).await?;
    let mut sockets = SocketSet::bind(local_ip, &mut machine).await?;
    while machine.local_candidates().is_none() {
        sockets.send_queued(&mut machine).await;
        sockets.wait(&mut machine, None).await;
    }
    Ok(Gathered { machine, sockets })
}

impl Gathered {
    /// What to advertise: the gathered candidates and socket 0's own
    /// address (RFC 8445 §5.1.1.1 host candidate).
    pub fn candidates(&self) -> Vec<Candidate> {
        let mut out = self.machine.local_candidates().unwrap_or_default().to_vec();
        if let Some(local) = self.machine.local_address(SocketId(0))
            && !out.iter().any(|c| c.address == local)
        {
            out.push(Candidate {
                address: local,
                kind: CandidateKind::Host,
            });
        }
        out
    }

    /// Why gathering found less than it could, if it did.
    pub fn note(&self) -> Option<&str> {
        self.machine.gather_note()
    }

    /// Checks the peer's candidates until the punch ends.
    pub async fn punch(mut self, peer: Credentials, candidates: &[Candidate]) -> PunchOutcome {
        self.machine.start(Instant::now(), peer, candidates);
        loop {
            self.sockets.send_queued(&mut self.machine).await;
            if let Some(outcome) = self.machine.outcome() {
                return outcome.clone();
            }
            self.sockets.wait(&mut self.machine, None).await;
        }
    }
}
