//! `ranat check`: will a session between two probed machines connect, and
//! how? `ranat matrix`: the same question for every pair of NAT types.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;
use comfy_table::{Cell, ContentArrangement, Table, presets};
use schemars::JsonSchema;
use serde::Serialize;

use super::probe::{self, ProbeArgs};
use super::ui::Ui;
use super::via;
use crate::flow::{self, Checked, Live, LivePunch, NamedReport};
use crate::predict::{self, Feasibility, Headline, Method, Prediction, PunchExpectation};
use crate::proto::rendezvous::Role;
use crate::proto::session::InviteCode;
use crate::report::{self, ProbeReport};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// This machine's report (`ranat probe --json > me.json`) and the
    /// peer's; with `--peer`, only the peer's, and this machine is probed.
    #[arg(value_name = "ME.json PEER.json", num_args = 0..=2)]
    reports: Vec<PathBuf>,
    /// The peer's report; this machine is probed first (with the probe
    /// options below).
    #[arg(long, value_name = "PEER.json", conflicts_with = "reports")]
    peer: Option<PathBuf>,
    /// Meet the peer at this `ranat serve` (HOST[:PORT], rendezvous port
    /// 3480 by default): both sides probe, exchange reports, and make a
    /// real UDP hole-punching attempt. Without --code, the server gives a
    /// code for the other side.
    #[arg(long, value_name = "SERVER", conflicts_with_all = ["reports", "peer"])]
    via: Option<String>,
    /// The code the other side was given (with --via).
    #[arg(long, value_name = "CODE", requires = "via")]
    code: Option<InviteCode>,
    #[command(flatten)]
    probe: ProbeArgs,
}

#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// Print one JSON document instead of the table.
    #[arg(long)]
    json: bool,
}

/// The JSON document of `ranat check --json`.
#[derive(Serialize, JsonSchema)]
pub(super) struct CheckDocument<'a> {
    schema_version: u32,
    /// Who this machine is in the pairing.
    me: &'a str,
    /// Who the other side is.
    peer: &'a str,
    prediction: &'a Prediction,
    /// The live punch of `--via`.
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<&'a LivePunch>,
}

pub async fn run(args: CheckArgs, ui: Ui) -> anyhow::Result<i32> {
    let json = args.probe.json;
    let html = args.probe.html.clone();
    if let Some(server) = &args.via {
        let Some(live) = via::run(server, args.code, args.probe, ui).await? else {
            return Ok(130);
        };
        return print_live(&live, json, ui.quiet, html.as_deref());
    }
    let checked = match (&args.peer, args.reports.as_slice()) {
        (Some(peer), []) => {
            let peer = named(peer)?;
            let options = args.probe.options_or_defaults()?;
            let mut progress = probe::Progress::new(ui, json);
            let checked =
                flow::probe_and_compare(peer, &options, probe::interrupted(), |e| progress.show(e))
                    .await;
            let Some(checked) = checked else {
                return Ok(130);
            };
            checked
        }
        (None, [me, peer]) => flow::compare(named(me)?, named(peer)?),
        _ => anyhow::bail!("give two reports (ME.json PEER.json), or --peer PEER.json"),
    };
    let Checked {
        me,
        peer,
        prediction,
    } = &checked;
    if let Some(path) = &html {
        let page = report::html::render_check_html(
            (&me.name, &me.report),
            (&peer.name, &peer.report),
            prediction,
            None,
        );
        super::write_html(path, &page)?;
    }
    let text = if json {
        let document = CheckDocument {
            schema_version: report::SCHEMA_VERSION,
            me: &me.name,
            peer: &peer.name,
            prediction,
            live: None,
        };
        serde_json::to_string_pretty(&document)? + "\n"
    } else if ui.quiet {
        headlines(prediction)
    } else {
        render_check(prediction, &me.name, &peer.name, &me.report, &peer.report)
    };
    super::print(&text)?;
    Ok(exit_code(&prediction.ranat))
}

/// The report in the file at `path`, named by its path.
fn named(path: &Path) -> anyhow::Result<NamedReport> {
    Ok(NamedReport {
        name: path.display().to_string(),
        report: report::load(path)?,
    })
}

