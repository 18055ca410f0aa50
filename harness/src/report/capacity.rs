//! The report's "Capacity" section, for runs with `[capacity]` (figures computed once in
//! `results::capacity`, defined in docs/metrics.md): per target, the highest open-loop
//! rate that met the latency objective, how it is known (exact, a lower bound, below the
//! lowest probe, undecided), and the latency at a fraction of its own capacity and at
//! equal load. Values that have a metric-table row are printed as the table prints them.
//!
//! A capacity run measures probes instead of a ladder, so its targets have no QPS and
//! are not among the view's ranked targets: this section finds them itself.

use super::table::Table;
use super::view::{display_name, grouped, latency_ms, one_line, with_protocol, ReportView};
use crate::results::capacity::{
    CapacityBound, CapacityTarget, LoadAt, ProbeVerdict, SearchVerdict,
};
use crate::results::{TargetResult, TargetStatus};
use crate::stats::Spread;

/// The section's text: an introduction, the table and the notes under it.
pub struct Section {
    pub intro: String,
    pub table: Table,
    /// Why lower bounds and undecided searches are what they are, and the targets not
    /// measured.
    pub notes: Vec<String>,
}

/// The run had a `[capacity]` section, or a target recorded a capacity search.
pub fn capacity_run(view: &ReportView) -> bool {
    view.results.scenario.capacity().is_some() || !with_capacity(view).is_empty()
}

/// A report of a capacity run alone: none of its targets measured on a ladder. Its
/// ladder sections and charts would be empty, so they are left out.
pub fn capacity_only(view: &ReportView) -> bool {
    view.ranked.is_empty() && capacity_run(view)
}

/// The targets with a capacity record, in run order, with it.
pub fn with_capacity<'a>(view: &ReportView<'a>) -> Vec<(&'a TargetResult, &'a CapacityTarget)> {
    view.results
        .targets
        .iter()
        .filter(|t| t.status != TargetStatus::Skipped)
        .filter_map(|t| Some((t, t.capacity.as_ref()?)))
        .collect()
}

/// The run's objective in words (`p99 <= 10 ms, errors <= 0.1%`), from the records, or
/// as the scenario wrote it when no target has one.
pub fn objective(view: &ReportView) -> Option<String> {
    with_capacity(view)
        .first()
        .map(|(_, c)| c.objective.describe())
        .or_else(|| view.results.scenario.capacity()?.objective)
}

/// The section; `None` for a run without `[capacity]`.
pub fn section(view: &ReportView) -> Option<Section> {
    if !capacity_run(view) {
        return None;
    }
    let targets = with_capacity(view);
    let label = targets
        .first()
        .map_or("p99", |(_, c)| c.objective.percentile.label());
    let headings = [
        "Framework".to_string(),
        "capacity req/s".to_string(),
        "per server CPU".to_string(),
        format!("{label} at capacity ms"),
        "bracket (median search)".to_string(),
        "searches".to_string(),
        "unusable probes".to_string(),
        format!("{label} at a fraction of its own ms"),
        format!("{label} at equal load ms"),
    ];
    let headings: Vec<&str> = headings.iter().map(String::as_str).collect();
    let numeric = [false, true, true, true, false, true, true, true, true];
    let mut table = Table::new(&headings, &numeric);
    let mut notes = Vec::new();
    for (t, c) in &targets {
        table.push_for(&t.name, row(t, c));
        notes.extend(search_notes(t, c));
    }
    notes.extend(not_measured(view));
    Some(Section {
        intro: intro(view, &targets),
        table,
        notes,
    })
}

fn intro(view: &ReportView, targets: &[(&TargetResult, &CapacityTarget)]) -> String {
    let objective = objective(view).unwrap_or_else(|| "not recorded".to_string());
    let searches = targets
        .iter()
        .map(|(_, c)| c.searches.len())
        .max()
        .unwrap_or(0);
    let searches = match searches {
        1 => "once".to_string(),
        n => format!("{n} times"),
    };
    format!(
        "Capacity under the objective {objective}: the highest open-loop rate at which a probe met it. Each search ramps the offered rate up until a probe misses, then halves the bracket between the highest rate that met and the lowest that missed; latency is corrected (from each request's intended send time), and a probe that was generator-limited, noisy or not steady is measured again and never used. Each target was searched {searches}: the capacity is the median with min-max over the searches; \">=\" marks a lower bound (the search could not go higher), and a target that missed at the lowest probe has no number. Then each target was driven at a fraction of its own capacity and every target at one rate, a fraction of the slowest target's capacity (equal load). Defined in docs/metrics.md, \"Capacity\"."
    )
}

fn row(t: &TargetResult, c: &CapacityTarget) -> Vec<String> {
    let unusable = c
        .searches
        .iter()
        .flat_map(|s| &s.probes)
        .filter(|p| p.verdict == ProbeVerdict::Unusable)
        .count();
    let at_least = if c.bound() == CapacityBound::AtLeast {
        ">= "
    } else {
        ""
    };
    vec![
        with_protocol(&display_name(t), t),
        capacity_text(c),
        c.capacity_per_cpu().map_or("-".to_string(), |s| {
            format!("{at_least}{}", rate_spread(&s))
        }),
        c.latency_at_capacity()
            .map_or("-".to_string(), |s| latency_spread(&s)),
        bracket(c),
        c.searches.len().to_string(),
        unusable.to_string(),
        c.own_load
            .as_ref()
            .map_or("-".to_string(), |l| own_load(c, l)),
        c.equal_load
            .as_ref()
            .map_or("-".to_string(), |l| equal_load(c, l)),
    ]
}

