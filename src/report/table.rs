//! The human probe report: per measured family a table of results and a
//! table of the servers behind them, then the verdict line and the advice,
//! laid out for an 80-column terminal.

use comfy_table::{Cell, Color};

use crate::proto::nat::PortAllocationKind;
use crate::proto::nat::{ClassicNatType, FilteringBehavior, MappingBehavior, PortAllocation};

use super::advice::{Family, advise_family, verdict_line};
use super::family::{FamilyReport, FamilyStatus, ServerReport};
use super::gateway_view::{gateway_advice, render_gateway};
use super::layout::{RenderOptions, bullets, clean, new_table, wrap};
use super::model::ProbeReport;
use super::teredo_view::{render_teredo, teredo_advice};

/// Renders the report for humans with [`RenderOptions::default`]: 80 columns,
/// no colors.
pub fn render(report: &ProbeReport) -> String {
    render_with(report, &RenderOptions::default())
}

/// Renders the report for humans: the families (a family that was not
/// measured takes one line), then the verdict line and the advice.
pub fn render_with(report: &ProbeReport, options: &RenderOptions) -> String {
    let width = usize::from(options.width);
    let mut out = String::new();
    out.push_str(&wrap(
        &format!(
            "ranat {} probe report, {}",
            report.ranat_version,
            duration(report.duration_ms)
        ),
        width,
        "",
        "",
    ));
    for family in Family::ALL {
        out.push('\n');
        out.push_str(&render_family(family, family.of(report), options));
    }
    out.push('\n');
    out.push_str(&render_gateway(
        &report.port_mapping,
        &report.topology,
        options,
    ));
    out.push('\n');
    out.push_str(&render_teredo(&report.teredo, options));
    out.push('\n');
    out.push_str(&wrap(
        &format!("Verdict: {}", verdict_line(report)),
        width,
        "",
        "  ",
    ));
    for family in Family::ALL {
        let measured = family.of(report);
        let advice = advise_family(family, measured);
        // A family compressed to one line already said why it was not
        // measured; only its actions are new.
        let meaning = if compressed(measured.status) {
            &[][..]
        } else {
            &advice.meaning[..]
        };
        if !meaning.is_empty() {
            out.push('\n');
            out.push_str(&format!(
                "{} for a remote-assistance session:\n",
                family.name()
            ));
            out.push_str(&bullets(meaning, width));
        }
        if !advice.actions.is_empty() {
            out.push('\n');
            out.push_str(&format!("{}: what to do\n", family.name()));
            out.push_str(&bullets(&advice.actions, width));
        }
    }
    let gateway = gateway_advice(&report.port_mapping, &report.topology);
    if !gateway.is_empty() {
        out.push_str("\nPort mapping and NAT layers:\n");
        out.push_str(&bullets(&gateway, width));
    }
    let teredo = teredo_advice(&report.teredo, &report.port_mapping);
    if !teredo.is_empty() {
        out.push_str("\nTeredo:\n");
        out.push_str(&bullets(&teredo, width));
    }
    out
}

/// Whether a family is shown as one line: it was not measured at all.
fn compressed(status: FamilyStatus) -> bool {
    matches!(status, FamilyStatus::NoServer | FamilyStatus::Unavailable)
}

fn render_family(family: Family, report: &FamilyReport, options: &RenderOptions) -> String {
    let width = usize::from(options.width);
    let name = family.name();
    if compressed(report.status) {
        let why = if report.notes.is_empty() {
            status_words(report.status).to_string()
        } else {
            report.notes.join(" ")
        };
        return wrap(&format!("{name}: not measured: {why}"), width, "", "  ");
    }

    let mut out = format!("{name}\n");
    let mut rows: Vec<(&str, Cell)> = vec![
        ("Status", Cell::new(status_words(report.status))),
        ("NAT type", nat_type_cell(report.classic, options.color)),
    ];
    if report.status != FamilyStatus::UdpBlocked {
        rows.extend([
            ("Mapping", Cell::new(opt(report.mapping.map(mapping_words)))),
            (
                "Filtering",
                Cell::new(opt(report.filtering.map(filtering_words))),
            ),
            (
                "Hairpinning",
                Cell::new(opt(report.hairpinning.map(yes_no))),
            ),
            (
                "Port preservation",
                Cell::new(opt(report.port_preservation.map(yes_no))),
            ),
            (
                "Port allocation",
                Cell::new(opt(report.port_allocation.map(allocation_words))),
            ),
        ]);
    }
    rows.push((
        "Local address",
        Cell::new(opt(report.local_address.as_deref())),
    ));
    if report.status != FamilyStatus::UdpBlocked {
        rows.extend([
            (
                "Mapped address",
                Cell::new(opt(report.mapped_address.as_deref())),
            ),
            (
                "Servers agree",
                Cell::new(match report.servers_agree {
                    Some(agree) => yes_no(agree).to_string(),
                    None => "not measured (needs two behaviour-capable servers)".to_string(),
                }),
            ),
        ]);
    }
    let mut table = new_table(options);
    for (label, value) in rows {
        table.add_row(vec![Cell::new(label), value]);
    }
    out.push_str(&table.to_string());
    out.push('\n');

    if report.servers.is_empty() {
        out.push_str("Servers: none\n");
    } else {
        // What each server saw matters only when they disagree.
        let disagree = report.servers_agree == Some(false);
        let mut servers = new_table(options);
        let mut header = vec!["Server", "Answer", "Behaviour\ntests"];
        if disagree {
            header.push("Server saw");
        }
        servers.set_header(header);
        for server in &report.servers {
            servers.add_row(server_row(server, disagree));
        }
        out.push_str(&servers.to_string());
        out.push('\n');
    }

    // A server's note may already be among the family's notes; say it once.
    let mut notes = report.notes.clone();
    for server in &report.servers {
        for note in &server.notes {
            if !report.notes.contains(note) {
                notes.push(format!("{}: {note}", server.address));
            }
        }
    }
    if !notes.is_empty() {
        out.push_str("Notes:\n");
        out.push_str(&bullets(&notes, width));
    }
    out
}

