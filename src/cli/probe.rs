//! `ranat probe`: NAT behaviour discovery for IPv4 and IPv6.

use std::io::IsTerminal;
use std::net::Ipv4Addr;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::flow::{self, Families, ProbeEvent, ProbeOptions, TeredoChoice};
use crate::io::resolve::{self, ServerSpec};
use crate::report;

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

pub async fn run(args: ProbeArgs) -> anyhow::Result<i32> {
    let options = args.options_or_defaults()?;
    let mut progress = Progress::new(args.json);
    let Some(report) = flow::probe(&options, interrupted(), |e| progress.show(e)).await else {
        return Ok(130);
    };
    let text = if args.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        let options = report::RenderOptions {
            color: std::io::stdout().is_terminal(),
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

/// Shows a probe's events on stderr: a spinner, only for a person watching
/// a terminal (not with `--json`), and what an interruption undid.
pub(super) struct Progress {
    visible: bool,
    spinner: Option<ProgressBar>,
}

impl Progress {
    pub(super) fn new(json: bool) -> Self {
        Self {
            visible: !json && std::io::stderr().is_terminal(),
            spinner: None,
        }
    }

    pub(super) fn show(&mut self, event: ProbeEvent) {
        match event {
            ProbeEvent::Resolving { .. } => {
                let spinner = spinner(self.visible);
                spinner.set_message("resolving servers");
                self.spinner = Some(spinner);
            }
            ProbeEvent::Probing { servers } => {
                if let Some(spinner) = &self.spinner {
                    spinner.set_message(format!("probing {} server(s)", servers.len()));
                }
            }
            ProbeEvent::Measured => {
                if let Some(spinner) = self.spinner.take() {
                    spinner.finish_and_clear();
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
}

fn spinner(visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(80));
    bar
}
