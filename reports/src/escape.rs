//! Escaping for every format a report writes text from a scenario into: names,
//! descriptions, the scenario's own text and error messages are someone else's words, and a
//! report is opened by people who did not write them. XML (and so SVG and HTML) gets its
//! five special characters as entities and control characters replaced; Markdown gets its
//! punctuation backslash-escaped and its angle brackets as entities; a CSV cell that a
//! spreadsheet would run as a formula is neutralised (OWASP's "CSV injection" advice: a
//! leading `'`).

/// `text` safe inside XML or HTML text and attribute values (quoted with `"` or `'`).
/// Characters XML 1.0 forbids (controls other than tab, line feed and carriage return) become
/// U+FFFD.
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// `text` as literal Markdown inline text, never at the start of a line (also inside a
/// table cell): the punctuation that Markdown acts on inside a line escaped (emphasis, code,
/// links and images, tables, strike-through), `<` and `>` as entities (no raw HTML), `&`
/// too (no entity of the author's), line breaks as spaces.
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' | '\t' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A CSV cell that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`,
/// a tab or a carriage return) gets a leading `'`, which spreadsheets show as text; so does
/// one that already starts with quotes before such a character, so that `csv_cell_read`
/// gives back exactly the name. Numbers are written by the program, never through this.
pub fn csv_cell(text: &str) -> std::borrow::Cow<'_, str> {
    if formula_like(text) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// The name a `csv_cell` was made from.
pub fn csv_cell_read(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if formula_like(rest) => rest,
        _ => cell,
    }
}

fn formula_like(text: &str) -> bool {
    matches!(text.trim_start_matches('\'').chars().next(), Some('=' | '+' | '-' | '@' | '\t' | '\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_keeps_markup_as_text() {
        assert_eq!(
            xml(r#"<script>alert("x&y")</script>'"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"
        );
        assert_eq!(xml("a\u{1}b\tc\u{7f}"), "a\u{fffd}b\tc\u{fffd}");
    }

    #[test]
    fn markdown_keeps_syntax_as_text() {
        assert_eq!(markdown("**bold** | [link](http://x) <b>"), r"\*\*bold\*\* \| \[link\](http://x) &lt;b&gt;");
        assert_eq!(markdown("a\nb"), "a b");
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("api"), "api");
        assert_eq!(csv_cell("'=x"), "''=x");
        for name in ["=x", "'=x", "''+1", "api", "'quoted'", "-"] {
            assert_eq!(csv_cell_read(&csv_cell(name)), name);
        }
    }
}
