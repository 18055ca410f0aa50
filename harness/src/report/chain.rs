//! The report's "Service chain" section, for runs whose targets ran as user services
//! calling an order service (scenarios with `[chain]`): who served the orders and
//! whether the harness's proxy was in between, and per target and level the end-to-end
//! figures beside the downstream ones, CPU per end-to-end success of each service and in
//! total, the client tax with its baseline, and the peak memory of the order service and
//! the proxy. The figures are the metric table's, printed as it prints them.

use super::table::Table;
use super::view::{grouped, headline_level, ReportView};
use crate::results::metrics::Metric;
use crate::results::{LevelResult, Role, TargetResult};
use crate::stats::Spread;

/// The section's text: an introduction, one sentence per target, and the table.
pub struct Section {
    pub intro: String,
    pub set_up: Vec<String>,
    pub table: Table,
}

/// The measured targets that ran as a chain, in the tables' order.
pub fn chained<'a>(view: &ReportView<'a>) -> Vec<&'a TargetResult> {
    view.ranked
        .iter()
        .copied()
        .filter(|t| t.chain.is_some())
        .collect()
}

/// The section; `None` when no measured target ran as a chain.
pub fn section(view: &ReportView) -> Option<Section> {
    let targets = chained(view);
    if targets.is_empty() {
        return None;
    }
    let mut table = Table::new(&HEADINGS, &NUMERIC);
    for t in &targets {
        for level in &t.levels {
            table.push_for(&t.name, row(t, level));
        }
    }
    Some(Section {
        intro: INTRO.to_string(),
        set_up: targets.iter().map(|t| set_up(t)).collect(),
        table,
    })
}

const INTRO: &str = "Each target below ran as a user service whose summaries and order posts call an order service. Per level, medians over repeats: end-to-end QPS and p99 as the load generator saw them; downstream latency as the proxy between the services timed each call (from the whole request read to the whole answer read from the order service); downstream calls per end-to-end response beside the share the mix's weights expect; CPU µs per end-to-end success of the user service, the order service and the two together (the proxy's is the harness's own, shown apart and not in the total); the client tax: the user service's CPU µs per success in the chain minus its CPU µs per success serving the baseline request alone, on the same process at the same concurrency. Definitions: docs/metrics.md, \"Service chain\".";

const HEADINGS: [&str; 17] = [
    "Framework",
    "Connections",
    "QPS",
    "p99 ms",
    "downstream p50 ms",
    "downstream p99 ms",
    "downstream calls/req",
    "expected calls/req",
    "user service CPU µs/success",
    "order service CPU µs/success",
    "total CPU µs/success",
    "proxy CPU µs/success",
    "client tax µs/req",
    "baseline CPU µs/success",
    "baseline QPS",
    "order service peak memory",
    "proxy peak memory",
];

const NUMERIC: [bool; 17] = [
    false, true, true, true, true, true, true, true, true, true, true, true, true, true, true,
    true, true,
];

fn row(t: &TargetResult, level: &LevelResult) -> Vec<String> {
    let chain = level.chain.clone().unwrap_or_default();
    let fixed = |value: Option<f64>, digits: usize| {
        value.map_or("-".to_string(), |v| format!("{v:.digits$}"))
    };
    vec![
        t.framework.clone(),
        level.connections.to_string(),
        grouped(level.success_rps.median),
        figure("p99", level),
        figure("downstream_p50", level),
        figure("downstream_p99", level),
        figure("downstream_per_request", level),
        fixed(chain.expected_per_request, 3),
        figure("cpu_per_success", level),
        figure("order_cpu_per_success", level),
        figure("total_cpu_per_success", level),
        figure("proxy_cpu_per_success", level),
        figure("client_tax", level),
        fixed(chain.baseline_cpu_us_per_success, 1),
        chain.baseline_success_rps.map_or("-".to_string(), grouped),
        peak_memory(t, Role::Downstream),
        peak_memory(t, Role::Proxy),
    ]
}

/// A level's figure as the metric table prints it; "-" when it was not measured.
fn figure(key: &str, level: &LevelResult) -> String {
    let metric = Metric::find(key).expect("the chain section names rows of the metric table");
    metric
        .of_level(level)
        .map_or("-".to_string(), |s| metric.print(s.median))
}

fn peak_memory(t: &TargetResult, role: Role) -> String {
    let peak: Option<f64> = t
        .components_with(role)
        .filter_map(|c| c.memory_mb.as_ref().map(|m| m.peak))
        .reduce(|a, b| a + b);
    peak.map_or("-".to_string(), |p| format!("{p:.1} MiB"))
}

/// Who served the orders, and how the services were connected.
fn set_up(t: &TargetResult) -> String {
    let Some(chain) = &t.chain else {
        return String::new();
    };
    let server = if chain.order_service == t.name {
        format!("{}, the same framework", chain.order_service)
    } else {
        format!("{}, a fixed order service", chain.order_service)
    };
    let link = if chain.via_proxy {
        "through the harness's proxy, which timed and counted every downstream call"
    } else {
        "connected directly, so no downstream latency or calls were recorded"
    };
    format!(
        "{} ({}): orders served by {server}, {link}; client tax measured against {} alone.",
        t.framework, t.name, chain.baseline
    )
}

/// A chain figure at the target's headline level, as the tables print it (median, with
/// min-max over repeats where it has them): what the chain's charts draw.
pub fn at_headline(target: &TargetResult, key: &str) -> Option<Spread> {
    let level = headline_level(target)?;
    level.chain.as_ref()?;
    Metric::find(key)?.of_level(level)
}
