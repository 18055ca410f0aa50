//! `lanebench compare`'s judgement: matches a baseline's and a candidate's targets and
//! load levels, and decides per figure whether the candidate improved, regressed or
//! stayed within noise.
//!
//! The rule (also in the docs): the change is the ratio of the candidate's median to the
//! baseline's (a difference in percentage points for the error rate). With at least two
//! values on both sides, a 95 % percentile bootstrap interval of that change is computed
//! (seeded, [`bootstrap`]) together with an exact one-sided Mann-Whitney test
//! ([`rank_test`]); a figure regressed only when the median change is beyond the threshold
//! in the worse direction AND the whole interval lies beyond the threshold too AND the
//! test's p-value in the worse direction is at most 0.05. With a single run whose launches are summarized (startup, cold start), the
//! interval is the ratio of the extremes of the two ranges. With one value on a side,
//! only the threshold is applied, and the output says so.
//!
//! Instruction counts (`lanebench cost`) are deterministic: their interval is always the
//! one the extremes of the two sides' counts allow, with no rank test, against a tight
//! threshold (1 %). `--fail-on` ([`FailOn`]) decides which regressed figures fail the job.
//!
//! The candidate is untrusted: its thresholds are never used (they come from the command
//! line and the baseline's record of the manifest), and whatever the baseline measured
//! that the candidate lacks is [`Missing`] and fails the job.
//!
//! With `--reference NAME` ([`reference`]) the figures that scale with the machine's
//! speed are judged as ratios to NAME's same figure in the same run, by the same rule.

pub mod baseline;
pub mod bootstrap;
mod counts;
pub mod figure;
pub mod missing;
pub mod rank_test;
pub mod reference;
pub mod render;
pub mod samples;
mod timed;

use serde::Serialize;

use crate::stats::{coefficient_of_variation, median};
use bootstrap::{median_contrast_interval, Contrast, Interval, CONFIDENCE, RESAMPLES, SEED};
pub use figure::{FailOn, Figure, Thresholds};
pub use missing::Missing;
pub use samples::{LevelKey, Samples, Side, MIX};

/// Why two sides cannot be compared (all are bad input: exit 2 in the CLI).
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A file or folder cannot be read or is not a results file of this schema version.
    #[error("{0}")]
    Input(String),
    /// The runs measured different request mixes.
    #[error("{baseline} (scenario {baseline_scenario:?}) and {candidate} (scenario {candidate_scenario:?}) ran different request mixes")]
    DifferentMix {
        baseline: String,
        baseline_scenario: String,
        candidate: String,
        candidate_scenario: String,
    },
    /// No target of the baseline appears in the candidate at all.
    #[error("{baseline} and {candidate}: nothing to compare (no target with the same name on both sides)")]
    NothingToCompare { baseline: String, candidate: String },
    /// `--reference NAME` did not finish on a side, so no ratio has a denominator.
    #[error("--reference {reference}: {problem}")]
    Reference { reference: String, problem: String },
}

/// How a row's verdict was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Bootstrap interval over at least two values per side.
    Bootstrap,
    /// Interval from the min/max of each side: one run's repeated launches (startup,
    /// cold start), or every count of a deterministic figure.
    Range,
    /// One value on a side: the threshold alone decides.
    ThresholdOnly,
}

/// The outcome for one figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Improved,
    Regressed,
    /// Within the threshold or not significant.
    Unchanged,
    /// The change is undefined (a ratio over a zero baseline).
    NotComparable,
    /// A figure of the `--reference` target itself: shown, not judged, since the other
    /// targets' ratios are taken to it.
    Reference,
}

