use super::*;
use crate::report::family::{Verdict, verdict};
use crate::report::testing::{self, dns_silent, skipped, unresolved};
use crate::report::unresolved::DnsFailure;

const EVERY_FAILURE: [DnsFailure; 5] = [
    DnsFailure::NoResolver,
    DnsFailure::NoAnswer,
    DnsFailure::NoSuchName,
    DnsFailure::NoAddress,
    DnsFailure::ServerFailure,
];

/// The verdict and the first hop of two families, as the probe would
/// compute them.
fn judge(ipv4: &FamilyReport, ipv6: &FamilyReport) -> (Verdict, FirstHop) {
    (verdict(&[ipv4, ipv6]), first_hop(&[ipv4, ipv6]))
}

#[test]
fn words_name_the_lookup_of_their_own_family() {
    let line = |family, reason| unresolved("stun.example.org", reason).line(family);
    assert_eq!(
        line(Family::Ipv4, DnsFailure::NoAnswer),
        "stun.example.org: no address (DNS gave no answer to the A lookup)"
    );
    assert_eq!(
        line(Family::Ipv6, DnsFailure::NoAnswer),
        "stun.example.org: no address (DNS gave no answer to the AAAA lookup)"
    );
    assert_eq!(
        line(Family::Ipv4, DnsFailure::NoAddress),
        "stun.example.org: no IPv4 address (the name has no A record)"
    );
    assert_eq!(
        line(Family::Ipv6, DnsFailure::NoAddress),
        "stun.example.org: no IPv6 address (the name has no AAAA record)"
    );
    for reason in EVERY_FAILURE {
        let v4 = reason.words(Family::Ipv4);
        let v6 = reason.words(Family::Ipv6);
        // An IPv4 line never speaks of AAAA, an IPv6 line never of an A
        // lookup or A record.
        assert!(!v4.contains("AAAA") && !v4.contains("IPv6"), "{v4}");
        assert!(
            !v6.contains(" A lookup") && !v6.contains(" A record") && !v6.contains("IPv4"),
            "{v6}"
        );
        for words in [&v4, &v6, &reason.summary().to_string()] {
            // One short phrase, never a resolver's structure.
            assert!(
                words.starts_with("no ") || words.starts_with("DNS") || words.starts_with("the")
            );
            assert!(!words.contains('{') && !words.contains("Query"), "{words}");
            assert!(!words.contains('\n') && words.len() < 80, "{words}");
        }
    }
}

#[test]
fn only_a_missing_record_is_no_dns_trouble() {
    for reason in EVERY_FAILURE {
        assert_eq!(reason.is_dns_trouble(), reason != DnsFailure::NoAddress);
    }
}

#[test]
fn no_route_is_no_network() {
    let family = dns_silent(Family::Ipv4, false);
    assert_eq!(family.status, FamilyStatus::Unavailable);
    assert!(
        family.notes[0].contains("no IPv4 route"),
        "{:?}",
        family.notes
    );
    assert_eq!(family.unresolved.len(), 2, "the names stay listed");
    for ipv6 in [dns_silent(Family::Ipv6, false), skipped("not probed (-4)")] {
        assert_eq!(
            judge(&family, &ipv6),
            (Verdict::NoNetwork, FirstHop::NoNetwork)
        );
    }
    assert_eq!(Verdict::NoNetwork.exit_code(), 13);
}

#[test]
fn a_route_without_dns_is_dns_failed() {
    let family = dns_silent(Family::Ipv4, true);
    assert_eq!(family.status, FamilyStatus::DnsFailed);
    assert!(
        family.notes[0].contains("DNS does not work"),
        "{:?}",
        family.notes
    );
    for ipv6 in [
        dns_silent(Family::Ipv6, true),
        dns_silent(Family::Ipv6, false),
        skipped("not probed (-4)"),
    ] {
        assert_eq!(
            judge(&family, &ipv6),
            (Verdict::DnsFailed, FirstHop::DnsFailed)
        );
    }
    assert_eq!(Verdict::DnsFailed.exit_code(), 14);
    // Any sign of DNS trouble among names without an address is enough.
    let mixed = unresolved_family(
        Family::Ipv4,
        vec![
            unresolved("a.example.org", DnsFailure::NoAddress),
            unresolved("b.example.org", DnsFailure::ServerFailure),
        ],
        true,
    );
    assert_eq!(mixed.status, FamilyStatus::DnsFailed);
}

