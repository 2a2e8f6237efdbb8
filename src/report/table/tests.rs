use super::*;
use crate::proto::nat::LifetimeOutcome;
use crate::report::testing::{self, CLASSIFIED};
use crate::report::{BindingLifetime, TcpBehavior};

/// The value cell of the row labelled `label` in the first table that has one.
fn row<'a>(text: &'a str, label: &str) -> &'a str {
    let prefix = format!("| {label} ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no row {label:?} in\n{text}"));
    line.split('|').nth(2).unwrap_or_default().trim()
}

fn assert_fits(text: &str, width: usize) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= width,
            "line wider than {width}: {line:?}\n{text}"
        );
    }
}

#[test]
fn every_classic_type_renders_its_words_in_80_columns() {
    for classic in CLASSIFIED {
        let report = testing::report(testing::classified(classic), testing::no_ipv6());
        let text = render(&report);
        assert_fits(&text, 80);
        assert!(!text.contains('\u{1b}'), "colors without a terminal");
        assert_eq!(row(&text, "Status"), "classified");
        assert_eq!(row(&text, "NAT type"), classic.label());
        assert_eq!(
            row(&text, "Mapping"),
            mapping_words(report.ipv4.mapping.unwrap())
        );
        assert_eq!(
            row(&text, "Filtering"),
            filtering_words(report.ipv4.filtering.unwrap())
        );
        assert_eq!(row(&text, "Servers agree"), "yes");
        assert!(text.contains("| yes, 12.3 ms |"), "{text}");
        assert!(!text.contains("Server saw"));
        assert!(text.contains("stun.example.net"));
        assert!(text.contains(&format!("Verdict: {}", &verdict_line(&report)[..20])));
        assert!(text.contains("IPv4 for a remote-assistance session:"));
    }
}

#[test]
fn behaviour_is_spelled_in_rfc_4787_words() {
    let text = render(&testing::report(
        testing::classified(ClassicNatType::Symmetric),
        testing::no_ipv6(),
    ));
    assert_eq!(row(&text, "Mapping"), "address and port-dependent");
    assert_eq!(row(&text, "Filtering"), "address and port-dependent");
    assert_eq!(row(&text, "Hairpinning"), "no");
    assert_eq!(row(&text, "Port preservation"), "no");
    assert_eq!(row(&text, "Port allocation"), "sequential, +1");
    assert_eq!(row(&text, "Local address"), "192.168.1.10:40000");
    assert_eq!(row(&text, "Mapped address"), "203.0.113.7:20001");
    let text = render(&testing::report(
        testing::classified(ClassicNatType::RestrictedCone),
        testing::no_ipv6(),
    ));
    assert_eq!(row(&text, "Mapping"), "endpoint-independent");
    assert_eq!(row(&text, "Filtering"), "address-dependent");
    assert_eq!(row(&text, "Port allocation"), "preserving");
    let random = PortAllocation {
        kind: PortAllocationKind::Random,
        delta: None,
    };
    assert_eq!(allocation_words(random), "random");
    let down = PortAllocation {
        kind: PortAllocationKind::Sequential,
        delta: Some(-2),
    };
    assert_eq!(allocation_words(down), "sequential, -2");
}

#[test]
fn unmeasured_fields_say_not_measured() {
    let mut family = testing::classified(ClassicNatType::PortRestrictedCone);
    family.mapping = None;
    family.filtering = None;
    family.hairpinning = None;
    family.port_preservation = None;
    family.port_allocation = None;
    family.local_address = None;
    family.mapped_address = None;
    family.servers_agree = None;
    family.servers[0].rtt_ms = None;
    let text = render(&testing::report(family, testing::no_ipv6()));
    for label in [
        "Mapping",
        "Filtering",
        "Hairpinning",
        "Port preservation",
        "Port allocation",
        "Local address",
        "Mapped address",
    ] {
        assert_eq!(row(&text, label), "not measured", "{label}");
    }
    assert!(row(&text, "Servers agree").starts_with("not measured"));
    assert!(text.contains("yes, RTT not measured"));
    assert!(text.contains("Hairpinning was not measured"));
    assert!(!text.contains("LAN addresses"));
    assert!(!text.contains("sequential"));
    assert!(!text.contains("preserving"));
}

