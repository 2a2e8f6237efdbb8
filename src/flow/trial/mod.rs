//! The live end-to-end trial (`ranat trial --via SERVER [--code CODE]`):
//! the session engine's connection, made for real and measured.
//!
//! Both sides meet at the rendezvous and prove the code to each other (a
//! PAKE; each side's introduction names the certificate it will prove),
//! probe, exchange sealed reports and predict; then gather their
//! candidates while allocating on the help desk's TURN relay (RFC 8656;
//! over TCP from a network that blocks UDP), map the punch's socket on
//! the gateway where the probe found port mapping working (PCP, NAT-PMP
//! or UPnP IGD; removed when the trial ends, also on Ctrl-C), exchange
//! the candidates, punch, and tell each other how the punch ended. When
//! both punches connected, QUIC runs over the proven path; otherwise, or
//! when that handshake fails, over the two relayed addresses. Over the
//! channel the helper measures round trips, throughput each way and loss,
//! and both sides report the same figures, set against what the
//! prediction said.

mod channel;
pub mod measure;
mod report;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::{Duration, Instant};

use super::live::{self, LiveError, LiveEvent};
use super::probe::{self, ProbeOptions};
use crate::io::portmap::{self, SessionGateway, SessionMapping};
use crate::io::punch;
use crate::io::punch::Punched;
use crate::io::quic::relayed::{self, Relayed, RelayedError};
use crate::io::quic::{Identity, QuicError};
use crate::io::rendezvous::{Introduction, RendezvousClientError};
use crate::io::resolve::ServerSpec;
use crate::io::undo::UndoLog;
use crate::predict::{PunchExpectation, plain_punch_plan};
use crate::proto::punch::{Candidate, CandidateKind, Punch, PunchFailure};
use crate::proto::relay::client::RelayTransport;
use crate::proto::relay::credentials::Credentials;
use crate::proto::rendezvous::{PunchVerdict, RelayGrant, Role};
use crate::proto::session::InviteCode;
use crate::report::Verdict;
use channel::{DirectPath, Opened};
use measure::MeasurePlan;
pub use report::{PathInfo, Phases, RelayInfo, TRIAL_SCHEMA_VERSION, Trial, TrialOutcome};
use stun_types::attribute::ErrorCode;
use tokio::task::{JoinError, JoinHandle};

/// How long the checks run where the prediction expects no direct path.
const EXPECTED_FAILURE_DEADLINE: Duration = Duration::from_millis(1600);

/// How long the relay may take to allocate.
const ALLOCATION_WAIT: Duration = Duration::from_secs(5);

/// How long the measurements may take in all.
const MEASURE_WAIT: Duration = Duration::from_secs(60);

/// The lease asked for the punch socket's port mapping: longer than a
/// trial takes (every step is bounded, the measurements to
/// [`MEASURE_WAIT`]), so it needs no renewal, and short enough that a
/// mapping a killed run could not remove expires soon.
const MAPPING_LEASE: Duration = Duration::from_secs(300);

/// Where to meet the other side, how to probe, and what to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialOptions {
    /// The rendezvous, `HOST[:PORT]` (port 3480 by default).
    pub rendezvous: ServerSpec,
    /// The other side's code; without one this side makes one (the
    /// helper).
    pub code: Option<InviteCode>,
    pub name: String,
    pub probe: ProbeOptions,
    pub plan: MeasurePlan,
    /// Take no direct path: send only the relayed candidate and skip the
    /// punch, so that the channel goes through the relay (to check the
    /// help desk's relay end to end).
    pub relay_only: bool,
}

/// The trial's progress, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialEvent {
    /// The steps it shares with the live check: the meeting, the probe,
    /// the prediction.
    Live(LiveEvent),
    /// This side's relayed address on the help desk's relay, or why it
    /// has none.
    Relay(Result<SocketAddr, String>),
    /// The punch's socket mapped on this side's gateway (where the probe
    /// found a port-mapping method working), or why it was not.
    Mapped(Result<SessionMapping, String>),
    /// Candidates gathered, to be sent.
    Gathered { candidates: usize },
    /// Both punches ended.
    Punched {
        connected: bool,
        peer_connected: bool,
    },
    /// The channel is up over this path.
    Channel(PathInfo),
    /// The helper measures; the novice answers.
    Measuring,
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

