//! How a punch ended.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::CandidateKind;
use crate::proto::machine::SocketId;

/// The path a punch proved: a check from `socket` to `remote` was answered
/// from `remote`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub socket: SocketId,
    pub local: Option<SocketAddr>,
    pub remote: SocketAddr,
    /// What `remote` was: an advertised candidate, a peer-reflexive source
    /// or a birthday probe's port.
    pub kind: CandidateKind,
    pub rtt: Duration,
    /// From the start of the checks to the answer.
    pub after: Duration,
}

/// What a failed punch saw, for the reason it gives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PunchFailure {
    pub checks_sent: u32,
    /// Valid checks from the peer that got in: the peer reached this side,
    /// but no answer of this side's came back.
    pub checks_heard: u32,
    /// Answers from another source than the check was sent to.
    pub asymmetric_answers: u32,
    /// Datagrams that were not the peer's.
    pub strangers: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PunchOutcome {
    Connected(Path),
    Failed(PunchFailure),
}
