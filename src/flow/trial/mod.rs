//! The live end-to-end trial (`ranat trial --via SERVER [--code CODE]`):
//! the session engine's connection ([`crate::flow::connect`]), made for
//! real and measured. Over the channel the helper measures round trips,
//! throughput each way and loss, and both sides report the same figures,
//! set against what the prediction said.

pub mod measure;
mod report;
pub mod session;

use std::future::Future;
use std::time::Duration;

use super::connect::{self, ConnectError, ConnectEvent, ConnectOptions, Opened, PathOutcome};
use super::interrupt::Interrupt;
use crate::io::undo::UndoLog;
use crate::proto::rendezvous::Role;
use measure::MeasurePlan;
pub use report::{TRIAL_SCHEMA_VERSION, Trial};

/// How long the measurements may take in all.
const MEASURE_WAIT: Duration = Duration::from_secs(60);

/// Where to meet the other side, how to connect, and what to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialOptions {
    pub connect: ConnectOptions,
    pub plan: MeasurePlan,
    /// The novice's side lets the expert see and control a scratch shell
    /// for the session's figures without asking (trials only).
    pub auto_approve: bool,
}

/// The trial's progress, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialEvent {
    /// The connection's steps.
    Connect(ConnectEvent),
    /// The helper measures; the novice answers.
    Measuring,
    /// The session's figures: the helper as the expert, the novice sharing
    /// a scratch shell (with `--auto-approve`).
    Session,
    /// The trial was interrupted after the probe; what it had changed on
    /// the gateway is undone next.
    Interrupted,
    /// One change the trial had made on the gateway (the punch socket's
    /// port mapping, described by `what`) was removed, or could not be.
    Undone {
        what: String,
        result: Result<(), String>,
    },
}

/// Runs the trial. `interrupt` cuts it short, the probe or any later step
/// (then the result is `None`); every step after the probe is bounded by
/// its own timeout. Whatever the trial changed on the gateway is undone
/// when it ends, however it ends, each change reported in a
/// [`TrialEvent::Undone`].
pub async fn trial(
    options: TrialOptions,
    interrupt: impl Future<Output = ()>,
    mut on_event: impl FnMut(TrialEvent),
) -> Result<Option<Trial>, ConnectError> {
    let undo = UndoLog::default();
    let (interrupting, interrupt) = Interrupt::share(interrupt);
    let name = options.connect.name.clone();
    let session = async {
        let connection = connect::connect(options.connect, interrupt.fired(), &undo, |e| {
            on_event(TrialEvent::Connect(e))
        })
        .await?;
        let Some(connection) = connection else {
            return Ok(None);
        };
        let role = connection.role;
        let mut session = None;
        let (outcome, path, why, figures, measure_error) = match connection.opened {
            Opened::Failed { why } => (PathOutcome::Failed, None, why, None, None),
            Opened::Up(channel) => {
                on_event(TrialEvent::Connect(ConnectEvent::Channel(
                    channel.path.clone(),
                )));
                on_event(TrialEvent::Measuring);
                let measuring = async {
                    match role {
                        Role::Helper => {
                            measure::drive(&channel.connection, options.plan, MEASURE_WAIT).await
                        }
                        Role::Novice => measure::serve(&channel.connection, MEASURE_WAIT).await,
                    }
                };
                let measured = tokio::select! {
                    measured = measuring => measured,
                    () = channel.consent_lost() => Err(measure::MeasureError::ConsentLost),
                };
                if measured.is_ok() {
                    on_event(TrialEvent::Session);
                    let figures = async {
                        match role {
                            Role::Helper => {
                                session::expert(&channel.connection, &name).await.map(Some)
                            }
                            Role::Novice => {
                                session::novice(&channel.connection, &name, options.auto_approve)
                                    .await
                                    .map(|()| None)
                            }
                        }
                    };
                    session = Some(tokio::select! {
                        figures = figures => figures.map_err(|e| e.to_string()),
                        () = channel.consent_lost() => Err(measure::MeasureError::ConsentLost.to_string()),
                    });
                }
                let outcome = channel.outcome();
                let path = channel.path.clone();
                let why = channel.why.clone();
                channel.close(role).await;
                match measured {
                    Ok(figures) => (outcome, Some(path), why, Some(figures), None),
                    Err(e) => (outcome, Some(path), why, None, Some(e.to_string())),
                }
            }
        };
        Ok::<_, ConnectError>(Some(Trial::new(report::Parts {
            role,
            peer_name: connection.peer_name,
            me: connection.me,
            peer: connection.peer,
            prediction: connection.prediction,
            punch: connection.punch,
            outcome,
            path,
            why,
            phases: connection.phases,
            figures,
            measure_error,
            session,
        })))
    };
    let trial = tokio::select! {
        trial = session => trial.map(Some),
        () = interrupt.fired() => Ok(None),
        never = interrupting => match never {},
    };
    let trial = match trial {
        Ok(Some(Some(trial))) => Ok(Some(trial)),
        Ok(_) => {
            on_event(TrialEvent::Interrupted);
            Ok(None)
        }
        Err(e) => Err(e),
    };
    for (what, result) in undo.run_all().await {
        on_event(TrialEvent::Undone { what, result });
    }
    trial
}