fn server_row(server: &ServerReport, with_view: bool) -> Vec<Cell> {
    let name = match &server.name {
        Some(name) => format!("{}\n{}", clean(name), clean(&server.address)),
        None => clean(&server.address),
    };
    let answer = match (server.reachable, server.rtt_ms) {
        (false, _) => "no".to_string(),
        (true, Some(ms)) if ms.is_finite() && ms >= 0.0 => format!("yes, {ms:.1} ms"),
        (true, Some(_)) => "yes, RTT invalid".to_string(),
        (true, None) => "yes, RTT not measured".to_string(),
    };
    let (behaviour, saw) = if server.reachable {
        (yes_no(server.behavior_capable), server.classic.label())
    } else {
        ("unknown", "not measured")
    };
    let mut row = vec![Cell::new(name), Cell::new(answer), Cell::new(behaviour)];
    if with_view {
        row.push(Cell::new(saw));
    }
    row
}

fn nat_type_cell(classic: ClassicNatType, color: bool) -> Cell {
    let cell = Cell::new(classic.label());
    if !color {
        return cell;
    }
    match classic {
        c if c.is_traversal_friendly() => cell.fg(Color::Green),
        ClassicNatType::Symmetric => cell.fg(Color::Yellow),
        ClassicNatType::UdpBlocked => cell.fg(Color::Red),
        _ => cell,
    }
}

fn status_words(status: FamilyStatus) -> &'static str {
    match status {
        FamilyStatus::Ok => "classified",
        FamilyStatus::NoServer => "no server of this family was given or resolved",
        FamilyStatus::UdpBlocked => "no server answered",
        FamilyStatus::Inconclusive => "inconclusive",
        FamilyStatus::Unavailable => "no usable address or route of this family",
    }
}

/// RFC 4787 §4.1 words.
fn mapping_words(mapping: MappingBehavior) -> String {
    match mapping {
        MappingBehavior::EndpointIndependent => "endpoint-independent",
        MappingBehavior::AddressDependent => "address-dependent",
        MappingBehavior::AddressAndPortDependent => "address and port-dependent",
    }
    .to_string()
}

/// RFC 4787 §5 words.
fn filtering_words(filtering: FilteringBehavior) -> String {
    match filtering {
        FilteringBehavior::EndpointIndependent => "endpoint-independent",
        FilteringBehavior::AddressDependent => "address-dependent",
        FilteringBehavior::AddressAndPortDependent => "address and port-dependent",
    }
    .to_string()
}

