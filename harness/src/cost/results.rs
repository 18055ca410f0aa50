//! The file `lanebench cost` writes: `cost.json`, one count of every chosen target with
//! the settings, the scenario and the valgrind version the counts depend on. It is
//! rewritten (temp file + rename) after every target, like results.json. A run with
//! `--cost` keeps the same [`Counting`] and [`TargetCost`]s in its results.json.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::driver::SEED;
use super::{CostSettings, TargetCost};
use crate::atomic_file::write_atomic;
use crate::json_file::FileKind;

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
pub type CostFileError = crate::json_file::JsonFileError;

/// cost.json.
pub const COST_FILE_KIND: FileKind = FileKind {
    file_name: COST_FILE,
    what: "cost file",
    current: COST_SCHEMA_VERSION as u64,
    also_reads: &[],
};

impl CostRun {
    /// Writes `dir/cost.json` atomically.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)? + "\n";
        write_atomic(&dir.join(COST_FILE), json.as_bytes())
    }

    /// Reads a cost.json, or the cost.json inside a folder.
    pub fn load(path: &Path) -> Result<CostRun, CostFileError> {
        crate::json_file::load(path, &COST_FILE_KIND)
    }
}
