//! The live check flow (`ranat check --via SERVER [--code CODE]`): both
//! sides meet at `ranat serve`'s rendezvous, prove to each other that they
//! hold the same code (a PAKE, so the server learns nothing), probe,
//! exchange sealed reports, predict, and make a real UDP hole-punching
//! attempt, authenticated with credentials from the shared key, whose
//! outcome (on both sides: they tell each other) is set against the
//! prediction.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::Serialize;

use super::probe::{self, ProbeEvent, ProbeOptions};
use crate::io::driver::BindError;
use crate::io::punch;
use crate::io::rendezvous::{Introduction, RendezvousClient, RendezvousClientError};
use crate::io::resolve::{self, ServerSpec};
use crate::predict::{self, Prediction, PunchExpectation, punch_plan};
use crate::proto::punch::{Candidate, Punch, PunchOutcome};
use crate::proto::rendezvous::{Code, Meeting, PunchVerdict, RendezvousEvent, Role, Secret};
use crate::proto::session::InviteCode;
use crate::report::{self, LoadError, ProbeReport};

/// The rendezvous port of `ranat serve` when the server spec names none.
pub const RENDEZVOUS_PORT: u16 = 3480;

/// Where to meet the other side, and how to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOptions {
    /// The rendezvous, `HOST[:PORT]`; the port defaults to
    /// [`RENDEZVOUS_PORT`].
    pub rendezvous: ServerSpec,
    /// The code the other side was given, to join its room; without one,
    /// this side creates a room and is the helper.
    pub code: Option<InviteCode>,
    /// The name the other side is shown.
    pub name: String,
    /// The probe of this machine. With no servers, both sides probe with
    /// the rendezvous server's STUN service (same address, port 3478).
    pub probe: ProbeOptions,
}

/// The live check's progress, in the order it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// This side created a room (it is the helper): `code` is for the other
    /// side, valid for `expires_in`. The flow now waits for it to join.
    CodeAllocated {
        code: InviteCode,
        expires_in: Duration,
    },
    /// (The helper.) The server gave this side a room keyed by an
    /// invitation file's password, for `expires_in`.
    RoomMade { room: Code, expires_in: Duration },
    /// (The helper.) Someone joined with the room's public part; the PAKE
    /// runs.
    PeerJoined,
    /// (The helper.) That one's code was wrong; the room waits for another
    /// try while `attempts_left` remain.
    AttemptFailed { attempts_left: u32 },
    /// This side joined the room of `code` (it is the novice); the PAKE
    /// runs.
    Joined { room: Code },
    /// The other side proved it holds the same code; the probe starts.
    Confirmed { peer_name: String },
    /// The probe of this machine.
    Probe(ProbeEvent),
    /// The reports are exchanged and the prediction made: this is what the
    /// punch should do.
    Predicted { expected: PunchExpectation },
    /// The candidates are exchanged; the checks run.
    Punching,
}