fn allocation_words(allocation: PortAllocation) -> String {
    match (allocation.kind, allocation.delta) {
        (PortAllocationKind::Preserving, _) => "preserving".to_string(),
        (PortAllocationKind::Sequential, Some(delta)) => format!("sequential, {delta:+}"),
        (PortAllocationKind::Sequential, None) => "sequential".to_string(),
        (PortAllocationKind::Random, _) => "random".to_string(),
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// A measured value, or "not measured".
fn opt(value: Option<impl AsRef<str>>) -> String {
    value.map_or_else(|| "not measured".to_string(), |v| clean(v.as_ref()))
}

fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("took {ms} ms")
    } else {
        // Tenths of a second, in integers: no float rounding surprises.
        format!("took {}.{} s", ms / 1000, ms % 1000 / 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{self, CLASSIFIED};

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
            let report = fixtures::report(fixtures::classified(classic), fixtures::no_ipv6());
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
        let text = render(&fixtures::report(
            fixtures::classified(ClassicNatType::Symmetric),
            fixtures::no_ipv6(),
        ));
        assert_eq!(row(&text, "Mapping"), "address and port-dependent");
        assert_eq!(row(&text, "Filtering"), "address and port-dependent");
        assert_eq!(row(&text, "Hairpinning"), "no");
        assert_eq!(row(&text, "Port preservation"), "no");
        assert_eq!(row(&text, "Port allocation"), "sequential, +1");
        assert_eq!(row(&text, "Local address"), "192.168.1.10:40000");
        assert_eq!(row(&text, "Mapped address"), "203.0.113.7:20001");
        let text = render(&fixtures::report(
            fixtures::classified(ClassicNatType::RestrictedCone),
            fixtures::no_ipv6(),
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
        let mut family = fixtures::classified(ClassicNatType::PortRestrictedCone);
        family.mapping = None;
        family.filtering = None;
        family.hairpinning = None;
        family.port_preservation = None;
        family.port_allocation = None;
        family.local_address = None;
        family.mapped_address = None;
        family.servers_agree = None;
        family.servers[0].rtt_ms = None;
        let text = render(&fixtures::report(family, fixtures::no_ipv6()));
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
        let text = render(&fixtures::report(
            fixtures::classified(ClassicNatType::FullCone),
            fixtures::no_ipv6(),
        ));
        assert!(
            text.contains("\nIPv6: not measured: No IPv6 STUN server was given or resolved.\n")
        );
        assert!(!text.contains("\nIPv6\n"));
        assert!(!text.contains("IPv6 for a remote-assistance session"));
        assert!(!text.contains("IPv6: what to do"));

        let unavailable = FamilyReport::unmeasured(FamilyStatus::Unavailable, "");
        let mut report =
            fixtures::report(fixtures::classified(ClassicNatType::FullCone), unavailable);
        report.ipv6.notes.clear();
        let text = render(&report);
        assert!(text.contains("\nIPv6: not measured: no usable address or route of this family\n"));
        assert!(!text.contains("IPv6: what to do"));
    }

    #[test]
    fn blocked_and_inconclusive_families_show_their_servers_and_notes() {
        let text = render(&fixtures::report(
            fixtures::udp_blocked(),
            fixtures::inconclusive(),
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
        let mut family = fixtures::classified(ClassicNatType::Symmetric);
        family.servers_agree = Some(false);
        family.servers[1].classic = ClassicNatType::PortRestrictedCone;
        let mut ipv6 = fixtures::classified(ClassicNatType::OpenInternet);
        let long = "[2001:db8:1234:5678:9abc:def0:1234:5678]:65535";
        ipv6.servers[0].address = long.to_string();
        let text = render(&fixtures::report(family, ipv6));
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
        let mut family = fixtures::udp_blocked();
        family
            .notes
            .push("no answer after 7 retransmissions".to_string());
        let text = render(&fixtures::report(family, fixtures::no_ipv6()));
        assert_eq!(text.matches("no answer after 7 retransmissions").count(), 1);
    }

    #[test]
    fn colors_only_when_asked() {
        let report = fixtures::report(
            fixtures::classified(ClassicNatType::Symmetric),
            fixtures::no_ipv6(),
        );
        let plain = render_with(&report, &RenderOptions::default());
        assert_eq!(plain, render(&report));
        assert!(!plain.contains('\u{1b}'));
        let colored = render_with(
            &report,
            &RenderOptions {
                width: 80,
                color: true,
            },
        );
        assert!(colored.contains('\u{1b}'));
    }

    #[test]
    fn hostile_input_never_panics_or_reaches_the_terminal() {
        let mut family = fixtures::classified(ClassicNatType::FullCone);
        family.servers[0].name = Some("evil\u{1b}[2J\nname".to_string());
        family.servers[0].rtt_ms = Some(f64::NAN);
        family.servers[1].rtt_ms = Some(-1.0);
        family.notes = vec!["x".repeat(300), "\u{7}bell\r\n".to_string(), String::new()];
        family.port_allocation = Some(PortAllocation {
            kind: PortAllocationKind::Sequential,
            delta: Some(i32::MIN),
        });
        let mut report = fixtures::report(family, fixtures::no_ipv6());
        report.ranat_version = "\u{1b}]0;title\u{7}".to_string();
        report.duration_ms = u64::MAX;
        for width in [0, 1, 10, 40, 80, 200] {
            let text = render_with(
                &report,
                &RenderOptions {
                    width,
                    color: false,
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
}
