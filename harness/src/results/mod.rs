//! The results of `lanebench run`: one serializable model (documented for readers in
//! `results/schema.json`) that every output is made from — results.json, summary.csv,
//! reports, charts, comparisons and exports.
//!
//! results.json is rewritten (temp file + rename) after every target, so an interrupted
//! run leaves a valid file holding every target that finished.

pub mod capacity;
mod capacity_metrics;
pub mod caveat;
pub mod chain;
mod chain_metrics;
pub mod component;
pub mod cost;
mod csv;
pub mod derived;
pub mod metrics;
pub mod print;
pub mod resilience;
pub mod resilience_metrics;
pub mod scenario;
mod upgrade;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic_file::write_atomic;
use crate::json_file::FileKind;
use crate::load::result::LoadResult;
use crate::results::cost::TargetCost;
use crate::results::cost::{CostRun, Counting, COST_SCHEMA_VERSION};
use crate::results::scenario::ScenarioRecord;
use crate::sample::cpustat::Noise;
use crate::stats::Spread;
pub use caveat::{Caveat, Side, SideNoise};
pub use component::{ComponentCpuTime, ComponentFigures, ComponentUtilisation, Role};

/// Version of the results.json layout. 2: load results of schema 2 (ns histograms,
/// censored tail, success_rps, send lag) and `success_rps` per level. 3: the
/// components beside the service in one shape (`components` on targets, levels and
/// repeats) instead of database fields, and a saturation that names its component.
/// Readers take versions 1 and 2 too, upgrading them (`upgrade`), and refuse others.
pub const SCHEMA_VERSION: u32 = 3;

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    pub schema_version: u32,
    pub run_id: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// RFC 3339 UTC; `None` while the run is still going or when it was interrupted.
    pub finished_at: Option<String>,
    /// True when the run was stopped (Ctrl-C, SIGTERM) before every target finished.
    pub interrupted: bool,
    /// The scenario as run (after `--quick` and `--repeats`).
    pub scenario: ScenarioRecord,
    pub environment: Environment,
    /// Database mode: the server, its version and settings (`docs/metrics.md`,
    /// "Database mode"); absent in memory mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<crate::store::StoreRecord>,
    /// `run --cost`: how the targets' instructions per request were counted; absent
    /// without `--cost`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Counting>,
    pub targets: Vec<TargetResult>,
}

/// Where the run happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub cpu_model: String,
    pub cores: usize,
    pub memory_mb: u64,
    pub kernel: String,
    pub os: String,
    pub lanebench_version: String,
    pub git_revision: Option<String>,
    /// CPUs the servers were pinned to.
    pub server_cpus: Vec<usize>,
    /// CPUs the generator threads were pinned to.
    pub generator_cpus: Vec<usize>,
    /// True when server and generator had to share CPUs (fewer than two available).
    pub cpus_shared: bool,
}

/// Outcome of one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetStatus {
    Ok,
    Skipped,
    Failed,
}

/// Everything measured for one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetResult {
    pub name: String,
    pub framework: String,
    pub language: String,
    pub version: String,
    /// The manifest's chart colour; absent when it has none (and in older results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<crate::targets::Colour>,
    pub status: TargetStatus,
    /// Why it was skipped or failed.
    pub reason: Option<String>,
    /// Last lines of the server's stderr when it failed.
    pub stderr_tail: Vec<String>,
    /// Output of the manifest's `runtime_version` command.
    pub runtime_version: Option<String>,
    /// Headline: the best median success_rps over the levels whose error rate is within
    /// the scenario's `max_error_rate`.
    pub qps: Option<f64>,
    /// The ladder level (connections) the headline comes from.
    pub qps_connections: Option<usize>,
    /// Set when no level measured the server cleanly (every usable level was noisy or,
    /// closed loop, saturated neither side): why the headline is not a plain figure.
    /// Such a target is marked, and left out of ratios and verdicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qps_caveat: Option<String>,
    /// Spawn -> first 200 from the health endpoint, over fresh launches (ms).
    pub startup_ms: Option<Spread>,
    /// Every launch's startup (ms), in the order taken.
    #[serde(default)]
    pub startup_launches_ms: Vec<f64>,
    /// Launches that stand apart (outliers, a cold first launch), one sentence each.
    #[serde(default)]
    pub startup_notes: Vec<String>,
    /// Spawn to ready plus the load needed until the served throughput first stayed
    /// within 10% of the steady value (ms); none when it never did.
    #[serde(default)]
    pub time_to_steady_ms: Option<f64>,
    /// Successful responses per second under load, from the first second of load on the
    /// first measured process (the warm-up, then the first level's first repeat).
    #[serde(default)]
    pub warmup_curve: Option<WarmupCurve>,
    /// Spawn -> first correct response of every scenario request on a fresh process (ms).
    pub cold_start_ms: Option<Spread>,
    /// The first request's latency on a freshly ready process (ms).
    pub first_request_ms: Option<Spread>,
    pub memory_mb: Option<MemoryFigures>,
    /// The components beside the service its sessions ran with (database mode: the
    /// database), with their CPUs and memory; absent when there were none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentFigures>,
    pub levels: Vec<LevelResult>,
    /// Build time of this run's build (seconds); near zero when nothing changed.
    pub build_s: Option<f64>,
    /// Fresh measured processes this target had (one per round with `--interleave`).
    #[serde(default = "one")]
    pub sessions: usize,
    /// `run --cost`: instructions per request counted under callgrind after the timed
    /// measurement, as `lanebench cost` counts them (`unsupported` with the reason for a
    /// runtime that cannot be counted); absent without `--cost`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<TargetCost>,
    /// A service chain's set-up (scenarios with `[chain]`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<chain::ChainTarget>,
    /// A resilience run's episodes: each fault under each breaker setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resilience: Option<resilience::ResilienceTarget>,
    /// A capacity run's searches and loads at equal work (scenarios with `[capacity]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<capacity::CapacityTarget>,
    /// The protocol this entry was served and driven on, when the scenario names
    /// protocols (a target then has one entry per protocol); absent: HTTP/1.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<crate::load::protocol::ProtocolName>,
}

