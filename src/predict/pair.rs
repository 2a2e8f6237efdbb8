//! The prediction for a pair of peers: each method's verdict, then the
//! headline of each engine (Windows Remote Assistance 7+ and ranat).

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
        methods::public_ipv4(n, h),
        methods::port_mapping(n, h, methods::Protocols::All),
        ipv6::ipv6(n, h, ipv6::Engine::Ranat),
        hole_punching::hole_punching(n, h),
        port_prediction::port_prediction(n, h),
        birthday_punching::birthday_punching(n, h),
        teredo::rfc4380(n, h),
        teredo::rfc6081(n, h),
        methods::relay(),
    ];
    let windows = windows_headline(&methods, n, h);
    let ranat = ranat_headline(&methods);
    Prediction {
        methods,
        windows_remote_assistance: windows,
        ranat,
    }
}

/// Windows Remote Assistance 7+: it connects over TCP to an endpoint in its
/// invitation, so it uses only same-LAN, public IPv4, UPnP mappings (PCP
/// and NAT-PMP are not used by Windows), native IPv6 when a side accepts
/// unsolicited packets, and Teredo with the RFC 6081 extensions (shipped
/// since Windows Vista/7). It never punches holes itself.
fn windows_headline(methods: &[MethodVerdict], n: Peer, h: Peer) -> Headline {
    let pick = |m: Method| methods.iter().find(|v| v.method == m).cloned();
    let allowed: Vec<MethodVerdict> = [
        pick(Method::SameLan),
        pick(Method::PublicIpv4),
        Some(methods::port_mapping(n, h, methods::Protocols::UpnpOnly)),
        Some(ipv6::ipv6(n, h, ipv6::Engine::Windows)),
        pick(Method::TeredoRfc6081),
    ]
    .into_iter()
    .flatten()
    .collect();
    headline("Windows Remote Assistance", &allowed)
}

/// ranat: every direct method; when none works for sure, the relay
/// carries the session after the best direct attempts.
fn ranat_headline(methods: &[MethodVerdict]) -> Headline {
    let direct: Vec<MethodVerdict> = methods
        .iter()
        .filter(|v| v.method != Method::Relay)
        .cloned()
        .collect();
    let best = headline("ranat", &direct);
    if best.connects == Feasibility::Works {
        return best;
    }
    let mut via = best.via;
    via.push(Method::Relay);
    let reason = if via.len() == 1 {
        format!(
            "ranat connects through the relay: no direct path is open. {}",
            best.reason
        )
    } else {
        format!(
            "ranat connects: it tries {} first ({}), and the relay carries the session if that fails. {}",
            names(&via[..via.len() - 1]),
            best.connects.label(),
            best.reason
        )
    };
    Headline {
        connects: Feasibility::Works,
        via,
        reason,
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
    Headline {
        connects,
        reason: format!("{engine} {verb} via {}: {first}{caveat}", names(&via)),
        via,
    }
}

fn names(methods: &[Method]) -> String {
    let labels: Vec<&str> = methods.iter().map(|m| m.label()).collect();
    labels.join(", ")
}
