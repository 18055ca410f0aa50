//! The progress output of a capacity run (`[capacity]` scenarios): how a target's line
//! ends once it is searched.

use crate::results::capacity::CapacityBound;
use crate::results::TargetResult;

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
