//! Published vs measured on capacity, for a capacity run whose scenario asks for it
//! (`[capacity] claims = true`): the published QPS ratios to the published reference
//! beside the ratios of the capacities measured under the run's objective. The two are
//! different quantities (peak throughput against the highest rate that meets a latency
//! objective), so every heading and cell says which is which.
//!
//! A ratio holds within the claims file's tolerance, as the QPS check does; a capacity
//! that is only a lower bound, below the lowest probe or undecided gives no ratio to
//! judge. The reference's row claims it is the fastest: that holds only when its
//! slowest search beat every other framework's fastest.

use super::capacity::with_capacity;
use super::claims::{Claim, PublishedClaims};
use super::comparable::run_gaps;
use super::table::Table;
use super::view::{grouped, one_line, plain_http1, ReportView};
use crate::results::capacity::{CapacityBound, CapacityTarget};
use crate::results::{TargetResult, TargetStatus};

/// The block: its heading, table and notes.
pub struct Section {
    pub heading: String,
    pub table: Table,
    pub notes: Vec<String>,
}

/// The scenario asked for published-vs-measured on capacity.
pub fn wanted(view: &ReportView) -> bool {
    view.results.scenario.capacity().is_some_and(|c| c.claims)
}

/// What the figures are called: "capacity at p99 <= 10 ms".
fn what(view: &ReportView) -> String {
    match with_capacity(view).first() {
        Some((_, c)) => format!(
            "capacity at {} <= {} ms",
            c.objective.percentile.label(),
            c.objective.bound_ms
        ),
        None => "capacity".to_string(),
    }
}

/// The block; `None` unless the scenario asked for it.
pub fn section(claims: &PublishedClaims, view: &ReportView) -> Option<Section> {
    if !wanted(view) {
        return None;
    }
    let what = what(view);
    let measured = format!("Measured {what} req/s");
    let mut table = Table::new(
        &["Framework", "Published QPS", &measured, "Verdict", "Why"],
        &[false; 5],
    );
    let reference = find(view, &claims.reference);
    for claim in &claims.claims {
        let published = format!(
            "{} ({:.2}x {})",
            grouped(claim.qps),
            claims.published_ratio(claim),
            claims.reference
        );
        let (measured, verdict, why) = judge(claims, claim, reference, view);
        table.push_for(
            &claim.target,
            vec![
                claim.framework.clone(),
                published,
                measured,
                verdict.to_string(),
                why,
            ],
        );
    }
    let notes = vec![
        format!("The scenario asked for the published figures to be held against {what} ([capacity] claims = true): the measured column is each framework's capacity under the run's objective, not its peak QPS, and the ratios are of capacities to {}'s. The published figures are peak QPS (wrk -c{}), so a ratio that holds says the frameworks keep their published proportions at equal latency, not that the published figures were reproduced.", claims.reference, claims.connections),
        format!("A ratio holds within {:.0}% of the published ratio; a capacity that is only a lower bound, below the lowest probe or undecided gives no ratio. {}'s row holds when its slowest search beat every other measured framework's fastest. Memory, startup and cold start are not judged in a capacity run.", claims.qps_ratio_tolerance * 100.0, claims.reference),
        format!("Source of the published figures: {}.", claims.source),
    ];
    Some(Section {
        heading: format!("Published vs measured: {what}"),
        table,
        notes,
    })
}

/// A target's HTTP/1.1 entry with its capacity record (what the claims were measured on).
fn find<'a>(view: &ReportView<'a>, name: &str) -> Option<(&'a TargetResult, &'a CapacityTarget)> {
    with_capacity(view)
        .into_iter()
        .find(|(t, _)| t.name == name && plain_http1(t) && t.status == TargetStatus::Ok)
}

type Outcome = (String, &'static str, String);

fn judge(
    claims: &PublishedClaims,
    claim: &Claim,
    reference: Option<(&TargetResult, &CapacityTarget)>,
    view: &ReportView,
) -> Outcome {
    let Some((_, capacity)) = find(view, &claim.target) else {
        return not_measured(view, &claim.target);
    };
    let mark = format!("{} req/s", capacity.mark());
    let gaps = run_gaps(view.results);
    if !gaps.is_empty() {
        return (
            mark,
            "not comparable",
            format!("not comparable: {}", gaps.join("; ")),
        );
    }
    let Some((_, base)) = reference else {
        let why = format!(
            "{} was not measured, so there is no ratio",
            claims.reference
        );
        return (mark, "not measured", why);
    };
    for (name, c) in [(&claim.target, capacity), (&claims.reference, base)] {
        if c.bound() != CapacityBound::Exact {
            let why = format!("not comparable: {name}'s capacity is {}", c.mark());
            return (mark, "not comparable", why);
        }
    }
    if claim.target == claims.reference {
        return fastest(claims, capacity, view, mark);
    }
    let (Some(value), Some(base_value)) = (capacity.median_capacity(), base.median_capacity())
    else {
        return (mark, "not comparable", "no capacity to divide".to_string());
    };
    let ratio = value / base_value;
    let measured = format!("{} ({ratio:.2}x {})", grouped(value), claims.reference);
    let off = ratio / claims.published_ratio(claim) - 1.0;
    if off.abs() <= claims.qps_ratio_tolerance {
        let why = format!(
            "within {:.0}% of the published QPS ratio",
            claims.qps_ratio_tolerance * 100.0
        );
        return (measured, "held", why);
    }
    let side = if off > 0.0 { "above" } else { "below" };
    let why = format!(
        "the capacity ratio is {:.0}% {side} the published QPS ratio",
        off.abs() * 100.0
    );
    (measured, "did not hold", why)
}

/// The reference's row: faster than every other published framework measured, in
/// every search.
fn fastest(
    claims: &PublishedClaims,
    base: &CapacityTarget,
    view: &ReportView,
    mark: String,
) -> Outcome {
    let Some(slowest) = base.capacity().map(|s| s.min) else {
        return (mark, "not comparable", "no capacity".to_string());
    };
    let others: Vec<(&str, f64)> = claims
        .claims
        .iter()
        .filter(|c| c.target != claims.reference)
        .filter_map(|c| {
            let (t, capacity) = find(view, &c.target)?;
            Some((t.name.as_str(), capacity.capacity()?.max))
        })
        .collect();
    if others.is_empty() {
        let why = "no other published framework has a capacity to rank against".to_string();
        return (mark, "not measured", why);
    }
    if let Some((name, _)) = others.iter().find(|(_, fastest)| *fastest > slowest) {
        let why = format!("{name} reached a higher capacity in at least one search");
        return (mark, "did not hold", why);
    }
    let why = "a higher capacity than every published framework measured, in every search";
    (mark, "held", why.to_string())
}

/// Why a published framework has no capacity here.
fn not_measured(view: &ReportView, name: &str) -> Outcome {
    let found = (view.results.targets.iter()).find(|t| t.name == name && plain_http1(t));
    let reason = |t: &TargetResult| one_line(t.reason.as_deref().unwrap_or("no reason recorded"));
    let why = match found {
        Some(t) if t.status == TargetStatus::Skipped => {
            format!("{name} was skipped: {}", reason(t))
        }
        Some(t) if t.status == TargetStatus::Failed => format!("{name} failed: {}", reason(t)),
        Some(_) => format!("{name} has no capacity in this run"),
        None => format!("{name} was not part of this run"),
    };
    ("-".to_string(), "not measured", why)
}
