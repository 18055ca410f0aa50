//! The file `lanebench cost` writes: `cost.json`, one count of every chosen target with
//! the settings, the scenario and the valgrind version the counts depend on. It is
//! rewritten (temp file + rename) after every target, like results.json. A run with
//! `--cost` keeps the same [`Counting`] and [`TargetCost`]s in its results.json.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic_file::write_atomic;
use crate::json_file::FileKind;
use std::collections::BTreeMap;

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
    pub scenario: crate::results::scenario::ScenarioRecord,
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

/// Whether a target was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostStatus {
    /// Counted: `requests` and `instructions_per_request` hold the figures.
    Ok,
    /// Cannot be counted deterministically; `reason` says why.
    Unsupported,
    /// A required tool is missing.
    Skipped,
    /// Counting was attempted and failed; `reason` says how.
    Failed,
}

/// The count of one scenario request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestCost {
    /// The scenario request's name.
    pub name: String,
    /// Method and path template, e.g. `GET /api/users/{rand:1..1000000}`.
    pub label: String,
    /// Its weight in the scenario's mix.
    pub weight: u64,
    /// Requests counted.
    pub requests: u64,
    /// Instructions the server executed (all threads) while they were served.
    pub instructions: u64,
    /// `instructions / requests`.
    pub instructions_per_request: f64,
    /// Wall-clock time of the counted batch under valgrind (s).
    pub seconds: f64,
}

/// An idle interval counted like a batch: what the switching and background work add.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleCost {
    /// Length of the interval (s): the longest batch's.
    pub seconds: f64,
    /// Instructions counted with no request in flight.
    pub instructions: u64,
    /// `instructions` over the smallest batch's count: the most the idle part can have
    /// added to any per-request figure.
    pub share_of_batch: f64,
}

/// Everything counted for one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetCost {
    pub name: String,
    pub framework: String,
    pub language: String,
    pub version: String,
    pub status: CostStatus,
    /// Why it is unsupported, skipped or failed.
    pub reason: Option<String>,
    /// One entry per scenario request, in scenario order.
    pub requests: Vec<RequestCost>,
    /// The weighted mean of the per-request figures, with the scenario's weights.
    pub instructions_per_request: Option<f64>,
    pub idle: Option<IdleCost>,
    /// `WORKERS` the server got.
    pub workers: usize,
    /// Connections the client opened (1 unless the server closed one).
    pub connections: usize,
    /// The valgrind options and the extra environment the server ran with.
    pub valgrind_options: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// The manifest's `[cost] threshold` (fraction): the smallest change of these counts
    /// that `compare` flags, for a runtime whose counts vary by more than 1 % between runs.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Wall-clock time of the whole count, launch to stop (s).
    pub seconds: f64,
    /// Last lines of the server's stderr when counting failed.
    pub stderr_tail: Vec<String>,
}
