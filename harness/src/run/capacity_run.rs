//! A capacity run's passes over the targets (scenarios with `[capacity]`, see
//! `capacity`): every target searched, each on a fresh process, then every target with a
//! capacity driven at equal load, on each of the scenario's protocols. Kept apart from
//! `capacity`, which is what one session does, because it drives targets through
//! `measure` and its sessions, which in turn run `capacity`'s session.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::capacity::CapacityStep;
use super::measure::TargetRun;
use super::session::SessionPlan;
use super::{labelled, unsupported, RunObserver, RunSettings};
use crate::results::{RunResults, TargetResult};
use crate::scenario::capacity::CapacitySpec;
use crate::system::Shared;

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
