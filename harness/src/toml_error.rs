//! TOML parse errors on one line. The `toml` crate's `Display` draws the offending line
//! and a caret under it (five lines); lanebench's errors are one line naming the file,
//! the line and the column, so the message is rebuilt from the error's span.

/// Where a TOML error is and what it says, on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// 1-based line and column (in characters) of the error, when it has a span.
    pub position: Option<(usize, usize)>,
    /// The message, its lines joined with `; `.
    pub message: String,
}

impl Located {
    /// `line L, column C: message`, or the message alone.
    pub fn describe(&self) -> String {
        match self.position {
            Some((line, column)) => format!("line {line}, column {column}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// Locates `err` in `text`, the document it came from.
pub fn locate(err: &toml::de::Error, text: &str) -> Located {
    let message = err
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    Located {
        position: err.span().map(|span| line_and_column(text, span.start)),
        message,
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unterminated_string_is_one_line_with_line_and_column() {
        let text = "a = 1\nsource = \"x\nclaim = []\n";
        let err = toml::from_str::<toml::Table>(text).unwrap_err();
        let located = locate(&err, text);
        assert_eq!(located.position, Some((2, 12)));
        let line = located.describe();
        assert!(line.starts_with("line 2, column 12: "), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(line_and_column("é = x", 4), (1, 4));
        assert_eq!(line_and_column("a\nbc", 3), (2, 2));
        assert_eq!(line_and_column("ab", 99), (1, 3));
    }
}
