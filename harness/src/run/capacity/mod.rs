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
//! searches) and the repeats' spread show. This module is one session's work (`session`
//! runs it); the passes over the targets are `capacity_run`'s.

pub mod prober;
pub mod search;

use std::time::{Duration, Instant};

use super::drive::Bench;
use super::failure::Failure;
use super::outcome::{CapacitySession, SessionOutcome};
use crate::results::capacity::{LoadAt, ProbeStage};
use crate::scenario::capacity::CapacitySpec;
use crate::scenario::plan::prepare;
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
