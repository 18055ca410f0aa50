//! The instruction-count rows of a comparison: one per counted scenario request and one
//! for the mix, for every target counted on both sides. A target that could not be
//! counted is named with its reason in the notes, never compared as 0; one whose count
//! failed in the candidate but not the baseline fails the comparison, and one counted in
//! the baseline but not in the candidate is [`Missing`].
//!
//! A target's manifest may declare a wider threshold for its counts (`[cost] threshold`).
//! Only the baseline's record of it is used: the candidate is the file being judged, so a
//! threshold it carries would let it judge itself.

use super::samples::Side;
use super::{decide, Figure, Found, Missing, Thresholds};
use crate::results::cost::{CostStatus, TargetCost};

/// Rows, notes and failures of the instruction counts.
pub(super) fn cost_rows(baseline: &Side, candidate: &Side, thresholds: &Thresholds) -> Found {
    let mut found = Found::default();
    if baseline.costs.is_empty() && candidate.costs.is_empty() {
        return found;
    }
    let candidate_names = candidate.cost_target_names();
    for name in baseline.cost_target_names() {
        let counted = |side: &Side| side.costs_of(&name).any(|t| t.status == CostStatus::Ok);
        if !counted(baseline) {
            found.notes.push(not_counted(&name, "baseline", baseline));
            continue;
        }
        if !candidate_names.contains(&name) {
            found.missing.push(Missing::count(&name, None));
            continue;
        }
        if !counted(candidate) {
            if candidate
                .costs_of(&name)
                .any(|t| t.status == CostStatus::Failed)
            {
                found
                    .failed_in_candidate
                    .push(format!("{name} (instruction count)"));
            } else {
                found.missing.push(Missing::count(&name, None));
            }
            found.notes.push(not_counted(&name, "candidate", candidate));
            continue;
        }
        let (thresholds, notes) = widened(thresholds, &name, baseline, candidate);
        found.notes.extend(notes);
        for request in baseline.cost_request_names(&name) {
            let base = baseline.cost_samples(&name, &request);
            let cand = candidate.cost_samples(&name, &request);
            if !base.values.is_empty() && cand.values.is_empty() {
                found.missing.push(Missing::count(&name, Some(request)));
                continue;
            }
            let row = decide(&name, None, Figure::Instructions, &base, &cand, &thresholds);
            found.rows.extend(row.map(|mut row| {
                row.request = Some(request.clone());
                row
            }));
        }
    }
    for name in candidate_names {
        if !baseline.cost_target_names().contains(&name) {
            found.notes.push(format!(
                "{name}: instructions counted in the candidate only"
            ));
        }
    }
    found.notes.extend(setting_notes(baseline, candidate));
    found
}

/// The thresholds for target `name`'s counts: the instruction threshold raised to the
/// largest `[cost] threshold` the baseline recorded from its manifest, with a note saying
/// so. A threshold in the candidate is ignored (with a note when it differs), and so is
/// one outside the manifest's range (0 to 100 %).
fn widened(
    thresholds: &Thresholds,
    name: &str,
    baseline: &Side,
    candidate: &Side,
) -> (Thresholds, Vec<String>) {
    let mut notes = Vec::new();
    let recorded: Vec<f64> = baseline
        .costs_of(name)
        .filter_map(|t| t.threshold)
        .collect();
    let valid = |t: &f64| t.is_finite() && (0.0..=1.0).contains(t);
    if let Some(bad) = recorded.iter().find(|t| !valid(t)) {
        notes.push(format!(
            "{name}: the baseline's [cost] threshold {bad} is outside 0 to 1 (0% to 100%) and was ignored"
        ));
    }
    let declared = recorded.iter().copied().filter(valid).fold(0.0, f64::max);
    let claimed = candidate
        .costs_of(name)
        .filter_map(|t| t.threshold)
        .find(|t| !recorded.contains(t));
    if let Some(claimed) = claimed {
        notes.push(format!(
            "{name}: the candidate's [cost] threshold ({:.1}%) was ignored: thresholds come from the baseline and the command line",
            claimed * 100.0
        ));
    }
    let current = thresholds.of(Figure::Instructions);
    if declared <= current {
        return (thresholds.clone(), notes);
    }
    let mut widened = thresholds.clone();
    widened.per_figure.insert(Figure::Instructions, declared);
    notes.push(format!(
        "{name}: instructions judged at {:.1}% instead of {:.1}%: its manifest's [cost] threshold as the baseline recorded it (its counts vary more between runs)",
        declared * 100.0,
        current * 100.0
    ));
    (widened, notes)
}

/// Why `name` has no count on `side`: the status and reason of its first result.
fn not_counted(name: &str, which: &str, side: &Side) -> String {
    let first: Option<&TargetCost> = side.costs_of(name).next();
    let (status, reason) = match first {
        Some(t) => (
            match t.status {
                CostStatus::Unsupported => "unsupported",
                CostStatus::Skipped => "skipped",
                CostStatus::Failed => "failed",
                CostStatus::Ok => "ok",
            },
            t.reason.clone().unwrap_or_default(),
        ),
        None => ("absent", String::new()),
    };
    format!("{name}: instructions not compared, {status} in the {which}: {reason}")
}

/// Differences in how the two sides counted, which make counts incomparable or shifted.
fn setting_notes(baseline: &Side, candidate: &Side) -> Vec<String> {
    let mut notes = Vec::new();
    let (b, c) = (baseline.valgrind_versions(), candidate.valgrind_versions());
    if !b.is_empty() && !c.is_empty() && b != c {
        notes.push(format!(
            "instructions were counted with different valgrind versions: {} (baseline) and {} (candidate)",
            b.join(", "),
            c.join(", ")
        ));
    }
    let requests = |side: &Side| {
        let mut counts: Vec<(u64, u64)> = side
            .costs
            .iter()
            .map(|c| (c.counting.requests, c.counting.warmup))
            .collect();
        counts.dedup();
        counts
    };
    if !baseline.costs.is_empty()
        && !candidate.costs.is_empty()
        && requests(baseline) != requests(candidate)
    {
        notes.push(
            "instructions were counted with different --requests or --warmup on the two sides; per-request figures shift slightly with them"
                .to_string(),
        );
    }
    notes
}
