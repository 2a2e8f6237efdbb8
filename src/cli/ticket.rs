//! `ranat ticket inspect`: a Windows Remote Assistance ticket
//! (`.msrcincident`) read, opened and tried from this machine.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Args, Subcommand};

use super::probe::{self, ProbeArgs};
use super::ui::Ui;
use crate::flow::{self, ticket};
use crate::proto::ticket::LIMITS;
use crate::report::{self, RaVerdict};

/// Exit code: the invitation has expired.
pub const EXIT_EXPIRED: i32 = 50;
/// Exit code: `--reach` found no endpoint a helper here could use.
pub const EXIT_UNREACHABLE: i32 = 51;

#[derive(Debug, Subcommand)]
pub enum TicketCommand {
    /// Read a Windows Remote Assistance invitation (.msrcincident, or a
    /// bare connection string 2 from Offer Remote Assistance): who sent
    /// it, when it expires, every address it offers and what kind it is,
    /// and with --reach whether a helper on this machine could connect.
    /// Exit 0 when valid (and, with --reach, reachable), 50 when expired,
    /// 51 when --reach found no endpoint that accepts.
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The ticket file; `-` reads standard input.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The invitation's password: decrypts LHTICKET (every address the
    /// novice offers) and shows the PassStub proof an expert would send.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "RANAT_TICKET_PASSWORD",
        hide_env_values = true
    )]
    password: Option<String>,
    /// Try a TCP connection to each offered endpoint from this machine
    /// (all at once, each for --reach-timeout), probe this machine, and
    /// say whether Windows Remote Assistance would connect from here.
    #[arg(long)]
    reach: bool,
    /// How long each connection attempt of --reach may take.
    #[arg(long, value_name = "SECONDS", default_value = "3", value_parser = parse_seconds, requires = "reach")]
    reach_timeout: Duration,
    /// This machine's probe report (`ranat probe --json > me.json`), used
    /// by --reach instead of probing now.
    #[arg(long, value_name = "ME.json", requires = "reach")]
    report: Option<PathBuf>,
    /// Do not probe this machine for --reach: the connection tests only.
    #[arg(long, requires = "reach", conflicts_with = "report")]
    no_probe: bool,
    #[command(flatten)]
    probe: ProbeArgs,
}

pub async fn run(command: TicketCommand, ui: Ui) -> anyhow::Result<i32> {
    let TicketCommand::Inspect(args) = command;
    inspect(args, ui).await
}

async fn inspect(args: InspectArgs, ui: Ui) -> anyhow::Result<i32> {
    if args.probe.html.is_some() {
        anyhow::bail!(
            "--html writes the report of `ranat probe` and `ranat check`, not of a ticket"
        );
    }
    let bytes = read(&args.file)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = args.file.display();
    let mut report = ticket::inspect(&bytes, args.password.as_deref(), now)
        .with_context(|| format!("{name}"))?;
    if args.reach {
        let probed = async {
            if args.no_probe {
                return Ok(None);
            }
            if let Some(path) = &args.report {
                return report::load(path).map(Some).map_err(anyhow::Error::from);
            }
            let options = args.probe.options_or_defaults()?;
            let mut progress = probe::Progress::new(ui, args.probe.json);
            Ok(flow::probe(&options, probe::interrupted(), |e| progress.show(e)).await)
        };
        let (tested, probed) =
            tokio::join!(ticket::test_endpoints(&report, args.reach_timeout), probed);
        let probed: Option<report::ProbeReport> = probed?;
        ticket::conclude(&mut report, tested, args.reach_timeout, probed.as_ref());
    }
    let text = if args.probe.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        let width = if std::io::stdout().is_terminal() {
            110
        } else {
            100
        };
        report::render_ticket(&report, width, now)
    };
    super::print(&text)?;
    Ok(if report.expired == Some(true) {
        EXIT_EXPIRED
    } else if report
        .reach
        .as_ref()
        .is_some_and(|r| r.verdict == RaVerdict::DoesNotConnect)
    {
        EXIT_UNREACHABLE
    } else {
        0
    })
}

/// The file's bytes, refused past the largest ticket without reading on.
fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    let limit = LIMITS.size as u64 + 1;
    let mut bytes = Vec::new();
    let name = path.display();
    if path == Path::new("-") {
        std::io::stdin()
            .take(limit)
            .read_to_end(&mut bytes)
            .context("standard input")?;
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(limit).read_to_end(&mut bytes))
            .with_context(|| format!("{name}: cannot read"))?;
    }
    if bytes.len() > LIMITS.size {
        anyhow::bail!(
            "{name}: more than {} bytes; no Remote Assistance ticket is that large",
            LIMITS.size
        );
    }
    Ok(bytes)
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 60.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err("a number of seconds above 0, at most 60".into()),
    }
}
