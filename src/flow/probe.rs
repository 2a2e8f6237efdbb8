//! The probe flow: resolve the STUN servers, then run the NAT behaviour
//! discovery for IPv4 and IPv6, the port-mapping checks and the Teredo
//! qualification side by side, and assemble the report.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

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

/// Public RFC 5780-capable servers (two addresses × two ports), for a
/// caller that was given none. Tests never use them.
pub const DEFAULT_SERVERS: &[&str] = &[
    "stunserver.stunprotocol.org",
    "stun.hot-chilli.net",
    "stun.voipgate.com",
];

/// At most this many servers per family are probed.
pub const MAX_SERVERS_PER_FAMILY: usize = 3;

/// [`DEFAULT_SERVERS`] as specs.
pub fn default_servers() -> Vec<ServerSpec> {
    DEFAULT_SERVERS
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Which address families the NAT behaviour discovery measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Families {
    #[default]
    Both,
    /// IPv4 only (`-4`).
    Ipv4Only,
    /// IPv6 only (`-6`): the port-mapping and Teredo checks, which run over
    /// IPv4, are skipped too.
    Ipv6Only,
}

/// Whether, and against which server, Teredo qualification runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TeredoChoice {
    /// Not checked (`--no-teredo`).
    Skip,
    /// Windows' own server, [`teredo::DEFAULT_SERVER`].
    #[default]
    DefaultServer,
    /// This server, `HOST[:PORT]`; its second address is the next IPv4
    /// address, as Windows assumes.
    Server(String),
}

/// What to probe, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOptions {
    /// The STUN servers, probed as given (at most
    /// [`MAX_SERVERS_PER_FAMILY`] per family); with none, both families are
    /// reported unmeasured.
    pub servers: Vec<ServerSpec>,
    pub families: Families,
    /// Test hairpinning (some firewalls log a packet to one's own public
    /// address as an attack).
    pub hairpin: bool,
    /// How long a server is given; what was measured by then is reported.
    pub timeout: Duration,
    /// Check port mapping (UPnP IGD, PCP, NAT-PMP): a one-minute test
    /// mapping on the router, always removed.
    pub portmap: bool,
    /// The gateway to ask for port mappings (default: the default route's);
    /// UPnP discovery then goes to it directly, not by multicast.
    pub gateway: Option<Ipv4Addr>,
    pub teredo: TeredoChoice,
}

/// The probe's progress, in the order it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeEvent {
    /// The server names are being resolved.
    Resolving { servers: Vec<ServerSpec> },
    /// The servers resolved to these addresses, which are probed now (at
    /// most [`MAX_SERVERS_PER_FAMILY`] per family), beside the port-mapping
    /// and Teredo checks.
    Probing { servers: Vec<SocketAddr> },
    /// Every measurement is in; the report is assembled next.
    Measured,
    /// The probe was interrupted before it was done; what it had changed
    /// on the gateway is undone next, one [`ProbeEvent::Undone`] per change.
    Interrupted,
    /// One change the probe had made (a test port mapping, described by
    /// `what`) was removed, or could not be.
    Undone {
        what: String,
        result: Result<(), String>,
    },
}

/// Probes until done or until `interrupt` completes, whichever comes
/// first. `None` when interrupted: what the checks had changed on the
/// gateway has then been undone, even when they were cut off mid-way, and
/// reported in [`ProbeEvent::Undone`] events.
pub async fn probe(
    options: &ProbeOptions,
    interrupt: impl Future<Output = ()>,
    mut on_event: impl FnMut(ProbeEvent),
) -> Option<ProbeReport> {
    let undo = UndoLog::default();
    let report = tokio::select! {
        report = measure(options, &undo, &mut on_event) => Some(report),
        () = interrupt => None,
    };
    if report.is_none() {
        on_event(ProbeEvent::Interrupted);
        for (what, result) in undo.run_all().await {
            on_event(ProbeEvent::Undone { what, result });
        }
    }
    report
}

