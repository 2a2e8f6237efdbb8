//! The prediction for a pair of peers: each method's verdict, then the
//! headline of each engine (Windows Remote Assistance 7+ and ranat).

use crate::proto::nat::{MappingBehavior, PortAllocationKind};
use crate::report::ProbeReport;

use super::prediction::{Feasibility, Headline, Method, MethodVerdict, Prediction};
use super::side::{Peer, Role};
use super::{birthday_punching, hole_punching, ipv6, methods, port_prediction, teredo};

/// Predicts, method by method, whether `novice` and `helper` can connect.
pub fn predict(novice: &ProbeReport, helper: &ProbeReport) -> Prediction {
    let n = Peer::new(Role::Novice, novice);
    let h = Peer::new(Role::Helper, helper);
    let methods = vec![
        methods::same_lan(n, h),
        methods::public_ipv4(n, h, methods::Transport::Udp),
        methods::port_mapping(n, h, methods::Protocols::All),
        ipv6::ipv6(n, h, ipv6::Engine::Ranat),
        hole_punching::hole_punching(n, h),
        port_prediction::port_prediction(n, h),
        birthday_punching::birthday_punching(n, h),
        teredo::rfc4380(n, h),
        teredo::rfc6081(n, h),
        methods::relay(n, h),
    ];
    let windows = windows_headline(&methods, n, h);
    let ranat = ranat_headline(&methods, n, h);
    Prediction {
        methods,
        windows_remote_assistance: windows,
        ranat,
    }
}

/// Windows Remote Assistance 7+: it connects over TCP to an endpoint in its
/// invitation, so it uses only same-LAN, public IPv4 over TCP, UPnP mappings (PCP
/// and NAT-PMP are not used by Windows), native IPv6 when a side accepts
/// unsolicited packets, and Teredo with the RFC 6081 extensions (shipped
/// since Windows Vista/7). It never punches holes itself.
fn windows_headline(methods: &[MethodVerdict], n: Peer, h: Peer) -> Headline {
    let pick = |m: Method| methods.iter().find(|v| v.method == m).cloned();
    let allowed: Vec<MethodVerdict> = [
        pick(Method::SameLan),
        Some(methods::public_ipv4(n, h, methods::Transport::Tcp)),
        Some(methods::port_mapping(n, h, methods::Protocols::UpnpOnly)),
        Some(ipv6::ipv6(n, h, ipv6::Engine::Windows)),
        pick(Method::TeredoRfc6081),
    ]
    .into_iter()
    .flatten()
    .collect();
    headline("Windows Remote Assistance", &allowed)
}

/// ranat: the direct methods of its engine ([`Method::in_ranat_engine`]),
/// the same verdicts the punch expectation rests on
/// ([`Prediction::punch_expectation`](super::Prediction::punch_expectation)).
/// When the best of them works, that carries the session; when it is likely
/// or unknown, the relay takes over if it fails; when none can open a
/// path, the session is relayed, which is not a direct connection and
/// whose relay the probes cannot vouch for.
fn ranat_headline(methods: &[MethodVerdict], n: Peer, h: Peer) -> Headline {
    let teredo_interfaces = [n, h]
        .iter()
        .all(|p| p.report.teredo.existing_interface.is_some());
    let direct: Vec<MethodVerdict> = methods
        .iter()
        .filter(|v| v.method.in_ranat_engine())
        .filter(|v| v.method != Method::TeredoRfc4380 || teredo_interfaces)
        .cloned()
        .collect();
    let mut best = headline("ranat", &direct);
    match best.connects {
        Feasibility::Works => best,
        Feasibility::Likely | Feasibility::Unknown => {
            best.via.push(Method::Relay);
            best.reason.push_str(
                " If that fails, the help desk's TURN relay carries the session (if it runs one).",
            );
            best
        }
        Feasibility::Unlikely | Feasibility::Fails => relayed(methods, &direct, n, h),
    }
}

