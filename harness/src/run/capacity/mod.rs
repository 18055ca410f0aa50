//! A capacity run (scenarios with `[capacity]`): for each target, the highest open-loop
//! rate that meets the scenario's latency objective, then every target's latency at
//! equal load.
//!
//! 1. **Search sessions**, one per target (on each of the scenario's protocols): a fresh
//!    process, warmed up like a level (closed loop until steady), then `repeats` searches
//!    (`search`: a ramp and a bisection of probes, `prober`), then one load at
//!    `own_fraction` of its own median capacity.
//! 2. **Equal load**: once every target has been searched, each one with a capacity
//!    gets a second fresh session, warmed up again, and one load at `equal_fraction` of
//!    the slowest target's capacity: every target at the same rate, so that their
//!    latencies compare at equal work.
//!
//! The searches of a target run on one process, one after the other; the machine's
//! drift between targets is what the equal-load pass (on fresh processes, after all the
//! searches) and the repeats' spread show.

pub mod prober;
pub mod search;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::drive::Bench;
use super::failure::Failure;
use super::measure::TargetRun;
use super::outcome::{CapacitySession, SessionOutcome};
use super::session::SessionPlan;
use super::{labelled, unsupported, RunObserver, RunSettings};
use crate::results::capacity::{LoadAt, ProbeStage};
use crate::results::{RunResults, TargetResult};
use crate::scenario::capacity::CapacitySpec;
use crate::scenario::plan::prepare;
use crate::system::Shared;
use prober::{BenchProber, WarmState};
use search::{judged, search, SearchPlan};

/// What a capacity session does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CapacityStep {
    /// The searches, then the load at a fraction of the target's own capacity.
    Search,
    /// One load at this rate (a fraction of the slowest target's capacity).
    EqualLoad { rate_rps: f64 },
}

/// The search plan of a scenario's `[capacity]`, measuring unusable probes again up to
/// `retries` times.
pub fn search_plan(spec: &CapacitySpec, retries: u32) -> SearchPlan {
    SearchPlan {
        objective: spec.objective,
        lowest: spec.lowest,
        highest: spec.highest,
        factor: spec.factor,
        precision: spec.precision,
        retries,
    }
}

/// Runs a capacity session on the bench's process: warmed up, then `step`. What was
/// measured is in `outcome.capacity` even when a failure ends it.
pub fn run_session(
    bench: &mut Bench,
    outcome: &mut SessionOutcome,
    windows: &mut Vec<(Duration, Duration)>,
    sampler_started: Instant,
    step: CapacityStep,
) -> Result<(), Failure> {
    let scenario = &bench.settings.scenario;
    let Some(spec) = scenario.capacity.clone() else {
        return Ok(());
    };
    let repeats = scenario.repeats.max(1) as usize;
    let (_, requests) =
        prepare(scenario, bench.process.addr()).map_err(|e| Failure::new(e.to_string()))?;
    let connections = scenario.connections.first().copied().unwrap_or(1);
    let retries = bench.settings.retry_noisy;
    let plan = search_plan(&spec, retries);
    let mut prober = BenchProber {
        bench,
        requests,
        connections,
        spec: &spec,
        label: "capacity".to_string(),
        windows,
        sampler_started,
        warm: WarmState::default(),
    };
    prober.warm_up(&format!("load {connections}c warm-up (capacity)"))?;
    let session = outcome
        .capacity
        .get_or_insert_with(CapacitySession::default);
    match step {
        CapacityStep::Search => {
            for repeat in 1..=repeats {
                prober.label = format!("capacity {repeat}/{repeats}");
                session.searches.push(search(&mut prober, &plan, repeat)?);
            }
            let capacities: Vec<f64> = session
                .searches
                .iter()
                .filter_map(|s| s.verdict.capacity_rps())
                .collect();
            if let Some(capacity) = crate::stats::median(&capacities) {
                prober.label = format!("{:.0}% of its capacity", spec.own_fraction * 100.0);
                let rate = spec.own_fraction * capacity;
                let stage = ProbeStage::OwnFraction;
                let probe = judged(&mut prober, &plan, rate, stage)?;
                session.own_load = Some(LoadAt {
                    fraction: spec.own_fraction,
                    of: "own".to_string(),
                    probe,
                });
            }
        }
        CapacityStep::EqualLoad { rate_rps } => {
            prober.label = "equal load".to_string();
            let stage = ProbeStage::EqualLoad;
            let probe = judged(&mut prober, &plan, rate_rps, stage)?;
            session.equal_load = Some(probe);
        }
    }
    Ok(())
}

