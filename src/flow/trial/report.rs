//! What a trial found, as the table and the `--json` document show it.

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::measure::Figures;
use crate::flow::live::LivePunch;
use crate::predict::{Prediction, PunchExpectation};
use crate::proto::punch::{CandidateKind, Path};
use crate::proto::relay::client::RelayTransport;
use crate::proto::rendezvous::Role;
use crate::report::ProbeReport;

/// The version of the `--json` document; it changes when a field changes
/// meaning or goes away.
pub const TRIAL_SCHEMA_VERSION: u32 = 1;

/// How the trial connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialOutcome {
    Direct,
    Relayed,
    Failed,
}

/// The path the channel took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathInfo {
    /// `host`, `srflx`, `prflx`, `predicted`, `mapped`, `teredo` (the
    /// remote is a Teredo address, RFC 4380 §2.14) or `relay`.
    pub kind: &'static str,
    pub family: &'static str,
    /// This side's end, when known (a socket bound to the wildcard
    /// address shows only its port).
    pub local: Option<SocketAddr>,
    pub remote: SocketAddr,
    pub relay: Option<RelayInfo>,
}

/// The relay a relayed channel runs through.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelayInfo {
    pub server: SocketAddr,
    pub transport: RelayTransport,
    /// This side's relayed address, and the other side's.
    pub relayed: SocketAddr,
    pub peer_relayed: SocketAddr,
}

impl PathInfo {
    /// The path a punch proved.
    pub fn direct(path: &Path, local: Option<SocketAddr>) -> Self {
        let kind = if is_teredo(path.remote.ip()) {
            "teredo"
        } else {
            match path.kind {
                CandidateKind::Host => "host",
                CandidateKind::ServerReflexive => "srflx",
                CandidateKind::PeerReflexive | CandidateKind::BirthdayProbe => "prflx",
                CandidateKind::Predicted => "predicted",
                CandidateKind::PortMapped => "mapped",
                CandidateKind::Relayed => "relay",
                CandidateKind::Teredo => "teredo",
            }
        };
        Self {
            kind,
            family: family(path.remote.ip()),
            local: path.local.or(local),
            remote: path.remote,
            relay: None,
        }
    }

    /// The path through the relay: from this side's relayed address to
    /// the other side's.
    pub fn relayed(relay: RelayInfo) -> Self {
        Self {
            kind: "relay",
            family: family(relay.peer_relayed.ip()),
            local: Some(relay.relayed),
            remote: relay.peer_relayed,
            relay: Some(relay),
        }
    }
}

/// Teredo's prefix, 2001::/32 (RFC 4380 §2.6).
fn is_teredo(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.segments()[..2] == [0x2001, 0],
        IpAddr::V4(_) => false,
    }
}

fn family(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IPv4",
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => "IPv4",
        IpAddr::V6(_) => "IPv6",
    }
}

/// How long each step took, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Phases {
    /// Connecting to the rendezvous and its Welcome.
    pub rendezvous_ms: f64,
    /// From the pairing to the key confirmation (the PAKE and the sealed
    /// introductions).
    pub pake_ms: f64,
    /// This machine's probe.
    pub probe_ms: f64,
    /// The sealed reports' exchange, and the gathering beside it.
    pub reports_ms: f64,
    /// The candidates' exchange (after the relay's allocation where no
    /// direct path is expected).
    pub candidates_ms: f64,
    /// The checks, to the first answered one or the punch's end.
    pub checks_ms: f64,
    /// The QUIC handshake (and on a relayed path its permission).
    pub quic_ms: f64,
    /// From the reports' exchange to the channel: the time to connect
    /// once both sides are met and probed.
    pub connect_ms: f64,
}

/// Everything the trial learned.
#[derive(Debug, Clone, Serialize)]
pub struct Trial {
    pub schema_version: u32,
    pub role: Role,
    pub peer_name: String,
    pub outcome: TrialOutcome,
    /// What the prediction said the punch would do.
    pub expected: PunchExpectation,
    /// The outcome is the predicted one: direct where the punch was
    /// expected to connect, relayed where it was expected to fail (`None`
    /// when nothing was expected).
    pub agrees: Option<bool>,
    pub path: Option<PathInfo>,
    /// Why this path, in a sentence.
    pub why: String,
    pub phases: Phases,
    pub figures: Option<Figures>,
    /// Packets lost of all sent, both ways, in percent.
    pub loss_percent: Option<f64>,
    /// Why the measurements stopped short.
    pub measure_error: Option<String>,
    pub punch: LivePunch,
    pub prediction: Prediction,
    pub me: ProbeReport,
    pub peer: ProbeReport,
}

/// A trial's parts, as the flow gathered them.
pub(super) struct Parts {
    pub role: Role,
    pub peer_name: String,
    pub me: ProbeReport,
    pub peer: ProbeReport,
    pub prediction: Prediction,
    pub punch: LivePunch,
    pub outcome: TrialOutcome,
    pub path: Option<PathInfo>,
    pub why: String,
    pub phases: Phases,
    pub figures: Option<Figures>,
    pub measure_error: Option<String>,
}

impl Trial {
    pub(super) fn new(parts: Parts) -> Self {
        let expected = parts.punch.expected;
        let agrees = match expected {
            PunchExpectation::Connects | PunchExpectation::Likely => {
                Some(parts.outcome == TrialOutcome::Direct)
            }
            PunchExpectation::Fails => Some(parts.outcome == TrialOutcome::Relayed),
            PunchExpectation::Unknown => None,
        };
        Self {
            schema_version: TRIAL_SCHEMA_VERSION,
            role: parts.role,
            peer_name: parts.peer_name,
            outcome: parts.outcome,
            expected,
            agrees,
            path: parts.path,
            why: parts.why,
            phases: parts.phases,
            loss_percent: parts.figures.as_ref().and_then(Figures::loss_percent),
            figures: parts.figures,
            measure_error: parts.measure_error,
            punch: parts.punch,
            prediction: parts.prediction,
            me: parts.me,
            peer: parts.peer,
        }
    }
}
