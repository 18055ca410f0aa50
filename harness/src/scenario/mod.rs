//! Scenarios: what `lanebench run` sends and for how long, read from `scenarios/*.toml`
//! and validated in full before anything starts. A scenario is a concurrency ladder (or
//! one open-loop rate), timings, and a weighted list of request templates.

mod problem;
mod protocol;
mod validate;

pub mod capacity;
pub mod chain;
pub mod plan;
pub mod resilience;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Serialize, Serializer};
use thiserror::Error;

pub use crate::load::template::{Template, TemplateError};

/// The scenario `lanebench run` uses when given none; embedded so that the binary works
/// from any directory.
const DEFAULT_SCENARIO: &str = include_str!("../../../scenarios/default.toml");
const DEFAULT_SCENARIO_PATH: &str = "scenarios/default.toml";

/// Fresh launches timed per target unless the scenario says otherwise.
pub const DEFAULT_STARTUP_SAMPLES: u32 = 10;
/// Launches a target always gets, whatever the budget.
pub const MIN_STARTUP_SAMPLES: u32 = 3;
/// Default time budget for a target's launches.
pub const DEFAULT_STARTUP_BUDGET: Duration = Duration::from_secs(30);
/// `--quick` takes this many launches.
pub const QUICK_STARTUP_SAMPLES: u32 = 3;
/// The longest a warm-up may wait for steady throughput.
pub const DEFAULT_WARMUP_MAX: Duration = Duration::from_secs(60);
/// `--quick`'s cap on the warm-up.
pub const QUICK_WARMUP_MAX: Duration = Duration::from_secs(15);
/// A level with a larger error rate cannot be the headline.
pub const DEFAULT_MAX_ERROR_RATE: f64 = 0.01;

/// A scenario file that cannot be read or is invalid. The message names the file, the
/// line when one can be pointed at, and the problem.
#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        /// 1-based line of the problem, when it can be located.
        line: Option<usize>,
        message: String,
    },
}

/// A validated scenario. Serializes (for the results' record of what was run) with
/// durations as humantime strings and templates as their source text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// `[a-z0-9-]+`.
    pub name: String,
    pub description: Option<String>,
    /// Measured time per load level and repeat.
    #[serde(serialize_with = "as_humantime")]
    pub duration: Duration,
    /// Sent but not counted, before each level: the minimum warm-up when
    /// `steady_state` is on, the whole warm-up when it is off.
    #[serde(serialize_with = "as_humantime")]
    pub warmup: Duration,
    /// Keep warming up past `warmup` until throughput is steady (see `run::steady`).
    pub steady_state: bool,
    /// The longest warm-up; a level not steady by then is measured and marked so.
    #[serde(serialize_with = "as_humantime")]
    pub warmup_max: Duration,
    /// A level whose error rate is above this cannot be the headline.
    pub max_error_rate: f64,
    /// Run the repeats as rounds over the targets, each on a fresh process.
    pub interleave: bool,
    pub repeats: u32,
    /// The concurrency ladder; exactly one entry when `rate` is set.
    pub connections: Vec<usize>,
    /// Open-loop requests per second, if set; closed loop otherwise.
    pub rate: Option<f64>,
    /// Fresh launches timed for startup and cold start.
    pub startup_samples: u32,
    /// Launching stops early (after at least [`MIN_STARTUP_SAMPLES`]) once the launches
    /// of a target have taken this long: cheap for fast starters, bounded for a JVM.
    #[serde(serialize_with = "as_humantime")]
    pub startup_budget: Duration,
    /// Per-request timeout.
    #[serde(serialize_with = "as_humantime")]
    pub timeout: Duration,
    /// Factor `--quick` applies to `duration` and `warmup`.
    pub quick_scale: f64,
    /// The protocols each target is run on, one after the other (`h1` unless said).
    pub protocols: Vec<crate::load::protocol::ProtocolName>,
    /// HTTP/1.1: requests in flight per connection (1: not pipelined).
    pub pipeline: usize,
    /// HTTP/2: concurrent streams per connection.
    pub streams: usize,
    pub requests: Vec<RequestSpec>,
    /// A service chain: each target runs as a user service calling an order service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<chain::ChainSpec>,
    /// Faults injected between the services, one episode each (needs `chain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resilience: Option<resilience::ResilienceSpec>,
    /// A capacity search under a latency objective instead of a ladder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<capacity::CapacitySpec>,
}

/// One entry of the request mix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestSpec {
    /// Unique within the scenario.
    pub name: String,
    /// Relative weight in the mix, >= 1.
    pub weight: u64,
    pub method: String,
    /// Starts with `/`.
    pub path: Template,
    /// The source text of `path` (what the file said).
    #[serde(skip)]
    pub path_text: String,
    pub body: Option<Template>,
    /// The source text of `body`.
    #[serde(skip)]
    pub body_text: Option<String>,
    /// Extra headers, in name order.
    #[serde(serialize_with = "as_map")]
    pub headers: Vec<(String, String)>,
    /// The status that counts as success; any 2xx/3xx when `None`.
    pub expect_status: Option<u16>,
}

impl Scenario {
    /// Reads and validates the scenario file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let text = crate::load::bounds::read_text(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::parse(&text, path)
    }

    /// Validates scenario `text`; `path` is only used to name the file in errors.
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        validate::parse(text).map_err(|problem| ScenarioError::Invalid {
            path: path.as_ref().to_path_buf(),
            line: problem.line,
            message: problem.message,
        })
    }

    /// The shortened variant `--quick` runs: `duration` and `warmup` multiplied by
    /// `quick_scale` (rounded to the millisecond, with `duration` at least 1s), the
    /// warm-up capped at 15 s (steady-state detection stays on, so a JIT still warms as
    /// far as it can and a level that could not is marked), at most three startup
    /// launches and one repeat.
    pub fn quick(&self) -> Scenario {
        let scale = |d: Duration| {
            Duration::from_millis((d.as_millis() as f64 * self.quick_scale).round() as u64)
        };
        let warmup = scale(self.warmup);
        Scenario {
            duration: scale(self.duration).max(Duration::from_secs(1)),
            warmup,
            warmup_max: self.warmup_max.min(QUICK_WARMUP_MAX).max(warmup),
            startup_samples: self.startup_samples.min(QUICK_STARTUP_SAMPLES),
            repeats: 1,
            interleave: false,
            ..self.clone()
        }
    }

    /// The built-in default scenario (`scenarios/default.toml`, embedded at compile time).
    pub fn default_embedded() -> Scenario {
        Scenario::parse(DEFAULT_SCENARIO, DEFAULT_SCENARIO_PATH)
            .unwrap_or_else(|e| panic!("embedded default scenario is invalid: {e}"))
    }
}

fn as_humantime<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_duration(*duration))
}

fn as_map<S: Serializer>(pairs: &[(String, String)], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

#[cfg(test)]
mod tests;
