//! The human probe report: per measured family a table of results and a
//! table of the servers behind them, then the verdict line and the advice,
//! laid out for an 80-column terminal.

use comfy_table::{Cell, Color};

use crate::proto::nat::PortAllocationKind;
use crate::proto::nat::{ClassicNatType, FilteringBehavior, MappingBehavior, PortAllocation};

use super::address_family::Family;
use super::advice::{advise_family, first_hop_advice, verdict_line};
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
    let first_hop = first_hop_advice(report);
    if !first_hop.is_empty() {
        out.push_str("\nReaching the servers:\n");
        out.push_str(&bullets(&first_hop, width));
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
    out.push_str(&render_verdict(report, options));
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

/// The verdict line alone (`--quiet`).
pub fn render_verdict(report: &ProbeReport, options: &RenderOptions) -> String {
    wrap(
        &format!("Verdict: {}", verdict_line(report)),
        usize::from(options.width),
        "",
        "  ",
    )
}

/// Whether a family is shown as one line (and the names that gave no
/// address of it): it was not measured at all.
fn compressed(status: FamilyStatus) -> bool {
    matches!(
        status,
        FamilyStatus::NoServer | FamilyStatus::Unavailable | FamilyStatus::DnsFailed
    )
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
        let mut out = wrap(&format!("{name}: not measured: {why}"), width, "", "  ");
        out.push_str(&bullets(&unresolved_lines(family, report), width));
        return out;
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
    if let Some(lifetime) = &report.binding_lifetime {
        rows.push(("Binding lifetime", Cell::new(lifetime.words())));
    }
    if let Some(tcp) = &report.tcp {
        // The mapping on one line, the punch on the next: 80 columns.
        let summary = tcp.summary().replacen("; ", "\n", 1);
        rows.push(("TCP (RFC 5382)", Cell::new(summary)));
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
    notes.extend(unresolved_lines(family, report));
    if let Some(lifetime) = &report.binding_lifetime {
        notes.extend(
            lifetime
                .notes
                .iter()
                .map(|n| format!("binding lifetime: {n}")),
        );
    }
    if let Some(tcp) = &report.tcp {
        notes.extend(tcp.notes.iter().map(|n| format!("TCP: {n}")));
    }
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
    if options.verbose && !report.servers.is_empty() {
        out.push_str("Each server:\n");
        let details: Vec<String> = report.servers.iter().map(server_details).collect();
        out.push_str(&bullets(&details, width));
    }
    out
}

/// One line per server name that gave no address of this family:
/// "stun.example.org: no address (DNS gave no answer to the A lookup)".
fn unresolved_lines(family: Family, report: &FamilyReport) -> Vec<String> {
    report
        .unresolved
        .iter()
        .map(|u| clean(&u.line(family)))
        .collect()
}

/// Everything the report says of one server, in a sentence or two
/// (`--verbose`).
fn server_details(server: &ServerReport) -> String {
    let mut parts = vec![match &server.name {
        Some(name) => format!("{} ({})", server.address, name),
        None => server.address.clone(),
    }];
    parts.push(if server.reachable {
        "answered".to_string()
    } else {
        "did not answer".to_string()
    });
    if let Some(ms) = server.rtt_ms.filter(|ms| ms.is_finite() && *ms >= 0.0) {
        parts.push(format!("RTT {ms:.1} ms"));
    }
    if let Some(mapped) = &server.mapped_address {
        parts.push(format!("saw this host as {mapped}"));
    }
    if let Some(other) = &server.other_address {
        parts.push(format!("alternate address {other}"));
    }
    if server.reachable {
        parts.push(format!("saw {}", server.classic.label()));
    }
    let mut text = clean(&parts.join(", "));
    for note in &server.notes {
        text.push_str("; ");
        text.push_str(&clean(note));
    }
    text
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

pub(super) fn status_words(status: FamilyStatus) -> &'static str {
    match status {
        FamilyStatus::Ok => "classified",
        FamilyStatus::NoServer => "no server of this family was given or resolved",
        FamilyStatus::UdpBlocked => "no server answered",
        FamilyStatus::DnsFailed => "no server name resolved (DNS does not work here)",
        FamilyStatus::Inconclusive => "inconclusive",
        FamilyStatus::Unavailable => "no usable address or route of this family",
    }
}

/// RFC 4787 §4.1 words.
pub(super) fn mapping_words(mapping: MappingBehavior) -> String {
    mapping.words().to_string()
}

/// RFC 4787 §5 words.
pub(super) fn filtering_words(filtering: FilteringBehavior) -> String {
    match filtering {
        FilteringBehavior::EndpointIndependent => "endpoint-independent",
        FilteringBehavior::AddressDependent => "address-dependent",
        FilteringBehavior::AddressAndPortDependent => "address and port-dependent",
    }
    .to_string()
}

pub(super) fn allocation_words(allocation: PortAllocation) -> String {
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
mod tests;
