//! Text written into ranat's XML documents (invitation files, session
//! logs).

/// `text` as XML 1.0 attribute or element content: the five markup
/// characters and the three white-space controls as references (so that
/// an attribute's line breaks survive its normalization, XML 1.0 §3.3.3),
/// and characters XML 1.0 cannot carry at all (the other C0 controls, such
/// as ESC, and U+FFFE, U+FFFF; §2.2) as U+FFFD. The document stays
/// well-formed whatever the text.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_forbidden_characters_are_escaped_or_replaced() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
        assert_eq!(escape("one\ntwo\tthree\r"), "one&#10;two&#9;three&#13;");
        assert_eq!(escape("\u{1b}[31mred\u{0}"), "\u{fffd}[31mred\u{fffd}");
        assert_eq!(escape("naïve ✓"), "naïve ✓");
    }
}