/// One compared figure of one target (and level).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub target: String,
    /// `64c`, `64c@1000rps`; `None` for target-wide figures (memory, startup, cold start).
    pub level: Option<String>,
    /// The scenario request (or `mix`) of a per-request figure (instructions).
    pub request: Option<String>,
    pub figure: Figure,
    /// The figure's unit, or `x NAME` for a ratio to the `--reference` target NAME.
    pub unit: String,
    /// Median over the side's values.
    pub baseline: f64,
    pub candidate: f64,
    pub baseline_n: usize,
    pub candidate_n: usize,
    /// Coefficient of variation of each side's values (how noisy they were), with >= 2 values.
    pub baseline_cv: Option<f64>,
    pub candidate_cv: Option<f64>,
    /// Relative change (0.1 = +10 %), or the difference for the error rate.
    pub change: Option<f64>,
    /// The interval of `change` (bootstrap or range); `None` with the threshold alone.
    pub interval: Option<(f64, f64)>,
    /// One-sided exact Mann-Whitney p-value in the direction of the change (bootstrap rows).
    pub p_value: Option<f64>,
    pub threshold: f64,
    pub method: Method,
    pub verdict: Verdict,
    /// Whether this figure may fail the job (`--fail-on`).
    pub gates: bool,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub baseline: String,
    pub candidate: String,
    /// The `--reference` target the machine-dependent figures are ratios to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Timed runs (results.json) of each side.
    pub baseline_runs: usize,
    pub candidate_runs: usize,
    /// Instruction counts (cost.json) of each side.
    pub baseline_counts: usize,
    pub candidate_counts: usize,
    pub thresholds: Thresholds,
    /// The figures whose regression fails the job (`--fail-on`, resolved).
    pub fail_on: Vec<Figure>,
    pub confidence: f64,
    pub resamples: usize,
    pub seed: u64,
    pub rows: Vec<Row>,
    /// Targets in the candidate only, counts not compared and why, and other remarks.
    pub notes: Vec<String>,
    /// Targets that finished in the baseline but failed in the candidate: a regression.
    pub failed_in_candidate: Vec<String>,
    /// What the baseline measured and the candidate lacks: fails the job too.
    pub missing: Vec<Missing>,
}

impl Comparison {
    /// The rows whose verdict is [`Verdict::Regressed`].
    pub fn regressions(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.verdict == Verdict::Regressed)
    }

    /// True when the job must fail: a gating figure regressed, a target no longer
    /// finishes, or the candidate lacks something the baseline measured.
    pub fn regressed(&self) -> bool {
        self.regressions().any(|r| r.gates)
            || !self.failed_in_candidate.is_empty()
            || !self.missing.is_empty()
    }

    /// True when any row was decided by the threshold alone.
    pub fn any_threshold_only(&self) -> bool {
        self.rows.iter().any(|r| r.method == Method::ThresholdOnly)
    }
}

/// Rows and remarks found by one part of the comparison.
#[derive(Debug, Default)]
struct Found {
    rows: Vec<Row>,
    notes: Vec<String>,
    failed_in_candidate: Vec<String>,
    missing: Vec<Missing>,
}

impl Found {
    fn extend(&mut self, other: Found) {
        self.rows.extend(other.rows);
        self.notes.extend(other.notes);
        self.failed_in_candidate.extend(other.failed_in_candidate);
        self.missing.extend(other.missing);
    }

    /// The row deciding `figure`, or a [`Missing`] entry when the baseline has values
    /// the candidate lacks (a figure neither side has is not a row at all).
    fn decide_or_missing(
        &mut self,
        target: &str,
        level: Option<String>,
        figure: Figure,
        base: &Samples,
        cand: &Samples,
        thresholds: &Thresholds,
    ) -> Option<&mut Row> {
        if !base.values.is_empty() && cand.values.is_empty() {
            self.missing.push(Missing::figure(target, level, figure));
            return None;
        }
        let row = decide(target, level, figure, base, cand, thresholds)?;
        self.rows.push(row);
        self.rows.last_mut()
    }
}

/// Compares every target and level the two sides share, and every counted request.
pub fn compare(
    baseline: &Side,
    candidate: &Side,
    thresholds: &Thresholds,
    fail_on: &FailOn,
) -> Result<Comparison, CompareError> {
    compare_to_reference(baseline, candidate, thresholds, fail_on, None)
}

/// [`compare`], with the machine-dependent figures of every target but `reference` judged
/// as ratios to that target's (`--reference`; see [`reference`]).
pub fn compare_to_reference(
    baseline: &Side,
    candidate: &Side,
    thresholds: &Thresholds,
    fail_on: &FailOn,
    reference: Option<&str>,
) -> Result<Comparison, CompareError> {
    if baseline.request_mix()? != candidate.request_mix()? {
        return Err(CompareError::DifferentMix {
            baseline: baseline.label.clone(),
            baseline_scenario: baseline.scenario_name(),
            candidate: candidate.label.clone(),
            candidate_scenario: candidate.scenario_name(),
        });
    }
    if !baseline.shares_a_target_with(candidate) {
        return Err(CompareError::NothingToCompare {
            baseline: baseline.label.clone(),
            candidate: candidate.label.clone(),
        });
    }
    if let Some(reference) = reference {
        reference::check(reference, baseline, candidate)?;
    }
    let mut found = counts::cost_rows(baseline, candidate, thresholds);
    found.extend(timed::rows(baseline, candidate, thresholds, reference));
    let fail_on = fail_on.resolve(found.rows.iter().any(|r| r.figure.is_deterministic()));
    // A chain's figures gate only a comparison that holds them: one without a chain
    // lists the same figures as before they existed.
    let has_chain = found.rows.iter().any(|r| r.figure.only_when_present())
        || found
            .missing
            .iter()
            .any(|m| m.figure.is_some_and(Figure::only_when_present));
    let fail_on: Vec<Figure> = fail_on
        .into_iter()
        .filter(|f| has_chain || !f.only_when_present())
        .collect();
    for row in &mut found.rows {
        row.gates = fail_on.contains(&row.figure);
    }
    Ok(Comparison {
        baseline: baseline.label.clone(),
        candidate: candidate.label.clone(),
        reference: reference.map(str::to_string),
        baseline_runs: baseline.runs.len(),
        candidate_runs: candidate.runs.len(),
        baseline_counts: baseline.costs.len(),
        candidate_counts: candidate.costs.len(),
        thresholds: thresholds.clone(),
        fail_on,
        confidence: CONFIDENCE,
        resamples: RESAMPLES,
        seed: SEED,
        rows: found.rows,
        notes: found.notes,
        failed_in_candidate: found.failed_in_candidate,
        missing: found.missing,
    })
}

