//! `lanebench export`: a results file turned into the formats CI dashboards read without
//! glue code — Bencher Metric Format, github-action-benchmark's custom tool arrays, and
//! the summary CSV. Every format is made from the same list of [`Measure`]s.

pub mod bmf;
pub mod github_benchmark;

use crate::run::results::{RunResults, TargetStatus};
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

/// Renders `results` in `format`.
pub fn export(results: &RunResults, format: Format) -> std::io::Result<Vec<u8>> {
    let json = |v: serde_json::Value| {
        serde_json::to_vec_pretty(&v)
            .map(|mut bytes| {
                bytes.push(b'\n');
                bytes
            })
            .map_err(std::io::Error::other)
    };
    match format {
        Format::Bmf => json(bmf::document(&measures(results))),
        Format::GithubActionBenchmark => json(github_benchmark::entries(&measures(results), true)),
        Format::GithubActionBenchmarkSmaller => {
            json(github_benchmark::entries(&measures(results), false))
        }
        Format::Csv => results.summary_csv(),
    }
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
