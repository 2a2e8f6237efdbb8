//! The picture of a path: this host, the NAT layers the probe found, and
//! the Internet, left to right, as inline SVG.

use std::fmt::Write;

use super::escape;

/// One box of the picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub title: String,
    pub lines: Vec<String>,
    pub kind: HopKind,
}

/// How a box is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopKind {
    Host,
    Nat,
    Internet,
    /// Where the path ends: nothing answered beyond it.
    Blocked,
    /// Not measured.
    Unmeasured,
}

impl Hop {
    pub fn new(kind: HopKind, title: &str, lines: Vec<String>) -> Self {
        Self {
            title: title.to_string(),
            lines,
            kind,
        }
    }
}

const WIDTH: usize = 290;
const GAP: usize = 56;
const LINE: usize = 18;

/// The hops as one SVG picture with `label` as its accessible name.
pub fn svg(label: &str, hops: &[Hop]) -> String {
    let lines = hops.iter().map(|h| h.lines.len()).max().unwrap_or(0);
    let height = 40 + LINE * lines;
    let total = hops.len() * WIDTH + hops.len().saturating_sub(1) * GAP + 4;
    let mut out = format!(
        "<svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {total} {}\" width=\"{total}\" height=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#7b8794\"/></marker></defs>",
        escape(label),
        height + 4,
        height + 4,
    );
    for (i, hop) in hops.iter().enumerate() {
        let x = 2 + i * (WIDTH + GAP);
        let class = match hop.kind {
            HopKind::Host => "box",
            HopKind::Nat => "box nat",
            HopKind::Internet => "box net",
            HopKind::Blocked => "box gone",
            HopKind::Unmeasured => "box off",
        };
        let _ = write!(
            out,
            "<rect class=\"{class}\" x=\"{x}\" y=\"2\" width=\"{WIDTH}\" height=\"{height}\" rx=\"8\"/>\
             <text class=\"title\" x=\"{}\" y=\"26\">{}</text>",
            x + 12,
            escape(&clip(&hop.title))
        );
        for (n, line) in hop.lines.iter().enumerate() {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\">{}</text>",
                x + 12,
                26 + LINE * (n + 1),
                escape(&clip(line))
            );
        }
        if i + 1 < hops.len() {
            let y = 2 + height / 2;
            let _ = write!(
                out,
                "<line class=\"arrow\" x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/>",
                x + WIDTH + 4,
                x + WIDTH + GAP - 6
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

/// A line short enough for its box (about 38 characters at 13 px).
fn clip(text: &str) -> String {
    const MAX: usize = 38;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let mut out: String = text.chars().take(MAX - 1).collect();
    out.push('…');
    out
}
