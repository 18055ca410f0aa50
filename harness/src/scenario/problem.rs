//! A problem found in a scenario file's text, located by its line before the file's name
//! is attached (`ScenarioError::Invalid`); shared by the top-level validation and the
//! sections that validate themselves (`[chain]`).

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