#[test]
fn a_family_not_measured_takes_one_line() {
    let text = render(&testing::report(
        testing::classified(ClassicNatType::FullCone),
        testing::no_ipv6(),
    ));
    assert!(text.contains("\nIPv6: not measured: No IPv6 STUN server was given or resolved.\n"));
    assert!(!text.contains("\nIPv6\n"));
    assert!(!text.contains("IPv6 for a remote-assistance session"));
    assert!(!text.contains("IPv6: what to do"));

    let unavailable = FamilyReport::unmeasured(FamilyStatus::Unavailable, "");
    let mut report = testing::report(testing::classified(ClassicNatType::FullCone), unavailable);
    report.ipv6.notes.clear();
    let text = render(&report);
    assert!(text.contains("\nIPv6: not measured: no usable address or route of this family\n"));
    assert!(!text.contains("IPv6: what to do"));
}

#[test]
fn blocked_and_inconclusive_families_show_their_servers_and_notes() {
    let text = render(&testing::report(
        testing::udp_blocked(),
        testing::inconclusive(),
    ));
    assert_fits(&text, 80);
    assert_eq!(row(&text, "Status"), "no server answered");
    assert_eq!(row(&text, "NAT type"), "UDP blocked");
    assert!(
        text.contains("| 198.51.100.1:3478 | no     | unknown "),
        "{text}"
    );
    assert!(text.contains("  - 192.0.2.1:3478: no answer after 7 retransmissions\n"));
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(
        "- UDP is blocked over IPv4: ask the network admin to allow outbound UDP, or use a \
         relay."
    ));
    assert!(text.contains("\nIPv6\n"));
    assert!(text.contains("sent no OTHER-ADDRESS"));
    assert!(text.contains("Not measured: filtering."));
}

#[test]
fn disagreeing_servers_show_what_each_saw() {
    let mut family = testing::classified(ClassicNatType::Symmetric);
    family.servers_agree = Some(false);
    family.servers[1].classic = ClassicNatType::PortRestrictedCone;
    let mut ipv6 = testing::classified(ClassicNatType::OpenInternet);
    let long = "[2001:db8:1234:5678:9abc:def0:1234:5678]:65535";
    ipv6.servers[0].address = long.to_string();
    let text = render(&testing::report(family, ipv6));
    // The longest IPv6 endpoint fits on one line when servers agree.
    assert!(text.contains(&format!("| {long} |")), "{text}");
    assert_fits(&text, 80);
    assert_eq!(row(&text, "Servers agree"), "no");
    assert!(text.contains("Server saw"));
    assert!(text.contains("| symmetric NAT "), "{text}");
    assert!(text.contains("port-restricted"));
    assert!(text.contains("The servers disagreed"));
}

#[test]
fn a_note_shared_by_family_and_server_is_said_once() {
    let mut family = testing::udp_blocked();
    family
        .notes
        .push("no answer after 7 retransmissions".to_string());
    let text = render(&testing::report(family, testing::no_ipv6()));
    assert_eq!(text.matches("no answer after 7 retransmissions").count(), 1);
}

#[test]
fn colors_only_when_asked() {
    let report = testing::report(
        testing::classified(ClassicNatType::Symmetric),
        testing::no_ipv6(),
    );
    let plain = render_with(&report, &RenderOptions::default());
    assert_eq!(plain, render(&report));
    assert!(!plain.contains('\u{1b}'));
    let colored = render_with(
        &report,
        &RenderOptions {
            color: true,
            ..RenderOptions::default()
        },
    );
    assert!(colored.contains('\u{1b}'));
}

