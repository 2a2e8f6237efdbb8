//! What a trial found, as the table and the `--json` document show it.

use schemars::JsonSchema;
use serde::Serialize;

use super::measure::Figures;
use super::session::SessionFigures;
use crate::flow::connect::{PathInfo, PathOutcome, Phases};
use crate::flow::live::LivePunch;
use crate::predict::{Prediction, PunchExpectation};
use crate::proto::rendezvous::Role;
use crate::report::ProbeReport;

/// The version of the `--json` document; it changes when a field changes
/// meaning or goes away.
pub const TRIAL_SCHEMA_VERSION: u32 = 1;

/// Everything the trial learned.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Trial {
    pub schema_version: u32,
    pub role: Role,
    pub peer_name: String,
    pub outcome: PathOutcome,
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
    /// The session's figures (the helper's side measures them).
    pub session: Option<SessionFigures>,
    /// Why there are none.
    pub session_error: Option<String>,
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
    pub outcome: PathOutcome,
    pub path: Option<PathInfo>,
    pub why: String,
    pub phases: Phases,
    pub figures: Option<Figures>,
    pub measure_error: Option<String>,
    /// The session part: its figures (the helper's), or why it failed.
    pub session: Option<Result<Option<SessionFigures>, String>>,
}

impl Trial {
    pub(super) fn new(parts: Parts) -> Self {
        let expected = parts.punch.expected;
        let agrees = match expected {
            PunchExpectation::Connects | PunchExpectation::Likely => {
                Some(parts.outcome == PathOutcome::Direct)
            }
            PunchExpectation::Fails => Some(parts.outcome == PathOutcome::Relayed),
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
            session: parts.session.clone().and_then(Result::ok).flatten(),
            session_error: parts.session.and_then(Result::err),
            punch: parts.punch,
            prediction: parts.prediction,
            me: parts.me,
            peer: parts.peer,
        }
    }
}
