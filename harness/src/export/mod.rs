//! `lanebench export`: a results file (or the cost.json of `lanebench cost`) turned into
//! the formats CI dashboards read without glue code — Bencher Metric Format,
//! github-action-benchmark's custom tool arrays, and the summary CSV. Every format is
//! made from the same list of [`Measure`]s.

pub mod bmf;
pub mod github_benchmark;

use crate::results::cost::CostRun;
use crate::results::cost::CostStatus;
use crate::results::metrics::{level_label, Metric};
use crate::results::{RunResults, TargetStatus};
use crate::stats::Spread;

/// The formats `lanebench export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Bencher Metric Format JSON.
    Bmf,
    /// github-action-benchmark `customBiggerIsBetter` array (throughput).
    GithubActionBenchmark,
    /// github-action-benchmark `customSmallerIsBetter` array (latency, errors, memory, startup).
    GithubActionBenchmarkSmaller,
    /// The summary CSV (one row per target and level).
    Csv,
}

/// Renders `results` in `format`; a `run --cost` adds its instruction counts.
pub fn export(results: &RunResults, format: Format) -> std::io::Result<Vec<u8>> {
    match format {
        Format::Csv => results.summary_csv(),
        _ => {
            let mut all = measures(results);
            all.extend(results.counts().iter().flat_map(cost_measures));
            render(&all, format)
        }
    }
}

/// Renders the instruction counts of `cost` in `format` (not CSV, whose rows are levels).
pub fn export_cost(cost: &CostRun, format: Format) -> std::io::Result<Vec<u8>> {
    if format == Format::Csv {
        return Err(std::io::Error::other(
            "csv holds one row per load level; a cost.json exports as bmf or github-action-benchmark-smaller",
        ));
    }
    render(&cost_measures(cost), format)
}

fn render(measures: &[Measure], format: Format) -> std::io::Result<Vec<u8>> {
    let value = match format {
        Format::Bmf => bmf::document(measures),
        Format::GithubActionBenchmark => github_benchmark::entries(measures, true),
        Format::GithubActionBenchmarkSmaller | Format::Csv => {
            github_benchmark::entries(measures, false)
        }
    };
    let mut bytes = serde_json::to_vec_pretty(&value).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// The export name and unit of the instruction counts, from their metric-table row.
fn instructions() -> (&'static str, &'static str) {
    let row = Metric::find("instructions").expect("the instruction counts have a row");
    (row.labels.export.unwrap_or(row.key), row.unit)
}

/// `instructions` (per request) of every counted target: benchmark `axum/user` per
/// scenario request and `axum/mix` for the weighted mix.
pub fn cost_measures(cost: &CostRun) -> Vec<Measure> {
    let (name, unit) = instructions();
    let mut out = Vec::new();
    for t in cost.targets.iter().filter(|t| t.status == CostStatus::Ok) {
        for r in &t.requests {
            let bench = format!("{}/{}", t.name, r.name);
            out.push(Measure::single(
                &bench,
                name,
                unit,
                r.instructions_per_request,
            ));
        }
        if let Some(mix) = t.instructions_per_request {
            let bench = format!("{}/mix", t.name);
            out.push(Measure::single(&bench, name, unit, mix));
        }
    }
    out
}

/// One exported number with its spread.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// `axum/64c` for a load level (`axum/64c@1000rps` open loop), `axum` for target-wide figures.
    pub benchmark: String,
    /// `throughput`, `latency-p99`, `memory-peak`, ...
    pub name: &'static str,
    pub unit: &'static str,
    pub higher_is_better: bool,
    pub value: f64,
    /// Min and max over repeats (or launches), when there were at least two.
    pub bounds: Option<(f64, f64)>,
    /// Values summarized.
    pub n: usize,
}

impl Measure {
    /// The median of `spread` with min-max when there were at least two values, named and
    /// scaled (percentages) as the metric table says.
    fn of(benchmark: &str, metric: &Metric, name: &'static str, spread: &Spread) -> Measure {
        let scale = if metric.is_percent() { 100.0 } else { 1.0 };
        Measure {
            benchmark: benchmark.to_string(),
            name,
            unit: metric.unit,
            higher_is_better: metric.higher_is_better(),
            value: spread.median * scale,
            bounds: (spread.n >= 2).then_some((spread.min * scale, spread.max * scale)),
            n: spread.n,
        }
    }

    fn single(benchmark: &str, name: &'static str, unit: &'static str, value: f64) -> Measure {
        Measure {
            benchmark: benchmark.to_string(),
            name,
            unit,
            higher_is_better: false,
            value,
            bounds: None,
            n: 1,
        }
    }
}

/// The metric-table rows export names, with that name.
fn exported() -> impl Iterator<Item = (&'static Metric, &'static str)> {
    Metric::all().filter_map(|m| m.labels.export.map(|name| (m, name)))
}

/// Every figure of the finished targets, in results order: per level, then per target,
/// each in the metric table's order.
pub fn measures(results: &RunResults) -> Vec<Measure> {
    let mut out = Vec::new();
    for t in results
        .targets
        .iter()
        .filter(|t| t.status == TargetStatus::Ok)
    {
        for level in &t.levels {
            let bench = format!("{}/{}", t.name, level_label(level.connections, level.rate));
            for (metric, name) in exported() {
                if let Some(spread) = metric.of_level(level) {
                    out.push(Measure::of(&bench, metric, name, &spread));
                }
            }
        }
        for (metric, name) in exported() {
            if let Some(spread) = metric.of_target(t) {
                out.push(Measure::of(&t.name, metric, name, &spread));
            }
        }
    }
    out
}
