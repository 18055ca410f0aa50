//! The file `lanebench cost` writes: `cost.json`, one count of every chosen target with
//! the settings, the scenario and the valgrind version the counts depend on. It is
//! rewritten (temp file + rename) after every target, like results.json. A run with
//! `--cost` keeps the same [`Counting`] and [`TargetCost`]s in its results.json.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::driver::SEED;
use super::{CostSettings, TargetCost};
use crate::atomic_file::write_atomic;

/// Version of the cost.json layout; readers refuse other versions.
pub const COST_SCHEMA_VERSION: u32 = 1;
/// The file name inside a cost folder.
pub const COST_FILE: &str = "cost.json";

/// One `lanebench cost` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostRun {
    pub schema_version: u32,
    pub run_id: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// RFC 3339 UTC; `None` while running or when interrupted.
    pub finished_at: Option<String>,
    pub interrupted: bool,
    /// The scenario whose requests were counted.
    pub scenario: serde_json::Value,
    pub lanebench_version: String,
    #[serde(flatten)]
    pub counting: Counting,
    pub targets: Vec<TargetCost>,
}

/// What every count of one file was made with; counts made otherwise are not comparable
/// figure for figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counting {
    /// `valgrind --version`, e.g. `valgrind-3.19.0`: counts from different versions
    /// are not comparable.
    pub valgrind_version: String,
    /// Counted requests per scenario request.
    pub requests: u64,
    /// Warm-up requests per scenario request.
    pub warmup: u64,
    /// Seed of the request templates.
    pub seed: u64,
}

impl Counting {
    /// The record of counts made with `settings` under `valgrind_version`.
    pub fn new(settings: &CostSettings, valgrind_version: String) -> Counting {
        Counting {
            valgrind_version,
            requests: settings.requests,
            warmup: settings.warmup,
            seed: SEED,
        }
    }
}

/// Why a cost file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CostFileError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: not a valid cost file: {message}")]
    Invalid {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{path}: schema_version {found} is not supported (this lanebench reads cost files of version {COST_SCHEMA_VERSION})")]
    Version { path: String, found: u64 },
}

impl CostRun {
    /// Writes `dir/cost.json` atomically.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)? + "\n";
        write_atomic(&dir.join(COST_FILE), json.as_bytes())
    }

    /// Reads a cost.json, or the cost.json inside a folder.
    pub fn load(path: &Path) -> Result<CostRun, CostFileError> {
        let file = if path.is_dir() {
            path.join(COST_FILE)
        } else {
            path.to_path_buf()
        };
        let shown = file.display().to_string();
        let text = std::fs::read_to_string(&file).map_err(|source| CostFileError::Read {
            path: shown.clone(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| CostFileError::Invalid {
                path: shown.clone(),
                line: e.line(),
                message: e.to_string(),
            })?;
        let found = value
            .get("schema_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        if found != COST_SCHEMA_VERSION as u64 {
            return Err(CostFileError::Version { path: shown, found });
        }
        serde_json::from_value(value).map_err(|e| CostFileError::Invalid {
            path: shown,
            line: 0,
            message: e.to_string(),
        })
    }
}
