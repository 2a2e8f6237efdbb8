//! `ranat probe`: NAT behaviour discovery for IPv4 and IPv6.

use std::io::IsTerminal;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::ui::Ui;
use crate::flow::{self, Families, ProbeEvent, ProbeOptions, TeredoChoice};
use crate::io::resolve::{self, ServerSpec};
use crate::proto::nat::LifetimeEvent;
use crate::report;

/// `ranat probe`: the probe's arguments, and what only `probe` offers.
#[derive(Debug, Args)]
pub struct ProbeCommand {
    #[command(flatten)]
    probe: ProbeArgs,
    /// Also measure how long the NAT keeps an idle mapping (binding
    /// lifetime, RFC 5780 §4.6), testing idle times up to MAX_SECONDS
    /// (default 180). Takes minutes: about three times the lifetime. Needs
    /// a server that honours RESPONSE-PORT (ranat serve does).
    #[arg(
        long,
        value_name = "MAX_SECONDS",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "180",
        value_parser = parse_lifetime
    )]
    lifetime: Option<Duration>,
    /// Also measure the NAT's behaviour over TCP (RFC 5382): the mapping
    /// and port preservation, with STUN over TCP to the first server that
    /// answered (ranat serve and coturn answer over TCP), and whether a
    /// simultaneous-open TCP punch could work. Reported apart from UDP.
    #[arg(long)]
    tcp: bool,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// A STUN server, HOST[:PORT]; repeatable. Without a port, `_stun._udp`
    /// SRV records are looked up (RFC 8489 §8.1), then port 3478.
    #[arg(long = "server", short = 's', value_name = "HOST[:PORT]")]
    servers: Vec<ServerSpec>,
    /// Probe IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6_only")]
    ipv4_only: bool,
    /// Probe IPv6 only.
    #[arg(short = '6')]
    ipv6_only: bool,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the report as one self-contained HTML page (a picture of
    /// the path, the verdict and advice, the details) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Skip the hairpinning test (some firewalls log a packet to one's own
    /// public address as an attack).
    #[arg(long)]
    no_hairpin: bool,
    /// Give up on a server after this many seconds; what was measured by
    /// then is still reported.
    #[arg(long, default_value = "10", value_name = "SECONDS", value_parser = parse_timeout)]
    timeout: Duration,
    /// Skip the port-mapping checks (UPnP IGD, PCP, NAT-PMP). They add a
    /// one-minute test mapping on the router and always remove it.
    #[arg(long)]
    no_portmap: bool,
    /// The IPv4 gateway to ask for port mappings (default: the default
    /// route's); UPnP discovery then goes to it directly, not by multicast.
    #[arg(long, value_name = "IP")]
    gateway: Option<Ipv4Addr>,
    /// Skip the Teredo qualification test.
    #[arg(long, conflicts_with = "teredo_server")]
    no_teredo: bool,
    /// The Teredo server, HOST[:PORT] (default: Windows' own,
    /// win10.ipv6.microsoft.com); its second address is the next IPv4
    /// address, as Windows assumes.
    #[arg(long, value_name = "HOST[:PORT]")]
    teredo_server: Option<String>,
}

pub async fn run(command: ProbeCommand, ui: Ui) -> anyhow::Result<i32> {
    let args = command.probe;
    let options = ProbeOptions {
        lifetime: command.lifetime,
        tcp: command.tcp,
        ..args.options_or_defaults()?
    };
    let mut progress = Progress::new(ui, args.json);
    let Some(report) = flow::probe(&options, interrupted(), |e| progress.show(e)).await else {
        return Ok(130);
    };
    if let Some(path) = &args.html {
        super::write_html(path, &report::html::render_probe_html(&report))?;
    }
    let text = if args.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else if ui.quiet {
        report::render_verdict(&report, &report::RenderOptions::default())
    } else {
        let options = report::RenderOptions {
            color: ui.color,
            verbose: ui.verbose,
            ..report::RenderOptions::default()
        };
        report::render_with(&report, &options)
    };
    super::print(&text)?;
    Ok(report.verdict.exit_code())
}

impl ProbeArgs {
    /// The probe's options, with the servers given by `--server` only
    /// (none when none were).
    pub(super) fn options(&self) -> ProbeOptions {
        let families = if self.ipv4_only {
            Families::Ipv4Only
        } else if self.ipv6_only {
            Families::Ipv6Only
        } else {
            Families::Both
        };
        let teredo = match (&self.teredo_server, self.no_teredo) {
            (_, true) => TeredoChoice::Skip,
            (Some(server), false) => TeredoChoice::Server(server.clone()),
            (None, false) => TeredoChoice::DefaultServer,
        };
        ProbeOptions {
            servers: self.servers.clone(),
            families,
            hairpin: !self.no_hairpin,
            timeout: self.timeout,
            portmap: !self.no_portmap,
            gateway: self.gateway,
            teredo,
            lifetime: None,
            tcp: false,
        }
    }

