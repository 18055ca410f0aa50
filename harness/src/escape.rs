//! Escaping of text that came from a file (target and framework names, reasons, notes,
//! stderr lines, scenario names, paths) before it is placed into Markdown: report.md and
//! `lanebench compare --markdown`. Such text is untrusted: a framework named
//! `<script>alert(1)</script>` or `a|b` must show as written, never become HTML, a link,
//! a heading or an extra table column. report.html escapes with
//! [`crate::report::table::escape_html`] instead.

/// Where the text goes; it decides which leading characters change the structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A heading, paragraph or list item: a leading `#`, `-`, `+`, `=` or `1.` would
    /// start a heading, a list, a rule or a numbered list.
    Block,
    /// A table cell, where only `|` and line breaks change the structure.
    Cell,
}

/// `text` as literal Markdown text at `place`.
///
/// HTML's special characters become entities (so no tag, comment or autolink can form);
/// Markdown's inline punctuation (`\`, backticks, `*`, `_`, `~`, `[`, `]`, `|`, `$`) is
/// backslash-escaped; line breaks and other control characters become spaces (a newline
/// would end a table row or start a new block); leading white space is dropped (four
/// spaces start a code block); and in a [`Place::Block`] a leading structure character is
/// escaped.
pub fn markdown(text: &str, place: Place) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim_start();
    let digits = flat.bytes().take_while(u8::is_ascii_digit).count();
    let block = place == Place::Block;
    let mut out = String::with_capacity(flat.len() + 8);
    for (i, c) in flat.char_indices() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '~' | '[' | ']' | '|' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '#' | '-' | '+' | '=' if block && i == 0 => {
                out.push('\\');
                out.push(c);
            }
            // `1.` or `1)` opens a numbered list; CommonMark allows up to nine digits.
            '.' | ')' if block && i == digits && (1..=9).contains(&digits) => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A fence for `text` as a fenced code block: longer than any run of backticks inside
/// it, so the text cannot close the block early.
pub fn code_fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat((longest + 1).max(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_entities() {
        assert_eq!(
            markdown("<script>alert(1)</script>", Place::Cell),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(markdown("a & b", Place::Block), "a &amp; b");
    }

    #[test]
    fn cells_keep_one_column_and_one_line() {
        assert_eq!(markdown("a|b", Place::Cell), "a\\|b");
        assert_eq!(markdown("a\nb\r\n| c", Place::Cell), "a b  \\| c");
        // A placeholder dash stays a dash in a cell.
        assert_eq!(markdown("-", Place::Cell), "-");
    }

    #[test]
    fn inline_markup_is_literal() {
        assert_eq!(
            markdown("[x](https://e.example) `c` *b* _i_ ~~s~~ \\", Place::Cell),
            "\\[x\\](https://e.example) \\`c\\` \\*b\\* \\_i\\_ \\~\\~s\\~\\~ \\\\"
        );
    }

    #[test]
    fn leading_structure_is_escaped_in_blocks_only() {
        assert_eq!(markdown("# title", Place::Block), "\\# title");
        assert_eq!(markdown("- item", Place::Block), "\\- item");
        assert_eq!(markdown("> quote", Place::Block), "&gt; quote");
        assert_eq!(markdown("    code", Place::Block), "code");
        assert_eq!(markdown("12. x", Place::Block), "12\\. x");
        assert_eq!(markdown("3 targets. ok", Place::Block), "3 targets. ok");
        assert_eq!(markdown("x\n# y", Place::Block), "x # y");
        assert_eq!(markdown("# title", Place::Cell), "# title");
    }

    #[test]
    fn fences_outgrow_the_backticks_inside() {
        assert_eq!(code_fence("{}"), "```");
        assert_eq!(code_fence("a ```` b ` c"), "`````");
    }
}