#[test]
fn names_without_an_address_of_a_family_are_no_server_not_dns_trouble() {
    let family = unresolved_family(
        Family::Ipv6,
        vec![unresolved("stun.example.org", DnsFailure::NoAddress)],
        true,
    );
    assert_eq!(family.status, FamilyStatus::NoServer);
    assert!(!family.skipped(), "it was tried");
    assert!(family.notes[0].contains("no server name has an IPv6 address"));
    // IPv4 classified, IPv6 names with no AAAA record: every server asked
    // answered.
    let ipv4 = testing::classified(crate::proto::nat::ClassicNatType::FullCone);
    assert_eq!(
        judge(&ipv4, &family),
        (Verdict::TraversalFriendly, FirstHop::AllAnswered)
    );
    // IPv4 names with no A record, no IPv6 route: IPv4 has a route, so
    // this is not "no network", and nothing was measured.
    let ipv4 = unresolved_family(
        Family::Ipv4,
        vec![unresolved("v6only.example.org", DnsFailure::NoAddress)],
        true,
    );
    let ipv6 = dns_silent(Family::Ipv6, false);
    assert_eq!(
        judge(&ipv4, &ipv6),
        (Verdict::Inconclusive, FirstHop::NotTried)
    );
}

#[test]
fn known_addresses_without_answers_are_no_answer() {
    let ipv4 = testing::udp_blocked();
    for ipv6 in [
        skipped("not probed (-4)"),
        dns_silent(Family::Ipv6, true),
        dns_silent(Family::Ipv6, false),
    ] {
        assert_eq!(
            judge(&ipv4, &ipv6),
            (Verdict::UdpBlocked, FirstHop::NoAnswer)
        );
    }
}

#[test]
fn some_answers_are_partial() {
    use crate::proto::nat::ClassicNatType;
    let classified = || testing::classified(ClassicNatType::PortRestrictedCone);
    let none = skipped("not probed (-4)");
    assert_eq!(
        judge(&classified(), &none),
        (Verdict::TraversalFriendly, FirstHop::AllAnswered)
    );
    // A server that did not answer.
    let mut silent = classified();
    silent
        .servers
        .push(testing::silent_server("198.51.100.9:3478"));
    assert_eq!(first_hop(&[&silent, &none]), FirstHop::Partial);
    // A name DNS gave no answer for, beside servers that answered.
    let mut unresolved_name = classified();
    unresolved_name
        .unresolved
        .push(unresolved("stun.example.com", DnsFailure::NoAnswer));
    assert_eq!(first_hop(&[&unresolved_name, &none]), FirstHop::Partial);
    // IPv4 answered, IPv6's names did not resolve.
    assert_eq!(
        judge(&classified(), &dns_silent(Family::Ipv6, true)),
        (Verdict::TraversalFriendly, FirstHop::Partial)
    );
    // A name with no A record is no sign of trouble.
    let mut no_record = classified();
    no_record
        .unresolved
        .push(unresolved("v6only.example.com", DnsFailure::NoAddress));
    assert_eq!(first_hop(&[&no_record, &none]), FirstHop::AllAnswered);
}

#[test]
fn nothing_given_is_not_tried_and_inconclusive() {
    let ipv4 = skipped("no IPv4 server was given");
    let ipv6 = skipped("not probed (-4)");
    assert_eq!(
        judge(&ipv4, &ipv6),
        (Verdict::Inconclusive, FirstHop::NotTried)
    );
}

#[test]
fn json_spells_the_first_hop_and_the_reasons() {
    let report = testing::report(dns_silent(Family::Ipv4, true), skipped("not probed (-4)"));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"], "dns_failed");
    assert_eq!(json["first_hop"], "dns_failed");
    assert_eq!(json["ipv4"]["status"], "dns_failed");
    assert_eq!(
        json["ipv4"]["unresolved"][0],
        serde_json::json!({"server": "stun.example.org", "reason": "no_answer"})
    );
    assert_eq!(json["ipv6"]["unresolved"], serde_json::json!([]));
    let back: crate::report::ProbeReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);

    let report = testing::report(dns_silent(Family::Ipv4, false), skipped("not probed (-4)"));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"], "no_network");
    assert_eq!(json["first_hop"], "no_network");
    assert_eq!(json["ipv4"]["status"], "unavailable");
    for (reason, spelled) in EVERY_FAILURE.into_iter().zip([
        "no_resolver",
        "no_answer",
        "no_such_name",
        "no_address",
        "server_failure",
    ]) {
        assert_eq!(serde_json::to_value(reason).unwrap(), spelled);
    }
    for (hop, spelled) in [
        (FirstHop::NoNetwork, "no_network"),
        (FirstHop::DnsFailed, "dns_failed"),
        (FirstHop::NoAnswer, "no_answer"),
        (FirstHop::Partial, "partial"),
        (FirstHop::AllAnswered, "all_answered"),
        (FirstHop::NotTried, "not_tried"),
    ] {
        assert_eq!(serde_json::to_value(hop).unwrap(), spelled);
    }
}
