//! The table `ranat ticket inspect` prints.

use comfy_table::{ContentArrangement, Table, presets};

use super::ticket::{Moment, Source, TcpOutcome, TicketReport};
use super::ticket_reach::endpoint_text;
use crate::proto::ticket::TicketShape;

/// The report as text, `width` columns wide, at `now` (Unix seconds).
pub fn render_ticket(report: &TicketReport, width: u16, now: u64) -> String {
    let mut out = String::new();
    let line = |out: &mut String, label: &str, value: &str| {
        out.push_str(&format!("  {label:<14}{value}\n"));
    };
    out.push_str(match report.shape {
        TicketShape::Invitation => "Windows Remote Assistance invitation\n",
        TicketShape::ConnectionString2 => {
            "Windows Remote Assistance connection string 2 (as Offer Remote Assistance delivers it)\n"
        }
    });
    if let Some(name) = &report.username {
        line(&mut out, "From", name);
    }
    if let Some(made) = &report.created_at {
        line(&mut out, "Made", &local(made));
    }
    if let Some(minutes) = report.lifetime_minutes {
        line(&mut out, "Valid for", &span(minutes.saturating_mul(60)));
    }
    if let Some(expires) = &report.expires_at {
        let state = if expires.unix <= now {
            format!("EXPIRED {} ago", span(now - expires.unix))
        } else {
            format!("valid for another {}", span(expires.unix - now))
        };
        line(
            &mut out,
            "Expires",
            &format!("{} ({state})", local(expires)),
        );
    }
    if let Some(low) = report.low_speed {
        line(&mut out, "Low speed", if low { "asked for" } else { "no" });
    }
    if let Some(stub) = &report.pass_stub {
        line(&mut out, "PassStub", stub);
    }
    if let Some(lh) = report.lh_ticket {
        let state = if lh.decrypted {
            "decrypted with the password"
        } else {
            "encrypted (give --password)"
        };
        line(
            &mut out,
            "LHTICKET",
            &format!("{} bytes, {state}", lh.bytes),
        );
    }
    let session = report
        .connection_string2
        .as_ref()
        .and_then(|c| c.session_id.as_deref())
        .or(report
            .connection_string1
            .as_ref()
            .map(|c| c.session_id.as_str()));
    if let Some(id) = session {
        line(&mut out, "Session ID", id);
    }
    if let Some(proof) = &report.pass_stub_proof {
        line(&mut out, "Expert proof", proof);
    }
    out.push('\n');

    let mut table = Table::new();
    table
        .load_preset(presets::ASCII_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .force_no_tty()
        .set_width(width);
    let reached = report.reach.is_some();
    let mut header = vec!["Endpoint", "Kind", "From"];
    if reached {
        header.push("From this machine");
    }
    table.set_header(header);
    for e in &report.endpoints {
        let sources = e
            .sources
            .iter()
            .map(|s| match s {
                Source::Rcticket => "RCTICKET",
                Source::Lhticket => "LHTICKET",
                Source::ConnectionString2 => "string 2",
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut row = vec![endpoint_text(&e.address, e.port), e.kind.words(), sources];
        if let Some(reach) = &e.reach {
            let head = match &reach.outcome {
                None => "not tried",
                Some(TcpOutcome::Connected { .. }) => "CONNECTS",
                Some(TcpOutcome::Refused { .. }) => "refused",
                Some(TcpOutcome::TimedOut) => "no answer",
                Some(TcpOutcome::Failed { .. }) => "failed",
            };
            row.push(format!("{head}: {}", reach.why));
        } else if reached {
            row.push(String::new());
        }
        table.add_row(row);
    }
    if report.endpoints.is_empty() {
        out.push_str("No endpoint is readable.\n");
    } else {
        out.push_str(&table.to_string());
        out.push('\n');
    }
    if let Some(reach) = &report.reach {
        out.push('\n');
        out.push_str("Verdict: ");
        out.push_str(&reach.summary);
        out.push('\n');
    }
    for note in &report.notes {
        out.push_str(&format!("Note: {note}\n"));
    }
    out
}

/// A moment in this machine's time zone, as a person reads it.
fn local(moment: &Moment) -> String {
    moment.local.replacen('T', " ", 1)
}

/// A duration in days, hours and minutes.
fn span(seconds: u64) -> String {
    let minutes = seconds.div_ceil(60);
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours, minutes) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(59), "1 min");
        assert_eq!(span(3 * 3600), "3 h");
        assert_eq!(span(6 * 3600 + 120), "6 h 2 min");
        assert_eq!(span(10 * 86400 + 3600), "10 d 1 h");
    }
}
