//! `ranat probe`: NAT behaviour discovery for IPv4 and IPv6.

use std::io::IsTerminal;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::io::probe::{DriveError, discover_all};
use crate::io::resolve::{self, ServerAddr, ServerSpec};
use crate::io::undo::UndoLog;
use crate::io::{portmap, teredo};
use crate::proto::nat::DiscoveryConfig;
use crate::proto::teredo::QualificationOutcome;
use crate::report::{
    self, FamilyReport, MappingStatus, NatSpecial, PortMappingReport, ProbeReport, ServerFailure,
    ServerResult, TeredoReport,
};

/// Public RFC 5780-capable servers (two addresses × two ports), used when no
/// server is given. Tests never use them.
const DEFAULT_SERVERS: &[&str] = &[
    "stunserver.stunprotocol.org",
    "stun.hot-chilli.net",
    "stun.voipgate.com",
];

/// At most this many servers per family are probed.
const MAX_SERVERS_PER_FAMILY: usize = 3;

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// A STUN server, HOST[:PORT]; repeatable. Without a port, `_stun._udp`
    /// SRV records are looked up (RFC 8489 §8.1), then port 3478.
    #[arg(long = "server", short = 's', value_name = "HOST[:PORT]")]
    pub(super) servers: Vec<ServerSpec>,
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
    let json = args.json;
    let Some(report) = measure_interruptible(args).await? else {
        return Ok(130);
    };
    let text = if json {
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

/// Runs the probe; `None` when it was interrupted (and what it had changed
/// on the gateway was undone).
pub async fn measure_interruptible(args: ProbeArgs) -> anyhow::Result<Option<ProbeReport>> {
    let undo = UndoLog::default();
    tokio::select! {
        result = measure(args, &undo) => result.map(Some),
        () = interrupted() => {
            // Whatever the checks changed on the gateway is undone before
            // leaving, even when they were cut off mid-way.
            for (what, result) in undo.run_all().await {
                match result {
                    Ok(()) => eprintln!("ranat: removed the {what}"),
                    Err(e) => eprintln!("ranat: could not remove the {what}: {e}"),
                }
            }
            Ok(None)
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn interrupted() {
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

async fn measure(args: ProbeArgs, undo: &UndoLog) -> anyhow::Result<ProbeReport> {
    let started = Instant::now();
    let specs = server_specs(&args)?;
    let progress = progress(&args);
    progress.set_message("resolving servers");
    let (addrs, dns_notes) = resolve::resolve(&specs).await;
    progress.set_message(format!("probing {} server(s)", addrs.len()));
    let deadline = args.timeout;
    let (v4, v6): (Vec<ServerAddr>, Vec<ServerAddr>) =
        addrs.into_iter().partition(|s| s.addr.is_ipv4());
    let skipped = |why: &str| FamilyReport::unmeasured(report::FamilyStatus::NoServer, why);
    let stun_v4 = v4.first().map(|s| s.addr);
    let (ipv4, ipv6, mut port_mapping, qualification) = tokio::join!(
        async {
            if args.ipv6_only {
                skipped("not probed (-6)")
            } else {
                probe_family(v4, &args, deadline, dns_notes.clone()).await
            }
        },
        async {
            if args.ipv4_only {
                skipped("not probed (-4)")
            } else {
                probe_family(v6, &args, deadline, dns_notes.clone()).await
            }
        },
        async {
            if args.no_portmap {
                PortMappingReport::skipped("not checked (--no-portmap)")
            } else if args.ipv6_only {
                PortMappingReport::skipped("not checked (-6)")
            } else {
                portmap::check(args.gateway, stun_v4, undo).await
            }
        },
        qualify_teredo(&args)
    );
    let answered: Vec<String> = ipv4
        .servers
        .iter()
        .filter(|s| s.reachable)
        .map(|s| s.address.clone())
        .collect();
    port_mapping.discount_silent_server(|server| answered.contains(&server.to_string()));
    progress.finish_and_clear();
    let existing = teredo::existing_interface();
    let teredo = match qualification {
        Err(why) => TeredoReport::skipped(why, existing),
        Ok((outcome, name)) => {
            let upnp = match port_mapping.upnp.status {
                MappingStatus::Skipped => None,
                MappingStatus::Works | MappingStatus::Unverified => Some(true),
                _ => Some(false),
            };
            let special = NatSpecial {
                upnp,
                port_preserving: ipv4.port_preservation,
            };
            TeredoReport::from_outcome(&outcome, name, special, &ipv4, existing)
        }
    };
    let report = ProbeReport::assemble(
        ipv4,
        ipv6,
        port_mapping,
        teredo,
        started.elapsed().as_millis() as u64,
    );
    Ok(report)
}

/// Runs the Teredo qualification unless told not to; the error is the
/// reason it did not run.
async fn qualify_teredo(
    args: &ProbeArgs,
) -> Result<(QualificationOutcome, Option<String>), String> {
    if args.no_teredo {
        return Err("not checked (--no-teredo)".into());
    }
    if args.ipv6_only {
        return Err("not checked (-6): Teredo runs over IPv4".into());
    }
    let server = args
        .teredo_server
        .as_deref()
        .unwrap_or(teredo::DEFAULT_SERVER);
    let (primary, name) = teredo::server_address(server)
        .await
        .map_err(|e| e.to_string())?;
    let outcome = teredo::qualify(primary).await.map_err(|e| e.to_string())?;
    Ok((outcome, name))
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

/// `--server`, else `RANAT_SERVERS`, else the embedded list.
fn server_specs(args: &ProbeArgs) -> anyhow::Result<Vec<ServerSpec>> {
    if !args.servers.is_empty() {
        return Ok(args.servers.clone());
    }
    if let Ok(list) = std::env::var("RANAT_SERVERS") {
        let specs =
            resolve::parse_list(&list).map_err(|e| anyhow::anyhow!("RANAT_SERVERS: {e}"))?;
        if !specs.is_empty() {
            return Ok(specs);
        }
    }
    Ok(DEFAULT_SERVERS
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect())
}

async fn probe_family(
    servers: Vec<ServerAddr>,
    args: &ProbeArgs,
    deadline: Duration,
    notes: Vec<String>,
) -> FamilyReport {
    let servers: Vec<ServerAddr> = servers.into_iter().take(MAX_SERVERS_PER_FAMILY).collect();
    let configs = servers
        .iter()
        .map(|s| DiscoveryConfig {
            hairpin: !args.no_hairpin,
            ..DiscoveryConfig::new(s.addr)
        })
        .collect();
    let observations = discover_all(configs, deadline).await;
    let results = servers
        .into_iter()
        .zip(observations)
        .map(|(s, o)| ServerResult {
            name: s.name,
            address: s.addr,
            observation: o.map_err(|e| match e {
                DriveError::NoRoute { .. } => ServerFailure::NoRoute(e.to_string()),
                other => ServerFailure::Other(other.to_string()),
            }),
        })
        .collect();
    report::combine(results, notes)
}

/// A spinner on stderr, only for a person watching a terminal.
fn progress(args: &ProbeArgs) -> ProgressBar {
    if args.json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(80));
    bar
}
