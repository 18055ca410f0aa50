//! The metric table's rows for a service chain (scenarios with `[chain]`, figures in
//! `LevelResult.chain`, `RepeatResult.hop` and the level's baseline load): downstream
//! latency and calls per request, CPU per end-to-end success of the order service, of
//! both services together and of the proxy, and the client tax. Kept apart from
//! [`super::metrics::METRICS`] because no other run has them: a results file without a
//! chain yields none of these rows' values, so no output changes for it.

use super::chain::role_cpu_us_per_success;
use super::metrics::{Direction, Labels, Metric, Print, Source};
use super::{LevelResult, RepeatResult, Role, TargetResult};
use crate::stats::Spread;

/// The chain's rows, in the order compare and export list them (after [`METRICS`]).
///
/// [`METRICS`]: super::metrics::METRICS
pub static CHAIN_METRICS: &[Metric] = &[
    Metric {
        key: "downstream_p50",
        field: "chain.downstream_p50_ms",
        unit: "ms",
        direction: Direction::LowerIsBetter,
        source: Source::Level {
            level: |l| over_repeats(l, l.chain.as_ref()?.downstream_p50_ms, hop_p50),
            repeat: Some(hop_p50),
        },
        print: Print::Latency,
        labels: Labels {
            compare: None,
            export: Some("downstream-p50"),
            csv: &[],
            report: Some("downstream p50 ms"),
        },
    },
    Metric {
        key: "downstream_p99",
        field: "chain.downstream_p99_ms",
        unit: "ms",
        direction: Direction::LowerIsBetter,
        source: Source::Level {
            level: |l| over_repeats(l, l.chain.as_ref()?.downstream_p99_ms, hop_p99),
            repeat: Some(hop_p99),
        },
        print: Print::Latency,
        labels: Labels {
            compare: Some("downstream-p99"),
            export: Some("downstream-p99"),
            csv: &[],
            report: Some("downstream p99 ms"),
        },
    },
    Metric {
        key: "downstream_per_request",
        field: "chain.downstream_per_request",
        unit: "calls/req",
        direction: Direction::Neither,
        source: Source::Level {
            level: |l| {
                over_repeats(
                    l,
                    l.chain.as_ref()?.downstream_per_request,
                    calls_per_request,
                )
            },
            repeat: Some(calls_per_request),
        },
        print: Print::Fixed(3),
        labels: Labels {
            compare: None,
            export: Some("downstream-calls-per-request"),
            csv: &[],
            report: Some("downstream calls/req"),
        },
    },
    Metric {
        key: "order_cpu_per_success",
        field: "chain.order_cpu_us_per_success",
        unit: "µs/req",
        direction: Direction::LowerIsBetter,
        source: Source::Level {
            level: |l| stored(l.chain.as_ref()?.order_cpu_us_per_success),
            repeat: None,
        },
        print: Print::Fixed(1),
        labels: Labels {
            compare: None,
            export: Some("order-cpu-per-request"),
            csv: &[],
            report: Some("order service CPU µs/success"),
        },
    },
    Metric {
        key: "total_cpu_per_success",
        field: "chain.total_cpu_us_per_success",
        unit: "µs/req",
        direction: Direction::LowerIsBetter,
        source: Source::Chain {
            level: |l| stored(l.chain.as_ref()?.total_cpu_us_per_success),
            repeats: total_cpu_per_repeat,
        },
        print: Print::Fixed(1),
        labels: Labels {
            compare: Some("total-cpu-per-request"),
            export: Some("total-cpu-per-request"),
            csv: &[],
            report: Some("total CPU µs/success"),
        },
    },
    Metric {
        key: "proxy_cpu_per_success",
        field: "chain.proxy_cpu_us_per_success",
        unit: "µs/req",
        // The harness's own cost, shown so that it is visible; not the targets'.
        direction: Direction::Neither,
        source: Source::Level {
            level: |l| stored(l.chain.as_ref()?.proxy_cpu_us_per_success),
            repeat: None,
        },
        print: Print::Fixed(1),
        labels: Labels {
            compare: None,
            export: Some("proxy-cpu-per-request"),
            csv: &[],
            report: Some("proxy CPU µs/success"),
        },
    },
    Metric {
        key: "client_tax",
        field: "chain.client_tax_us",
        unit: "µs/req",
        direction: Direction::LowerIsBetter,
        source: Source::Chain {
            level: client_tax_spread,
            repeats: |_, l| client_tax_per_repeat(l),
        },
        print: Print::Fixed(1),
        labels: Labels {
            compare: Some("client-tax"),
            export: Some("client-tax"),
            csv: &[],
            report: Some("client tax µs/req"),
        },
    },
];

/// A stored level median as a spread of one (figures whose repeats need the target).
fn stored(value: Option<f64>) -> Option<Spread> {
    Spread::of(&[value?])
}

/// The repeats' values with the stored median, as `LevelResult::cpu_per_success` does:
/// the median is the figure every output prints, the repeats give its min-max.
fn over_repeats(
    level: &LevelResult,
    median: Option<f64>,
    pick: fn(&RepeatResult) -> Option<f64>,
) -> Option<Spread> {
    let median = median?;
    let values: Vec<f64> = level.repeats.iter().filter_map(pick).collect();
    let mut spread = Spread::of(&values).or_else(|| Spread::of(&[median]))?;
    spread.median = median;
    Some(spread)
}

// A window whose hop relayed no answer has no latency (as `ChainLevel::of` skips it).
fn hop_p50(r: &RepeatResult) -> Option<f64> {
    let hop = r.hop.as_ref().filter(|h| h.responses > 0)?;
    Some(hop.latency_ms.p50)
}

fn hop_p99(r: &RepeatResult) -> Option<f64> {
    let hop = r.hop.as_ref().filter(|h| h.responses > 0)?;
    Some(hop.latency_ms.p99)
}

fn calls_per_request(r: &RepeatResult) -> Option<f64> {
    let hop = r.hop.as_ref()?;
    (r.load.requests > 0).then(|| hop.requests as f64 / r.load.requests as f64)
}

/// Each repeat's user service plus order service CPU per end-to-end success; the roles
/// are the target's.
fn total_cpu_per_repeat(target: &TargetResult, level: &LevelResult) -> Vec<f64> {
    if level.chain.is_none() {
        return Vec::new();
    }
    level
        .repeats
        .iter()
        .filter_map(|r| {
            let order = role_cpu_us_per_success(r, &target.components, Role::Downstream)?;
            Some(r.cpu_us_per_success()? + order)
        })
        .collect()
}

/// Each repeat's user service CPU per success minus the level's baseline (one baseline
/// load per level, so the median of these is the stored tax).
fn client_tax_per_repeat(level: &LevelResult) -> Vec<f64> {
    let baseline = level
        .chain
        .as_ref()
        .and(level.baseline.as_ref())
        .and_then(|b| b.cpu_us_per_success());
    let Some(baseline) = baseline else {
        return Vec::new();
    };
    level
        .repeats
        .iter()
        .filter_map(|r| Some(r.cpu_us_per_success()? - baseline))
        .collect()
}

fn client_tax_spread(level: &LevelResult) -> Option<Spread> {
    let median = level.chain.as_ref()?.client_tax_us?;
    let mut spread = Spread::of(&client_tax_per_repeat(level)).or_else(|| Spread::of(&[median]))?;
    spread.median = median;
    Some(spread)
}
