//! A problem found in a scenario file's text, located by its line before the file's name
//! is attached (`ScenarioError::Invalid`); shared by the top-level validation and the
//! sections that validate themselves (`[chain]`, `[[fault]]`), and the reading of a
//! duration that both need.

use std::time::Duration;

use toml::Spanned;

/// A problem in the text, before the file name is attached.
#[derive(Debug)]
pub(super) struct Problem {
    pub line: Option<usize>,
    pub message: String,
}

/// 1-based line number of byte `offset` in `text`.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A duration written as text like "10s" or "1m 30s", within the load engine's bounds.
pub(super) fn duration(
    value: &Spanned<String>,
    key: &str,
    text: &str,
) -> Result<Duration, Problem> {
    let problem = |message: String| Problem {
        line: Some(line_of(text, value.span().start)),
        message,
    };
    let parsed = humantime::parse_duration(value.get_ref()).map_err(|e| {
        problem(format!(
            "{key} `{}` is not a duration like \"10s\" or \"1m 30s\": {e}",
            value.get_ref()
        ))
    })?;
    crate::load::bounds::check_duration(parsed, value.get_ref())
        .map_err(|e| problem(format!("{key}: {e}")))
}
