//! `lanebench cost`: instructions per request, counted under valgrind's callgrind.
//!
//! Wall-clock and CPU-time figures move by 10-30 % on a shared machine; the work a server
//! does per request does not. So a target runs under callgrind with instrumentation off
//! (`$LANEBENCH_WRAP`, see `targets/README.md`); after readiness and a warm-up, counting is
//! switched on around a fixed number of each scenario request, sent one at a time on one
//! connection from a fixed seed, and the instruction total is read from callgrind's dump.
//! An idle interval as long as one batch is counted too, which bounds what switching and
//! background timers add. Targets whose runtime cannot be counted deterministically are
//! `unsupported` with the manifest's reason, never dropped and never 0.
//!
//! One function in ([`CostSettings`], a [`Target`]), one value out ([`TargetCost`]), so
//! that `run` can count the targets it measures as well.

pub mod callgrind;
pub mod driver;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::load::request::PreparedRequest;
use crate::results::cost::{CostStatus, Counting, IdleCost, RequestCost, TargetCost};
use crate::scenario::Scenario;
use crate::system::{launch_and_use, BoxError, Launch, LifecycleError, Processes, Silent};
use crate::targets::{Target, TargetProcess, WRAP_VARIABLE};
use callgrind::{CallgrindError, Session};
use driver::{DriveError, Driver};

/// Default number of counted requests of each scenario request.
pub const DEFAULT_REQUESTS: u64 = 1000;
/// Default number of uncounted warm-up requests of each scenario request.
pub const DEFAULT_WARMUP: u64 = 200;
/// How much longer than its manifest's `ready_timeout` a target may take to start under
/// valgrind, which translates every instruction before running it.
pub const READY_SLOWDOWN: u32 = 10;
/// Per-request read/write timeout of the counting client.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a counted server gets to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// What to count and how.
#[derive(Debug, Clone)]
pub struct CostSettings {
    /// The requests counted (each one separately) and their weights for the overall figure.
    pub scenario: Scenario,
    /// Counted requests per scenario request.
    pub requests: u64,
    /// Uncounted requests per scenario request before counting starts.
    pub warmup: u64,
    /// `WORKERS` given to the server; callgrind runs one thread at a time anyway.
    pub workers: usize,
    /// Where the scratch folders go: one new folder per target under an unpredictable
    /// name, for the wrapper, vgdb's FIFOs and the dumps, removed afterwards. Its path
    /// must not contain whitespace.
    pub scratch_dir: PathBuf,
}

impl Counting {
    /// The record of counts made with `settings` under `valgrind_version`.
    pub fn new(settings: &CostSettings, valgrind_version: String) -> Counting {
        Counting {
            valgrind_version,
            requests: settings.requests,
            warmup: settings.warmup,
            seed: driver::SEED,
        }
    }
}

impl TargetCost {
    /// A result with only the manifest facts and a status.
    pub fn bare(target: &Target, status: CostStatus, reason: Option<String>) -> TargetCost {
        let m = &target.manifest;
        TargetCost {
            name: m.name.clone(),
            framework: m.framework.clone(),
            language: m.language.clone(),
            version: m.version.clone(),
            status,
            reason,
            requests: Vec::new(),
            instructions_per_request: None,
            idle: None,
            workers: 0,
            connections: 0,
            valgrind_options: Vec::new(),
            env: m.cost.env.clone(),
            threshold: m.cost.threshold_fraction(),
            seconds: 0.0,
            stderr_tail: Vec::new(),
        }
    }
}

/// Waits `seconds` (the idle interval), in slices so that Ctrl-C ends it within
/// [`IDLE_POLL`] rather than after a batch's whole length.
fn idle_for(seconds: f64, stop: &AtomicBool) -> Result<(), CostError> {
    let until = Instant::now() + Duration::try_from_secs_f64(seconds).unwrap_or_default();
    loop {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(DriveError::Interrupted.into());
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(IDLE_POLL));
    }
}