fn one() -> usize {
    1
}

/// Throughput per second of a fresh process under its first load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarmupCurve {
    /// Spawn -> ready of that process (ms).
    pub ready_ms: f64,
    /// Spawn -> the first second below (ms); later than `ready_ms` by the idle-memory pause.
    pub load_started_ms: f64,
    /// Successful responses in each second of load.
    pub per_second: Vec<f64>,
    /// Connections of that load.
    pub connections: usize,
    /// Where the warm-up ended in `per_second` (its whole seconds; the first measured
    /// repeat follows), for the chart's marker. `None` in results written before it was kept.
    #[serde(default)]
    pub warmup_s: Option<f64>,
    /// How it ended: `true` declared steady at `warmup_s`, `false` it hit `warmup_max`
    /// without being steady, `None` not checked (`steady_state = false`) or not kept.
    #[serde(default)]
    pub steady: Option<bool>,
}

impl TargetResult {
    /// A result with only the manifest facts and a status.
    pub fn bare(
        manifest: &crate::targets::Manifest,
        status: TargetStatus,
        reason: Option<String>,
    ) -> TargetResult {
        TargetResult {
            name: manifest.name.clone(),
            framework: manifest.framework.clone(),
            language: manifest.language.clone(),
            version: manifest.version.clone(),
            colour: manifest.colour,
            status,
            reason,
            stderr_tail: Vec::new(),
            runtime_version: None,
            qps: None,
            qps_connections: None,
            qps_caveat: None,
            startup_ms: None,
            cold_start_ms: None,
            first_request_ms: None,
            memory_mb: None,
            components: Vec::new(),
            levels: Vec::new(),
            build_s: None,
            startup_launches_ms: Vec::new(),
            startup_notes: Vec::new(),
            time_to_steady_ms: None,
            warmup_curve: None,
            sessions: 0,
            cost: None,
            chain: None,
            resilience: None,
            capacity: None,
            protocol: None,
        }
    }

    /// The name with the protocol, as tables label the entry: `axum` or `axum (h2)`.
    pub fn label(&self) -> String {
        match self.protocol {
            Some(p) => format!("{} ({p})", self.name),
            None => self.name.clone(),
        }
    }
}

/// Memory of the target's whole process tree (MiB).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryFigures {
    /// After startup, before load (median of a short burst of samples).
    pub idle: f64,
    /// Median of the samples taken during measured load.
    pub steady: f64,
    /// Highest sample (the kernel's exact peak, when a cgroup gave one, is `cgroup_peak`).
    pub peak: f64,
    /// Which figure `idle`/`steady`/`peak` are: "pss" (proportional set size, shared pages
    /// split between processes) or "rss".
    pub metric: String,
    /// How memory was measured: "procfs" sampling, plus "+cgroup-v2"/"+cgroup-v1" when the
    /// kernel's own accounting was read too (see `cgroup_peak`).
    pub method: String,
    /// The RSS figures beside the PSS ones, for comparison with other tools.
    pub rss: Option<MemoryTriple>,
    /// Number of processes in the tree at the last sample.
    pub processes: usize,
    /// The kernel's exact peak for the target's cgroup (MiB; includes page cache the
    /// target caused), when the harness could create one.
    pub cgroup_peak: Option<f64>,
    /// Sampling interval in ms.
    pub interval_ms: u64,
}