/// The session only the relay can carry (RFC 8445 §5.1.2.2: relayed
/// candidates get the lowest type preference, the last resort).
fn relayed(methods: &[MethodVerdict], direct: &[MethodVerdict], n: Peer, h: Peer) -> Headline {
    let relay = methods
        .iter()
        .find(|v| v.method == Method::Relay)
        .cloned()
        .unwrap_or_else(|| methods::relay(n, h));
    let tcp = if methods::udp_blocked(n, h).is_empty() {
        ""
    } else {
        " over TCP"
    };
    let route = format!(
        "through the help desk's TURN relay{tcp} (no direct path: {})",
        no_direct_path(n, h)
    );
    let why: Vec<String> = direct
        .iter()
        .map(|v| {
            format!(
                "{} ({}): {}",
                v.method.label(),
                v.feasibility.label(),
                v.reason
            )
        })
        .collect();
    Headline {
        connects: relay.feasibility,
        via: vec![Method::Relay],
        reason: format!(
            "ranat is relayed {route}. {} The direct methods: {}",
            relay.reason,
            why.join(" ")
        ),
        summary: format!("relay: {route}"),
    }
}

/// Why no direct path opens, in a few words.
fn no_direct_path(n: Peer, h: Peer) -> String {
    match methods::udp_blocked(n, h).as_slice() {
        [p] => return format!("{}'s UDP is blocked", p.name()),
        [_, _] => return "both sides' UDP is blocked".to_string(),
        _ => {}
    }
    let random: Vec<Peer> = [n, h]
        .into_iter()
        .filter(|p| {
            let f = p.ipv4();
            f.mapping
                .is_some_and(|m| m != MappingBehavior::EndpointIndependent)
                && f.port_allocation
                    .is_some_and(|a| a.kind == PortAllocationKind::Random)
        })
        .collect();
    match random.as_slice() {
        [p] => format!("{}'s NAT picks a random port per destination", p.name()),
        [_, _] => "both NATs pick a random port per destination".to_string(),
        _ => "no hole punch, predicted port, port mapping or IPv6 opens one".to_string(),
    }
}

/// The best feasibility among `verdicts` and the methods at that level
/// (minus refinements of a method also at that level).
///
/// A same-LAN verdict that is unknown (a side's public address was not
/// measured) is set aside as a caveat in the reason rather than lifting the
/// headline to "unknown": whether two people share a LAN is something the
/// help desk knows, and every other verdict still stands on its own facts.
fn headline(engine: &str, verdicts: &[MethodVerdict]) -> Headline {
    let unmeasured_lan =
        |v: &&MethodVerdict| v.method == Method::SameLan && v.feasibility == Feasibility::Unknown;
    let caveat = verdicts
        .iter()
        .find(unmeasured_lan)
        .map_or(String::new(), |v| {
            format!(
                " Unless both are on one LAN, which could not be checked: {}",
                v.reason
            )
        });
    let judged: Vec<&MethodVerdict> = verdicts.iter().filter(|v| !unmeasured_lan(v)).collect();
    let Some(connects) = judged
        .iter()
        .map(|v| v.feasibility)
        .max_by_key(|f| f.rank())
    else {
        return Headline {
            connects: Feasibility::Unknown,
            via: Vec::new(),
            reason: format!("{engine}: nothing was measured.{caveat}"),
            summary: Feasibility::Unknown.verdict_word().to_string(),
        };
    };
    if connects == Feasibility::Fails {
        let why: Vec<String> = judged
            .iter()
            .map(|v| format!("{}: {}", v.method.label(), v.reason))
            .collect();
        return Headline {
            connects,
            via: Vec::new(),
            reason: format!("{engine} finds no open path. {}{caveat}", why.join(" ")),
            summary: connects.verdict_word().to_string(),
        };
    }
    let at_level: Vec<&MethodVerdict> = judged
        .into_iter()
        .filter(|v| v.feasibility == connects)
        .collect();
    let mut via: Vec<Method> = at_level
        .iter()
        .map(|v| v.method)
        .filter(|m| {
            m.refines()
                .is_none_or(|base| !at_level.iter().any(|v| v.method == base))
        })
        .collect();
    via.sort();
    let first = at_level
        .iter()
        .find(|v| via.first() == Some(&v.method))
        .map_or(String::new(), |v| v.reason.clone());
    let verb = match connects {
        Feasibility::Works => "connects",
        Feasibility::Likely => "likely connects",
        Feasibility::Unlikely => "is unlikely to connect, at best",
        _ => "may connect (not measured)",
    };
    let summary = match via.first() {
        Some(m) => format!("{}: {}", connects.verdict_word(), m.label()),
        None => connects.verdict_word().to_string(),
    };
    Headline {
        connects,
        reason: format!("{engine} {verb} via {}: {first}{caveat}", names(&via)),
        via,
        summary,
    }
}

fn names(methods: &[Method]) -> String {
    let labels: Vec<&str> = methods.iter().map(|m| m.label()).collect();
    labels.join(", ")
}