async fn measure(
    options: &ProbeOptions,
    undo: &UndoLog,
    on_event: &mut impl FnMut(ProbeEvent),
) -> ProbeReport {
    let started = Instant::now();
    on_event(ProbeEvent::Resolving {
        servers: options.servers.clone(),
    });
    let (addrs, dns_notes) = resolve::resolve(&options.servers).await;
    on_event(ProbeEvent::Probing {
        servers: addrs.iter().map(|s| s.addr).collect(),
    });
    let (v4, v6): (Vec<ServerAddr>, Vec<ServerAddr>) =
        addrs.into_iter().partition(|s| s.addr.is_ipv4());
    let skipped = |why: &str| FamilyReport::unmeasured(report::FamilyStatus::NoServer, why);
    let stun_v4 = v4.first().map(|s| s.addr);
    let (ipv4, ipv6, mut port_mapping, qualification) = tokio::join!(
        async {
            if options.families == Families::Ipv6Only {
                skipped("not probed (-6)")
            } else {
                probe_family(v4, options, dns_notes.clone()).await
            }
        },
        async {
            if options.families == Families::Ipv4Only {
                skipped("not probed (-4)")
            } else {
                probe_family(v6, options, dns_notes.clone()).await
            }
        },
        check_port_mapping(options, stun_v4, undo),
        qualify_teredo(options)
    );
    let answered: Vec<String> = ipv4
        .servers
        .iter()
        .filter(|s| s.reachable)
        .map(|s| s.address.clone())
        .collect();
    port_mapping.discount_silent_server(|server| answered.contains(&server.to_string()));
    on_event(ProbeEvent::Measured);
    let teredo = teredo_report(qualification, &port_mapping, &ipv4);
    ProbeReport::assemble(
        ipv4,
        ipv6,
        port_mapping,
        teredo,
        started.elapsed().as_millis() as u64,
    )
}

/// The port-mapping check unless told not to; `stun` tests the mappings
/// from outside.
async fn check_port_mapping(
    options: &ProbeOptions,
    stun: Option<SocketAddr>,
    undo: &UndoLog,
) -> PortMappingReport {
    if !options.portmap {
        PortMappingReport::skipped("not checked (--no-portmap)")
    } else if options.families == Families::Ipv6Only {
        PortMappingReport::skipped("not checked (-6)")
    } else {
        portmap::check(options.gateway, stun, undo).await
    }
}

/// Runs the Teredo qualification unless told not to; the error is the
/// reason it did not run.
async fn qualify_teredo(
    options: &ProbeOptions,
) -> Result<(QualificationOutcome, Option<String>), String> {
    let server = match &options.teredo {
        TeredoChoice::Skip => return Err("not checked (--no-teredo)".into()),
        _ if options.families == Families::Ipv6Only => {
            return Err("not checked (-6): Teredo runs over IPv4".into());
        }
        TeredoChoice::DefaultServer => teredo::DEFAULT_SERVER,
        TeredoChoice::Server(server) => server.as_str(),
    };
    let (primary, name) = teredo::server_address(server)
        .await
        .map_err(|e| e.to_string())?;
    let outcome = teredo::qualify(primary).await.map_err(|e| e.to_string())?;
    Ok((outcome, name))
}

/// The Teredo part of the report: the qualification (or why it did not
/// run) and the Teredo interface this machine already has.
fn teredo_report(
    qualification: Result<(QualificationOutcome, Option<String>), String>,
    port_mapping: &PortMappingReport,
    ipv4: &FamilyReport,
) -> TeredoReport {
    let existing = teredo::existing_interface();
    match qualification {
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
            TeredoReport::from_outcome(&outcome, name, special, ipv4, existing)
        }
    }
}

async fn probe_family(
    servers: Vec<ServerAddr>,
    options: &ProbeOptions,
    notes: Vec<String>,
) -> FamilyReport {
    let servers: Vec<ServerAddr> = servers.into_iter().take(MAX_SERVERS_PER_FAMILY).collect();
    let configs = servers
        .iter()
        .map(|s| DiscoveryConfig {
            hairpin: options.hairpin,
            ..DiscoveryConfig::new(s.addr)
        })
        .collect();
    let observations = discover_all(configs, options.timeout).await;
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