#[test]
fn verbose_adds_each_servers_details_and_quiet_keeps_the_verdict() {
    let report = testing::report(
        testing::classified(ClassicNatType::FullCone),
        testing::no_ipv6(),
    );
    let plain = render(&report);
    let verbose = render_with(
        &report,
        &RenderOptions {
            verbose: true,
            ..RenderOptions::default()
        },
    );
    assert!(!plain.contains("Each server:"), "{plain}");
    assert!(verbose.contains("Each server:"), "{verbose}");
    let server = &report.ipv4.servers[0];
    assert!(verbose.contains(&server.address), "{verbose}");
    assert!(verbose.contains("answered, RTT"), "{verbose}");
    let verdict = render_verdict(&report, &RenderOptions::default());
    assert!(verdict.starts_with("Verdict: "), "{verdict}");
    assert!(plain.contains(&verdict), "{plain}");
}

#[test]
fn hostile_input_never_panics_or_reaches_the_terminal() {
    let mut family = testing::classified(ClassicNatType::FullCone);
    family.servers[0].name = Some("evil\u{1b}[2J\nname".to_string());
    family.servers[0].rtt_ms = Some(f64::NAN);
    family.servers[1].rtt_ms = Some(-1.0);
    family.notes = vec!["x".repeat(300), "\u{7}bell\r\n".to_string(), String::new()];
    family.port_allocation = Some(PortAllocation {
        kind: PortAllocationKind::Sequential,
        delta: Some(i32::MIN),
    });
    let mut report = testing::report(family, testing::no_ipv6());
    report.ranat_version = "\u{1b}]0;title\u{7}".to_string();
    report.duration_ms = u64::MAX;
    for width in [0, 1, 10, 40, 80, 200] {
        let text = render_with(
            &report,
            &RenderOptions {
                width,
                color: false,
                verbose: true,
            },
        );
        assert!(!text.contains('\u{1b}'));
        assert!(!text.contains('\u{7}'));
        assert!(!text.contains('\r'));
        assert!(width < 80 || text.contains("RTT invalid"), "{text}");
    }
}

#[test]
fn the_duration_is_in_ms_under_a_second_then_in_tenths() {
    assert_eq!(duration(999), "took 999 ms");
    assert_eq!(duration(2345), "took 2.3 s");
}

#[test]
fn names_that_did_not_resolve_take_a_line_each_in_their_familys_words() {
    use crate::report::testing::{dns_silent, unresolved};
    use crate::report::{DnsFailure, Family};
    let report = testing::report(
        dns_silent(Family::Ipv4, true),
        dns_silent(Family::Ipv6, true),
    );
    let text = render(&report);
    assert_fits(&text, 80);
    assert!(
        text.contains(
            "\nIPv4: not measured: no server name resolved to an IPv4 address: DNS does not\n  \
             work on this network\n  \
             - stun.example.org: no address (DNS gave no answer to the A lookup)\n  \
             - stun.example.net:3478: no address (DNS gave no answer to the A lookup)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  - stun.example.org: no address (DNS gave no answer to the AAAA lookup)\n")
    );
    assert!(!text.contains("Query") && !text.contains('{'), "{text}");
    assert!(text.contains("Verdict: Names do not resolve"), "{text}");
    assert!(text.contains("IPv4: what to do"), "{text}");
    assert!(!text.contains("UDP"), "{text}");
    let quiet = render_verdict(&report, &RenderOptions::default());
    assert!(quiet.starts_with("Verdict: Names do not resolve: this machine is offline"));

    let offline = testing::report(
        dns_silent(Family::Ipv4, false),
        testing::skipped("not probed (-4)"),
    );
    let text = render(&offline);
    assert!(
        text.contains("\nIPv4: not measured: this host has no IPv4 route: no network over IPv4\n"),
        "{text}"
    );
    assert!(
        text.contains("Verdict: This machine has no network: no default route (IPv4)"),
        "{text}"
    );

    // Beside servers that answered: a note, and the servers' summary.
    let mut ipv4 = testing::classified(ClassicNatType::PortRestrictedCone);
    ipv4.unresolved
        .push(unresolved("stun.example.com", DnsFailure::NoAnswer));
    let text = render(&testing::report(ipv4, testing::no_ipv6()));
    assert_fits(&text, 80);
    assert!(
        text.contains(
            "Notes:\n  - stun.example.com: no address (DNS gave no answer to the A lookup)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\nReaching the servers:\n  - Some servers answered and others did not"),
        "{text}"
    );
}

