//! The figures `lanebench compare` judges, which direction is better for each, and the
//! minimum relevant change (threshold) per figure, as parsed from `--threshold`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::bootstrap::Contrast;
use crate::results::metrics::Metric;

/// One compared figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Figure {
    /// Instructions the server executes per request, counted under callgrind
    /// (`lanebench cost`, per scenario request and for the mix; one value per count).
    Instructions,
    /// Requests per second at a level (per repeat).
    Qps,
    /// Latency percentiles at a level (ms, per repeat).
    P50,
    P99,
    P999,
    /// Share of requests that failed at a level (per repeat).
    Errors,
    /// Server CPU time per successful response at a level (µs, per repeat).
    CpuPerRequest,
    /// Peak memory of the target's process tree (MiB, one per run).
    Memory,
    /// Spawn -> first healthy response (ms).
    Startup,
    /// Spawn -> first correct response of every scenario request (ms).
    ColdStart,
    /// A service chain's downstream latency p99 at a level (ms, per repeat, from the
    /// proxy between the services).
    DownstreamP99,
    /// A service chain's CPU per end-to-end success of both services together (µs, per
    /// repeat).
    TotalCpuPerRequest,
    /// A service chain's client tax at a level (µs per request, per repeat).
    ClientTax,
    /// A resilience run's worst time to open the breaker over its faults (s, one per run).
    TimeToOpen,
    /// A resilience run's worst time to recover after a fault (s, one per run).
    TimeToRecover,
    /// A resilience run's worst `/health` p99 during a fault over before (one per run).
    HealthP99Ratio,
    /// A capacity run's highest rate meeting its latency objective (req/s, one per run:
    /// the median of its searches).
    Capacity,
    /// A capacity run's latency (the objective's percentile) at equal load: every target
    /// at one rate, a fraction of the slowest target's capacity (ms, one per run).
    EqualLoadLatency,
}

impl Figure {
    /// Every figure, in table order: the deterministic one first.
    pub const ALL: [Figure; 18] = [
        Figure::Instructions,
        Figure::Qps,
        Figure::P50,
        Figure::P99,
        Figure::P999,
        Figure::Errors,
        Figure::CpuPerRequest,
        Figure::Memory,
        Figure::Startup,
        Figure::ColdStart,
        Figure::DownstreamP99,
        Figure::TotalCpuPerRequest,
        Figure::ClientTax,
        Figure::TimeToOpen,
        Figure::TimeToRecover,
        Figure::HealthP99Ratio,
        Figure::Capacity,
        Figure::EqualLoadLatency,
    ];

    /// The figures of each load level, in table order (the metric table says which).
    pub fn per_level() -> impl Iterator<Item = Figure> {
        Figure::ALL
            .into_iter()
            .filter(|f| f.metric().is_per_level())
    }

    /// The figures of a whole target, in table order.
    pub fn per_target() -> impl Iterator<Item = Figure> {
        Figure::ALL
            .into_iter()
            .filter(|f| f.metric().is_per_target())
    }