/// Why the trial could not run to its end (a failure to connect is not
/// one: it is the trial's outcome).
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error("could not make this session's key: {0}")]
    Identity(QuicError),
    #[error(
        "the other side named no certificate for the session's channel (ranat {version}; upgrade it)"
    )]
    NoCertificate { version: String },
}

impl From<RendezvousClientError> for TrialError {
    fn from(e: RendezvousClientError) -> Self {
        TrialError::Live(LiveError::Rendezvous(e))
    }
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
) -> Result<Option<Trial>, TrialError> {
    let server = live::rendezvous_address(&options.rendezvous).await?;
    let portmap_allowed = options.probe.portmap;
    let (stun, probe_options) = live::probe_with_rendezvous(server, options.probe);
    let identity = Identity::generate().map_err(TrialError::Identity)?;
    let intro = Introduction {
        certificate: Some(identity.fingerprint()),
        ..Introduction::new(&options.name)
    };
    let mut live_event = |e| on_event(TrialEvent::Live(e));
    let met = live::meet(server, options.code, intro, &mut live_event).await?;
    let (mut client, role) = (met.client, met.role);
    let peer_fingerprint = met.peer.certificate.ok_or(TrialError::NoCertificate {
        version: met.peer.version.clone(),
    })?;
    let mut phases = Phases {
        rendezvous_ms: ms(met.rendezvous),
        pake_ms: ms(met.pake),
        ..Phases::default()
    };

    let mut interrupt = pin!(interrupt);
    let probing = Instant::now();
    let Some(me) = probe::probe(&probe_options, interrupt.as_mut(), |e| {
        on_event(TrialEvent::Live(LiveEvent::Probe(e)))
    })
    .await
    else {
        return Ok(None);
    };
    phases.probe_ms = ms(probing.elapsed());
    let undo = UndoLog::default();
    let session = async {
        // The allocation starts now, over TCP from a network the probe
        // found blocking UDP: after the probe, whose port-allocation test
        // it would disturb, and with its first request out before the
        // gathering starts, so that on a sequential NAT its mapping does
        // not take the port the punch guesses (RFC 5128 §3.5); the rest of
        // it runs beside the reports' exchange and the gathering, so that
        // it is there by the time the candidates go.
        let transport = if me.verdict == Verdict::UdpBlocked {
            RelayTransport::Tcp
        } else {
            RelayTransport::Udp
        };
        let mut allocation = allocate(client.relay_grant(), transport).await;

        // The gathering runs beside the reports' exchange: without birthday
        // probing the punch's plan rests on this side's report alone.
        let connecting = Instant::now();
        let credentials = client
            .local_credentials()
            .ok_or(RendezvousClientError::Closed)?;
        let mut config = plain_punch_plan(&me).config(credentials.clone(), Some(stun));
        // No linger: once connected, the punched socket goes on answering
        // the peer's checks under the session (`channel::DirectPath`).
        config.timing.linger = Duration::ZERO;
        let machine = Punch::new(config, rand::random());
        let (peer, gathered) = tokio::join!(
            live::exchange_reports(&mut client, &me),
            punch::gather(machine)
        );
        let peer = peer?;
        let mut gathered = gathered.map_err(LiveError::Bind)?;
        let prediction = live::predict_for(role, &me, &peer);
        let expected = prediction.punch_expectation();
        // Where no direct path is expected the punch still runs, to prove
        // the prediction, but the session waits for it less: a path that
        // opens at all opens within a few of the checks' rounds (100, 200,
        // 400, 800 ms apart); both sides predict alike, so both cut alike.
        if expected == PunchExpectation::Fails {
            gathered.set_deadline(EXPECTED_FAILURE_DEADLINE);
        }
        on_event(TrialEvent::Live(LiveEvent::Predicted { expected }));
        phases.reports_ms = ms(connecting.elapsed());

        let gathering = Instant::now();
        let mut local_candidates = gathered.candidates();
        let note = gathered.note().map(str::to_string);
        let mut relay = None;
        if options.relay_only {
            local_candidates.clear();
        }
        // The punch's socket mapped on the gateway where the probe found a
        // method working: the mapping lets the peer's checks in whatever
        // this NAT's mapping and filtering (RFC 4787 §4, §5); its deletion
        // waits in `undo` for the trial's end.
        let gateway = SessionGateway::from_report(&me.port_mapping)
            .filter(|_| portmap_allowed && !options.relay_only);
        if let (Some(gateway), Some(local)) = (gateway, gathered.local_address()) {
            let mapped = portmap::map_session_port(gateway, local, MAPPING_LEASE, &undo).await;
            if let Ok(mapping) = &mapped {
                local_candidates.push(Candidate {
                    address: mapping.external,
                    kind: CandidateKind::PortMapped,
                });
            }
            on_event(TrialEvent::Mapped(mapped));
        }
        // Where no direct path is expected the candidates wait for the
        // relayed address; elsewhere they go without it, and it follows
        // with the punch's outcome, should the direct path not be taken.
        if options.relay_only || expected == PunchExpectation::Fails {
            let allocated = allocated((&mut allocation).await);
            on_event(TrialEvent::Relay(relay_event(&allocated)));
            if let Ok(relay) = &allocated {
                local_candidates.push(Candidate {
                    address: relay.relayed_address(),
                    kind: CandidateKind::Relayed,
                });
            }
            relay = Some(allocated);
        }
        on_event(TrialEvent::Gathered {
            candidates: local_candidates.len(),
        });
        let peer_side = client.exchange_candidates(local_candidates.clone()).await?;
        phases.candidates_ms = ms(gathering.elapsed());

        on_event(TrialEvent::Live(LiveEvent::Punching));
        let checking = Instant::now();
        let direct: Vec<Candidate> = peer_side
            .candidates
            .iter()
            .filter(|c| c.kind != CandidateKind::Relayed)
            .copied()
            .collect();
        // Without a direct candidate on either side there is nothing to check.
        let skipped = if options.relay_only {
            Some("no direct path tried: --relay-only")
        } else if direct.is_empty() {
            Some("no direct path tried: the other side sent only its relayed address")
        } else {
            None
        };
        let peer_credentials = peer_side.credentials.clone();
        let punched = match skipped {
            Some(_) => Punched::Failed(PunchFailure::default()),
            None => gathered.punch(peer_side.credentials, &direct).await,
        };
        let outcome = punched.outcome();
        phases.checks_ms = ms(checking.elapsed());
        let (direct_path, why_not_direct) = match punched {
            Punched::Connected(winner) => {
                match DirectPath::new(winner, credentials, peer_credentials) {
                    Ok(path) => (Some(path), None),
                    Err(why) => (None, Some(why)),
                }
            }
            Punched::Failed(_) => (
                None,
                Some(
                    skipped
                        .unwrap_or("no direct path: the punch failed")
                        .to_string(),
                ),
            ),
        };
        // The direct handshake starts at once, beside the wait for the
        // allocation and the outcomes' exchange; it counts only if the other
        // side's punch connected too.
        let connected = direct_path.is_some();
        let handshaking = Instant::now();
        let attempt = direct_path
            .as_ref()
            .map(|path| Box::pin(channel::handshake(role, &identity, peer_fingerprint, path)));
        let outcomes = async {
            let (relay, relayed_later) = match relay {
                Some(relay) => (relay, None),
                None => {
                    let relay = allocated(allocation.await);
                    on_event(TrialEvent::Relay(relay_event(&relay)));
                    let address = relay.as_ref().ok().map(Relayed::relayed_address);
                    (relay, address)
                }
            };
            let verdict = PunchVerdict {
                connected,
                relayed: relayed_later,
            };
            let peer_verdict = client.exchange_outcomes(verdict).await;
            (relay, verdict, peer_verdict)
        };
        let ((relay, verdict, peer_verdict), attempt) = channel::beside(outcomes, attempt).await;
        let peer_verdict = peer_verdict?;
        drop(client);
        on_event(TrialEvent::Punched {
            connected: verdict.connected,
            peer_connected: peer_verdict.connected,
        });
        let peer_relayed = peer_side
            .candidates
            .iter()
            .find(|c| c.kind == CandidateKind::Relayed)
            .map(|c| c.address)
            .or(peer_verdict.relayed);
        let punch = live::live_punch(
            expected,
            outcome,
            local_candidates,
            peer_side.candidates,
            note,
            peer_verdict,
        );

        let handshake = match (attempt, peer_verdict.connected) {
            (Some(attempt), true) => Some(attempt.finish().await),
            _ => None,
        };
        let direct = match (direct_path, handshake) {
            (Some(path), Some(handshake)) => Ok((path, handshake)),
            _ => Err(why_not_direct.unwrap_or_else(|| {
                "this side's punch connected, the other side's did not".to_string()
            })),
        };
        let opened = channel::open(channel::Sides {
            role,
            me: &identity,
            peer: peer_fingerprint,
            direct,
            relay,
            peer_relayed,
        })
        .await;
        phases.quic_ms = ms(handshaking.elapsed());
        phases.connect_ms = ms(connecting.elapsed());

        let (outcome, path, why, figures, measure_error) = match opened {
            Opened::Failed { why } => (TrialOutcome::Failed, None, why, None, None),
            Opened::Up(channel) => {
                on_event(TrialEvent::Channel(channel.path.clone()));
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
        Ok::<_, TrialError>(Trial::new(report::Parts {
            role,
            peer_name: met.peer.name,
            me,
            peer,
            prediction,
            punch,
            outcome,
            path,
            why,
            phases,
            figures,
            measure_error,
        }))
    };
    let trial = tokio::select! {
        trial = session => Some(trial),
        () = interrupt => None,
    };
    if trial.is_none() {
        on_event(TrialEvent::Interrupted);
    }
    for (what, result) in undo.run_all().await {
        on_event(TrialEvent::Undone { what, result });
    }
    trial.transpose()
}

/// Allocates on the offered relay, or says why there is none.
/// Its first request is out when this returns (the mapping toward the
/// relay exists); the rest runs in a task.
async fn allocate(
    grant: Option<RelayGrant>,
    transport: RelayTransport,
) -> JoinHandle<Result<Relayed, String>> {
    let Some(grant) = grant else {
        return tokio::spawn(async { Err("the rendezvous offers no relay".to_string()) });
    };
    let address = grant.address;
    let credentials = Credentials {
        username: grant.username,
        password: grant.password,
    };
    let failed = move |e: RelayedError| format!("the relay {address}: {e}");
    match relayed::start(address, transport, credentials.clone(), ALLOCATION_WAIT).await {
        Ok(allocating) => tokio::spawn(async move {
            match allocating.finish().await {
                // RFC 8656 §7.3: another allocation holds this 5-tuple (a
                // NAT that gave this side an external port an earlier
                // client left an allocation on): a fresh client address
                // may succeed.
                Err(RelayedError::Refused(Some(ErrorCode::ALLOCATION_MISMATCH))) => {
                    relayed::allocate(address, transport, credentials, ALLOCATION_WAIT)
                        .await
                        .map_err(failed)
                }
                other => other.map_err(failed),
            }
        }),
        Err(e) => {
            let why = failed(e);
            tokio::spawn(async move { Err(why) })
        }
    }
}

/// The allocation task's result.
fn allocated(joined: Result<Result<Relayed, String>, JoinError>) -> Result<Relayed, String> {
    joined.unwrap_or_else(|e| Err(format!("the allocation stopped: {e}")))
}

fn relay_event(relay: &Result<Relayed, String>) -> Result<SocketAddr, String> {
    relay
        .as_ref()
        .map(Relayed::relayed_address)
        .map_err(Clone::clone)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}
