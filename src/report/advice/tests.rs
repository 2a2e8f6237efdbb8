use super::*;
use crate::report::testing::{self, CLASSIFIED};

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
    text(&advise_family(Family::Ipv4, &testing::classified(classic)))
}

#[test]
fn verdict_names_the_families_behind_it() {
    for classic in CLASSIFIED {
        let report = testing::report(testing::classified(classic), testing::no_ipv6());
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
    let mut ipv6 = testing::classified(ClassicNatType::OpenInternet);
    ipv6.local_address = Some("[2001:db8::7]:40000".to_string());
    let report = testing::report(testing::classified(ClassicNatType::Symmetric), ipv6);
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
    let mut family = testing::classified(ClassicNatType::Symmetric);
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
    let mut family = testing::classified(ClassicNatType::PortRestrictedCone);
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
    let report = testing::report(testing::udp_blocked(), testing::no_ipv6());
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
    let report = testing::report(testing::inconclusive(), testing::no_ipv6());
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

    let mut silent = testing::inconclusive();
    silent.notes.clear();
    silent.mapping = None;
    let advice = text(&advise_family(Family::Ipv4, &silent));
    assert!(advice.contains("the report gives no reason"));
    assert!(advice.contains("Not measured: mapping and filtering."));
    assert!(!advice.contains("Measured so far"));
}

#[test]
fn disagreement_and_cross_checks_are_reported() {
    let mut family = testing::classified(ClassicNatType::RestrictedCone);
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
    let none = advise_family(Family::Ipv6, &testing::no_ipv6());
    assert_eq!(
        none.meaning,
        [
            "IPv6 was not measured: No IPv6 STUN server was given or resolved; whether \
          IPv6 could carry a session is unknown."
        ]
    );
    assert!(none.actions.is_empty());
    let skipped = FamilyReport::unmeasured(FamilyStatus::NoServer, "not probed (-4)");
    let advice = advise_family(Family::Ipv6, &skipped);
    assert!(advice.meaning[0].contains("not measured: not probed (-4);"));
    let mut silent = skipped;
    silent.notes.clear();
    let advice = advise_family(Family::Ipv6, &silent);
    assert!(advice.meaning[0].contains("not measured: no IPv6 STUN server was given or resolved;"));
    let unavailable = FamilyReport::unmeasured(FamilyStatus::Unavailable, "no route");
    let advice = advise_family(Family::Ipv6, &unavailable);
    assert!(advice.meaning[0].contains("no usable IPv6 address or route"));
    assert!(advice.actions.is_empty());
}

#[test]
fn contradictory_reports_do_not_panic_or_overclaim() {
    // A verdict the families do not support: name no family.
    let mut report = testing::report(testing::udp_blocked(), testing::no_ipv6());
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
    let mut family = testing::classified(ClassicNatType::Symmetric);
    family.mapping = None;
    let advice = text(&advise_family(Family::Ipv4, &family));
    assert!(advice.contains("for different destinations"));
    // A firewall label without a filtering result.
    let mut family = testing::classified(ClassicNatType::SymmetricUdpFirewall);
    family.filtering = None;
    let advice = text(&advise_family(Family::Ipv4, &family));
    assert!(advice.contains("whose filtering was not measured"));
}

#[test]
fn dns_failing_says_names_do_not_resolve_and_what_to_do() {
    use crate::report::testing::dns_silent;
    let report = testing::report(
        dns_silent(Family::Ipv4, true),
        dns_silent(Family::Ipv6, true),
    );
    assert_eq!(report.verdict, Verdict::DnsFailed);
    assert_eq!(
        verdict_line(&report),
        "Names do not resolve: this machine is offline or behind a captive portal — open a web \
         page to log in, or check the network settings."
    );
    let ipv4 = text(&advise_family(Family::Ipv4, &report.ipv4));
    assert!(ipv4.contains("the A lookups failed"), "{ipv4}");
    assert!(!ipv4.contains("AAAA") && !ipv4.contains("UDP"), "{ipv4}");
    let ipv6 = text(&advise_family(Family::Ipv6, &report.ipv6));
    assert!(ipv6.contains("the AAAA lookups failed"), "{ipv6}");
    assert!(!ipv6.contains(" A lookup"), "{ipv6}");
    assert!(ipv6.contains("open a web page to log in"), "{ipv6}");

    // What the lookups said changes the advice.
    let mut report = report;
    for family in [&mut report.ipv4, &mut report.ipv6] {
        for u in &mut family.unresolved {
            u.reason = DnsFailure::NoSuchName;
        }
    }
    assert!(verdict_line(&report).contains("check the names given with --server"));
    for family in [&mut report.ipv4, &mut report.ipv6] {
        for u in &mut family.unresolved {
            u.reason = DnsFailure::NoResolver;
        }
    }
    assert!(verdict_line(&report).contains("no DNS server is configured"));
}

#[test]
fn no_route_says_no_network() {
    use crate::report::testing::{dns_silent, skipped};
    let report = testing::report(dns_silent(Family::Ipv4, false), skipped("not probed (-4)"));
    assert_eq!(report.verdict, Verdict::NoNetwork);
    assert_eq!(
        verdict_line(&report),
        "This machine has no network: no default route (IPv4) — connect it to a network (cable \
         or Wi-Fi) and run the probe again."
    );
    let report = testing::report(
        dns_silent(Family::Ipv4, false),
        dns_silent(Family::Ipv6, false),
    );
    assert!(verdict_line(&report).contains("no default route (IPv4 or IPv6)"));
    assert!(!verdict_line(&report).contains("UDP"));
}

#[test]
fn partial_answers_name_who_answered_and_who_did_not() {
    let mut ipv4 = testing::classified(ClassicNatType::FullCone);
    ipv4.servers
        .push(testing::silent_server("198.51.100.9:3478"));
    ipv4.unresolved.push(crate::report::testing::unresolved(
        "stun.example.com",
        DnsFailure::NoAnswer,
    ));
    ipv4.unresolved.push(crate::report::testing::unresolved(
        "v6only.example.com",
        DnsFailure::NoAddress,
    ));
    let report = testing::report(ipv4, testing::no_ipv6());
    assert_eq!(report.first_hop, FirstHop::Partial);
    assert_eq!(report.verdict, Verdict::TraversalFriendly);
    assert!(
        verdict_line(&report)
            .ends_with("Not every server answered: the result rests on those that did."),
        "{}",
        verdict_line(&report)
    );
    let lines = first_hop_advice(&report);
    assert!(
        lines[0].contains("stun.example.net (198.51.100.1:3478)"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("No answer over UDP from 198.51.100.9:3478"),
        "{lines:?}"
    );
    assert_eq!(
        lines[2],
        "stun.example.com: no address (DNS gave no answer to the A lookup)"
    );
    // A name without an A record is no failure of the first hop.
    assert_eq!(lines.len(), 3, "{lines:?}");

    let whole = testing::report(
        testing::classified(ClassicNatType::FullCone),
        testing::no_ipv6(),
    );
    assert_eq!(whole.first_hop, FirstHop::AllAnswered);
    assert!(first_hop_advice(&whole).is_empty());
    assert!(!verdict_line(&whole).contains("Not every server"));
}
