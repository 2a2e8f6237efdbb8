//! `ranat trial --via SERVER [--code CODE]`: the live end-to-end trial
//! ([`crate::flow::trial`]): progress on stderr, the figures on stdout.

use clap::Args;
use comfy_table::{ContentArrangement, Table, presets};

use super::connecting::{Connecting, expectation};
use super::probe::{self, ProbeArgs};
use super::ui::Ui;
use super::via::display_name;
use crate::flow::connect::{ConnectError, ConnectOptions, PathOutcome};
use crate::flow::trial::measure::MeasurePlan;
use crate::flow::trial::{self, Trial, TrialEvent, TrialOptions};
use crate::flow::{LiveError, live};
use crate::io::resolve::ServerSpec;
use crate::proto::session::InviteCode;

/// Exit code: connected, but only through the relay.
pub const EXIT_RELAYED: i32 = 40;

/// Exit code: no channel at all.
pub const EXIT_FAILED: i32 = 41;

#[derive(Debug, Args)]
pub struct TrialArgs {
    /// Meet the other side at this `ranat serve` (HOST[:PORT], rendezvous
    /// port 3480 by default). Without --code, the server gives a code for
    /// the other side.
    #[arg(long, value_name = "SERVER")]
    via: String,
    /// The code the other side was given.
    #[arg(long, value_name = "CODE")]
    code: Option<InviteCode>,
    /// Round trips measured over the channel (the helper's choice).
    #[arg(long, default_value_t = MeasurePlan::default().pings,
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    pings: u64,
    /// Bytes sent each way for the throughput (the helper's choice).
    #[arg(long, default_value_t = MeasurePlan::default().transfer,
          value_parser = clap::value_parser!(u64).range(1..=64 * 1024 * 1024))]
    transfer: u64,
    /// Take no direct path, so that the channel goes through the help
    /// desk's relay: checks the relay end to end. Either side may ask.
    #[arg(long)]
    relay_only: bool,
    /// On the side that joins with --code (the novice): for the session's
    /// figures, let the other side see and type into a scratch shell (not
    /// yours) without asking. For trials only; without it the session's
    /// figures are refused.
    #[arg(long)]
    auto_approve: bool,
    #[command(flatten)]
    probe: ProbeArgs,
}

pub async fn run(args: TrialArgs, ui: Ui) -> anyhow::Result<i32> {
    let via = args.via.clone();
    let rendezvous: ServerSpec = via
        .parse()
        .map_err(|e| anyhow::anyhow!("--via {via}: {e}"))?;
    let json = args.probe.json;
    let options = TrialOptions {
        connect: ConnectOptions {
            rendezvous,
            meeting: live::code_meeting(args.code),
            name: display_name(),
            probe: args.probe.options(),
            relay_only: args.relay_only,
        },
        plan: MeasurePlan {
            pings: args.pings,
            transfer: args.transfer,
        },
        auto_approve: args.auto_approve,
    };
    if args.auto_approve {
        eprintln!(
            "ranat trial: --auto-approve: the other side will see and type into a scratch shell for the session's figures, without asking (for trials only)"
        );
    }
    let mut progress = probe::Progress::new(ui, json);
    let join_hint = |code: &str| format!("ranat trial --via {via} --code {code}");
    let mut connecting = Connecting {
        command: "ranat trial",
        progress: &mut progress,
        join_hint: &join_hint,
    };
    let show = |event| match event {
        TrialEvent::Connect(event) => connecting.show(event),
        TrialEvent::Measuring => connecting.step("measuring"),
        TrialEvent::Session => connecting.step("the session's figures"),
        TrialEvent::Interrupted => eprintln!("ranat trial: interrupted"),
        TrialEvent::Undone { what, result } => match result {
            Ok(()) => eprintln!("ranat trial: removed the {what}"),
            Err(e) => eprintln!("ranat trial: could not remove the {what}: {e}"),
        },
    };
    let trial = match trial::trial(options, probe::interrupted(), show).await {
        Err(ConnectError::Live(LiveError::Lookup { reason, .. })) => {
            anyhow::bail!("--via {via}: {reason}")
        }
        other => other?,
    };
    let Some(trial) = trial else {
        return Ok(130);
    };
    let text = if json {
        serde_json::to_string_pretty(&trial)? + "\n"
    } else {
        render(&trial)
    };
    super::print(&text)?;
    Ok(exit_code(trial.outcome))
}

/// 0 connected directly, [`EXIT_RELAYED`], [`EXIT_FAILED`].
pub fn exit_code(outcome: PathOutcome) -> i32 {
    match outcome {
        PathOutcome::Direct => 0,
        PathOutcome::Relayed => EXIT_RELAYED,
        PathOutcome::Failed => EXIT_FAILED,
    }
}