/// The capacity as the table prints it: the median with min-max over the searches,
/// `>=` for a lower bound, or why there is no number.
pub fn capacity_text(c: &CapacityTarget) -> String {
    match (c.bound(), c.capacity()) {
        (CapacityBound::Exact, Some(s)) => rate_spread(&s),
        (CapacityBound::AtLeast, Some(s)) => format!(">= {}", rate_spread(&s)),
        (CapacityBound::BelowLowest { lowest_rps }, _) => {
            format!("below {} (the lowest probe)", grouped(lowest_rps))
        }
        _ => format!("undecided: {}", undecided_why(c)),
    }
}

fn undecided_why(c: &CapacityTarget) -> String {
    c.searches
        .iter()
        .find_map(|s| match &s.verdict {
            SearchVerdict::Undecided { why } => Some(one_line(why)),
            _ => None,
        })
        .unwrap_or_else(|| "no search was recorded".to_string())
}

fn rate_spread(s: &Spread) -> String {
    if s.n > 1 && s.min != s.max {
        format!(
            "{} ({}-{})",
            grouped(s.median),
            grouped(s.min),
            grouped(s.max)
        )
    } else {
        grouped(s.median)
    }
}

fn latency_spread(s: &Spread) -> String {
    if s.n > 1 && s.min != s.max {
        format!(
            "{} ({}-{})",
            latency_ms(s.median),
            latency_ms(s.min),
            latency_ms(s.max)
        )
    } else {
        latency_ms(s.median)
    }
}

/// The bracket of the median search: the rate that met and the one above it that
/// missed.
fn bracket(c: &CapacityTarget) -> String {
    let median = c.median_search().or_else(|| c.searches.first());
    match median.map(|s| &s.verdict) {
        Some(SearchVerdict::Found {
            capacity_rps,
            missed_rps,
        }) => format!(
            "met {} / missed {}",
            grouped(*capacity_rps),
            grouped(*missed_rps)
        ),
        Some(SearchVerdict::AtLeast { capacity_rps, .. }) => {
            format!("met {} / none usable above", grouped(*capacity_rps))
        }
        Some(SearchVerdict::BelowLowest { lowest_rps }) => {
            format!("missed {} (the lowest)", grouped(*lowest_rps))
        }
        _ => "-".to_string(),
    }
}

/// A load's objective percentile at `at` (where it was driven); a probe that was not
/// usable is in parentheses, with why after.
fn load_latency(c: &CapacityTarget, load: &LoadAt, at: String) -> String {
    let value = latency_ms(c.objective.percentile.of(&load.probe.latency_ms));
    match (load.probe.verdict, &load.probe.why) {
        (ProbeVerdict::Unusable, Some(why)) => {
            format!("({value}) {at}; not usable: {}", one_line(why))
        }
        (ProbeVerdict::Unusable, None) => format!("({value}) {at}; not usable"),
        _ => format!("{value} {at}"),
    }
}

fn percent(fraction: f64) -> String {
    format!("{}%", grouped(fraction * 100.0))
}

fn own_load(c: &CapacityTarget, load: &LoadAt) -> String {
    let at = format!(
        "at {} of its own ({} req/s)",
        percent(load.fraction),
        grouped(load.probe.rate_rps)
    );
    load_latency(c, load, at)
}

fn equal_load(c: &CapacityTarget, load: &LoadAt) -> String {
    let at = format!(
        "at {} of {}'s capacity, {} req/s",
        percent(load.fraction),
        load.of,
        grouped(load.probe.rate_rps)
    );
    load_latency(c, load, at)
}

/// Why each lower bound is one and each undecided search did not decide.
fn search_notes(t: &TargetResult, c: &CapacityTarget) -> Vec<String> {
    c.searches
        .iter()
        .filter_map(|s| match &s.verdict {
            SearchVerdict::AtLeast { capacity_rps, why } => Some(format!(
                "{}, search {}: at least {} req/s: {}.",
                t.label(),
                s.repeat,
                grouped(*capacity_rps),
                one_line(why)
            )),
            SearchVerdict::Undecided { why } => Some(format!(
                "{}, search {}: undecided: {}.",
                t.label(),
                s.repeat,
                one_line(why)
            )),
            _ => None,
        })
        .collect()
}

/// The targets of the run without a capacity: skipped or failed, with why.
fn not_measured(view: &ReportView) -> Vec<String> {
    view.results
        .targets
        .iter()
        .filter(|t| t.status != TargetStatus::Ok && t.capacity.is_none())
        .map(|t| {
            let status = if t.status == TargetStatus::Skipped {
                "skipped"
            } else {
                "failed"
            };
            let reason = one_line(t.reason.as_deref().unwrap_or("no reason recorded"));
            format!("{}: {status}, no capacity: {reason}", t.label())
        })
        .collect()
}
