//! The figures `lanebench compare` judges, which direction is better for each, and the
//! minimum relevant change (threshold) per figure, as parsed from `--threshold`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::bootstrap::Contrast;

/// One compared figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Figure {
    /// Requests per second at a level (per repeat).
    Qps,
    /// Latency percentiles at a level (ms, per repeat).
    P50,
    P99,
    P999,
    /// Share of requests that failed at a level (per repeat).
    Errors,
    /// Peak memory of the target's process tree (MiB, one per run).
    Memory,
    /// Spawn -> first healthy response (ms).
    Startup,
    /// Spawn -> first correct response of every scenario request (ms).
    ColdStart,
}

impl Figure {
    /// Every figure, in table order.
    pub const ALL: [Figure; 8] = [
        Figure::Qps,
        Figure::P50,
        Figure::P99,
        Figure::P999,
        Figure::Errors,
        Figure::Memory,
        Figure::Startup,
        Figure::ColdStart,
    ];

    /// The name used in `--threshold NAME=X%` and in the outputs.
    pub fn key(self) -> &'static str {
        match self {
            Figure::Qps => "qps",
            Figure::P50 => "p50",
            Figure::P99 => "p99",
            Figure::P999 => "p999",
            Figure::Errors => "errors",
            Figure::Memory => "memory",
            Figure::Startup => "startup",
            Figure::ColdStart => "cold-start",
        }
    }

    /// Unit of the figure's values.
    pub fn unit(self) -> &'static str {
        match self {
            Figure::Qps => "req/s",
            Figure::P50 | Figure::P99 | Figure::P999 | Figure::Startup | Figure::ColdStart => "ms",
            Figure::Errors => "%",
            Figure::Memory => "MiB",
        }
    }

    /// True for throughput; every other figure is better lower.
    pub fn higher_is_better(self) -> bool {
        self == Figure::Qps
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
            other => other,
        };
        Figure::ALL.into_iter().find(|f| f.key() == key)
    }
}

/// Default minimum relevant change for ratio figures: 5 %.
pub const DEFAULT_THRESHOLD: f64 = 0.05;

/// Default minimum relevant change of the error rate: 1 percentage point. A global
/// `--threshold` does not change it, because a relative threshold means nothing for a
/// rate that is usually zero; `--threshold errors=X%` does.
pub const DEFAULT_ERRORS_THRESHOLD: f64 = 0.01;

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
