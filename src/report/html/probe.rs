//! The probe's page: the verdict, the path picture per family, what it
//! means and what to do, then the details as tables.

use std::fmt::Write;

use super::path::{Hop, HopKind, svg};
use super::{Tone, escape, facts, list, page, verdict_box};
use crate::proto::nat::ClassicNatType;
use crate::report::Family;
use crate::report::advice::{advise_family, first_hop_advice, verdict_line};
use crate::report::family::{FamilyReport, FamilyStatus, Verdict};
use crate::report::gateway_view::{gateway_advice, status_words as mapping_status_words};
use crate::report::model::ProbeReport;
use crate::report::table::{allocation_words, filtering_words, mapping_words, status_words};
use crate::report::teredo::TeredoReportState;
use crate::report::teredo_view::{nat_words, teredo_advice};
use crate::report::topology::Topology;

/// The page of one probe report.
pub fn render_probe_html(report: &ProbeReport) -> String {
    let mut body = format!(
        "<h1>Network report</h1>\n<p class=\"meta\">ranat {} probe, {:.1} s</p>\n",
        escape(&report.ranat_version),
        report.duration_ms as f64 / 1000.0
    );
    body.push_str(&verdict_box(
        tone(report.verdict),
        verdict_head(report.verdict),
        &verdict_line(report),
    ));
    body.push_str(&section(report, 2));
    page("ranat network report", &body)
}

/// The verdict's tone.
pub(super) fn tone(verdict: Verdict) -> Tone {
    match verdict {
        Verdict::TraversalFriendly => Tone::Good,
        Verdict::Symmetric => Tone::Poor,
        Verdict::UdpBlocked | Verdict::DnsFailed | Verdict::NoNetwork => Tone::Bad,
        Verdict::Inconclusive => Tone::Unknown,
    }
}

fn verdict_head(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::TraversalFriendly => "Direct connections should work",
        Verdict::Symmetric => "Direct connections are hard",
        Verdict::UdpBlocked => "No UDP gets through",
        Verdict::Inconclusive => "Not enough was measured",
        Verdict::DnsFailed => "Names do not resolve",
        Verdict::NoNetwork => "No network",
    }
}

/// The picture, advice and details of one report (also one side of the
/// check's page), under headings of `level` and subheadings below them.
pub(super) fn section(report: &ProbeReport, level: u8) -> String {
    let (h, sub) = (level, level + 1);
    let mut out = format!("<h{h}>The path to the Internet</h{h}>\n");
    for family in Family::ALL {
        let _ = writeln!(out, "<h{sub}>{}</h{sub}>", family.name());
        out.push_str(&svg(
            &format!("{} path from this computer to the Internet", family.name()),
            &hops(family, report),
        ));
    }
    let first_hop = first_hop_advice(report);
    if !first_hop.is_empty() {
        let _ = writeln!(out, "<h{sub}>Reaching the servers</h{sub}>");
        out.push_str(&list(&first_hop));
    }

    let _ = writeln!(
        out,
        "<h{h}>What it means for a remote-assistance session</h{h}>"
    );
    for family in Family::ALL {
        let advice = advise_family(family, family.of(report));
        if advice.meaning.is_empty() && advice.actions.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<h{sub}>{}</h{sub}>\n{}",
            family.name(),
            list(&advice.meaning)
        );
        if !advice.actions.is_empty() {
            out.push_str("<p><strong>What to do:</strong></p>\n");
            out.push_str(&list(&advice.actions));
        }
    }
    let gateway = gateway_advice(&report.port_mapping, &report.topology);
    if !gateway.is_empty() {
        let _ = writeln!(out, "<h{sub}>Port mapping and NAT layers</h{sub}>");
        out.push_str(&list(&gateway));
    }
    let teredo = teredo_advice(&report.teredo, &report.port_mapping);
    if !teredo.is_empty() {
        let _ = writeln!(out, "<h{sub}>Teredo</h{sub}>");
        out.push_str(&list(&teredo));
    }

    let _ = writeln!(out, "<h{h}>Details</h{h}>");
    for family in Family::ALL {
        let _ = writeln!(out, "<h{sub}>{}</h{sub}>", family.name());
        out.push_str(&family_details(family, family.of(report)));
    }
    let _ = writeln!(out, "<h{sub}>Port mapping and NAT layers</h{sub}>");
    let ports = &report.port_mapping;
    out.push_str(&facts(&[
        (
            "Gateway",
            ports
                .gateway
                .map_or_else(|| "not found".into(), |g| g.to_string()),
        ),
        ("UPnP IGD", mapping_status_words(ports.upnp.status).into()),
        (
            ports.pcp.protocol.map_or("PCP / NAT-PMP", |p| p.name()),
            mapping_status_words(ports.pcp.status).into(),
        ),
        ("NAT layers", report.topology.finding.label().into()),
    ]));
    out.push_str(&list(&report.topology.evidence));
    let _ = writeln!(out, "<h{sub}>Teredo</h{sub}>");
    let teredo = &report.teredo;
    out.push_str(&facts(&[
        (
            "State",
            match teredo.state {
                TeredoReportState::Qualified => "qualified",
                TeredoReportState::Offline => "offline (did not qualify)",
                TeredoReportState::Skipped => "not checked",
            }
            .into(),
        ),
        ("NAT as Teredo sees it", nat_words(teredo)),
        (
            "Teredo address",
            teredo
                .teredo_address
                .map_or_else(|| "none".into(), |a| a.to_string()),
        ),
    ]));
    out
}

