//! The Teredo section of the table, after `netsh interface teredo show
//! state`, and its advice.

use comfy_table::{Cell, Color};

use super::layout::{RenderOptions, bullets, clean, new_table, wrap};
use super::portmap::PortMappingReport;
use super::teredo::{Rfc6081Extension, TeredoReport, TeredoReportState};
use crate::proto::teredo::TeredoNat;

pub fn render_teredo(teredo: &TeredoReport, options: &RenderOptions) -> String {
    let width = usize::from(options.width);
    let existing = teredo
        .existing_interface
        .as_ref()
        .map(|i| format!("{}: {}", clean(&i.name), i.address));
    if teredo.state == TeredoReportState::Skipped {
        let mut line = format!("Teredo: not checked: {}", clean(&teredo.notes.join(" ")));
        if let Some(existing) = &existing {
            line.push_str(&format!(" (this host has a Teredo interface, {existing})"));
        }
        return wrap(&line, width, "", "  ");
    }
    let server = match (&teredo.server_name, teredo.server) {
        (Some(name), Some(addr)) => format!("{} ({addr})", clean(name)),
        (None, Some(addr)) => addr.to_string(),
        _ => "unknown".to_string(),
    };
    let mut out = format!("Teredo (server {server})\n");
    let mut table = new_table(options);
    let state = Cell::new(match teredo.state {
        TeredoReportState::Qualified => "qualified",
        TeredoReportState::Offline => "offline",
        TeredoReportState::Skipped => "not checked",
    });
    let state = match (options.color, teredo.state) {
        (true, TeredoReportState::Qualified) => state.fg(Color::Green),
        (true, TeredoReportState::Offline) => state.fg(Color::Red),
        _ => state,
    };
    table.add_row(vec![Cell::new("State"), state]);
    let mut row = |label: &str, value: String| {
        table.add_row(vec![Cell::new(label), Cell::new(value)]);
    };
    row("NAT", nat_words(teredo));
    row(
        "NAT special behaviour",
        format!(
            "UPnP: {}, port preserving: {}",
            yes_no(teredo.nat_special.upnp),
            yes_no(teredo.nat_special.port_preserving)
        ),
    );
    row("Local mapping", opt(teredo.local_mapping));
    row("External mapping", opt(teredo.external_mapping));
    row("Teredo address", opt(teredo.teredo_address));
    row(
        "Plain RFC 4380 client",
        match teredo.rfc4380_qualifies {
            Some(true) => "qualifies".to_string(),
            Some(false) => "does not qualify".to_string(),
            None => "unknown".to_string(),
        },
    );
    if !teredo.rfc6081_extensions.is_empty() {
        let labels: Vec<&str> = teredo
            .rfc6081_extensions
            .iter()
            .map(|e| e.label())
            .collect();
        row("RFC 6081 extensions", labels.join(", "));
    }
    if let Some(existing) = existing {
        row("Existing interface", existing);
    }
    out.push_str(&table.to_string());
    out.push('\n');
    if !teredo.notes.is_empty() {
        let notes: Vec<String> = teredo.notes.iter().map(|n| clean(n)).collect();
        out.push_str("Notes:\n");
        out.push_str(&bullets(&notes, width));
    }
    out
}

pub(super) fn nat_words(teredo: &TeredoReport) -> String {
    let ports = match (
        teredo.mapped_port_via_primary,
        teredo.mapped_port_via_secondary,
    ) {
        (Some(a), Some(b)) if a != b => {
            format!(" (the two server addresses saw ports {a} and {b})")
        }
        _ => String::new(),
    };
    let kind = match teredo.nat_type {
        Some(TeredoNat::Cone) if teredo.behind_nat == Some(false) => "none (cone)",
        Some(TeredoNat::Cone) => "cone",
        Some(TeredoNat::Restricted) => "restricted",
        Some(TeredoNat::Symmetric) => "symmetric",
        Some(TeredoNat::Unknown) | None => "unknown",
    };
    format!("{kind}{ports}")
}

fn yes_no(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not measured",
    }
}

fn opt(value: Option<impl std::fmt::Display>) -> String {
    value.map_or_else(|| "none".to_string(), |v| v.to_string())
}

/// What the Teredo result means for Remote Assistance.
pub fn teredo_advice(teredo: &TeredoReport, ports: &PortMappingReport) -> Vec<String> {
    let upnp_best = ports.best().is_some_and(|(name, _)| name == "UPnP");
    let mut advice = Vec::new();
    match (teredo.state, teredo.nat_type) {
        (TeredoReportState::Skipped, _) => {}
        (TeredoReportState::Offline, _) => advice.push(format!(
            "Teredo would not work: the Teredo server never answered on UDP port {} \
             (blocked here, or the server is down). Remote Assistance is left with IPv4, \
             IPv6 and UPnP.",
            teredo.server.map_or(3544, |s| s.port())
        )),
        (_, Some(TeredoNat::Symmetric)) => {
            let mut line =
                "Teredo would not qualify behind this symmetric NAT for a plain RFC 4380 \
                 client; Windows 7 and later keep the address (RFC 6081) but reach only peers \
                 behind cone or address-restricted NATs."
                    .to_string();
            if upnp_best
                || teredo
                    .rfc6081_extensions
                    .contains(&Rfc6081Extension::UpnpSymmetricNat)
            {
                line.push_str(" UPnP is your best bet.");
            }
            advice.push(line);
        }
        (_, Some(TeredoNat::Cone | TeredoNat::Restricted)) => advice.push(
            "Teredo qualifies: Remote Assistance can reach a helper over Teredo IPv6 unless \
             the helper is behind a symmetric NAT."
                .into(),
        ),
        (_, Some(TeredoNat::Unknown) | None) => advice.push(
            "Teredo answered, but its second address did not, so the NAT type as Teredo \
             sees it is unknown."
                .into(),
        ),
    }
    advice
}
