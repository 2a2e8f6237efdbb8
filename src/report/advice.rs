//! Plain-language reading of a probe report: a one-line verdict, what the
//! result means for a remote-assistance session, and what to do about it.
//!
//! Every sentence follows from a field of the report. A field that is `None`
//! was not measured and is called "not measured"; nothing is guessed.
//! "You" is the computer that ran the probe; "a helper" is the other side of
//! the session.

use crate::proto::nat::{
    ClassicNatType, FilteringBehavior, MappingBehavior, PortAllocation, PortAllocationKind,
};

use super::address_family::Family;
use super::family::{FamilyReport, FamilyStatus, Verdict};
use super::first_hop::FirstHop;
use super::model::ProbeReport;
use super::unresolved::DnsFailure;

/// What one family's result means for a session, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FamilyAdvice {
    /// What the measured behaviour means for a remote-assistance session.
    pub meaning: Vec<String>,
    /// Concrete steps that follow from the result; empty when none is needed.
    pub actions: Vec<String>,
}

/// The one-line verdict of a whole report, naming the families behind it,
/// e.g. "Your network is friendly to direct connections: IPv4 is behind a
/// port-restricted cone NAT."
pub fn verdict_line(report: &ProbeReport) -> String {
    let families_where = |keep: &dyn Fn(&FamilyReport) -> bool| -> Vec<String> {
        Family::ALL
            .into_iter()
            .filter(|f| keep(f.of(report)))
            .map(|f| format!("{} {}", f.name(), situation(f.of(report).classic)))
            .collect()
    };
    let line = match report.verdict {
        Verdict::TraversalFriendly => with_reasons(
            "Your network is friendly to direct connections",
            &families_where(&|r| r.status == FamilyStatus::Ok && r.classic.is_traversal_friendly()),
        ),
        Verdict::Symmetric => {
            let symmetric = families_where(&|r| {
                r.status == FamilyStatus::Ok && r.classic == ClassicNatType::Symmetric
            });
            let head = with_reasons("Direct connections are hard from your network", &symmetric);
            let head = head.trim_end_matches('.');
            format!("{head}; many helpers will need a port mapping, port prediction or a relay.")
        }
        Verdict::UdpBlocked => {
            let blocked: Vec<String> = Family::ALL
                .into_iter()
                .filter(|f| f.of(report).status == FamilyStatus::UdpBlocked)
                .map(|f| no_answer_phrase(f, f.of(report)))
                .collect();
            let head = with_reasons("No STUN server answered over UDP", &blocked);
            let head = head.trim_end_matches('.');
            format!("{head}; UDP is blocked or the servers are unreachable.")
        }
        Verdict::DnsFailed => dns_failed_line(report),
        Verdict::NoNetwork => no_network_line(report),
        Verdict::Inconclusive => {
            let unclassified: Vec<String> = Family::ALL
                .into_iter()
                .filter(|f| f.of(report).status == FamilyStatus::Inconclusive)
                .map(|f| format!("{} could not be classified", f.name()))
                .collect();
            if unclassified.is_empty() {
                "The probe could not classify your network: the measurements were incomplete."
                    .to_string()
            } else {
                with_reasons("The probe could not classify your network", &unclassified)
            }
        }
    };
    if report.first_hop == FirstHop::Partial {
        format!("{line} Not every server answered: the result rests on those that did.")
    } else {
        line
    }
}

/// The verdict line when no server name resolved: what the lookups said,
/// and what to do.
fn dns_failed_line(report: &ProbeReport) -> String {
    let reasons: Vec<DnsFailure> = Family::ALL
        .into_iter()
        .map(|f| f.of(report))
        .filter(|f| f.status == FamilyStatus::DnsFailed)
        .flat_map(|f| f.unresolved.iter().map(|u| u.reason))
        .filter(|r| r.is_dns_trouble())
        .collect();
    let all = |reason: DnsFailure| !reasons.is_empty() && reasons.iter().all(|r| *r == reason);
    if all(DnsFailure::NoResolver) {
        "Names do not resolve: no DNS server is configured on this machine — check the network \
         settings."
            .to_string()
    } else if all(DnsFailure::NoSuchName) {
        "Names do not resolve: DNS says no server name exists — check the names given with \
         --server; on a hotel or guest network, open a web page to log in first."
            .to_string()
    } else {
        "Names do not resolve: this machine is offline or behind a captive portal — open a web \
         page to log in, or check the network settings."
            .to_string()
    }
}