/// idle / steady / peak in MiB.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MemoryTriple {
    pub idle: f64,
    pub steady: f64,
    pub peak: f64,
}

/// Which side limited throughput at a level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Saturation {
    /// The server used (nearly) all its CPUs: the figure measures the server.
    Server,
    /// The generator was busy while the server was not: the figure measures the generator.
    Generator,
    /// A component beside the service (the database in database mode) used most of its
    /// CPUs: it limited the service.
    Component { name: String, role: Role },
    /// Neither side was CPU-bound (latency-bound, or an open-loop rate below capacity).
    Neither,
    /// Server and generator shared CPUs, so no verdict is possible.
    Shared,
}

impl Saturation {
    /// The verdict's word in tables and the CSV: a component is named by its role
    /// ("database").
    pub fn label(&self) -> &'static str {
        match self {
            Saturation::Server => "server",
            Saturation::Generator => "generator",
            Saturation::Component { role, .. } => role.label(),
            Saturation::Neither => "neither",
            Saturation::Shared => "shared",
        }
    }
}

/// One rung of the concurrency ladder, over its repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelResult {
    pub connections: usize,
    pub rate: Option<f64>,
    /// One load result per repeat, in order.
    pub repeats: Vec<RepeatResult>,
    /// Every response, whatever its status.
    pub rps: Spread,
    /// Responses with the expected status: what ranks and compares.
    #[serde(default = "Spread::zero")]
    pub success_rps: Spread,
    pub p50_ms: Spread,
    pub p90_ms: Spread,
    pub p99_ms: Spread,
    pub p999_ms: Spread,
    pub error_rate: Spread,
    /// Server CPU time / (duration x server CPUs), median over repeats.
    pub server_cpu_utilisation: f64,
    /// Generator CPU time / (duration x generator threads), median over repeats.
    pub generator_cpu_utilisation: f64,
    pub saturation: Saturation,
    /// True when the generator, not the server, was the bottleneck: the figure understates the server.
    pub generator_bound: bool,
    /// Every warm-up before this level's repeats ended with steady throughput; `None`
    /// when the scenario turned the check off (`steady_state = false`).
    #[serde(default)]
    pub steady: Option<bool>,
    /// The warm-up actually used before the level (s), over its warm-ups.
    #[serde(default = "Spread::zero")]
    pub warmup_s: Spread,
    /// Largest share of the server CPUs' time stolen by the hypervisor in a repeat.
    #[serde(default)]
    pub steal: Option<f64>,
    /// Largest share of the server CPUs' time other processes used in a repeat.
    #[serde(default)]
    pub foreign_cpu: Option<f64>,
    /// A repeat had steal above 2% or foreign CPU above 5% on the CPUs of any side
    /// (server, generator, database): its figures are suspect.
    #[serde(default)]
    pub noisy: bool,
    /// Largest steal and foreign CPU over the repeats, for every side whose CPUs were
    /// read (`steal` and `foreign_cpu` above are the server side's).
    #[serde(default)]
    pub noise_by_side: Vec<SideNoise>,
    /// Why the level does not cleanly measure the server (empty: it does). A level with
    /// caveats is never the headline while a clean usable level exists.
    #[serde(default)]
    pub caveats: Vec<Caveat>,
    /// Attempts measured again because of caveats (`--retry-noisy`), over the repeats.
    #[serde(default)]
    pub retried: usize,
    /// Server CPU microseconds per successful response (median over repeats).
    #[serde(default)]
    pub server_cpu_us_per_success: Option<f64>,
    /// The share of its CPUs each component beside the service used, for those
    /// lanebench pinned (database mode: the database); absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentUtilisation>,
    /// The error rate's median is within the scenario's `max_error_rate`, so the level
    /// may be the headline.
    #[serde(default = "yes")]
    pub usable: bool,
    /// A service chain's figures at this level (scenarios with `[chain]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<chain::ChainLevel>,
    /// The client tax's baseline load at this level: the plain request on the same user
    /// service process (scenarios with `[chain]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Box<RepeatResult>>,
}

fn yes() -> bool {
    true
}

