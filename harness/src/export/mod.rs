//! `lanebench export`: a results file (or the cost.json of `lanebench cost`) turned into
//! the formats CI dashboards read without glue code — Bencher Metric Format,
//! github-action-benchmark's custom tool arrays, and the summary CSV. Every format is
//! made from the same list of [`Measure`]s.

pub mod bmf;
pub mod github_benchmark;

use crate::compare::samples::cpu_us_per_success;
use crate::results::cost::CostRun;
use crate::results::cost::CostStatus;
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

/// `instructions` (per request) of every counted target: benchmark `axum/user` per
/// scenario request and `axum/mix` for the weighted mix.
pub fn cost_measures(cost: &CostRun) -> Vec<Measure> {
    let mut out = Vec::new();
    for t in cost.targets.iter().filter(|t| t.status == CostStatus::Ok) {
        for r in &t.requests {
            let bench = format!("{}/{}", t.name, r.name);
            out.push(Measure::single(
                &bench,
                "instructions",
                "instr/req",
                r.instructions_per_request,
            ));
        }
        if let Some(mix) = t.instructions_per_request {
            let bench = format!("{}/mix", t.name);
            out.push(Measure::single(&bench, "instructions", "instr/req", mix));
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
    fn spread(
        benchmark: &str,
        name: &'static str,
        unit: &'static str,
        s: &Spread,
        scale: f64,
    ) -> Measure {
        Measure {
            benchmark: benchmark.to_string(),
            name,
            unit,
            higher_is_better: name == "throughput",
            value: s.median * scale,
            bounds: (s.n >= 2).then_some((s.min * scale, s.max * scale)),
            n: s.n,
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

/// Every figure of the finished targets, in results order.
pub fn measures(results: &RunResults) -> Vec<Measure> {
    let mut out = Vec::new();
    for t in results
        .targets
        .iter()
        .filter(|t| t.status == TargetStatus::Ok)
    {
        for level in &t.levels {
            let bench = match level.rate {
                Some(rate) => format!("{}/{}c@{rate}rps", t.name, level.connections),
                None => format!("{}/{}c", t.name, level.connections),
            };
            out.push(Measure::spread(
                &bench,
                "throughput",
                "req/s",
                &level.success_rps,
                1.0,
            ));
            out.push(Measure::spread(
                &bench,
                "latency-p50",
                "ms",
                &level.p50_ms,
                1.0,
            ));
            out.push(Measure::spread(
                &bench,
                "latency-p90",
                "ms",
                &level.p90_ms,
                1.0,
            ));
            out.push(Measure::spread(
                &bench,
                "latency-p99",
                "ms",
                &level.p99_ms,
                1.0,
            ));
            out.push(Measure::spread(
                &bench,
                "latency-p999",
                "ms",
                &level.p999_ms,
                1.0,
            ));
            out.push(Measure::spread(
                &bench,
                "error-rate",
                "%",
                &level.error_rate,
                100.0,
            ));
            let cpu: Vec<f64> = level
                .repeats
                .iter()
                .filter_map(|r| cpu_us_per_success(r.server_cpu_s, &r.load))
                .collect();
            if let Some(spread) = Spread::of(&cpu) {
                out.push(Measure::spread(
                    &bench,
                    "cpu-per-request",
                    "µs",
                    &spread,
                    1.0,
                ));
            }
        }
        if let Some(m) = &t.memory_mb {
            out.push(Measure::single(&t.name, "memory-peak", "MiB", m.peak));
            out.push(Measure::single(&t.name, "memory-idle", "MiB", m.idle));
        }
        if let Some(s) = &t.startup_ms {
            out.push(Measure::spread(&t.name, "startup", "ms", s, 1.0));
        }
        if let Some(s) = &t.cold_start_ms {
            out.push(Measure::spread(&t.name, "cold-start", "ms", s, 1.0));
        }
    }
    out
}
