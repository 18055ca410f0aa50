//! Reading the versioned JSON files lanebench writes (results.json, cost.json): a path is
//! the file or a folder holding it; the file is parsed once, its `schema_version` checked
//! before its fields, so an old or newer file is refused by version rather than by
//! whichever field moved first, and every error names the file.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// One kind of versioned file.
#[derive(Debug, Clone, Copy)]
pub struct FileKind {
    /// Name inside a folder, e.g. `results.json`.
    pub file_name: &'static str,
    /// What the file is, for messages: `results file`.
    pub what: &'static str,
    /// The version this lanebench writes.
    pub current: u64,
    /// Older versions it still reads (the caller upgrades them).
    pub also_reads: &'static [u64],
}

/// Why a versioned file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JsonFileError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: not a valid {what}: {message}")]
    Invalid {
        path: String,
        line: usize,
        what: &'static str,
        message: String,
    },
    #[error("{path}: schema_version {found} is not supported (this lanebench reads {what}s of version {current})")]
    Version {
        path: String,
        found: u64,
        what: &'static str,
        current: u64,
    },
}

/// `path` itself, or `path/<file_name>` when it is a folder.
pub fn resolve(path: &Path, kind: &FileKind) -> PathBuf {
    if path.is_dir() {
        path.join(kind.file_name)
    } else {
        path.to_path_buf()
    }
}

/// Reads and deserializes a file of `kind` after checking its version.
pub fn load<T: DeserializeOwned>(path: &Path, kind: &FileKind) -> Result<T, JsonFileError> {
    load_upgraded(path, kind, |_, _| {})
}

/// [`load`], with `upgrade` given the file's version and its parsed value before it is
/// deserialized: where an older layout moved fields, they are moved back here, so the
/// typed records keep no field of an old layout.
pub fn load_upgraded<T: DeserializeOwned>(
    path: &Path,
    kind: &FileKind,
    upgrade: impl FnOnce(u64, &mut serde_json::Value),
) -> Result<T, JsonFileError> {
    let file = resolve(path, kind);
    let shown = file.display().to_string();
    let text = crate::load::bounds::read_text(&file).map_err(|source| JsonFileError::Read {
        path: shown.clone(),
        source,
    })?;
    let invalid = |line: usize, message: String| JsonFileError::Invalid {
        path: shown.clone(),
        line,
        what: kind.what,
        message,
    };
    let mut value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| invalid(e.line(), e.to_string()))?;
    let found = value
        .get("schema_version")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    if found != kind.current && !kind.also_reads.contains(&found) {
        return Err(JsonFileError::Version {
            path: shown.clone(),
            found,
            what: kind.what,
            current: kind.current,
        });
    }
    upgrade(found, &mut value);
    // The value is already parsed, so serde has no line to give here.
    serde_json::from_value(value).map_err(|e| invalid(0, e.to_string()))
}