    /// The figure's row in the metric table, which holds its name, unit, direction and
    /// where its values come from.
    pub fn metric(self) -> &'static Metric {
        let key = match self {
            Figure::Instructions => "instructions",
            Figure::Qps => "throughput",
            Figure::P50 => "p50",
            Figure::P99 => "p99",
            Figure::P999 => "p999",
            Figure::Errors => "error_rate",
            Figure::CpuPerRequest => "cpu_per_success",
            Figure::Memory => "memory_peak",
            Figure::Startup => "startup",
            Figure::ColdStart => "cold_start",
            Figure::DownstreamP99 => "downstream_p99",
            Figure::TotalCpuPerRequest => "total_cpu_per_success",
            Figure::ClientTax => "client_tax",
            Figure::TimeToOpen => "time_to_open",
            Figure::TimeToRecover => "time_to_recover",
            Figure::HealthP99Ratio => "health_p99_ratio",
            Figure::Capacity => "capacity",
            Figure::EqualLoadLatency => "equal_load_latency",
        };
        Metric::find(key).expect("every compared figure has a row in the metric table")
    }

    /// The name used in `--threshold NAME=X%`, `--fail-on` and in the outputs.
    pub fn key(self) -> &'static str {
        self.metric()
            .labels
            .compare
            .expect("a compared figure has a compare name")
    }

    /// Unit of the figure's values.
    pub fn unit(self) -> &'static str {
        self.metric().unit
    }

    /// True for throughput; every other figure is better lower.
    pub fn higher_is_better(self) -> bool {
        self.metric().higher_is_better()
    }

    /// True for a count that does not depend on the machine's speed or load (two counts
    /// of one build differ by well under 1 %), so a few values decide without a rank test.
    pub fn is_deterministic(self) -> bool {
        self == Figure::Instructions
    }

    /// True for a figure that moves with the machine's speed (throughput, latencies, CPU
    /// per request, startup, cold start): `--reference` judges these as ratios to the
    /// reference target's. Error rate, memory and instruction counts stay absolute, and
    /// so does the client tax: a difference of two CPU figures, near zero or even
    /// negative, has no meaningful ratio to another target's.
    pub fn scales_with_machine(self) -> bool {
        !matches!(
            self,
            Figure::Instructions
                | Figure::Errors
                | Figure::Memory
                | Figure::ClientTax
                | Figure::TimeToOpen
                | Figure::TimeToRecover
                | Figure::HealthP99Ratio
        )
    }

    /// True for a figure only some runs have (a service chain's, a resilience run's, a
    /// capacity run's): outputs name it only when a comparison holds it, so that other
    /// comparisons read as before.
    pub fn only_when_present(self) -> bool {
        matches!(
            self,
            Figure::Capacity
                | Figure::EqualLoadLatency
                | Figure::DownstreamP99
                | Figure::TotalCpuPerRequest
                | Figure::ClientTax
                | Figure::TimeToOpen
                | Figure::TimeToRecover
                | Figure::HealthP99Ratio
        )
    }

    /// Error rates are often exactly zero, so their change is a difference in percentage
    /// points; every other figure changes by a ratio.
    pub fn contrast(self) -> Contrast {
        if self == Figure::Errors {
            Contrast::Difference
        } else {
            Contrast::Ratio
        }
    }

    fn from_key(key: &str) -> Option<Figure> {
        let key = key.trim().to_ascii_lowercase();
        let key = match key.as_str() {
            "rps" | "throughput" => "qps",
            "p99.9" => "p999",
            "error-rate" | "error_rate" => "errors",
            "memory-peak" | "mem" => "memory",
            "cold_start" | "coldstart" => "cold-start",
            "instr" | "ir" | "instructions-per-request" => "instructions",
            "cpu" | "cpu_per_request" | "cpu-us" => "cpu-per-request",
            "downstream_p99" => "downstream-p99",
            "total-cpu" | "total_cpu_per_request" => "total-cpu-per-request",
            "client_tax" | "tax" => "client-tax",
            "time_to_open" => "time-to-open",
            "time_to_recover" | "recovery" => "time-to-recover",
            "health_p99_ratio" | "isolation" => "health-p99-ratio",
            "capacity_rps" => "capacity",
            "equal_load_latency" | "equal-load" => "equal-load-latency",
            other => other,
        };
        Figure::ALL.into_iter().find(|f| f.key() == key)
    }
}

/// Which figures may fail the job (`--fail-on`): a regression of any other figure is
/// still shown as regressed, but the exit status stays 0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FailOn {
    /// The deterministic figures and the error rate when the comparison has a
    /// deterministic figure, every figure otherwise.
    #[default]
    Auto,
    /// Exactly these figures.
    Figures(Vec<Figure>),
}

impl FailOn {
    /// Parses `--fail-on` values (each may be a comma-separated list): figure names, or
    /// `all`, `deterministic` (the instruction counts), `timed` (every other figure), `auto`.
    pub fn parse(values: &[String]) -> Result<FailOn, String> {
        let mut figures: Vec<Figure> = Vec::new();
        let items = values
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty());
        for item in items {
            let group: Vec<Figure> = match item.to_ascii_lowercase().as_str() {
                "auto" => return Ok(FailOn::Auto),
                "all" => Figure::ALL.to_vec(),
                "deterministic" => Figure::ALL.into_iter().filter(|f| f.is_deterministic()).collect(),
                "timed" => Figure::ALL.into_iter().filter(|f| !f.is_deterministic()).collect(),
                _ => vec![Figure::from_key(item).ok_or_else(|| {
                    let known: Vec<&str> = Figure::ALL.iter().map(|f| f.key()).collect();
                    format!(
                        "--fail-on {item}: unknown figure; use all, deterministic, timed, auto or one of: {}",
                        known.join(", ")
                    )
                })?],
            };
            for figure in group {
                if !figures.contains(&figure) {
                    figures.push(figure);
                }
            }
        }
        Ok(if figures.is_empty() {
            FailOn::Auto
        } else {
            FailOn::Figures(figures)
        })
    }

    /// The figures that gate, given whether the comparison holds a deterministic figure.
    pub fn resolve(&self, has_deterministic: bool) -> Vec<Figure> {
        match self {
            FailOn::Figures(figures) => figures.clone(),
            FailOn::Auto if has_deterministic => Figure::ALL
                .into_iter()
                .filter(|f| f.is_deterministic() || *f == Figure::Errors)
                .collect(),
            FailOn::Auto => Figure::ALL.to_vec(),
        }
    }
}

/// Default minimum relevant change for ratio figures: 5 %.
pub const DEFAULT_THRESHOLD: f64 = 0.05;

/// Default minimum relevant change of the error rate: 1 percentage point. A global
/// `--threshold` does not change it, because a relative threshold means nothing for a
/// rate that is usually zero; `--threshold errors=X%` does.
pub const DEFAULT_ERRORS_THRESHOLD: f64 = 0.01;

