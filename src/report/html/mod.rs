//! The visual report: one self-contained HTML page (inline CSS and SVG, no
//! script, nothing fetched) that a help-desk agent opens in any browser or
//! attaches to a ticket. `ranat probe --html` and `ranat check --html`
//! write it.

mod check;
mod path;
mod probe;

pub use check::{LiveOutcome, render_check_html};
pub use probe::render_probe_html;

use std::fmt::Write;

/// The page's style: readable at any width, printable, and coloured by
/// meaning (good, fair, poor, bad, unknown), never by colour alone: every
/// coloured cell also says its verdict in words.
const STYLE: &str = "
:root { --good: #1b7f3b; --good-bg: #dff3e4; --fair: #4d7a14; --fair-bg: #eef6d8;
  --poor: #9a5b00; --poor-bg: #fdefd3; --bad: #a4161a; --bad-bg: #fbe0e0;
  --none: #555; --none-bg: #eceff1; --ink: #1d2329; --line: #c9d1d9; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: var(--ink);
  margin: 0 auto; max-width: 1100px; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 4px; }
h2.side { margin-top: 40px; }
.meta { color: var(--none); margin: 0; }
.verdict { border-radius: 8px; padding: 14px 18px; margin: 18px 0; font-size: 17px; border-left: 8px solid; }
.good { background: var(--good-bg); border-color: var(--good); color: var(--good); }
.fair { background: var(--fair-bg); border-color: var(--fair); color: var(--fair); }
.poor { background: var(--poor-bg); border-color: var(--poor); color: var(--poor); }
.bad { background: var(--bad-bg); border-color: var(--bad); color: var(--bad); }
.none { background: var(--none-bg); border-color: var(--none); color: var(--none); }
.verdict p { margin: 0; color: var(--ink); }
.verdict strong { display: block; margin-bottom: 4px; }
table { border-collapse: collapse; margin: 6px 0 12px; width: 100%; }
th, td { border: 1px solid var(--line); padding: 5px 9px; text-align: left; vertical-align: top; }
th { background: #f4f6f8; font-weight: 600; }
td.cell { font-weight: 600; white-space: nowrap; border-color: var(--line); }
ul { margin: 4px 0 10px; padding-left: 22px; }
svg { max-width: 100%; height: auto; }
svg text { font: 13px system-ui, sans-serif; fill: var(--ink); }
svg .title { font-weight: 700; }
svg .box { fill: #f7f9fb; stroke: #7b8794; stroke-width: 1.5; }
svg .nat { fill: var(--poor-bg); stroke: var(--poor); }
svg .net { fill: var(--good-bg); stroke: var(--good); }
svg .gone { fill: var(--bad-bg); stroke: var(--bad); }
svg .off { fill: var(--none-bg); stroke: var(--none); stroke-dasharray: 5 4; }
svg .arrow { stroke: #7b8794; stroke-width: 2; marker-end: url(#arrow); }
footer { margin-top: 32px; color: var(--none); font-size: 13px; }
code { font-family: ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace; }
";

/// A verdict's tone: which colour class shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Fair,
    Poor,
    Bad,
    Unknown,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::Fair => "fair",
            Self::Poor => "poor",
            Self::Bad => "bad",
            Self::Unknown => "none",
        }
    }
}

/// `text` safe inside HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The whole page around `body`.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\
         <footer>Written by ranat {}. Every statement on this page comes from a measurement \
         ranat made; what was not measured says so.</footer>\n</body>\n</html>\n",
        escape(title),
        env!("CARGO_PKG_VERSION"),
    )
}

/// The verdict box.
fn verdict_box(tone: Tone, head: &str, text: &str) -> String {
    format!(
        "<section class=\"verdict {}\"><strong>{}</strong><p>{}</p></section>\n",
        tone.class(),
        escape(head),
        escape(text)
    )
}

/// A bulleted list; nothing when `items` is empty.
fn list(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut out = String::from("<ul>");
    for item in items {
        let _ = write!(out, "<li>{}</li>", escape(item));
    }
    out.push_str("</ul>\n");
    out
}

/// A two-column table of labels and values.
fn facts(rows: &[(&str, String)]) -> String {
    let mut out = String::from("<table>");
    for (label, value) in rows {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            escape(label),
            escape(value)
        );
    }
    out.push_str("</table>\n");
    out
}

#[cfg(test)]
mod tests;
