//! The metric table's rows for a capacity run (scenarios with `[capacity]`, figures in
//! `TargetResult.capacity`, computed once in [`super::capacity`]): one value per target,
//! so that compare can gate a regression of capacity and export can chart it. Kept apart
//! from [`super::metrics::METRICS`] because no other run has them.
//!
//! A capacity that is only a lower bound (the search could not go higher) is the figure
//! still: a regression shows as a lower bound that fell; the report marks it `>=`.

use super::metrics::{Direction, Labels, Metric, Print, Source};
use super::TargetResult;
use crate::stats::Spread;

/// The capacity rows, in the order compare and export list them (after the resilience
/// run's).
pub static CAPACITY_METRICS: &[Metric] = &[
    Metric {
        key: "capacity",
        field: "capacity.searches[].verdict.capacity_rps",
        unit: "req/s",
        direction: Direction::HigherIsBetter,
        source: Source::Target(|t| t.capacity.as_ref()?.capacity()),
        print: Print::Grouped,
        labels: Labels {
            compare: Some("capacity"),
            export: Some("capacity"),
            csv: &[],
            report: Some("capacity req/s"),
        },
    },
    Metric {
        key: "capacity_per_cpu",
        field: "capacity.searches[].verdict.capacity_rps / capacity.server_cpus",
        unit: "req/s/CPU",
        direction: Direction::HigherIsBetter,
        source: Source::Target(|t| t.capacity.as_ref()?.capacity_per_cpu()),
        print: Print::Grouped,
        labels: Labels {
            compare: None,
            export: Some("capacity-per-cpu"),
            csv: &[],
            report: Some("capacity req/s per server CPU"),
        },
    },
    Metric {
        key: "capacity_latency",
        field: "capacity.searches[].probes[].latency_ms",
        unit: "ms",
        direction: Direction::Neither,
        source: Source::Target(|t| t.capacity.as_ref()?.latency_at_capacity()),
        print: Print::Latency,
        labels: Labels {
            compare: None,
            export: Some("capacity-latency"),
            csv: &[],
            report: Some("objective percentile at capacity ms"),
        },
    },
    Metric {
        key: "own_load_latency",
        field: "capacity.own_load.probe.latency_ms",
        unit: "ms",
        direction: Direction::LowerIsBetter,
        source: Source::Target(|t| load_latency(t, |c| c.own_load.as_ref())),
        print: Print::Latency,
        labels: Labels {
            compare: None,
            export: Some("own-load-latency"),
            csv: &[],
            report: Some("objective percentile at a fraction of its capacity ms"),
        },
    },
    Metric {
        key: "equal_load_latency",
        field: "capacity.equal_load.probe.latency_ms",
        unit: "ms",
        direction: Direction::LowerIsBetter,
        source: Source::Target(|t| load_latency(t, |c| c.equal_load.as_ref())),
        print: Print::Latency,
        labels: Labels {
            compare: Some("equal-load-latency"),
            export: Some("equal-load-latency"),
            csv: &[],
            report: Some("objective percentile at equal load ms"),
        },
    },
];

/// The objective's percentile of a load at a set rate, as a spread of one.
fn load_latency(
    t: &TargetResult,
    pick: fn(&super::capacity::CapacityTarget) -> Option<&super::capacity::LoadAt>,
) -> Option<Spread> {
    let capacity = t.capacity.as_ref()?;
    let load = pick(capacity)?;
    let value = capacity.objective.percentile.of(&load.probe.latency_ms);
    Spread::of(&[value])
}
