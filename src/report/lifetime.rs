//! The binding lifetime in the report (RFC 5780 §4.6): how long the NAT
//! kept an idle mapping, as a bracket of idle times.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::proto::nat::{LifetimeOutcome, LifetimeResult};

/// One family's binding lifetime, measured only with `ranat probe
/// --lifetime`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BindingLifetime {
    pub status: LifetimeStatus,
    /// The server whose answers tested the mappings ("ip:port"); `None`
    /// when no server of this family answered.
    pub server: Option<String>,
    /// The longest idle time, in seconds, after which a mapping still let
    /// the server's answer in.
    pub alive_s: Option<f64>,
    /// The shortest idle time, in seconds, after which it no longer did:
    /// the lifetime lies between `alive_s` and this.
    pub expired_s: Option<f64>,
    /// The longest wait allowed (`--lifetime`), in seconds.
    pub bound_s: f64,
    /// Test sockets that gave a verdict.
    pub probes: u32,
    /// Rounds of waits run.
    pub rounds: u32,
    /// Wall time of the measurement.
    pub duration_ms: u64,
    /// Why the result is missing or uncertain, in words.
    pub notes: Vec<String>,
}

/// How the lifetime measurement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LifetimeStatus {
    /// Bracketed: alive after `alive_s`, expired after `expired_s`.
    Measured,
    /// Still alive after `alive_s`, the longest wait tested.
    Longer,
    /// Not measured; the notes say why (e.g. the server ignores
    /// RESPONSE-PORT, RFC 5780 §7.5).
    NotMeasured,
}

impl BindingLifetime {
    /// The report of a measurement that ran for `duration_ms`.
    pub fn from_result(result: &LifetimeResult, duration_ms: u64) -> Self {
        let (status, alive, expired, mut notes) = match &result.outcome {
            LifetimeOutcome::Measured { alive, expired } => (
                LifetimeStatus::Measured,
                Some(*alive),
                Some(*expired),
                vec![],
            ),
            LifetimeOutcome::Longer { alive } => {
                (LifetimeStatus::Longer, Some(*alive), None, vec![])
            }
            LifetimeOutcome::NotMeasured { reason } => (
                LifetimeStatus::NotMeasured,
                None,
                None,
                vec![reason.clone()],
            ),
        };
        notes.extend(result.notes.iter().cloned());
        Self {
            status,
            server: Some(result.server.to_string()),
            alive_s: alive.map(seconds),
            expired_s: expired.map(seconds),
            bound_s: seconds(result.bound),
            probes: result.probes,
            rounds: result.rounds,
            duration_ms,
            notes,
        }
    }

    /// A lifetime that could not be measured at all, and why.
    pub fn not_measured(bound: std::time::Duration, reason: impl Into<String>) -> Self {
        Self {
            status: LifetimeStatus::NotMeasured,
            server: None,
            alive_s: None,
            expired_s: None,
            bound_s: seconds(bound),
            probes: 0,
            rounds: 0,
            duration_ms: 0,
            notes: vec![reason.into()],
        }
    }

    /// The table's words: "between 7.9 s and 8.1 s idle", "more than 180 s".
    pub fn words(&self) -> String {
        match (self.status, self.alive_s, self.expired_s) {
            (LifetimeStatus::Measured, Some(alive), Some(expired)) => {
                format!("expires after {alive:.1}–{expired:.1} s idle")
            }
            (LifetimeStatus::Longer, Some(alive), _) => {
                format!("more than {alive:.1} s (the longest wait tested)")
            }
            _ => "not measured".to_string(),
        }
    }
}

/// Seconds to the hundredth.
fn seconds(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 100.0).round() / 100.0
}