/// This host, the NAT layers, and the Internet, for one family.
fn hops(family: Family, report: &ProbeReport) -> Vec<Hop> {
    let measured = family.of(report);
    let host = Hop::new(
        HopKind::Host,
        "This computer",
        vec![
            measured
                .local_address
                .clone()
                .unwrap_or_else(|| "address not measured".into()),
        ],
    );
    let mut hops = vec![host];
    match measured.status {
        FamilyStatus::Unavailable | FamilyStatus::NoServer => {
            let why = measured
                .notes
                .first()
                .cloned()
                .unwrap_or_else(|| status_words(measured.status).to_string());
            hops.push(Hop::new(HopKind::Unmeasured, "Not measured", vec![why]));
            return hops;
        }
        FamilyStatus::UdpBlocked => {
            hops.push(Hop::new(
                HopKind::Blocked,
                "UDP blocked",
                vec!["no STUN server answered".into()],
            ));
            return hops;
        }
        FamilyStatus::DnsFailed => {
            hops.push(Hop::new(
                HopKind::Blocked,
                "DNS does not resolve",
                vec![format!(
                    "no {} lookup of a server name worked",
                    family.record_type()
                )],
            ));
            return hops;
        }
        FamilyStatus::Ok | FamilyStatus::Inconclusive => {}
    }
    let behaviour = behaviour_lines(measured);
    if family == Family::Ipv4 {
        let gateway_external = report
            .port_mapping
            .upnp
            .external_address
            .or(report.port_mapping.pcp.external_address)
            .map(|a| format!("its WAN: {a}"));
        match report.topology.finding {
            Topology::NoNat => {}
            Topology::SingleNat | Topology::Nat => {
                let mut lines = behaviour.clone();
                lines.extend(gateway_external.clone());
                hops.push(Hop::new(HopKind::Nat, "NAT (router)", lines));
            }
            Topology::DoubleNat | Topology::CarrierGradeNatLikely => {
                hops.push(Hop::new(
                    HopKind::Nat,
                    "Home router (NAT)",
                    gateway_external.into_iter().collect(),
                ));
                let outer = if report.topology.finding == Topology::DoubleNat {
                    "Second NAT"
                } else {
                    "Carrier-grade NAT (ISP)"
                };
                hops.push(Hop::new(HopKind::Nat, outer, behaviour.clone()));
            }
            Topology::Unknown => hops.push(Hop::new(HopKind::Nat, "NAT?", behaviour.clone())),
        }
    } else if measured.classic != ClassicNatType::OpenInternet {
        hops.push(Hop::new(HopKind::Nat, "Firewall or NAT", behaviour));
    }
    hops.push(Hop::new(
        HopKind::Internet,
        "The Internet",
        vec![format!(
            "sees {}",
            measured.mapped_address.as_deref().unwrap_or("nothing")
        )],
    ));
    hops
}

fn behaviour_lines(measured: &FamilyReport) -> Vec<String> {
    vec![
        measured.classic.label().to_string(),
        format!(
            "mapping: {}",
            measured
                .mapping
                .map_or("not measured".into(), mapping_words)
        ),
        format!(
            "filtering: {}",
            measured
                .filtering
                .map_or("not measured".into(), filtering_words)
        ),
    ]
}

fn family_details(family: Family, measured: &FamilyReport) -> String {
    let yes_no = |v: Option<bool>| match v {
        Some(true) => "yes".to_string(),
        Some(false) => "no".to_string(),
        None => "not measured".to_string(),
    };
    let mut out = facts(&[
        ("Status", status_words(measured.status).into()),
        ("NAT type", measured.classic.label().into()),
        (
            "Mapping (RFC 4787)",
            measured
                .mapping
                .map_or("not measured".into(), mapping_words),
        ),
        (
            "Filtering (RFC 4787)",
            measured
                .filtering
                .map_or("not measured".into(), filtering_words),
        ),
        ("Hairpinning", yes_no(measured.hairpinning)),
        ("Port preservation", yes_no(measured.port_preservation)),
        (
            "Port allocation",
            measured
                .port_allocation
                .map_or("not measured".into(), allocation_words),
        ),
        (
            "Local address",
            measured.local_address.clone().unwrap_or_default(),
        ),
        (
            "Address the Internet sees",
            measured.mapped_address.clone().unwrap_or_default(),
        ),
    ]);
    let mut measured_apart = Vec::new();
    if let Some(lifetime) = &measured.binding_lifetime {
        measured_apart.push(("Binding lifetime (RFC 5780 §4.6)", lifetime.words()));
    }
    if let Some(tcp) = &measured.tcp {
        measured_apart.push(("TCP (RFC 5382)", tcp.summary()));
    }
    if !measured_apart.is_empty() {
        out.push_str(&facts(&measured_apart));
    }
    if !measured.servers.is_empty() {
        out.push_str(
            "<table><tr><th>Server</th><th>Answered</th><th>Round trip</th><th>Saw</th><th>Notes</th></tr>",
        );
        for s in &measured.servers {
            let name = match &s.name {
                Some(n) => format!("{n} ({})", s.address),
                None => s.address.clone(),
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&name),
                if s.reachable { "yes" } else { "no" },
                s.rtt_ms.map_or(String::new(), |r| format!("{r:.1} ms")),
                escape(s.mapped_address.as_deref().unwrap_or("")),
                escape(&s.notes.join(" "))
            );
        }
        out.push_str("</table>\n");
    }
    let unresolved: Vec<String> = measured.unresolved.iter().map(|u| u.line(family)).collect();
    out.push_str(&list(&unresolved));
    out.push_str(&list(&measured.notes));
    out
}
