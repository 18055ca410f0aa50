//! The metric table's rows for a resilience run (scenarios with `[[fault]]`, figures in
//! `TargetResult.resilience`): one value per target, the worst over its faults with the
//! breaker on, so that compare can gate a regression in any fault with one figure, and
//! what the breaker costs when nothing fails. Kept apart from [`super::metrics::METRICS`]
//! because no other run has them: a results file without a resilience run yields none
//! of these rows' values.
//!
//! A breaker that never opened within a fault that failed calls counts as taking the
//! whole fault; a service that never recovered within the episode counts as taking all
//! the seconds that remained: both are lower bounds, which only makes a regression
//! visible, never hides one.

use super::metrics::{Direction, Labels, Metric, Print, Source};
use super::resilience::{BreakerSetting, Episode};
use super::TargetResult;
use crate::stats::Spread;

/// The resilience rows, in the order compare and export list them (after the chain's).
pub static RESILIENCE_METRICS: &[Metric] = &[
    Metric {
        key: "time_to_open",
        field: "resilience.episodes[].figures.time_to_open_s",
        unit: "s",
        direction: Direction::LowerIsBetter,
        source: Source::Target(|t| worst(t, time_to_open)),
        print: Print::Fixed(1),
        labels: Labels {
            compare: Some("time-to-open"),
            export: Some("time-to-open"),
            csv: &[],
            report: Some("time to open s"),
        },
    },
    Metric {
        key: "time_to_recover",
        field: "resilience.episodes[].figures.time_to_recover_s",
        unit: "s",
        direction: Direction::LowerIsBetter,
        source: Source::Target(|t| worst(t, time_to_recover)),
        print: Print::Fixed(1),
        labels: Labels {
            compare: Some("time-to-recover"),
            export: Some("time-to-recover"),
            csv: &[],
            report: Some("time to recover s"),
        },
    },
    Metric {
        key: "health_p99_ratio",
        field: "resilience.episodes[].figures.health_p99_during_ms",
        unit: "x",
        direction: Direction::LowerIsBetter,
        source: Source::Target(|t| worst(t, health_ratio)),
        print: Print::Fixed(2),
        labels: Labels {
            compare: Some("health-p99-ratio"),
            export: Some("health-p99-ratio"),
            csv: &[],
            report: Some("/health p99 during / before"),
        },
    },
    Metric {
        key: "breaker_cost",
        field: "resilience.episodes[].figures.cpu_us_per_request_before",
        unit: "µs/req",
        direction: Direction::LowerIsBetter,
        source: Source::Target(breaker_cost),
        print: Print::Fixed(1),
        labels: Labels {
            compare: None,
            export: Some("breaker-cost"),
            csv: &[],
            report: Some("breaker cost µs/req"),
        },
    },
];

/// The episodes with the breaker on.
fn with_breaker(t: &TargetResult) -> impl Iterator<Item = &Episode> {
    t.resilience
        .iter()
        .flat_map(|r| &r.episodes)
        .filter(|e| e.breaker == BreakerSetting::On)
}

/// The largest value of `pick` over the breaker-on episodes, as a spread of the values.
fn worst(t: &TargetResult, pick: fn(&Episode) -> Option<f64>) -> Option<Spread> {
    let values: Vec<f64> = with_breaker(t).filter_map(pick).collect();
    let mut spread = Spread::of(&values)?;
    spread.median = spread.max;
    Some(spread)
}

/// Time to open, for a fault that failed calls (a mere delay within the deadline never
/// should open the breaker); the whole fault when it never opened.
pub fn time_to_open(e: &Episode) -> Option<f64> {
    let f = &e.figures;
    let failing = f.degraded_per_s_during + f.failed_per_s_during > 0.0;
    failing.then(|| f.time_to_open_s.unwrap_or(e.fault_off_s - e.fault_on_s))
}

/// Time to recover; all the seconds after the fault when it never recovered.
pub fn time_to_recover(e: &Episode) -> Option<f64> {
    let end = e.seconds.last().map_or(e.fault_off_s, |s| s.t as f64 + 1.0);
    Some(
        e.figures
            .time_to_recover_s
            .unwrap_or((end - e.fault_off_s).max(0.0)),
    )
}

fn health_ratio(e: &Episode) -> Option<f64> {
    let f = &e.figures;
    let (before, during) = (f.health_p99_before_ms?, f.health_p99_during_ms?);
    (before > 0.0).then(|| during / before)
}

/// The median over faults of the user service's CPU µs per request before the fault
/// with the breaker on minus the same with it off (a resilience run with
/// `breaker_off`).
fn breaker_cost(t: &TargetResult) -> Option<Spread> {
    let episodes: Vec<&Episode> = t.resilience.iter().flat_map(|r| &r.episodes).collect();
    let cost_of = |on: &Episode| {
        let off = episodes
            .iter()
            .find(|e| e.breaker == BreakerSetting::Off && e.label == on.label)?;
        Some(on.figures.cpu_us_per_request_before? - off.figures.cpu_us_per_request_before?)
    };
    let costs: Vec<f64> = with_breaker(t).filter_map(cost_of).collect();
    Spread::of(&costs)
}