/// Prints the prediction and the live punch; the exit code is the punch's:
/// 0 connected, 20 not (only a relay would carry the session).
fn print_live(live: &Live, json: bool, quiet: bool, html: Option<&Path>) -> anyhow::Result<i32> {
    let (me, peer) = match live.role {
        Role::Helper => ("the helper (this machine)", "the novice"),
        Role::Novice => ("the novice (this machine)", "the helper"),
    };
    if let Some(path) = html {
        let outcome = report::html::LiveOutcome {
            connected: live.punch.connected,
            words: &live.punch.detail,
        };
        let page = report::html::render_check_html(
            (me, &live.me),
            (peer, &live.peer),
            &live.prediction,
            Some(outcome),
        );
        super::write_html(path, &page)?;
    }
    let text = if json {
        let document = CheckDocument {
            schema_version: report::SCHEMA_VERSION,
            me,
            peer,
            prediction: &live.prediction,
            live: Some(&live.punch),
        };
        serde_json::to_string_pretty(&document)? + "\n"
    } else {
        let p = &live.punch;
        let expected = match p.expected {
            PunchExpectation::Connects => "connects",
            PunchExpectation::Likely => "likely connects",
            PunchExpectation::Fails => "fails",
            PunchExpectation::Unknown => "unknown",
        };
        let agreement = match p.agrees {
            Some(true) => "as predicted",
            Some(false) => "NOT as predicted",
            None => "nothing was predicted",
        };
        let prediction = if quiet {
            headlines(&live.prediction)
        } else {
            render_check(&live.prediction, me, peer, &live.me, &live.peer)
        };
        format!(
            "{prediction}\nLive UDP hole punch: predicted {expected}, observed {}: {agreement}.\n  {}\n",
            if p.connected { "connected" } else { "no path" },
            p.detail
        )
    };
    super::print(&text)?;
    Ok(if live.punch.connected { 0 } else { 20 })
}

pub fn matrix(args: MatrixArgs) -> anyhow::Result<i32> {
    let rows = predict::matrix();
    let text = if args.json {
        serde_json::to_string_pretty(&rows)? + "\n"
    } else {
        let mut table = table();
        table.set_header(vec![
            "novice",
            "helper",
            "Windows Remote Assistance",
            "ranat",
        ]);
        for row in &rows {
            table.add_row(vec![
                Cell::new(row.novice.label()),
                Cell::new(row.helper.label()),
                Cell::new(&row.windows_remote_assistance.summary),
                Cell::new(&row.ranat.summary),
            ]);
        }
        table.to_string() + "\n"
    };
    super::print(&text)?;
    Ok(0)
}

/// 0: ranat connects directly (works or likely); 20: only through the
/// relay (no direct method opens a path); 21: unknown (whether a direct
/// method opens rests on something not measured).
fn exit_code(ranat: &Headline) -> i32 {
    match (ranat.via.first(), ranat.connects) {
        (Some(Method::Relay), _) => 20,
        (Some(_), Feasibility::Works | Feasibility::Likely) => 0,
        _ => 21,
    }
}

fn render_check(
    prediction: &Prediction,
    me_name: &str,
    peer_name: &str,
    me: &ProbeReport,
    peer: &ProbeReport,
) -> String {
    let mut out = format!(
        "ranat check: {me_name} ({}) and {peer_name} ({})\n",
        me.ipv4.classic.label(),
        peer.ipv4.classic.label()
    );
    let mut table = table();
    table.set_header(vec!["Method", "Verdict", "Why"]);
    for m in &prediction.methods {
        let mut verdict = m.feasibility.verdict_word().to_string();
        if let Some(p) = m.success_probability {
            verdict.push_str(&format!(", p = {:.0} %", p * 100.0));
        }
        if let Some(s) = m.expected_seconds {
            verdict.push_str(&format!(", ~{s:.1} s"));
        }
        table.add_row(vec![
            Cell::new(method_words(m.method)),
            Cell::new(verdict),
            Cell::new(&m.reason),
        ]);
    }
    out.push_str(&table.to_string());
    out.push('\n');
    out.push_str(&headlines(prediction));
    out
}

/// The two headlines, Windows Remote Assistance's and ranat's, a line each
/// (all of `--quiet`'s output).
fn headlines(prediction: &Prediction) -> String {
    [&prediction.windows_remote_assistance, &prediction.ranat]
        .iter()
        .map(|headline| format!("{}\n", headline.reason))
        .collect()
}

fn table() -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::ASCII_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .force_no_tty()
        .set_width(if std::io::stdout().is_terminal() {
            100
        } else {
            80
        });
    table
}

fn method_words(m: Method) -> &'static str {
    match m {
        Method::SameLan => "same LAN",
        Method::PublicIpv4 => "public IPv4",
        Method::PortMapping => "port mapping",
        Method::Ipv6 => "IPv6",
        Method::HolePunching => "UDP hole punching",
        Method::PortPrediction => "port prediction",
        Method::BirthdayPunching => "birthday punching (informational: ranat does not run it)",
        Method::TeredoRfc4380 => "Teredo (RFC 4380)",
        Method::TeredoRfc6081 => "Teredo (RFC 6081, Windows' client)",
        Method::Relay => "relay",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every matrix pair is fully measured: ranat's exit code is 0 for a
    /// direct method (works or likely) and 20 for the relay, never 21.
    #[test]
    fn the_exit_code_follows_the_route_of_every_matrix_pair() {
        for row in predict::matrix() {
            let relayed = row.ranat.via == [Method::Relay];
            assert_eq!(
                exit_code(&row.ranat),
                if relayed { 20 } else { 0 },
                "{:?} × {:?}: {}",
                row.novice,
                row.helper,
                row.ranat.summary
            );
        }
        let unknown = Headline {
            connects: Feasibility::Unknown,
            via: vec![Method::HolePunching, Method::Relay],
            reason: String::new(),
            summary: "unknown: UDP hole punching".to_string(),
        };
        assert_eq!(exit_code(&unknown), 21);
    }
}