/// Decides one figure; `None` when a side has no value for it.
pub fn decide(
    target: &str,
    level: Option<String>,
    figure: Figure,
    base: &Samples,
    cand: &Samples,
    thresholds: &Thresholds,
) -> Option<Row> {
    let (baseline, candidate) = (median(&base.values)?, median(&cand.values)?);
    let contrast = figure.contrast();
    let to_change = |v: f64| match contrast {
        Contrast::Ratio => v - 1.0,
        Contrast::Difference => v,
    };
    let change = contrast.of(baseline, candidate).map(to_change);
    let (method, interval) = if figure.is_deterministic() {
        let extremes = range_interval(&base.extremes(), &cand.extremes(), contrast);
        (Method::Range, extremes)
    } else if base.values.len() >= 2 && cand.values.len() >= 2 {
        let i = median_contrast_interval(&base.values, &cand.values, contrast, RESAMPLES, SEED);
        (Method::Bootstrap, i)
    } else {
        match range_interval(base, cand, contrast) {
            Some(i) => (Method::Range, Some(i)),
            None => (Method::ThresholdOnly, None),
        }
    };
    let interval = interval.map(|i| (to_change(i.low), to_change(i.high)));
    // (candidate larger, candidate smaller); the swap asks the mirrored question.
    let p = (method == Method::Bootstrap)
        .then(|| {
            Some((
                rank_test::p_candidate_greater(&base.values, &cand.values)?,
                rank_test::p_candidate_greater(&cand.values, &base.values)?,
            ))
        })
        .flatten();
    let threshold = thresholds.of(figure);
    let verdict = judge(figure, change, interval, p, threshold);
    let p_value = p.map(|(up, down)| {
        if change.unwrap_or(0.0) >= 0.0 {
            up
        } else {
            down
        }
    });
    Some(Row {
        target: target.to_string(),
        level,
        request: None,
        figure,
        unit: figure.unit().to_string(),
        baseline,
        candidate,
        baseline_n: base.values.len(),
        candidate_n: cand.values.len(),
        baseline_cv: coefficient_of_variation(&base.values),
        candidate_cv: coefficient_of_variation(&cand.values),
        change,
        interval,
        p_value,
        threshold,
        method,
        verdict,
        gates: true,
    })
}

/// The widest change the two single-run ranges allow: from the candidate's best against
/// the baseline's worst to the other way round.
fn range_interval(base: &Samples, cand: &Samples, contrast: Contrast) -> Option<Interval> {
    let (b, c) = (base.range?, cand.range?);
    let low = contrast.of(b.max, c.min)?;
    let high = contrast.of(b.min, c.max)?;
    (low.is_finite() && high.is_finite()).then_some(Interval { low, high })
}

