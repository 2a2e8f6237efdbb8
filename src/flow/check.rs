//! The check flow: two probe reports, this machine's and the peer's, in;
//! the prediction, method by method, out. This machine's report is either
//! given (`ranat check ME.json PEER.json`) or measured now (`--peer`).

use std::future::Future;

use super::probe::{self, ProbeEvent, ProbeOptions};
use crate::predict::{self, Prediction};
use crate::report::ProbeReport;

/// The name this machine goes by when its report is measured now.
pub const THIS_MACHINE: &str = "this machine";

/// A probe report and what to call its machine (a file name, or
/// [`THIS_MACHINE`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedReport {
    pub name: String,
    pub report: ProbeReport,
}

/// The prediction for this machine (`me`) and its peer.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub me: NamedReport,
    pub peer: NamedReport,
    pub prediction: Prediction,
}

/// Predicts a session between `me`, taken as the novice, and `peer`, the
/// helper.
pub fn compare(me: NamedReport, peer: NamedReport) -> Checked {
    let prediction = predict::predict(&me.report, &peer.report);
    Checked {
        me,
        peer,
        prediction,
    }
}

/// Probes this machine (see [`probe::probe`]), then compares it with
/// `peer`; `None` when the probe was interrupted.
pub async fn probe_and_compare(
    peer: NamedReport,
    options: &ProbeOptions,
    interrupt: impl Future<Output = ()>,
    on_event: impl FnMut(ProbeEvent),
) -> Option<Checked> {
    let me = probe::probe(options, interrupt, on_event).await?;
    let me = NamedReport {
        name: THIS_MACHINE.to_string(),
        report: me,
    };
    Some(compare(me, peer))
}