#[cfg(test)]
impl LevelResult {
    /// A clean, server-bound, steady level of three repeats around `qps` (±1%), for
    /// unit tests of what is made from levels.
    pub(crate) fn sample(connections: usize, qps: f64) -> LevelResult {
        let spread = |values: &[f64]| Spread::of(values).unwrap();
        let rates = [qps * 0.99, qps, qps * 1.01];
        LevelResult {
            connections,
            rate: None,
            repeats: Vec::new(),
            rps: spread(&rates),
            success_rps: spread(&rates),
            p50_ms: spread(&[1.0, 1.0, 1.0]),
            p90_ms: spread(&[1.0, 1.0, 1.0]),
            p99_ms: spread(&[2.0, 2.0, 2.0]),
            p999_ms: spread(&[3.0, 3.0, 3.0]),
            error_rate: spread(&[0.0, 0.0, 0.0]),
            server_cpu_utilisation: 0.98,
            generator_cpu_utilisation: 0.5,
            saturation: Saturation::Server,
            generator_bound: false,
            steady: Some(true),
            warmup_s: Spread::zero(),
            steal: None,
            foreign_cpu: None,
            noisy: false,
            noise_by_side: Vec::new(),
            caveats: Vec::new(),
            retried: 0,
            server_cpu_us_per_success: None,
            components: Vec::new(),
            usable: true,
            chain: None,
            baseline: None,
        }
    }
}

/// One measured repeat of a level: the load result plus the server's CPU use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepeatResult {
    pub load: LoadResult,
    /// Server process tree CPU time during the measured window (s).
    pub server_cpu_s: f64,
    /// The warm-up right before this repeat (s); 0 when it followed another repeat of
    /// the level on the same process.
    #[serde(default)]
    pub warmup_s: f64,
    /// That warm-up ended steady (`None`: not checked).
    #[serde(default)]
    pub steady: Option<bool>,
    /// Steal and foreign CPU on the server's CPUs during the window.
    #[serde(default)]
    pub noise: Option<Noise>,
    /// Which round (fresh process) it was measured in, from 1.
    #[serde(default = "one")]
    pub round: usize,
    /// The CPU time of each component beside the service during the window, for those
    /// that are processes of ours; absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentCpuTime>,
    /// Steal and foreign CPU on every side's CPUs during the window (the server's is
    /// also `noise`).
    #[serde(default)]
    pub noise_by_side: Vec<SideNoise>,
    /// Which attempt this is, from 1: earlier ones had caveats and were measured again.
    #[serde(default = "one")]
    pub attempt: usize,
    /// The attempts measured before this one, and why each was not kept.
    #[serde(default)]
    pub set_aside: Vec<SetAside>,
    /// The warm-up before it ended at its cap with throughput still rising (`steady`
    /// false and the trend's whole interval above zero), as against wandering.
    #[serde(default)]
    pub still_climbing: bool,
    /// A service chain's hop in this window, as the proxy between the services saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop: Option<chain::HopRecord>,
}

/// An attempt at a repeat that was measured again, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetAside {
    /// From 1.
    pub attempt: usize,
    pub caveats: Vec<Caveat>,
    pub saturation: Saturation,
    pub success_rps: f64,
    pub p99_ms: f64,
    pub server_cpu_utilisation: f64,
    pub generator_cpu_utilisation: f64,
}

impl RunResults {
    /// Writes results.json and summary.csv into `dir`, each atomically.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)? + "\n";
        write_atomic(&dir.join("results.json"), json.as_bytes())?;
        write_atomic(&dir.join("summary.csv"), &self.summary_csv()?)
    }
}

/// Why a results file cannot be used.
pub type ResultsError = crate::json_file::JsonFileError;

/// results.json: versions 1 and 2 are read and upgraded.
pub const RESULTS_FILE: FileKind = FileKind {
    file_name: "results.json",
    what: "results file",
    current: SCHEMA_VERSION as u64,
    also_reads: &[1, 2],
};

impl RunResults {
    /// Reads a results.json, or the results.json inside a results folder.
    pub fn load(path: &Path) -> Result<RunResults, ResultsError> {
        let mut results: RunResults =
            crate::json_file::load_upgraded(path, &RESULTS_FILE, upgrade::components)?;
        upgrade::loads(&mut results);
        Ok(results)
    }

    /// The instruction counts of a `run --cost`, as the cost.json of a `lanebench cost`
    /// over the same targets would hold them; `None` for a run without `--cost`.
    pub fn counts(&self) -> Option<CostRun> {
        let counting = self.cost.clone()?;
        Some(CostRun {
            schema_version: COST_SCHEMA_VERSION,
            run_id: self.run_id.clone(),
            started_at: self.started_at.clone(),
            finished_at: self.finished_at.clone(),
            interrupted: self.interrupted,
            scenario: self.scenario.clone(),
            lanebench_version: self.environment.lanebench_version.clone(),
            counting,
            targets: self.targets.iter().filter_map(|t| t.cost.clone()).collect(),
        })
    }
}