/// The verdict from the change, its interval, the rank test's one-sided p-values
/// (candidate larger, candidate smaller) when there are repeats, and the threshold (see
/// the module docs).
pub fn judge(
    figure: Figure,
    change: Option<f64>,
    interval: Option<(f64, f64)>,
    p: Option<(f64, f64)>,
    threshold: f64,
) -> Verdict {
    let Some(change) = change else {
        return Verdict::NotComparable;
    };
    // Orient so that positive means "worse" whatever the figure's direction.
    let higher_better = figure.higher_is_better();
    let worse = |v: f64| if higher_better { -v } else { v };
    let (point, low, high) = match interval {
        None => (worse(change), worse(change), worse(change)),
        Some((a, b)) => {
            let (a, b) = (worse(a), worse(b));
            (worse(change), a.min(b), a.max(b))
        }
    };
    let (p_worse, p_better) = match p {
        None => (0.0, 0.0),
        Some((up, down)) if higher_better => (down, up),
        Some((up, down)) => (up, down),
    };
    if point > threshold && low > threshold && p_worse <= rank_test::ALPHA {
        Verdict::Regressed
    } else if point < -threshold && high < -threshold && p_better <= rank_test::ALPHA {
        Verdict::Improved
    } else {
        Verdict::Unchanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(values: &[f64]) -> Samples {
        Samples {
            values: values.to_vec(),
            range: None,
        }
    }

    fn verdict(figure: Figure, base: &[f64], cand: &[f64]) -> Row {
        decide(
            "t",
            None,
            figure,
            &samples(base),
            &samples(cand),
            &Thresholds::default(),
        )
        .unwrap()
    }

    #[test]
    fn clear_throughput_drop_with_repeats_regresses() {
        let row = verdict(
            Figure::Qps,
            &[1000.0, 1010.0, 990.0],
            &[800.0, 805.0, 795.0],
        );
        assert_eq!(row.method, Method::Bootstrap);
        assert!((row.change.unwrap() + 0.2).abs() < 1e-12);
        let (low, high) = row.interval.unwrap();
        assert!(low < -0.2 && high > -0.2 && high < -0.05, "{low} {high}");
        assert_eq!(row.verdict, Verdict::Regressed);
    }

    #[test]
    fn two_repeats_per_side_can_never_be_significant() {
        // Complete separation by 20 %, but with 2 + 2 values the exact p is 1/6.
        let row = verdict(Figure::Qps, &[1000.0, 1010.0], &[800.0, 805.0]);
        assert!((row.p_value.unwrap() - 1.0 / 6.0).abs() < 1e-12);
        assert!(row.interval.unwrap().1 < -0.05);
        assert_eq!(row.verdict, Verdict::Unchanged);
    }

    #[test]
    fn lower_latency_is_an_improvement() {
        let row = verdict(Figure::P99, &[10.0, 10.5, 9.5], &[7.0, 7.2, 6.8]);
        assert_eq!(row.verdict, Verdict::Improved);
    }

    #[test]
    fn overlapping_noisy_repeats_are_not_flagged() {
        let row = verdict(
            Figure::Qps,
            &[1000.0, 800.0, 1200.0],
            &[850.0, 700.0, 1100.0],
        );
        assert!(row.change.unwrap() < -0.05);
        assert_eq!(row.verdict, Verdict::Unchanged);
    }

    #[test]
    fn significant_but_small_changes_stay_unchanged() {
        let row = verdict(
            Figure::Qps,
            &[1000.0, 1001.0, 999.0],
            &[980.0, 981.0, 979.0],
        );
        assert_eq!(row.verdict, Verdict::Unchanged);
    }

    #[test]
    fn single_values_use_the_threshold_alone() {
        let row = verdict(Figure::Memory, &[100.0], &[104.0]);
        assert_eq!(
            (row.method, row.verdict),
            (Method::ThresholdOnly, Verdict::Unchanged)
        );
        let row = verdict(Figure::Memory, &[100.0], &[106.0]);
        assert_eq!(row.verdict, Verdict::Regressed);
    }

    #[test]
    fn error_rate_changes_in_percentage_points() {
        let row = verdict(Figure::Errors, &[0.0], &[0.02]);
        assert!((row.change.unwrap() - 0.02).abs() < 1e-12);
        assert_eq!(row.verdict, Verdict::Regressed);
        assert_eq!(
            verdict(Figure::Errors, &[0.0], &[0.005]).verdict,
            Verdict::Unchanged
        );
    }

    #[test]
    fn single_run_ranges_decide_startup() {
        let range = |min, med, max| Samples {
            values: vec![med],
            range: Some(samples::Range { min, max, n: 3 }),
        };
        let t = Thresholds::default();
        let apart = decide(
            "t",
            None,
            Figure::Startup,
            &range(9.0, 10.0, 11.0),
            &range(14.0, 15.0, 16.0),
            &t,
        )
        .unwrap();
        assert_eq!(
            (apart.method, apart.verdict),
            (Method::Range, Verdict::Regressed)
        );
        let overlap = decide(
            "t",
            None,
            Figure::Startup,
            &range(9.0, 10.0, 15.0),
            &range(10.0, 13.0, 16.0),
            &t,
        )
        .unwrap();
        assert_eq!(overlap.verdict, Verdict::Unchanged);
    }

    #[test]
    fn zero_baseline_ratio_is_not_comparable() {
        assert_eq!(
            verdict(Figure::P99, &[0.0], &[1.0]).verdict,
            Verdict::NotComparable
        );
    }
}