/// The slowest target of a protocol's runs: its name and median capacity. Targets
/// without a capacity (below the lowest probe, undecided, failed) are not in it: the
/// equal load is a rate every measured target was shown to carry.
fn slowest(runs: &[Entry], settings: &RunSettings) -> Option<(String, f64)> {
    runs.iter()
        .filter_map(|entry| match entry {
            Ok(run) if run.is_active() => {
                let capacity = run.result(settings).capacity?.median_capacity()?;
                Some((run.name().to_string(), capacity))
            }
            _ => None,
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// Drives every target of `runs` that has a capacity at `equal_fraction` of the slowest
/// one's, each on a fresh process.
fn equal_load(
    runs: &mut [Entry],
    on: &RunSettings,
    spec: &CapacitySpec,
    observer: &mut dyn RunObserver,
    stop: &Arc<AtomicBool>,
    shared: &mut Shared,
) {
    let Some((name, capacity)) = slowest(runs, on) else {
        return;
    };
    let rate_rps = spec.equal_fraction * capacity;
    let total = on.targets.len();
    for (index, run) in runs.iter_mut().enumerate() {
        let Ok(run) = run else { continue };
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let has_capacity = run
            .result(on)
            .capacity
            .and_then(|c| c.median_capacity())
            .is_some();
        if !run.is_active() || !has_capacity {
            continue;
        }
        observer.target_started(index, total, run.name());
        run.equal_load_of(&name, spec.equal_fraction);
        let plan = SessionPlan {
            round: 2,
            repeats: 1,
            capacity: Some(CapacityStep::EqualLoad { rate_rps }),
        };
        run.round(on, observer, stop, 0, plan, shared.components());
    }
}

/// A target's run on one protocol, or the entry of a protocol it does not serve.
type Entry<'a> = Result<TargetRun<'a>, TargetResult>;

/// Every target searched, then every target driven at equal load, on each of the
/// scenario's protocols; returns `results` with their entries added.
pub fn run_capacity(
    settings: &RunSettings,
    observer: &mut dyn RunObserver,
    stop: &Arc<AtomicBool>,
    mut results: RunResults,
    shared: &mut Shared,
) -> anyhow::Result<RunResults> {
    let scenario = &settings.scenario;
    let Some(spec) = &scenario.capacity else {
        return Ok(results);
    };
    let total = settings.targets.len();
    let variants: Vec<RunSettings> = scenario.protocols.iter().map(|&p| settings.on(p)).collect();
    for on in &variants {
        let before = results.targets.len();
        let entries = |runs: &[Entry]| -> Vec<TargetResult> {
            runs.iter()
                .map(|run| match run {
                    Ok(run) => labelled(run.result(on), on),
                    Err(result) => result.clone(),
                })
                .collect()
        };
        let mut runs: Vec<Entry> = Vec::new();
        for (index, target) in settings.targets.iter().enumerate() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            observer.target_started(index, total, target.name());
            let run = match unsupported(target, on) {
                Some(result) => Err(result),
                None => {
                    let mut run = TargetRun::prepare(target, on, observer, shared);
                    let plan = SessionPlan {
                        round: 1,
                        repeats: 1,
                        capacity: Some(CapacityStep::Search),
                    };
                    let launches = scenario.startup_samples as usize;
                    run.round(on, observer, stop, launches, plan, shared.components());
                    Ok(run)
                }
            };
            runs.push(run);
            results.targets.truncate(before);
            results.targets.extend(entries(&runs));
            results.write(&settings.out_dir)?;
        }
        equal_load(&mut runs, on, spec, observer, stop, shared);
        for run in runs.iter_mut().flatten() {
            run.release(on, shared);
        }
        results.targets.truncate(before);
        results.targets.extend(entries(&runs));
        results.write(&settings.out_dir)?;
        if stop.load(Ordering::SeqCst) {
            return Ok(results);
        }
        super::finished(settings, observer, &results.targets[before..]);
    }
    Ok(results)
}