#[test]
fn the_binding_lifetime_shows_only_when_measured_and_says_why_not() {
    let plain = render(&testing::report(
        testing::classified(ClassicNatType::PortRestrictedCone),
        testing::no_ipv6(),
    ));
    assert!(!plain.contains("Binding lifetime"), "{plain}");
    let server: std::net::SocketAddr = "198.51.100.1:3478".parse().unwrap();
    let result = |outcome| crate::proto::nat::LifetimeResult {
        server,
        bound: std::time::Duration::from_secs(180),
        outcome,
        probes: 30,
        rounds: 2,
        notes: Vec::new(),
    };
    let shown = |result: &crate::proto::nat::LifetimeResult| {
        let mut ipv4 = testing::classified(ClassicNatType::PortRestrictedCone);
        ipv4.binding_lifetime = Some(BindingLifetime::from_result(result, 20_000));
        render(&testing::report(ipv4, testing::no_ipv6()))
    };
    let measured = shown(&result(LifetimeOutcome::Measured {
        alive: std::time::Duration::from_millis(7_780),
        expired: std::time::Duration::from_millis(8_004),
    }));
    assert_fits(&measured, 80);
    assert_eq!(
        row(&measured, "Binding lifetime"),
        "expires after 7.8–8.0 s idle"
    );
    let longer = shown(&result(LifetimeOutcome::Longer {
        alive: std::time::Duration::from_secs(180),
    }));
    assert_eq!(
        row(&longer, "Binding lifetime"),
        "more than 180.0 s (the longest wait tested)"
    );
    let ignored = shown(&result(LifetimeOutcome::NotMeasured {
        reason: "198.51.100.1:3478 ignores RESPONSE-PORT".into(),
    }));
    assert_eq!(row(&ignored, "Binding lifetime"), "not measured");
    assert!(
        ignored.contains("binding lifetime: 198.51.100.1:3478 ignores RESPONSE-PORT"),
        "{ignored}"
    );
}

#[test]
fn tcp_shows_only_when_measured_apart_from_udp() {
    use crate::proto::nat::{TcpAnswer, classify};
    let plain = render(&testing::report(
        testing::classified(ClassicNatType::PortRestrictedCone),
        testing::no_ipv6(),
    ));
    assert!(!plain.contains("TCP"), "{plain}");
    let addr = |s: &str| s.parse::<std::net::SocketAddr>().unwrap();
    let server = addr("198.51.100.1:3478");
    let mapped = |server: &str, public: &str| TcpAnswer::Mapped {
        server: addr(server),
        mapped: addr(public),
    };
    let shown = |answers: Vec<TcpAnswer>| {
        let outcome = classify(Some(addr("10.0.0.2:40000")), answers, None);
        let mut ipv4 = testing::classified(ClassicNatType::PortRestrictedCone);
        ipv4.tcp = Some(TcpBehavior::from_outcome(server, &outcome));
        render(&testing::report(ipv4, testing::no_ipv6()))
    };
    let cone = shown(vec![
        mapped("198.51.100.1:3478", "203.0.113.1:40000"),
        mapped("198.51.100.2:3478", "203.0.113.1:40000"),
        mapped("198.51.100.2:3479", "203.0.113.1:40000"),
    ]);
    assert_fits(&cone, 80);
    assert_eq!(
        row(&cone, "TCP (RFC 5382)"),
        "endpoint-independent, port preserved"
    );
    assert!(cone.contains("simultaneous open possible"), "{cone}");
    let silent = shown(vec![TcpAnswer::NoConnection { server }]);
    assert_eq!(row(&silent, "TCP (RFC 5382)"), "mapping unknown");
    assert!(silent.contains("simultaneous open unknown"), "{silent}");
    assert!(
        silent.contains("TCP: the server answered no Binding request over TCP"),
        "{silent}"
    );
}
