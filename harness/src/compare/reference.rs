//! `compare --reference NAME`: figures judged as ratios to another target of the same
//! run. Two runs on a faster or slower machine, or on one that ran hot, differ for
//! every target alike; dividing each target's figure by the reference's same figure in
//! the same run cancels that, and what is left is how the target moved against the
//! reference.
//!
//! Only the figures that scale with the machine's speed become ratios (see
//! [`Figure::scales_with_machine`]). Each run is divided by its own reference, so
//! pooled rounds taken at different moments each cancel their own machine state.

use crate::results::{RunResults, TargetResult, TargetStatus};
use crate::stats::median;

use super::figure::Figure;
use super::samples::{LevelKey, Range, Samples, Side};
use super::CompareError;

/// Checks that `reference` finished in both sides, so every ratio has a denominator.
pub fn check(reference: &str, baseline: &Side, candidate: &Side) -> Result<(), CompareError> {
    for (which, side) in [("baseline", baseline), ("candidate", candidate)] {
        if side.target_names().iter().any(|n| n == reference) {
            continue;
        }
        let label = &side.label;
        let problem = if side.runs.is_empty() {
            format!("the {which} ({label}) has no timed run; instruction counts stay absolute")
        } else if side.failed(reference) {
            format!("failed in the {which} ({label})")
        } else {
            format!("is not a target that finished in the {which} ({label})")
        };
        return Err(CompareError::Reference {
            reference: reference.to_string(),
            problem,
        });
    }
    Ok(())
}

/// The finished results of target `name` in one run.
fn finished<'a>(run: &'a RunResults, name: &'a str) -> impl Iterator<Item = &'a TargetResult> {
    run.targets
        .iter()
        .filter(move |t| t.name == name && t.status == TargetStatus::Ok)
}

/// Per-repeat values of `figure` of target `name` at `key` in one run.
fn repeat_values(run: &RunResults, name: &str, key: &LevelKey, figure: Figure) -> Vec<f64> {
    let metric = figure.metric();
    finished(run, name)
        .flat_map(|t| {
            t.levels
                .iter()
                .filter(|l| LevelKey::of(l) == *key)
                .flat_map(move |l| metric.repeat_values(t, l))
        })
        .collect()
}

impl Side {
    /// True when `reference` measured level `key` in some run of this side.
    pub fn reference_has_level(&self, reference: &str, key: &LevelKey) -> bool {
        !self
            .level_samples(reference, key, Figure::Qps)
            .values
            .is_empty()
    }

    /// A per-level figure of target `name` as ratios: each repeat's value over the
    /// reference's median of the same figure at the same level in the same run. A run
    /// where the reference lacks the level, or its median is zero, gives no values.
    pub fn level_ratio_samples(
        &self,
        name: &str,
        reference: &str,
        key: &LevelKey,
        figure: Figure,
    ) -> Samples {
        let mut values = Vec::new();
        for run in &self.runs {
            let Some(denominator) = median(&repeat_values(run, reference, key, figure)) else {
                continue;
            };
            let ratios = repeat_values(run, name, key, figure)
                .into_iter()
                .map(|v| v / denominator)
                .filter(|r| r.is_finite());
            values.extend(ratios);
        }
        Samples {
            values,
            range: None,
        }
    }

    /// A target-wide figure (startup, cold start) of target `name` as ratios: each
    /// run's median over the reference's median in the same run. With a single run, its
    /// launches' min and max are divided by the same denominator and kept as `range`.
    pub fn target_ratio_samples(&self, name: &str, reference: &str, figure: Figure) -> Samples {
        let metric = figure.metric();
        let mut ratios = Vec::new();
        for run in &self.runs {
            let denominator = finished(run, reference).find_map(|t| metric.of_target(t));
            let Some(denominator) = denominator.map(|s| s.median) else {
                continue;
            };
            for spread in finished(run, name).filter_map(|t| metric.of_target(t)) {
                let scaled = Range {
                    min: spread.min / denominator,
                    max: spread.max / denominator,
                    n: spread.n,
                };
                let median = spread.median / denominator;
                if median.is_finite() && scaled.min.is_finite() && scaled.max.is_finite() {
                    ratios.push((median, scaled));
                }
            }
        }
        let range = match ratios.as_slice() {
            [(_, only)] if only.n >= 2 => Some(*only),
            _ => None,
        };
        Samples {
            values: ratios.iter().map(|(median, _)| *median).collect(),
            range,
        }
    }
}