/// Default minimum relevant change of the instruction counts: 1 %. Counts of one build
/// differ by well under 0.5 %, so a tight threshold is safe; like the error rate's, a
/// global `--threshold` does not change it, `--threshold instructions=X%` does.
pub const DEFAULT_INSTRUCTIONS_THRESHOLD: f64 = 0.01;

/// The minimum relevant change per figure, as a fraction (0.05 = 5 %, or 5 percentage
/// points for the error rate).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thresholds {
    pub default: f64,
    pub per_figure: BTreeMap<Figure, f64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            default: DEFAULT_THRESHOLD,
            per_figure: BTreeMap::new(),
        }
    }
}

impl Thresholds {
    /// Parses `--threshold` values: `5%` (or `5`) sets the default, `p99=10%` one figure.
    /// Errors name the flag value and what is wrong.
    pub fn parse(values: &[String]) -> Result<Thresholds, String> {
        let mut thresholds = Thresholds::default();
        for value in values {
            match value.split_once('=') {
                Some((name, amount)) => {
                    let figure = Figure::from_key(name).ok_or_else(|| {
                        let known: Vec<&str> = Figure::ALL.iter().map(|f| f.key()).collect();
                        format!(
                            "--threshold {value}: unknown figure {name:?}; known figures: {}",
                            known.join(", ")
                        )
                    })?;
                    thresholds
                        .per_figure
                        .insert(figure, percent(value, amount)?);
                }
                None => thresholds.default = percent(value, value)?,
            }
        }
        Ok(thresholds)
    }

    /// The threshold that applies to `figure`.
    pub fn of(&self, figure: Figure) -> f64 {
        match self.per_figure.get(&figure) {
            Some(&t) => t,
            None if figure == Figure::Errors => DEFAULT_ERRORS_THRESHOLD,
            None if figure == Figure::Instructions => DEFAULT_INSTRUCTIONS_THRESHOLD,
            None => self.default,
        }
    }
}

fn percent(flag: &str, text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..1000.0).contains(&v) => Ok(v / 100.0),
        _ => Err(format!(
            "--threshold {flag}: expected a percentage such as 5% (0 to 1000)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_default_global_and_per_figure() {
        let t = Thresholds::parse(&[]).unwrap();
        assert_eq!(t.of(Figure::Qps), 0.05);
        assert_eq!(t.of(Figure::Errors), 0.01);
        let t = Thresholds::parse(&["10%".into(), "p99=20%".into(), "errors=0.5".into()]).unwrap();
        assert!((t.of(Figure::Qps) - 0.10).abs() < 1e-12);
        assert!((t.of(Figure::P99) - 0.20).abs() < 1e-12);
        assert!((t.of(Figure::Errors) - 0.005).abs() < 1e-12);
        let t = Thresholds::parse(&["rps=3%".into()]).unwrap();
        assert!((t.of(Figure::Qps) - 0.03).abs() < 1e-12);
        // The instruction counts keep their tight default under a global threshold.
        let t = Thresholds::parse(&["10%".into()]).unwrap();
        assert!((t.of(Figure::Instructions) - 0.01).abs() < 1e-12);
        let t = Thresholds::parse(&["instructions=2%".into()]).unwrap();
        assert!((t.of(Figure::Instructions) - 0.02).abs() < 1e-12);
    }

    #[test]
    fn fail_on_groups_names_and_auto() {
        assert_eq!(FailOn::parse(&[]).unwrap(), FailOn::Auto);
        let auto = FailOn::Auto;
        assert_eq!(
            auto.resolve(true),
            vec![Figure::Instructions, Figure::Errors]
        );
        assert_eq!(auto.resolve(false), Figure::ALL.to_vec());
        let picked = FailOn::parse(&["deterministic,p99".into(), "errors".into()]).unwrap();
        assert_eq!(
            picked.resolve(true),
            vec![Figure::Instructions, Figure::P99, Figure::Errors]
        );
        let timed = FailOn::parse(&["timed".into()]).unwrap().resolve(true);
        assert!(!timed.contains(&Figure::Instructions) && timed.contains(&Figure::Qps));
        let e = FailOn::parse(&["p98".into()]).unwrap_err();
        assert!(e.starts_with("--fail-on p98: unknown figure"), "{e}");
    }

    #[test]
    fn every_row_with_a_compare_name_is_a_figure() {
        let named: Vec<&str> = crate::results::metrics::Metric::all()
            .filter_map(|m| m.labels.compare)
            .collect();
        let keys: Vec<&str> = Figure::ALL.iter().map(|f| f.key()).collect();
        assert_eq!(named, keys);
    }

    #[test]
    fn bad_thresholds_name_the_value() {
        let e = Thresholds::parse(&["p98=5%".into()]).unwrap_err();
        assert!(e.starts_with("--threshold p98=5%: unknown figure"), "{e}");
        let e = Thresholds::parse(&["five".into()]).unwrap_err();
        assert!(e.starts_with("--threshold five:"), "{e}");
        assert!(Thresholds::parse(&["-3%".into()]).is_err());
    }
}