/// The verdict line when no family that was tried has a route.
fn no_network_line(report: &ProbeReport) -> String {
    let routeless: Vec<&str> = Family::ALL
        .into_iter()
        .filter(|f| f.of(report).status == FamilyStatus::Unavailable)
        .map(Family::name)
        .collect();
    format!(
        "This machine has no network: no default route ({}) — connect it to a network (cable \
         or Wi-Fi) and run the probe again.",
        routeless.join(" or ")
    )
}

/// How far the probe got toward its servers, when that needs saying on its
/// own: some servers answered and others did not (or had no address).
/// Empty otherwise: the verdict line and the families say the rest.
pub fn first_hop_advice(report: &ProbeReport) -> Vec<String> {
    if report.first_hop != FirstHop::Partial {
        return Vec::new();
    }
    let mut answered = Vec::new();
    let mut silent = Vec::new();
    let mut unresolved = Vec::new();
    for family in Family::ALL {
        let measured = family.of(report);
        for server in &measured.servers {
            let label = match &server.name {
                Some(name) => format!("{name} ({})", server.address),
                None => server.address.clone(),
            };
            if server.reachable {
                answered.push(label);
            } else {
                silent.push(label);
            }
        }
        unresolved.extend(
            measured
                .unresolved
                .iter()
                .filter(|u| u.reason.is_dns_trouble())
                .map(|u| u.line(family)),
        );
    }
    let mut lines = vec![format!(
        "Some servers answered and others did not, so the result rests on the servers that \
         answered: {}.",
        answered.join(", ")
    )];
    if !silent.is_empty() {
        lines.push(format!(
            "No answer over UDP from {}: that server is down, or UDP to it is blocked.",
            silent.join(", ")
        ));
    }
    lines.extend(unresolved);
    lines
}

/// What one family's result means for a remote-assistance session and what
/// to do, from its status, classic label, behaviour fields and notes.
pub fn advise_family(family: Family, report: &FamilyReport) -> FamilyAdvice {
    let name = family.name();
    let mut advice = FamilyAdvice::default();
    match report.status {
        FamilyStatus::NoServer => {
            // The notes say why: none resolved, or the family was skipped
            // on purpose (-4/-6); either way nothing was measured.
            let why = reasons(&report.notes)
                .unwrap_or_else(|| format!("no {name} STUN server was given or resolved"));
            advice.meaning.push(format!(
                "{name} was not measured: {why}; whether {name} could carry a session is \
                 unknown."
            ));
        }
        FamilyStatus::Unavailable => {
            advice.meaning.push(format!(
                "{name} was not measured: this computer has no usable {name} address or route, \
                 so a session cannot use {name}."
            ));
        }
        FamilyStatus::DnsFailed => {
            let record = family.record_type();
            advice.meaning.push(format!(
                "{name} was not measured: no STUN server name resolved to an {name} address \
                 (the {record} lookups failed), so whether {name} could carry a session is \
                 unknown."
            ));
            advice.actions.push(format!(
                "Names do not resolve over {name} (the {record} lookups failed): on a hotel or \
                 guest network, open a web page to log in; otherwise check the network's DNS \
                 settings. Then run the probe again."
            ));
        }
        FamilyStatus::UdpBlocked => {
            advice.meaning.push(format!(
                "{}, so UDP is blocked or every server was unreachable: no direct UDP \
                 connection or hole punching is possible over {name}.",
                capitalize(&no_answer_phrase(family, report))
            ));
            advice.actions.push(format!(
                "UDP is blocked over {name}: ask the network admin to allow outbound UDP, \
                 or use a relay."
            ));
        }
        FamilyStatus::Inconclusive => inconclusive(family, report, &mut advice),
        FamilyStatus::Ok => classified(family, report, &mut advice),
    }
    if report.status == FamilyStatus::Ok || report.status == FamilyStatus::Inconclusive {
        hairpinning(report, &mut advice);
        agreement(report, &mut advice);
    }
    advice
}

