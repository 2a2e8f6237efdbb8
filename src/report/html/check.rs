//! The check's page: the two headlines (Windows Remote Assistance and
//! ranat), the method-by-method grid, the live punch when there was one,
//! and each side's path.

use std::fmt::Write;

use super::probe::section;
use super::{Tone, escape, page, verdict_box};
use crate::predict::{Feasibility, Headline, Prediction};
use crate::report::model::ProbeReport;

/// What the live punch of `ranat check --via` gave, in words.
#[derive(Debug, Clone, Copy)]
pub struct LiveOutcome<'a> {
    pub connected: bool,
    pub words: &'a str,
}

/// The page of one check: `me` and `peer` name the two reports.
pub fn render_check_html(
    me: (&str, &ProbeReport),
    peer: (&str, &ProbeReport),
    prediction: &Prediction,
    live: Option<LiveOutcome<'_>>,
) -> String {
    let mut body = format!(
        "<h1>Will a session connect?</h1>\n<p class=\"meta\">{} and {}, as ranat {} predicts from both sides' probes</p>\n",
        escape(me.0),
        escape(peer.0),
        env!("CARGO_PKG_VERSION"),
    );
    body.push_str(&headline(
        "Windows Remote Assistance",
        &prediction.windows_remote_assistance,
    ));
    body.push_str(&headline("ranat", &prediction.ranat));
    if let Some(live) = live {
        let (tone, head) = if live.connected {
            (Tone::Good, "Live punch: connected")
        } else {
            (Tone::Bad, "Live punch: did not connect")
        };
        body.push_str(&verdict_box(tone, head, live.words));
    }

    body.push_str(
        "<h2>Method by method</h2>\n<table><tr><th>Method</th><th>Verdict</th><th>Why</th></tr>",
    );
    for verdict in &prediction.methods {
        let _ = write!(
            body,
            "<tr><th scope=\"row\">{}</th><td class=\"cell {}\">{}</td><td>{}</td></tr>",
            escape(verdict.method.label()),
            tone(verdict.feasibility).class(),
            escape(verdict.feasibility.label()),
            escape(&verdict.reason)
        );
    }
    body.push_str("</table>\n");

    for (name, report) in [me, peer] {
        let _ = writeln!(body, "<h2 class=\"side\">{}</h2>", escape(name));
        body.push_str(&section(report, 3));
    }
    page("ranat check", &body)
}

fn headline(engine: &str, headline: &Headline) -> String {
    verdict_box(
        tone(headline.connects),
        &format!("{engine}: {}", headline.summary),
        &headline.reason,
    )
}

/// A feasibility's tone.
fn tone(feasibility: Feasibility) -> Tone {
    match feasibility {
        Feasibility::Works => Tone::Good,
        Feasibility::Likely => Tone::Fair,
        Feasibility::Unlikely => Tone::Poor,
        Feasibility::Fails => Tone::Bad,
        Feasibility::Unknown => Tone::Unknown,
    }
}
