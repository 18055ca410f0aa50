//! When a run can hold a published claim at all. The published figures are
//! `wrk -c360 -d60s` against one GET route; a run that measured something else (a mixed
//! workload, other connections, one repeat, a warm-up that never settled, a level the
//! generator limited, errors) says nothing about them, and a verdict on it would be a
//! false statement. Each condition that fails is named, so "not comparable" always says
//! why.

use crate::results::{LevelResult, RunResults, Saturation, TargetResult};

/// Repeats a level needs before it can hold a claim.
pub const MIN_REPEATS: usize = 3;
/// Error rate a level must stay below.
pub const MAX_ERROR_RATE: f64 = 0.001;

/// Why the run as a whole does not match the published setup (empty when it does).
pub fn run_gaps(results: &RunResults) -> Vec<String> {
    let requests = results.scenario.requests();
    let count = requests.len();
    let method = requests.first().map_or("GET", |r| r.method());
    if count != 1 {
        let name = results.scenario.name();
        return vec![format!(
            "{name} scenario mixes {count} requests, not one GET route"
        )];
    }
    if !method.eq_ignore_ascii_case("GET") {
        return vec![format!(
            "the scenario's one request is a {method}, not a GET"
        )];
    }
    // wrk sends one request at a time per connection.
    let pipeline = results
        .scenario
        .rest
        .get("pipeline")
        .and_then(|v| v.as_u64());
    match pipeline {
        Some(depth) if depth > 1 => vec![format!("requests were pipelined {depth} deep")],
        _ => Vec::new(),
    }
}

/// The level of `target` at the published concurrency.
pub fn level_at(target: &TargetResult, connections: usize) -> Option<&LevelResult> {
    target
        .levels
        .iter()
        .find(|l| l.connections == connections && l.rate.is_none())
}

/// Why `target`'s level at `connections` cannot hold a claim (empty when it can).
pub fn level_gaps(target: &TargetResult, connections: usize) -> Vec<String> {
    let name = &target.name;
    let Some(level) = level_at(target, connections) else {
        return vec![format!(
            "{name} has no closed-loop level at {connections} connections"
        )];
    };
    let mut gaps = Vec::new();
    if level.saturation != Saturation::Server {
        let verdict = level.saturation.label();
        gaps.push(format!("{name} was not server-bound ({verdict})"));
    }
    for caveat in level.caveats.iter().filter(|c| c.is_noisy()) {
        gaps.push(format!(
            "{name} was measured on busy CPUs ({})",
            caveat.describe()
        ));
    }
    match level.steady {
        Some(true) => {}
        Some(false) => gaps.push(format!("{name} never reached steady throughput")),
        None => gaps.push(format!("{name}'s steadiness was not checked")),
    }
    if level.error_rate.median >= MAX_ERROR_RATE {
        gaps.push(format!(
            "{name} had {:.2}% errors (the bar is {:.1}%)",
            level.error_rate.median * 100.0,
            MAX_ERROR_RATE * 100.0
        ));
    }
    let n = level.throughput().n;
    if n < MIN_REPEATS {
        let repeats = if n == 1 { "repeat" } else { "repeats" };
        gaps.push(format!(
            "{name}: {n} {repeats} (at least {MIN_REPEATS} needed)"
        ));
    }
    gaps
}

/// `a` is faster than `b` beyond the spread of their repeats: every repeat of `a`
/// served more than every repeat of `b`. `None` when the ranges overlap.
pub fn clearly_faster(a: &LevelResult, b: &LevelResult) -> Option<bool> {
    let (a, b) = (a.throughput(), b.throughput());
    if a.min > b.max {
        Some(true)
    } else if b.min > a.max {
        Some(false)
    } else {
        None
    }
}
