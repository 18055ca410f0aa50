//! The output of a capacity run (`[capacity]` scenarios): how a target's progress line
//! ends once it is searched, and its cell in the closing table.

use crate::results::capacity::CapacityBound;
use crate::results::{RunResults, TargetResult};

/// The end of a capacity run's target line: its capacity, or why it has none.
pub fn status(result: &TargetResult) -> String {
    let Some(capacity) = &result.capacity else {
        return "ok".to_string();
    };
    let objective = capacity.objective.describe();
    match capacity.bound() {
        CapacityBound::Undecided => "ok, capacity undecided (no usable probe)".to_string(),
        CapacityBound::BelowLowest { .. } => {
            format!(
                "ok, capacity {} req/s (the lowest probe) at {objective}",
                capacity.mark()
            )
        }
        _ => format!("ok, capacity {} req/s at {objective}", capacity.mark()),
    }
}

/// A capacity run (its scenario, or any of its targets, has capacity records).
pub fn is_capacity_run(results: &RunResults) -> bool {
    results.scenario.capacity().is_some() || results.targets.iter().any(|t| t.capacity.is_some())
}

/// A target's cell in a capacity run's closing table: its capacity as tables mark it.
pub fn cell(result: &TargetResult) -> String {
    result
        .capacity
        .as_ref()
        .map_or("-".to_string(), |c| c.mark())
}
