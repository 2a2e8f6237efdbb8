//! `ranat check --via SERVER [--code CODE]`: the live pre-session check.
//! Both sides meet at `ranat serve`'s rendezvous, probe, exchange reports,
//! print the prediction, and make a real UDP hole-punching attempt; the
//! result is shown next to what was predicted.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use super::probe::{self, ProbeArgs};
use crate::io::punch;
use crate::io::rendezvous::RendezvousClient;
use crate::io::resolve::{self, ServerSpec};
use crate::predict::{self, Prediction, PunchExpectation, punch_plan};
use crate::proto::punch::{Candidate, Credentials, Punch, PunchOutcome};
use crate::proto::rendezvous::{Code, Role};
use crate::report::{self, ProbeReport};

/// The rendezvous port of `ranat serve` when SERVER names none.
pub const RENDEZVOUS_PORT: u16 = 3480;

/// The live punch in the `--json` document.
#[derive(Debug, Serialize)]
pub struct LivePunch {
    pub expected: PunchExpectation,
    pub connected: bool,
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

#[derive(Debug, Serialize)]
pub struct PathReport {
    pub local: Option<SocketAddr>,
    pub remote: SocketAddr,
    pub remote_kind: String,
    pub rtt_ms: f64,
    pub after_ms: f64,
}

/// Everything `check --via` learned.
pub struct Live {
    pub role: Role,
    pub me: ProbeReport,
    pub peer: ProbeReport,
    pub prediction: Prediction,
    pub punch: LivePunch,
}

/// `HOST[:PORT]`, the rendezvous; the port defaults to 3480.
async fn rendezvous_address(via: &str) -> anyhow::Result<SocketAddr> {
    let spec: ServerSpec = via
        .parse()
        .map_err(|e| anyhow::anyhow!("--via {via}: {e}"))?;
    let port = spec.port.unwrap_or(RENDEZVOUS_PORT);
    if let Ok(ip) = spec.host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let ip = resolve::lookup_host(&spec.host)
        .await
        .map_err(|e| anyhow::anyhow!("--via {via}: {e}"))?
        .into_iter()
        .next()
        .with_context(|| format!("--via {via}: no address"))?;
    Ok(SocketAddr::new(ip, port))
}

/// Runs the live check; `None` if the probe was interrupted.
pub async fn run(
    via: &str,
    code: Option<Code>,
    mut probe_args: ProbeArgs,
) -> anyhow::Result<Option<Live>> {
    let server = rendezvous_address(via).await?;
    // The rendezvous server's STUN service is the one both sides probe
    // with, unless --server names others.
    let stun = SocketAddr::new(server.ip(), resolve::DEFAULT_PORT);
    if probe_args.servers.is_empty() {
        probe_args.servers = vec![ServerSpec {
            host: stun.ip().to_string(),
            port: Some(stun.port()),
        }];
    }
    let (mut client, welcome) = RendezvousClient::connect(server, code).await?;
    if welcome.role == Role::Helper {
        eprintln!(
            "ranat check: your code is {} (valid {} min). On the other machine run:\n    ranat check --via {via} --code {}",
            welcome.code,
            welcome.expires_in_secs / 60,
            welcome.code
        );
        client.wait_peer_joined().await?;
        eprintln!("ranat check: the other side joined; probing");
    } else {
        eprintln!("ranat check: joined {}; probing", welcome.code);
    }
    let Some(me) = probe::measure_interruptible(probe_args).await? else {
        return Ok(None);
    };
    let peer_value = client.exchange_reports(serde_json::to_value(&me)?).await?;
    let peer = report::parse(
        &peer_value.to_string(),
        std::path::Path::new("the peer's report"),
    )?;
    let prediction = match welcome.role {
        Role::Helper => predict::predict(&peer, &me),
        Role::Novice => predict::predict(&me, &peer),
    };
    let credentials = Credentials::generate(rand::random::<u8>);
    let plan = punch_plan(&me, &peer, false);
    let machine = Punch::new(plan.config(credentials.clone(), Some(stun)), rand::random());
    let gathered = punch::gather(machine)
        .await
        .context("binding the hole-punching socket")?;
    let local_candidates = gathered.candidates();
    let note = gathered.note().map(str::to_string);
    let peer_side = client
        .exchange_candidates(credentials, local_candidates.clone())
        .await?;
    let outcome = gathered
        .punch(peer_side.credentials, &peer_side.candidates)
        .await
        .outcome();
    let expected = prediction.punch_expectation();
    let punch = live_punch(
        expected,
        outcome,
        local_candidates,
        peer_side.candidates,
        note,
    );
    Ok(Some(Live {
        role: welcome.role,
        me,
        peer,
        prediction,
        punch,
    }))
}

fn live_punch(
    expected: PunchExpectation,
    outcome: PunchOutcome,
    local_candidates: Vec<Candidate>,
    peer_candidates: Vec<Candidate>,
    note: Option<String>,
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
        PunchExpectation::Connects => Some(connected),
        PunchExpectation::Fails => Some(!connected),
        PunchExpectation::Unknown => None,
    };
    LivePunch {
        expected,
        connected,
        agrees,
        local_candidates,
        peer_candidates,
        path,
        checks_sent: sent,
        checks_heard: heard,
        detail,
    }
}