/// The notes as one clause, "a; b", or `None` without notes.
fn reasons(notes: &[String]) -> Option<String> {
    let notes: Vec<&str> = notes
        .iter()
        .map(|n| n.trim().trim_end_matches('.'))
        .filter(|n| !n.is_empty())
        .collect();
    (!notes.is_empty()).then(|| notes.join("; "))
}

/// "Head: a; b." or "Head." when there is nothing to list.
fn with_reasons(head: &str, reasons: &[String]) -> String {
    if reasons.is_empty() {
        format!("{head}.")
    } else {
        format!("{head}: {}.", reasons.join("; "))
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "no IPv4 server answered (3 tried)".
fn no_answer_phrase(family: Family, report: &FamilyReport) -> String {
    match report.servers.len() {
        0 => format!("no {} server answered", family.name()),
        n => format!("no {} server answered ({n} tried)", family.name()),
    }
}

/// What a family "is" under a classic label, after its name:
/// "IPv4 is behind a symmetric NAT".
fn situation(classic: ClassicNatType) -> &'static str {
    match classic {
        ClassicNatType::OpenInternet => "has a public address with no NAT and no filtering",
        ClassicNatType::FullCone => "is behind a full cone NAT",
        ClassicNatType::RestrictedCone => "is behind a restricted cone NAT",
        ClassicNatType::PortRestrictedCone => "is behind a port-restricted cone NAT",
        ClassicNatType::Symmetric => "is behind a symmetric NAT",
        ClassicNatType::SymmetricUdpFirewall => {
            "has a public address behind a stateful UDP firewall"
        }
        ClassicNatType::UdpBlocked => "gets no UDP answers",
        ClassicNatType::Inconclusive => "could not be classified",
    }
}

/// Whether a classic label means a NAT sits between this computer and the
/// internet (so hairpinning is a question at all).
fn behind_nat(classic: ClassicNatType) -> bool {
    matches!(
        classic,
        ClassicNatType::FullCone
            | ClassicNatType::RestrictedCone
            | ClassicNatType::PortRestrictedCone
            | ClassicNatType::Symmetric
    )
}

const MAPPING_OPTIONS: &str = "a port mapping on the router (UPnP IGD, NAT-PMP or PCP, if it \
                               offers one) or a relay";

fn classified(family: Family, report: &FamilyReport, advice: &mut FamilyAdvice) {
    let name = family.name();
    let meaning = &mut advice.meaning;
    match report.classic {
        ClassicNatType::OpenInternet => meaning.push(format!(
            "Over {name} you have a public address and nothing filters incoming UDP: a helper \
             on any network, even behind a symmetric NAT, can connect to you directly."
        )),
        ClassicNatType::FullCone => meaning.push(format!(
            "Over {name} you are behind a full cone NAT: it keeps one public address and port \
             for all destinations and lets anyone send to it, so a helper on any network, even \
             behind a symmetric NAT, can reach you directly once your side has sent first."
        )),
        ClassicNatType::RestrictedCone => meaning.push(format!(
            "Over {name} you are behind a restricted cone NAT: it keeps one public address and \
             port for all destinations but only lets in hosts you have sent to. A helper with a \
             public address or behind a cone NAT connects with UDP hole punching (both sides \
             send first); a helper behind a symmetric NAT can usually connect the same way."
        )),
        ClassicNatType::PortRestrictedCone => meaning.push(format!(
            "Over {name} you are behind a port-restricted cone NAT: it keeps one public address \
             and port for all destinations but only lets in the exact addresses and ports you \
             have sent to. A helper behind a cone NAT or with a public address can reach you \
             directly; two port-restricted cones connect with UDP hole punching; a helper \
             behind a symmetric NAT will need a relay or a port mapping."
        )),
        ClassicNatType::Symmetric => symmetric(family, report, advice),
        ClassicNatType::SymmetricUdpFirewall => firewall(family, report, advice),
        ClassicNatType::UdpBlocked | ClassicNatType::Inconclusive => {
            // A classified status with an unclassified label: say only what
            // was measured.
            inconclusive(family, report, advice);
        }
    }
}

fn symmetric(family: Family, report: &FamilyReport, advice: &mut FamilyAdvice) {
    let name = family.name();
    let per = match report.mapping {
        Some(MappingBehavior::AddressDependent) => "for each destination address",
        Some(MappingBehavior::AddressAndPortDependent) => "for each destination address and port",
        _ => "for different destinations",
    };
    advice.meaning.push(format!(
        "Over {name} you are behind a symmetric NAT: it uses a new public port {per}, so the \
         port a STUN server sees is not the port a helper will see. A helper with a public \
         address or behind a full or restricted cone NAT can still connect directly; a helper \
         behind a port-restricted cone or a symmetric NAT needs port prediction, a port \
         mapping or a relay."
    ));
    match report.port_allocation {
        Some(PortAllocation {
            kind: PortAllocationKind::Sequential,
            delta,
        }) => {
            let step = delta.map_or_else(String::new, |d| format!(" (step {d:+})"));
            advice.meaning.push(format!(
                "The NAT allocated new ports sequentially{step}, so port prediction may work."
            ));
            advice.actions.push(format!(
                "Over {name}, try port prediction first; if it fails, use {MAPPING_OPTIONS}."
            ));
        }
        Some(PortAllocation {
            kind: PortAllocationKind::Preserving,
            ..
        }) => {
            advice.meaning.push(
                "The NAT kept each local port as the public port, so port prediction from \
                 the local port may work."
                    .to_string(),
            );
            advice.actions.push(format!(
                "Over {name}, try port prediction first; if it fails, use {MAPPING_OPTIONS}."
            ));
        }
        Some(PortAllocation {
            kind: PortAllocationKind::Random,
            ..
        }) => {
            advice.meaning.push(
                "The NAT allocated new ports at random, so port prediction will not work."
                    .to_string(),
            );
            advice.actions.push(format!(
                "Over {name}, a helper behind a port-restricted cone or symmetric NAT needs \
                 {MAPPING_OPTIONS}."
            ));
        }
        None => {
            advice.meaning.push(
                "Port allocation was not measured, so whether port prediction could work is \
                 unknown."
                    .to_string(),
            );
            advice.actions.push(format!(
                "Over {name}, plan for {MAPPING_OPTIONS} for helpers behind a port-restricted \
                 cone or symmetric NAT."
            ));
        }
    }
}

fn firewall(family: Family, report: &FamilyReport, advice: &mut FamilyAdvice) {
    let name = family.name();
    let (lets_in, symmetric_helper) = match report.filtering {
        Some(FilteringBehavior::AddressAndPortDependent) => (
            "that only lets in the exact addresses and ports you have sent to",
            "a helper behind a symmetric NAT will need a relay or a port mapping on their side",
        ),
        Some(FilteringBehavior::AddressDependent) => (
            "that only lets in hosts you have sent to",
            "a helper behind a symmetric NAT can usually connect the same way",
        ),
        // Endpoint-independent filtering without a NAT is "open internet";
        // a firewall label with it or without a filtering result says no more.
        Some(FilteringBehavior::EndpointIndependent) => (
            "that let in any sender during the filtering test",
            "a helper behind a symmetric NAT can usually connect the same way",
        ),
        None => (
            "whose filtering was not measured",
            "whether a helper behind a symmetric NAT can connect is unknown",
        ),
    };
    advice.meaning.push(format!(
        "Over {name} you have a public address (no NAT) behind a stateful firewall {lets_in}. \
         A helper with a public address or behind a cone NAT connects with UDP hole punching \
         (both sides send first); {symmetric_helper}."
    ));
    advice.actions.push(format!(
        "To let any helper reach you directly over {name}, ask the network admin to allow \
         inbound UDP to this computer."
    ));
}

fn inconclusive(family: Family, report: &FamilyReport, advice: &mut FamilyAdvice) {
    let name = family.name();
    let why = reasons(&report.notes).unwrap_or_else(|| "the report gives no reason".to_string());
    advice.meaning.push(format!(
        "{name} could not be classified ({why}), so what it allows is uncertain."
    ));
    match report.mapping {
        Some(MappingBehavior::EndpointIndependent) => advice.meaning.push(
            "Measured so far: your public address and port stay the same for all \
             destinations, which is what UDP hole punching needs."
                .to_string(),
        ),
        Some(MappingBehavior::AddressDependent | MappingBehavior::AddressAndPortDependent) => {
            advice.meaning.push(
                "Measured so far: your public port changes with the destination, which \
                 defeats plain UDP hole punching."
                    .to_string(),
            );
        }
        None => {}
    }
    if let Some(filtering) = report.filtering {
        advice.meaning.push(format!(
            "Measured so far: {}.",
            match filtering {
                FilteringBehavior::EndpointIndependent => "any host can send to you",
                FilteringBehavior::AddressDependent =>
                    "only hosts you have sent to can send to you",
                FilteringBehavior::AddressAndPortDependent =>
                    "only the exact addresses and ports you have sent to can send to you",
            }
        ));
    }
    let missing: Vec<&str> = [
        ("mapping", report.mapping.is_none()),
        ("filtering", report.filtering.is_none()),
    ]
    .into_iter()
    .filter_map(|(what, absent)| absent.then_some(what))
    .collect();
    if !missing.is_empty() {
        advice
            .meaning
            .push(format!("Not measured: {}.", missing.join(" and ")));
    }
    let answered = report.servers.iter().any(|s| s.reachable);
    let capable = report.servers.iter().any(|s| s.behavior_capable);
    if answered && !capable {
        advice.actions.push(format!(
            "None of the {name} servers that answered could run the RFC 5780 behaviour tests: \
             run the probe again with --server naming a server that can (two addresses and \
             two ports, such as one started with `ranat serve`)."
        ));
    } else {
        advice
            .actions
            .push(format!("Run the probe again to measure {name} fully."));
    }
}

fn hairpinning(report: &FamilyReport, advice: &mut FamilyAdvice) {
    if !behind_nat(report.classic) {
        return;
    }
    advice.meaning.push(
        match report.hairpinning {
            Some(true) => {
                "The router loops packets for its own public address back inside \
                 (hairpinning), so two people behind this same router can also reach each \
                 other through its public address."
            }
            Some(false) => {
                "The router does not loop packets for its own public address back inside (no \
                 hairpinning): two people behind this same router must connect via their LAN \
                 addresses."
            }
            None => {
                "Hairpinning was not measured, so whether two people behind this same router \
                 can reach each other through its public address is unknown."
            }
        }
        .to_string(),
    );
}

fn agreement(report: &FamilyReport, advice: &mut FamilyAdvice) {
    let capable = report.servers.iter().filter(|s| s.behavior_capable).count();
    match report.servers_agree {
        Some(true) if capable >= 2 => advice.meaning.push(format!(
            "{capable} servers that can run the behaviour tests agreed on this result."
        )),
        Some(true) => advice
            .meaning
            .push("The servers agreed on this result.".to_string()),
        Some(false) => {
            advice.meaning.push(
                "The servers disagreed about this network's behaviour, so this result is less \
                 certain: the NAT may treat destinations differently, or it changed during the \
                 probe."
                    .to_string(),
            );
            advice.actions.push(
                "Compare the per-server results and run the probe again before relying on \
                 this result."
                    .to_string(),
            );
        }
        None if report.status == FamilyStatus::Ok => advice.meaning.push(
            match capable {
                0 => {
                    "No server could run the behaviour tests, so the result was not \
                      cross-checked."
                }
                1 => {
                    "Only one server could run the behaviour tests, so the result was not \
                      cross-checked."
                }
                _ => "Agreement between servers was not measured.",
            }
            .to_string(),
        ),
        None => {}
    }
}

#[cfg(test)]
mod tests;