/// Why the live check could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The rendezvous server's name did not resolve.
    #[error("cannot resolve the rendezvous server {host}: {reason}")]
    Lookup { host: String, reason: String },
    #[error(transparent)]
    Rendezvous(#[from] RendezvousClientError),
    #[error(transparent)]
    EncodeReport(#[from] serde_json::Error),
    /// The other side's report is not a probe report.
    #[error(transparent)]
    PeerReport(#[from] LoadError),
    #[error("binding the hole-punching socket")]
    Bind(#[from] BindError),
}

/// Everything the live check learned.
#[derive(Debug, Clone)]
pub struct Live {
    pub role: Role,
    pub me: ProbeReport,
    pub peer: ProbeReport,
    pub prediction: Prediction,
    pub punch: LivePunch,
}

/// The live punch, as the `--json` document shows it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct LivePunch {
    pub expected: PunchExpectation,
    pub connected: bool,
    /// The other side's punch connected too (it told so, sealed).
    pub peer_connected: bool,
    /// `expected` and the outcome agree (`None` when nothing was expected).
    pub agrees: Option<bool>,
    pub local_candidates: Vec<Candidate>,
    pub peer_candidates: Vec<Candidate>,
    /// The path that opened: local and remote endpoints, what the remote
    /// was, and when.
    pub path: Option<PathReport>,
    pub checks_sent: Option<u32>,
    pub checks_heard: Option<u32>,
    pub detail: String,
}

/// The path a live punch opened.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PathReport {
    pub local: Option<SocketAddr>,
    pub remote: SocketAddr,
    pub remote_kind: String,
    pub rtt_ms: f64,
    pub after_ms: f64,
}

/// Runs the live check. `interrupt` cuts the probe short (as in
/// [`probe::probe`]), and then the result is `None`; the other steps wait
/// for the rendezvous's own timeouts.
pub async fn live(
    options: LiveOptions,
    interrupt: impl Future<Output = ()>,
    mut on_event: impl FnMut(LiveEvent),
) -> Result<Option<Live>, LiveError> {
    let server = rendezvous_address(&options.rendezvous).await?;
    let (stun, probe_options) = probe_with_rendezvous(server, options.probe);
    let met = meet(
        server,
        code_meeting(options.code),
        Introduction::new(&options.name),
        &mut on_event,
    )
    .await?;
    let (mut client, role) = (met.client, met.role);
    let Some(me) = probe::probe(&probe_options, interrupt, |e| on_event(LiveEvent::Probe(e))).await
    else {
        return Ok(None);
    };
    let peer = exchange_reports(&mut client, &me).await?;
    let prediction = predict_for(role, &me, &peer);
    let expected = prediction.punch_expectation();
    on_event(LiveEvent::Predicted { expected });
    let punch = punch_through(&mut client, &me, &peer, stun, expected, &mut on_event).await?;
    Ok(Some(Live {
        role,
        me,
        peer,
        prediction,
        punch,
    }))
}

/// The prediction as this side of a live check makes it: `me` is the
/// novice's or the helper's report as `role` says, so both sides predict
/// alike.
pub fn predict_for(role: Role, me: &ProbeReport, peer: &ProbeReport) -> Prediction {
    match role {
        Role::Helper => predict::predict(peer, me),
        Role::Novice => predict::predict(me, peer),
    }
}

/// The STUN service of the rendezvous server (same address, port 3478),
/// and `probe` set to probe with it unless it names other servers.
pub(super) fn probe_with_rendezvous(
    server: SocketAddr,
    mut probe: ProbeOptions,
) -> (SocketAddr, ProbeOptions) {
    let stun = SocketAddr::new(server.ip(), resolve::DEFAULT_PORT);
    if probe.servers.is_empty() {
        probe.servers = vec![ServerSpec {
            host: stun.ip().to_string(),
            port: Some(stun.port()),
        }];
    }
    (stun, probe)
}

/// `HOST[:PORT]`, the rendezvous; the port defaults to
/// [`RENDEZVOUS_PORT`].
pub(super) async fn rendezvous_address(spec: &ServerSpec) -> Result<SocketAddr, LiveError> {
    let port = spec.port.unwrap_or(RENDEZVOUS_PORT);
    if let Ok(ip) = spec.host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let lookup_failed = |reason: String| LiveError::Lookup {
        host: spec.host.clone(),
        reason,
    };
    let ip = resolve::lookup_host(&spec.host)
        .await
        .map_err(lookup_failed)?
        .into_iter()
        .next()
        .ok_or_else(|| lookup_failed("no address".to_string()))?;
    Ok(SocketAddr::new(ip, port))
}

/// Two sides met: the rendezvous client, this side's role, the other
/// side's introduction, and how long the meeting took.
pub(super) struct Met {
    pub client: RendezvousClient,
    pub role: Role,
    pub peer: Introduction,
    /// Connecting and the Hello–Welcome exchange.
    pub rendezvous: Duration,
    /// From the pairing (the novice's arrival) to the key confirmation.
    pub pake: Duration,
}

/// A spoken code's meeting: without a code, make a room and a fresh code
/// for the other side; with one, join its room.
pub fn code_meeting(code: Option<InviteCode>) -> Meeting {
    Meeting::for_code(code, || Secret::generate(rand::random::<u32>))
}

/// Meets the other side in a room of `server`, made or joined as `meeting`
/// says (a maker waits for the other side to join), until the other side
/// proved it holds the same secret.
pub(super) async fn meet(
    server: SocketAddr,
    meeting: Meeting,
    intro: Introduction,
    on_event: &mut impl FnMut(LiveEvent),
) -> Result<Met, LiveError> {
    let started = Instant::now();
    let (mut client, welcome) = RendezvousClient::meet(server, meeting, intro).await?;
    let rendezvous = started.elapsed();
    let mut paired = Instant::now();
    let expires_in = Duration::from_secs(welcome.expires_in_secs);
    match (welcome.role, welcome.invite()) {
        (Role::Helper, Some(code)) => on_event(LiveEvent::CodeAllocated { code, expires_in }),
        (Role::Helper, None) => on_event(LiveEvent::RoomMade {
            room: welcome.room,
            expires_in,
        }),
        (Role::Novice, _) => on_event(LiveEvent::Joined { room: welcome.room }),
    }
    let peer = client
        .confirm(|event| match event {
            RendezvousEvent::PeerJoined => {
                paired = Instant::now();
                on_event(LiveEvent::PeerJoined);
            }
            RendezvousEvent::AttemptFailed { attempts_left } => {
                on_event(LiveEvent::AttemptFailed {
                    attempts_left: *attempts_left,
                });
            }
            _ => {}
        })
        .await?;
    let pake = paired.elapsed();
    on_event(LiveEvent::Confirmed {
        peer_name: peer.name.clone(),
    });
    Ok(Met {
        client,
        role: welcome.role,
        peer,
        rendezvous,
        pake,
    })
}

/// Sends this side's report and returns the other side's, checked.
pub(super) async fn exchange_reports(
    client: &mut RendezvousClient,
    me: &ProbeReport,
) -> Result<ProbeReport, LiveError> {
    let peer_value = client.exchange_reports(serde_json::to_value(me)?).await?;
    let peer = report::parse(
        &peer_value.to_string(),
        std::path::Path::new("the peer's report"),
    )?;
    Ok(peer)
}

/// Gathers this side's candidates, exchanges them for the other side's
/// and punches.
async fn punch_through(
    client: &mut RendezvousClient,
    me: &ProbeReport,
    peer: &ProbeReport,
    stun: SocketAddr,
    expected: PunchExpectation,
    on_event: &mut impl FnMut(LiveEvent),
) -> Result<LivePunch, LiveError> {
    let credentials = client
        .local_credentials()
        .ok_or(LiveError::Rendezvous(RendezvousClientError::Closed))?;
    let plan = punch_plan(me, peer, false);
    let machine = Punch::new(plan.config(credentials.clone(), Some(stun)), rand::random());
    let gathered = punch::gather(machine).await?;
    let local_candidates = gathered.candidates();
    let note = gathered.note().map(str::to_string);
    let peer_side = client.exchange_candidates(local_candidates.clone()).await?;
    on_event(LiveEvent::Punching);
    let outcome = gathered
        .punch(peer_side.credentials, &peer_side.candidates)
        .await
        .outcome();
    let verdict = PunchVerdict {
        connected: matches!(outcome, PunchOutcome::Connected(_)),
        relayed: None,
    };
    let peer_verdict = client.exchange_outcomes(verdict).await?;
    Ok(live_punch(
        expected,
        outcome,
        local_candidates,
        peer_side.candidates,
        note,
        peer_verdict,
    ))
}

/// The punch's outcome set against `expected`, with a sentence that says
/// what happened; `note` is why gathering found less than it could, and
/// `peer` how the other side's punch ended.
pub fn live_punch(
    expected: PunchExpectation,
    outcome: PunchOutcome,
    local_candidates: Vec<Candidate>,
    peer_candidates: Vec<Candidate>,
    note: Option<String>,
    peer: PunchVerdict,
) -> LivePunch {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (connected, path, sent, heard, detail) = match outcome {
        PunchOutcome::Connected(p) => (
            true,
            Some(PathReport {
                local: p.local,
                remote: p.remote,
                remote_kind: p.kind.label().to_string(),
                rtt_ms: ms(p.rtt),
                after_ms: ms(p.after),
            }),
            None,
            None,
            format!(
                "connected: a check to {} ({}) was answered from there after {:.0} ms (round trip {:.1} ms)",
                p.remote,
                p.kind.label(),
                ms(p.after),
                ms(p.rtt)
            ),
        ),
        PunchOutcome::Failed(f) => {
            let why = if f.checks_heard > 0 {
                "the peer's checks got in, but no answer of ours came back from where it was sent"
            } else {
                "none of the peer's checks got in"
            };
            (
                false,
                None,
                Some(f.checks_sent),
                Some(f.checks_heard),
                format!(
                    "no path: {} checks sent, {} of the peer's heard; {why}{}",
                    f.checks_sent,
                    f.checks_heard,
                    note.map_or(String::new(), |n| format!(" ({n})"))
                ),
            )
        }
    };
    let agrees = match expected {
        PunchExpectation::Connects | PunchExpectation::Likely => Some(connected),
        PunchExpectation::Fails => Some(!connected),
        PunchExpectation::Unknown => None,
    };
    LivePunch {
        expected,
        connected,
        peer_connected: peer.connected,
        agrees,
        local_candidates,
        peer_candidates,
        path,
        checks_sent: sent,
        checks_heard: heard,
        detail,
    }
}
