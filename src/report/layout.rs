//! What every table of the human report shares: the layout options, a
//! table in the report's style, and text cleaned of control characters and
//! wrapped to the terminal width.

use comfy_table::{ContentArrangement, Table, presets};

/// How to lay out the human report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// The terminal width in columns that tables and text wrap to.
    pub width: u16,
    /// Whether to color table cells with ANSI escapes; pass true only when
    /// stdout is a terminal.
    pub color: bool,
    /// Whether to add each server's details (`--verbose`).
    pub verbose: bool,
}

impl Default for RenderOptions {
    /// 80 columns, no colors, no details: deterministic output for pipes, files and tests.
    fn default() -> Self {
        Self {
            width: 80,
            color: false,
            verbose: false,
        }
    }
}

/// An empty table in the report's style: condensed ASCII borders, wrapped
/// to `options.width`, styled only when colour is asked for.
pub(super) fn new_table(options: &RenderOptions) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::ASCII_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .force_no_tty()
        .set_width(options.width);
    if options.color {
        table.enforce_styling();
    }
    table
}

/// Replaces control characters (a terminal escape from a server name or a
/// note, a stray newline) with spaces.
pub(super) fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Each item as a "  - " bullet, wrapped with a hanging indent.
pub(super) fn bullets(items: &[String], width: usize) -> String {
    items
        .iter()
        .map(|item| wrap(item, width, "  - ", "    "))
        .collect()
}

/// Greedy word wrap to `width` columns, `first` before the first line and
/// `rest` before the others; a word longer than a line gets a line of its
/// own. Ends with a newline.
pub(super) fn wrap(text: &str, width: usize, first: &str, rest: &str) -> String {
    let text = clean(text);
    let mut out = String::new();
    let mut line = String::from(first);
    let mut line_len = first.chars().count();
    let mut empty = true;
    for word in text.split_whitespace() {
        let word_len = word.chars().count();
        if !empty && line_len + 1 + word_len > width {
            out.push_str(&line);
            out.push('\n');
            line = String::from(rest);
            line_len = rest.chars().count();
            empty = true;
        }
        if !empty {
            line.push(' ');
            line_len += 1;
        }
        line.push_str(word);
        line_len += word_len;
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_spaces_with_a_hanging_indent() {
        assert_eq!(wrap("aaa bbb ccc", 8, "- ", "  "), "- aaa\n  bbb\n  ccc\n");
        assert_eq!(wrap("", 8, "- ", "  "), "-\n");
        assert_eq!(wrap("toolongword x", 4, "", ""), "toolongword\nx\n");
    }
}
