//! `lanebench run`: the whole comparison. For each target in turn: build, time fresh
//! launches (startup, cold start), launch the measured process, sample its memory, drive
//! the scenario's load ladder with repeats, judge saturation, stop it — and rewrite
//! results.json after every target so an interrupted run keeps what finished.
//!
//! Measurement never prints: progress goes through [`RunObserver`], which the CLI
//! implements.

pub mod cold_start;
pub mod environment;
pub mod plan;
pub mod results;
pub mod steady;
mod target_run;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use crate::cpus::CpuList;
use crate::load::LiveStatus;
use crate::scenario::Scenario;
use crate::target::Target;
use results::{RunResults, TargetResult, SCHEMA_VERSION};

/// Validated settings of one run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub scenario: Scenario,
    /// Targets to run, in order (skipped ones included: they are reported as skipped).
    pub targets: Vec<Target>,
    /// The run's own folder (results.json, summary.csv, build logs).
    pub out_dir: PathBuf,
    pub run_id: String,
    pub server_cpus: CpuList,
    pub generator_cpus: CpuList,
    /// The repository (for the git revision).
    pub repo_dir: PathBuf,
}

/// Receives progress; the measurement code never prints.
pub trait RunObserver {
    /// Target `index` of `total` begins.
    fn target_started(&mut self, index: usize, total: usize, name: &str);
    /// A new phase of the current target (build, startup 2/3, idle memory, load 64c r1 ...).
    fn phase(&mut self, name: &str, phase: &str);
    /// Live totals of the load in progress.
    fn live(&mut self, name: &str, phase: &str, status: &LiveStatus);
    /// A target is done (ok, skipped or failed).
    fn target_finished(&mut self, result: &TargetResult);
}

/// Runs every target and returns the results (also written to `out_dir`). A set `stop`
/// flag ends the run after stopping the current target's processes.
pub fn run_all(
    settings: &RunSettings,
    observer: &mut dyn RunObserver,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<RunResults> {
    std::fs::create_dir_all(&settings.out_dir)?;
    let mut results = RunResults {
        schema_version: SCHEMA_VERSION,
        run_id: settings.run_id.clone(),
        started_at: now_rfc3339(),
        finished_at: None,
        interrupted: false,
        scenario: serde_json::to_value(&settings.scenario)?,
        environment: environment::capture(
            &settings.repo_dir,
            &settings.server_cpus,
            &settings.generator_cpus,
        ),
        targets: Vec::new(),
    };
    results.write(&settings.out_dir)?;
    let total = settings.targets.len();
    for (index, target) in settings.targets.iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        observer.target_started(index, total, target.name());
        let result = target_run::measure_target(target, settings, observer, stop);
        if stop.load(Ordering::SeqCst) {
            // The target was cut short: what it has is not a finished result.
            break;
        }
        observer.target_finished(&result);
        results.targets.push(result);
        results.write(&settings.out_dir)?;
    }
    results.interrupted = stop.load(Ordering::SeqCst);
    if !results.interrupted {
        results.finished_at = Some(now_rfc3339());
    }
    results.write(&settings.out_dir)?;
    Ok(results)
}

/// The current time as RFC 3339 UTC, to the second.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// A run id from the current time and the scenario name: `20261130-041500-mixed`.
pub fn new_run_id(scenario: &str) -> String {
    let stamp = now_rfc3339()
        .replace(['-', ':'], "")
        .replace('T', "-")
        .trim_end_matches('Z')
        .to_string();
    format!("{stamp}-{scenario}")
}