/// The trial as a table, and a verdict line under it.
fn render(trial: &Trial) -> String {
    let mut table = Table::new();
    table
        .load_preset(presets::ASCII_FULL)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec!["trial", "result"]);
    let outcome = match trial.outcome {
        PathOutcome::Direct => "connected directly",
        PathOutcome::Relayed => "connected through the relay",
        PathOutcome::Failed => "not connected",
    };
    table.add_row(vec!["outcome", outcome]);
    if let Some(path) = &trial.path {
        let local = path
            .local
            .map_or_else(|| "?".to_string(), |l| l.to_string());
        table.add_row(vec![
            "path".to_string(),
            format!(
                "{} ({}): {local} -> {}",
                path.kind, path.family, path.remote
            ),
        ]);
        if let Some(relay) = &path.relay {
            let over = match relay.transport {
                crate::proto::relay::client::RelayTransport::Udp => "UDP",
                crate::proto::relay::client::RelayTransport::Tcp => "TCP",
            };
            table.add_row(vec![
                "relay".to_string(),
                format!("{} over {over}", relay.server),
            ]);
        }
    }
    table.add_row(vec!["why", trial.why.as_str()]);
    let agrees = match trial.agrees {
        Some(true) => " (as predicted)",
        Some(false) => " (NOT as predicted)",
        None => "",
    };
    table.add_row(vec![
        "predicted".to_string(),
        format!("{}{agrees}", expectation(trial.expected)),
    ]);
    table.add_row(vec!["punch", trial.punch.detail.as_str()]);
    let p = &trial.phases;
    table.add_row(vec![
        "phases".to_string(),
        format!(
            "rendezvous {:.0} ms, PAKE {:.0} ms, probe {:.0} ms, reports {:.0} ms, candidates {:.0} ms, checks {:.0} ms, QUIC {:.0} ms",
            p.rendezvous_ms,
            p.pake_ms,
            p.probe_ms,
            p.reports_ms,
            p.candidates_ms,
            p.checks_ms,
            p.quic_ms
        ),
    ]);
    table.add_row(vec![
        "time to connect".to_string(),
        format!("{:.0} ms after both sides were probed", p.connect_ms),
    ]);
    if let Some(f) = &trial.figures {
        let or_dash =
            |v: Option<f64>, unit: &str| v.map_or("-".to_string(), |v| format!("{v:.1} {unit}"));
        table.add_row(vec![
            "round trip".to_string(),
            format!(
                "p50 {}, p95 {} ({} pings)",
                or_dash(f.rtt_p50_ms, "ms"),
                or_dash(f.rtt_p95_ms, "ms"),
                f.rtt_ms.len()
            ),
        ]);
        table.add_row(vec![
            "throughput".to_string(),
            format!(
                "helper to novice {}, novice to helper {}",
                or_dash(f.helper_to_novice_mbit_s, "Mbit/s"),
                or_dash(f.novice_to_helper_mbit_s, "Mbit/s")
            ),
        ]);
        table.add_row(vec![
            "loss".to_string(),
            format!(
                "{} ({} of {} QUIC packets)",
                or_dash(trial.loss_percent, "%"),
                f.helper_lost_packets + f.novice_lost_packets,
                f.helper_sent_packets + f.novice_sent_packets
            ),
        ]);
    }
    if let Some(e) = &trial.measure_error {
        table.add_row(vec!["measurements".to_string(), format!("stopped: {e}")]);
    }
    if let Some(s) = &trial.session {
        let or_dash = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1} ms"));
        table.add_row(vec![
            "keystroke echo".to_string(),
            format!(
                "p50 {}, p95 {} ({} keys: expert key, novice's PTY, expert's screen)",
                or_dash(s.echo_p50_ms),
                or_dash(s.echo_p95_ms),
                s.echo_ms.len()
            ),
        ]);
        table.add_row(vec![
            "screen updates".to_string(),
            format!(
                "{:.1} a second under a busy terminal",
                s.screen_updates_per_s
            ),
        ]);
    }
    if let Some(e) = &trial.session_error {
        table.add_row(vec!["session".to_string(), format!("no figures: {e}")]);
    }
    format!("{table}\n{}\n", verdict_line(trial))
}

fn verdict_line(trial: &Trial) -> String {
    match trial.outcome {
        PathOutcome::Direct => format!(
            "Verdict: a session with {} connects directly.",
            trial.peer_name
        ),
        PathOutcome::Relayed => format!(
            "Verdict: a session with {} connects, through the help desk's relay.",
            trial.peer_name
        ),
        PathOutcome::Failed => format!(
            "Verdict: a session with {} does not connect: {}.",
            trial.peer_name, trial.why
        ),
    }
}