/// How often the idle interval looks at the stop flag.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// Why a count failed.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    #[error(transparent)]
    Callgrind(#[from] CallgrindError),
    /// Launching, readiness, the count itself or stopping, as the lifecycle reports it.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error(transparent)]
    Drive(#[from] DriveError),
    #[error("{0}")]
    Prepare(String),
}

/// Why `target` cannot be counted, if it cannot: a manifest reason, a run command that
/// ignores the wrapper, or a missing tool.
pub fn unsupported(target: &Target) -> Option<(CostStatus, String)> {
    if let Some(reason) = &target.manifest.cost.unsupported {
        return Some((CostStatus::Unsupported, reason.clone()));
    }
    if !target.manifest.honours_wrap() {
        return Some((
            CostStatus::Unsupported,
            format!("the run command does not start the server with `exec ${WRAP_VARIABLE} ...`"),
        ));
    }
    target
        .missing_tool()
        .map(|tool| (CostStatus::Skipped, format!("{tool} not found")))
}

/// Counts `target` (already built). Never fails: problems become the result's status.
pub fn count_target(target: &Target, settings: &CostSettings, stop: &AtomicBool) -> TargetCost {
    if let Some((status, reason)) = unsupported(target) {
        return TargetCost::bare(target, status, Some(reason));
    }
    let started = Instant::now();
    let mut result = TargetCost::bare(target, CostStatus::Ok, None);
    result.workers = settings.workers;
    let prefix = format!("lanebench-cost-{}-", target.name());
    let outcome = Session::create(
        &settings.scratch_dir,
        &prefix,
        &target.manifest.cost.valgrind_args,
    )
    .map_err(|e| (CostError::from(e), Vec::new()))
    .and_then(|mut session| {
        result.valgrind_options = session.options().to_vec();
        let counted = launch_and_count(target, settings, &mut session, stop);
        session.remove();
        counted
    });
    match outcome {
        Ok(counted) => {
            result.instructions_per_request = weighted_mean(&counted.requests);
            result.requests = counted.requests;
            result.idle = Some(counted.idle);
            result.connections = counted.connections;
        }
        Err((error, stderr_tail)) => {
            result.status = CostStatus::Failed;
            result.reason = Some(error.to_string());
            result.stderr_tail = stderr_tail;
        }
    }
    result.seconds = started.elapsed().as_secs_f64();
    result
}

/// What one launch counted.
struct Counted {
    requests: Vec<RequestCost>,
    idle: IdleCost,
    connections: usize,
}

/// Launches the target under the session's wrapper, counts, stops it. On failure the
/// error comes with the server's last stderr lines.
fn launch_and_count(
    target: &Target,
    settings: &CostSettings,
    session: &mut Session,
    stop: &AtomicBool,
) -> Result<Counted, (CostError, Vec<String>)> {
    let no_tail = |e: CostError| (e, Vec::new());
    let port = crate::targets::free_loopback_port()
        .map_err(|e| no_tail(CostError::Prepare(format!("target {}: {e}", target.name()))))?;
    let mut processes = Processes::new(PathBuf::new(), settings.workers, STOP_GRACE);
    processes.env = target.manifest.cost.env.clone().into_iter().collect();
    processes.env.push((
        WRAP_VARIABLE.to_string(),
        session.wrapper().display().to_string(),
    ));
    processes.ready_slowdown = READY_SLOWDOWN;
    let launch = Launch { port, env: &[] };
    launch_and_use(
        &mut processes,
        &mut Silent,
        target,
        &launch,
        None,
        |_, process, _| count_requests(process, settings, session, stop).map_err(BoxError::from),
    )
    .map(|ran| ran.used)
    .map_err(|e| {
        let tail = e.stderr_tail().to_vec();
        (CostError::from(e), tail)
    })
}

/// Warm-up, one counted batch per scenario request, then the idle interval.
fn count_requests(
    process: &TargetProcess,
    settings: &CostSettings,
    session: &mut Session,
    stop: &AtomicBool,
) -> Result<Counted, CostError> {
    let prepared = prepare(&settings.scenario, process)?;
    let pid = process.pid();
    let mut driver = Driver::new(process.addr(), REQUEST_TIMEOUT);
    for request in &prepared {
        driver.send(request, settings.warmup, stop)?;
    }
    let mut requests = Vec::with_capacity(prepared.len());
    for (spec, request) in settings.scenario.requests.iter().zip(&prepared) {
        let started = Instant::now();
        let (instructions, ()) =
            session.count(pid, || driver.send(request, settings.requests, stop))??;
        requests.push(RequestCost {
            name: spec.name.clone(),
            label: request.label.clone(),
            weight: spec.weight,
            requests: settings.requests,
            instructions,
            instructions_per_request: instructions as f64 / settings.requests as f64,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let longest = requests.iter().map(|r| r.seconds).fold(0.0, f64::max);
    let (instructions, ()) = session.count(pid, || idle_for(longest, stop))??;
    let smallest = requests.iter().map(|r| r.instructions).min().unwrap_or(0);
    Ok(Counted {
        idle: IdleCost {
            seconds: longest,
            instructions,
            share_of_batch: instructions as f64 / smallest.max(1) as f64,
        },
        requests,
        connections: driver.connections_opened(),
    })
}

fn prepare(
    scenario: &Scenario,
    process: &TargetProcess,
) -> Result<Vec<PreparedRequest>, CostError> {
    crate::scenario::plan::prepare(scenario, process.addr())
        .map(|(prepared, _)| prepared)
        .map_err(|e| CostError::Prepare(format!("{e:#}")))
}

/// The mix's figure: per-request figures weighted by the scenario's weights.
pub fn weighted_mean(requests: &[RequestCost]) -> Option<f64> {
    let total: u64 = requests.iter().map(|r| r.weight).sum();
    (total > 0).then(|| {
        requests
            .iter()
            .map(|r| r.instructions_per_request * r.weight as f64)
            .sum::<f64>()
            / total as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idle_interval_ends_on_the_stop_flag() {
        // An hour of idle with the flag already set: interrupted, not slept through.
        let stop = AtomicBool::new(true);
        let outcome = idle_for(3600.0, &stop);
        assert!(matches!(
            outcome,
            Err(CostError::Drive(DriveError::Interrupted))
        ));
        assert!(idle_for(0.01, &AtomicBool::new(false)).is_ok());
        assert!(idle_for(f64::NAN, &AtomicBool::new(false)).is_ok());
    }
}
