//! The progress output of a capacity run (`[capacity]` scenarios): how a target's line
//! ends once it is searched.

use crate::results::capacity::CapacityBound;
use crate::results::metrics::grouped;
use crate::results::TargetResult;

/// The end of a capacity run's target line: its capacity, or why it has none.
pub fn status(result: &TargetResult) -> String {
    let Some(capacity) = &result.capacity else {
        return "ok".to_string();
    };
    let median = capacity.median_capacity().map(grouped);
    let objective = capacity.objective.describe();
    match (capacity.bound(), median) {
        (CapacityBound::Exact, Some(c)) => format!("ok, capacity {c} req/s at {objective}"),
        (CapacityBound::AtLeast, Some(c)) => {
            format!("ok, capacity at least {c} req/s at {objective} (a lower bound)")
        }
        (CapacityBound::BelowLowest { lowest_rps }, _) => format!(
            "ok, capacity below the lowest probe ({} req/s) at {objective}",
            grouped(lowest_rps)
        ),
        _ => "ok, capacity undecided (no usable probe at the lowest rate)".to_string(),
    }
}