    /// The probe's options with the servers of `--server`, else
    /// `RANAT_SERVERS`, else the embedded list.
    pub(super) fn options_or_defaults(&self) -> anyhow::Result<ProbeOptions> {
        let mut options = self.options();
        if options.servers.is_empty() {
            options.servers = default_servers()?;
        }
        Ok(options)
    }
}

/// `RANAT_SERVERS`, else the embedded list.
fn default_servers() -> anyhow::Result<Vec<ServerSpec>> {
    if let Ok(list) = std::env::var("RANAT_SERVERS") {
        let specs =
            resolve::parse_list(&list).map_err(|e| anyhow::anyhow!("RANAT_SERVERS: {e}"))?;
        if !specs.is_empty() {
            return Ok(specs);
        }
    }
    Ok(flow::default_servers())
}

/// Ctrl-C or SIGTERM.
pub(super) async fn interrupted() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

/// A finite number of seconds above zero.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("'{s}' must be a number of seconds above zero"));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

/// Whole seconds from 2 to 3600: the longest idle time the lifetime
/// measurement tests.
fn parse_lifetime(s: &str) -> Result<Duration, String> {
    let secs: u64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a whole number of seconds"))?;
    if !(2..=3600).contains(&secs) {
        return Err(format!("'{s}' must be from 2 to 3600 seconds"));
    }
    Ok(Duration::from_secs(secs))
}

/// Shows a probe's events on stderr: a spinner for a person watching a
/// terminal, a line per step with `--verbose`, nothing with `--quiet` or
/// (unless verbose) `--json`; what an interruption undid is always said.
pub(super) struct Progress {
    mode: Mode,
    quiet: bool,
    spinner: Option<ProgressBar>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Hidden,
    Spinner,
    Lines,
}

impl Progress {
    pub(super) fn new(ui: Ui, json: bool) -> Self {
        let mode = if ui.quiet {
            Mode::Hidden
        } else if ui.verbose {
            Mode::Lines
        } else if !json && std::io::stderr().is_terminal() {
            Mode::Spinner
        } else {
            Mode::Hidden
        };
        Self {
            mode,
            quiet: ui.quiet,
            spinner: None,
        }
    }

    /// Whether `--quiet` asked for nothing but the essential on stderr.
    pub(super) fn quiet(&self) -> bool {
        self.quiet
    }

    pub(super) fn show(&mut self, event: ProbeEvent) {
        match event {
            ProbeEvent::Resolving { servers } => {
                let names: Vec<String> = servers.iter().map(ToString::to_string).collect();
                self.step(format!("resolving {}", names.join(", ")));
            }
            ProbeEvent::Probing { servers } => {
                let addrs: Vec<String> = servers.iter().map(ToString::to_string).collect();
                self.step(match addrs.len() {
                    0 => "no server address to probe".to_string(),
                    n => format!("probing {n} server(s): {}", addrs.join(", ")),
                });
            }
            ProbeEvent::MeasuringLifetime { servers, bound } => {
                let against: Vec<String> = servers
                    .iter()
                    .map(|(family, server)| format!("{} via {server}", family.name()))
                    .collect();
                self.step(match against.len() {
                    0 => "binding lifetime: no server answered".to_string(),
                    _ => format!(
                        "binding lifetime ({}), idle times up to {} s: about three times \
                         the lifetime",
                        against.join(", "),
                        bound.as_secs()
                    ),
                });
            }
            ProbeEvent::Lifetime {
                family,
                event:
                    LifetimeEvent::Round {
                        round,
                        alive,
                        expired,
                        longest_wait,
                    },
            } => {
                let seconds = |d: Duration| format!("{:.1} s", d.as_secs_f64());
                let so_far = match (alive, expired) {
                    (Some(a), Some(e)) => {
                        format!("alive after {}, expired after {}", seconds(a), seconds(e))
                    }
                    (Some(a), None) => format!("alive after {}", seconds(a)),
                    _ => "nothing yet".to_string(),
                };
                self.step(format!(
                    "{} binding lifetime, round {round}: {so_far}; now waiting up to {}",
                    family.name(),
                    seconds(longest_wait)
                ));
            }
            ProbeEvent::Measured => {
                if let Some(spinner) = self.spinner.take() {
                    spinner.finish_and_clear();
                }
                if self.mode == Mode::Lines {
                    eprintln!("ranat: measured");
                }
            }
            // The spinner is left where it stood, above what is undone.
            ProbeEvent::Interrupted => self.spinner = None,
            ProbeEvent::Undone { what, result } => match result {
                Ok(()) => eprintln!("ranat: removed the {what}"),
                Err(e) => eprintln!("ranat: could not remove the {what}: {e}"),
            },
        }
    }

    fn step(&mut self, message: String) {
        match self.mode {
            Mode::Hidden => {}
            Mode::Lines => eprintln!("ranat: {message}"),
            Mode::Spinner => self
                .spinner
                .get_or_insert_with(spinner)
                .set_message(message),
        }
    }
}

fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(80));
    bar
}
