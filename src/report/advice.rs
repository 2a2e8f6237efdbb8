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

use super::family::{FamilyReport, FamilyStatus, Verdict};
use super::model::ProbeReport;

/// An address family of a [`ProbeReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4, [`ProbeReport::ipv4`].
    Ipv4,
    /// IPv6, [`ProbeReport::ipv6`].
    Ipv6,
}

impl Family {
    /// Both families, in report order.
    pub const ALL: [Family; 2] = [Family::Ipv4, Family::Ipv6];

    /// The family's usual name: "IPv4" or "IPv6".
    pub fn name(self) -> &'static str {
        match self {
            Self::Ipv4 => "IPv4",
            Self::Ipv6 => "IPv6",
        }
    }

    /// This family's part of a report.
    pub fn of(self, report: &ProbeReport) -> &FamilyReport {
        match self {
            Self::Ipv4 => &report.ipv4,
            Self::Ipv6 => &report.ipv6,
        }
    }
}

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
    match report.verdict {
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
    }
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
                "{name} was not measured ({why}), so whether {name} could carry a session is \
                 unknown."
            ));
        }
        FamilyStatus::Unavailable => {
            advice.meaning.push(format!(
                "{name} was not measured: this computer has no usable {name} address or route, \
                 so a session cannot use {name}."
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
mod tests {
    use super::*;
    use crate::report::fixtures::{self, CLASSIFIED};

    fn text(advice: &FamilyAdvice) -> String {
        advice
            .meaning
            .iter()
            .chain(&advice.actions)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn ipv4(classic: ClassicNatType) -> String {
        text(&advise_family(Family::Ipv4, &fixtures::classified(classic)))
    }

    #[test]
    fn verdict_names_the_families_behind_it() {
        for classic in CLASSIFIED {
            let report = fixtures::report(fixtures::classified(classic), fixtures::no_ipv6());
            let line = verdict_line(&report);
            assert!(!line.contains('\n'), "{line}");
            assert!(
                line.contains(&format!("IPv4 {}", situation(classic))),
                "{line}"
            );
            if classic.is_traversal_friendly() {
                assert!(line.starts_with("Your network is friendly to direct connections: "));
            } else {
                assert!(line.starts_with("Direct connections are hard"), "{line}");
                assert!(line.contains("port prediction or a relay"), "{line}");
            }
            assert!(!line.contains("IPv6"), "IPv6 was not measured: {line}");
        }
    }

    #[test]
    fn friendly_verdict_lists_only_friendly_families() {
        let mut ipv6 = fixtures::classified(ClassicNatType::OpenInternet);
        ipv6.local_address = Some("[2001:db8::7]:40000".to_string());
        let report = fixtures::report(fixtures::classified(ClassicNatType::Symmetric), ipv6);
        assert_eq!(report.verdict, Verdict::TraversalFriendly);
        assert_eq!(
            verdict_line(&report),
            "Your network is friendly to direct connections: IPv6 has a public address \
             with no NAT and no filtering."
        );
    }

    #[test]
    fn cone_meanings_say_who_can_connect() {
        let full = ipv4(ClassicNatType::FullCone);
        assert!(full.contains("even behind a symmetric NAT, can reach you directly"));
        let restricted = ipv4(ClassicNatType::RestrictedCone);
        assert!(restricted.contains("UDP hole punching"));
        let port_restricted = ipv4(ClassicNatType::PortRestrictedCone);
        for words in [
            "A helper behind a cone NAT or with a public address can reach you directly",
            "two port-restricted cones connect with UDP hole punching",
            "a helper behind a symmetric NAT will need a relay or a port mapping",
        ] {
            assert!(port_restricted.contains(words), "{port_restricted}");
        }
        let open = ipv4(ClassicNatType::OpenInternet);
        assert!(open.contains("can connect to you directly"));
        assert!(
            !open.contains("airpinning"),
            "no NAT, nothing to hairpin: {open}"
        );
        let firewall = ipv4(ClassicNatType::SymmetricUdpFirewall);
        assert!(firewall.contains("public address (no NAT) behind a stateful firewall"));
        assert!(firewall.contains("exact addresses and ports"));
        assert!(firewall.contains("allow inbound UDP"));
    }

    #[test]
    fn symmetric_advice_follows_the_port_allocation() {
        let mut family = fixtures::classified(ClassicNatType::Symmetric);
        let sequential = text(&advise_family(Family::Ipv4, &family));
        assert!(sequential.contains("sequentially (step +1), so port prediction may work"));
        assert!(sequential.contains("try port prediction first"));

        family.port_allocation = Some(PortAllocation {
            kind: PortAllocationKind::Random,
            delta: None,
        });
        let random = text(&advise_family(Family::Ipv4, &family));
        assert!(random.contains("port prediction will not work"));
        assert!(random.contains("port mapping on the router"));
        assert!(random.contains("relay"));
        assert!(!random.contains("may work"));

        family.port_allocation = Some(PortAllocation {
            kind: PortAllocationKind::Preserving,
            delta: None,
        });
        let preserving = text(&advise_family(Family::Ipv4, &family));
        assert!(preserving.contains("kept each local port"));

        family.port_allocation = None;
        let unmeasured = text(&advise_family(Family::Ipv4, &family));
        assert!(unmeasured.contains("Port allocation was not measured"));
        for claim in ["sequential", "random", "may work", "will not work"] {
            assert!(
                !unmeasured.contains(claim),
                "claims {claim:?}: {unmeasured}"
            );
        }
    }

    #[test]
    fn hairpinning_is_stated_only_as_measured() {
        let mut family = fixtures::classified(ClassicNatType::PortRestrictedCone);
        family.hairpinning = Some(false);
        let no = text(&advise_family(Family::Ipv4, &family));
        assert!(no.contains("two people behind this same router must connect via their LAN"));
        family.hairpinning = Some(true);
        let yes = text(&advise_family(Family::Ipv4, &family));
        assert!(yes.contains("can also reach each other through its public address"));
        family.hairpinning = None;
        let unmeasured = text(&advise_family(Family::Ipv4, &family));
        assert!(unmeasured.contains("Hairpinning was not measured"));
        assert!(!unmeasured.contains("LAN addresses"));
        assert!(!unmeasured.contains("can also reach"));
    }

    #[test]
    fn udp_blocked_says_so_and_what_to_do() {
        let report = fixtures::report(fixtures::udp_blocked(), fixtures::no_ipv6());
        assert_eq!(report.verdict, Verdict::UdpBlocked);
        assert_eq!(
            verdict_line(&report),
            "No STUN server answered over UDP: no IPv4 server answered (2 tried); UDP is \
             blocked or the servers are unreachable."
        );
        let advice = advise_family(Family::Ipv4, &report.ipv4);
        assert_eq!(
            advice.actions,
            [
                "UDP is blocked over IPv4: ask the network admin to allow outbound UDP, or use a \
              relay."
            ]
        );
        assert!(!text(&advice).contains("airpinning"));
    }

    #[test]
    fn inconclusive_gives_the_reason_and_what_is_missing() {
        let report = fixtures::report(fixtures::inconclusive(), fixtures::no_ipv6());
        assert_eq!(report.verdict, Verdict::Inconclusive);
        assert_eq!(
            verdict_line(&report),
            "The probe could not classify your network: IPv4 could not be classified."
        );
        let advice = text(&advise_family(Family::Ipv4, &report.ipv4));
        assert!(
            advice.contains("(198.51.100.1:3478 sent no OTHER-ADDRESS)"),
            "{advice}"
        );
        assert!(advice.contains("uncertain"));
        assert!(advice.contains("Not measured: filtering."));
        assert!(advice.contains("stay the same for all destinations"));
        assert!(advice.contains("could run the RFC 5780 behaviour tests"));
        assert!(advice.contains("Hairpinning") || !behind_nat(report.ipv4.classic));

        let mut silent = fixtures::inconclusive();
        silent.notes.clear();
        silent.mapping = None;
        let advice = text(&advise_family(Family::Ipv4, &silent));
        assert!(advice.contains("the report gives no reason"));
        assert!(advice.contains("Not measured: mapping and filtering."));
        assert!(!advice.contains("Measured so far"));
    }

    #[test]
    fn disagreement_and_cross_checks_are_reported() {
        let mut family = fixtures::classified(ClassicNatType::RestrictedCone);
        assert!(ipv4(ClassicNatType::RestrictedCone).contains("2 servers"));
        family.servers_agree = Some(false);
        let advice = advise_family(Family::Ipv4, &family);
        assert!(text(&advice).contains("The servers disagreed"));
        assert!(
            advice
                .actions
                .iter()
                .any(|a| a.contains("run the probe again"))
        );

        family.servers_agree = None;
        family.servers.truncate(1);
        assert!(text(&advise_family(Family::Ipv4, &family)).contains("Only one server"));
        family.servers[0].behavior_capable = false;
        assert!(text(&advise_family(Family::Ipv4, &family)).contains("No server could run"));
    }

    #[test]
    fn unmeasured_families_say_not_measured() {
        let none = advise_family(Family::Ipv6, &fixtures::no_ipv6());
        assert_eq!(
            none.meaning,
            [
                "IPv6 was not measured (No IPv6 STUN server was given or resolved), so whether \
              IPv6 could carry a session is unknown."
            ]
        );
        assert!(none.actions.is_empty());
        let skipped = FamilyReport::unmeasured(FamilyStatus::NoServer, "not probed (-4)");
        let advice = advise_family(Family::Ipv6, &skipped);
        assert!(advice.meaning[0].contains("(not probed (-4))"));
        let mut silent = skipped;
        silent.notes.clear();
        let advice = advise_family(Family::Ipv6, &silent);
        assert!(advice.meaning[0].contains("(no IPv6 STUN server was given or resolved)"));
        let unavailable = FamilyReport::unmeasured(FamilyStatus::Unavailable, "no route");
        let advice = advise_family(Family::Ipv6, &unavailable);
        assert!(advice.meaning[0].contains("no usable IPv6 address or route"));
        assert!(advice.actions.is_empty());
    }

    #[test]
    fn contradictory_reports_do_not_panic_or_overclaim() {
        // A verdict the families do not support: name no family.
        let mut report = fixtures::report(fixtures::udp_blocked(), fixtures::no_ipv6());
        report.verdict = Verdict::TraversalFriendly;
        assert_eq!(
            verdict_line(&report),
            "Your network is friendly to direct connections."
        );
        report.verdict = Verdict::Symmetric;
        assert!(!verdict_line(&report).contains("IPv4"));
        report.verdict = Verdict::Inconclusive;
        assert!(verdict_line(&report).contains("incomplete"));
        // Classified status, unclassified label, nothing measured.
        let mut family = FamilyReport::unmeasured(FamilyStatus::Ok, "");
        family.notes.clear();
        let advice = text(&advise_family(Family::Ipv4, &family));
        assert!(advice.contains("could not be classified"));
        assert!(advice.contains("Not measured: mapping and filtering."));
        // A symmetric label without a mapping result: no specific claim.
        let mut family = fixtures::classified(ClassicNatType::Symmetric);
        family.mapping = None;
        let advice = text(&advise_family(Family::Ipv4, &family));
        assert!(advice.contains("for different destinations"));
        // A firewall label without a filtering result.
        let mut family = fixtures::classified(ClassicNatType::SymmetricUdpFirewall);
        family.filtering = None;
        let advice = text(&advise_family(Family::Ipv4, &family));
        assert!(advice.contains("whose filtering was not measured"));
    }
}
