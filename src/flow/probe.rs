//! The probe flow: resolve the STUN servers, then run the NAT behaviour
//! discovery for IPv4 and IPv6, the port-mapping checks and the Teredo
//! qualification side by side, and assemble the report.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::io::probe::{DriveError, discover_all, measure_lifetime, measure_tcp};
use crate::io::resolve::{self, FamilyServers, Resolved, ServerAddr, ServerSpec};
use crate::io::undo::UndoLog;
use crate::io::{gateway, portmap, teredo};
use crate::proto::nat::{
    DiscoveryConfig, LifetimeConfig, LifetimeEvent, TCP_TEST_BOUND, TcpMappingConfig,
};
use crate::proto::teredo::QualificationOutcome;
use crate::report::{
    self, BindingLifetime, Family, FamilyReport, MappingStatus, NatSpecial, PortMappingReport,
    ProbeReport, ServerFailure, ServerResult, TcpBehavior, TeredoReport,
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
    /// Measure the binding lifetime (RFC 5780 §4.6), testing idle times
    /// up to this bound: minutes, so only when asked (`--lifetime`).
    pub lifetime: Option<Duration>,
    /// Measure the NAT's behaviour over TCP too (RFC 5382), with STUN over
    /// TCP to each family's first server that answered (`--tcp`).
    pub tcp: bool,
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
    /// The binding lifetime is measured next against these servers, one
    /// per family, with idle times up to `bound`.
    MeasuringLifetime {
        servers: Vec<(Family, SocketAddr)>,
        bound: Duration,
    },
    /// Progress of one family's lifetime measurement.
    Lifetime {
        family: Family,
        event: LifetimeEvent,
    },
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
    let Resolved { ipv4: v4, ipv6: v6 } = resolve::resolve(&options.servers).await;
    let skipped = |why: &str| FamilyReport::unmeasured(report::FamilyStatus::NoServer, why);
    let measured = |family: Family| {
        !matches!(
            (options.families, family),
            (Families::Ipv4Only, Family::Ipv6) | (Families::Ipv6Only, Family::Ipv4)
        )
    };
    on_event(ProbeEvent::Probing {
        servers: [(&v4, Family::Ipv4), (&v6, Family::Ipv6)]
            .into_iter()
            .filter(|(_, family)| measured(*family))
            .flat_map(|(servers, _)| servers.found.iter().take(MAX_SERVERS_PER_FAMILY))
            .map(|s| s.addr)
            .collect(),
    });
    let stun_v4 = v4.found.first().map(|s| s.addr);
    let (ipv4, ipv6, mut port_mapping, qualification) = tokio::join!(
        async {
            if measured(Family::Ipv4) {
                probe_family(Family::Ipv4, v4, options).await
            } else {
                skipped("not probed (-6)")
            }
        },
        async {
            if measured(Family::Ipv6) {
                probe_family(Family::Ipv6, v6, options).await
            } else {
                skipped("not probed (-4)")
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
    let (ipv4, ipv6) = if options.tcp {
        with_tcp(ipv4, ipv6).await
    } else {
        (ipv4, ipv6)
    };
    let (ipv4, ipv6) = match options.lifetime {
        Some(bound) => with_lifetimes(ipv4, ipv6, bound, on_event).await,
        None => (ipv4, ipv6),
    };
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

/// Measures each measured family's binding lifetime against its first
/// server that answered, both families at once.
async fn with_lifetimes(
    mut ipv4: FamilyReport,
    mut ipv6: FamilyReport,
    bound: Duration,
    on_event: &mut impl FnMut(ProbeEvent),
) -> (FamilyReport, FamilyReport) {
    let servers: Vec<(Family, SocketAddr)> = [(Family::Ipv4, &ipv4), (Family::Ipv6, &ipv6)]
        .into_iter()
        .filter_map(|(family, report)| Some((family, lifetime_server(report)?)))
        .collect();
    on_event(ProbeEvent::MeasuringLifetime {
        servers: servers.clone(),
        bound,
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = |family| servers.iter().find(|(f, _)| *f == family).map(|(_, s)| *s);
    let measure = |family: Family| {
        let tx = tx.clone();
        let server = server(family);
        async move {
            let server = server?;
            let started = Instant::now();
            let result = measure_lifetime(LifetimeConfig::new(server, bound), |event| {
                let _ = tx.send(ProbeEvent::Lifetime { family, event });
            })
            .await;
            let ms = started.elapsed().as_millis() as u64;
            Some(match result {
                Ok(result) => BindingLifetime::from_result(&result, ms),
                Err(e) => BindingLifetime::not_measured(bound, e.to_string()),
            })
        }
    };
    let both = async { tokio::join!(measure(Family::Ipv4), measure(Family::Ipv6)) };
    tokio::pin!(both);
    let (v4, v6) = loop {
        tokio::select! {
            done = &mut both => break done,
            Some(event) = rx.recv() => on_event(event),
        }
    };
    while let Ok(event) = rx.try_recv() {
        on_event(event);
    }
    for (report, measured) in [(&mut ipv4, v4), (&mut ipv6, v6)] {
        report.binding_lifetime = measured.or_else(|| {
            (!report.skipped())
                .then(|| BindingLifetime::not_measured(bound, "no server of this family answered"))
        });
    }
    (ipv4, ipv6)
}

/// Measures each measured family's TCP behaviour against its first server
/// that answered over UDP (else its first), both families at once, with that server's
/// alternate from the UDP tests as the fallback for OTHER-ADDRESS.
async fn with_tcp(mut ipv4: FamilyReport, mut ipv6: FamilyReport) -> (FamilyReport, FamilyReport) {
    let measure = |report: &FamilyReport| {
        // A network that blocks UDP may still pass TCP: then the first
        // server given is asked.
        let usable = |s: &&report::ServerReport| s.address.parse::<SocketAddr>().is_ok();
        let chosen = (report.servers.iter().filter(usable).find(|s| s.reachable))
            .or_else(|| report.servers.iter().find(usable));
        let server = chosen.and_then(|s| s.address.parse().ok());
        let alternate_hint = chosen.and_then(|s| s.other_address.as_deref()?.parse().ok());
        async move {
            let server = server?;
            let config = TcpMappingConfig {
                server,
                alternate_hint,
                bound: TCP_TEST_BOUND,
            };
            Some(TcpBehavior::from_outcome(
                server,
                &measure_tcp(config).await,
            ))
        }
    };
    let (v4, v6) = tokio::join!(measure(&ipv4), measure(&ipv6));
    ipv4.tcp = v4;
    ipv6.tcp = v6;
    (ipv4, ipv6)
}

/// The first server of a family that answered the behaviour discovery.
fn lifetime_server(report: &FamilyReport) -> Option<SocketAddr> {
    report
        .servers
        .iter()
        .filter(|s| s.reachable)
        .find_map(|s| s.address.parse().ok())
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

/// One family's probe: its servers' behaviour discovery, or, when none of
/// them has an address of it, why (no route, DNS failing, no such address).
async fn probe_family(
    family: Family,
    servers: FamilyServers,
    options: &ProbeOptions,
) -> FamilyReport {
    let FamilyServers { found, unresolved } = servers;
    if found.is_empty() {
        if unresolved.is_empty() {
            return FamilyReport::unmeasured(
                report::FamilyStatus::NoServer,
                format!("no {} server was given", family.name()),
            );
        }
        let routed = gateway::has_route(family == Family::Ipv6).await;
        return report::unresolved_family(family, unresolved, routed);
    }
    let servers: Vec<ServerAddr> = found.into_iter().take(MAX_SERVERS_PER_FAMILY).collect();
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
    report::combine(results, unresolved)
}
