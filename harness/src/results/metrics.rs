//! The one table of figures: for each figure its key, unit, direction, where its values
//! come from in the typed records, how it is printed, and the name each output gives it.
//! compare, export, summary.csv and the report's level tables read their figures from
//! [`METRICS`] (and a service chain's from [`CHAIN_METRICS`], through [`Metric::all`]);
//! a new figure is one row here. Two lists stay outside it because their
//! order is a layout older than the table: the CSV's per-target columns
//! ([`CSV_TARGET_COLUMNS`]) and compare's `Figure` (its thresholds and `--fail-on` names),
//! which a newly compared figure joins with one variant.
//!
//! The outputs predate the table and name some figures differently (`qps` in compare,
//! `throughput` in export, `success_rps_median` in the CSV, "QPS (median)" in the
//! report); those names are files and dashboards people already read, so each row
//! carries them as per-output labels instead of renaming.

pub use crate::results::capacity_metrics::CAPACITY_METRICS;
pub use crate::results::chain_metrics::CHAIN_METRICS;
pub use crate::results::print::{duration_ms, grouped, latency_ms, level_label};
pub use crate::results::resilience_metrics::RESILIENCE_METRICS;
use crate::results::{LevelResult, RepeatResult, TargetResult};
use crate::stats::Spread;

/// Which way a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
    /// A description of the run (CPU use), not better either way.
    Neither,
}

/// Where a figure's values come from.
#[derive(Clone, Copy)]
pub enum Source {
    /// A figure of each load level: its summary over the repeats, and the value of one
    /// repeat when there is one per repeat (what compare pools).
    Level {
        level: fn(&LevelResult) -> Option<Spread>,
        repeat: Option<fn(&RepeatResult) -> Option<f64>>,
    },
    /// A figure of the whole target (one per run).
    Target(fn(&TargetResult) -> Option<Spread>),
    /// A service chain's figure of each level whose per-repeat values need the target
    /// (its components' roles) and the level (its baseline load), not the repeat alone.
    Chain {
        level: fn(&LevelResult) -> Option<Spread>,
        repeats: fn(&TargetResult, &LevelResult) -> Vec<f64>,
    },
    /// Instruction counts, from the cost records (`results::cost`), per scenario request.
    Counted,
}

/// How a value is printed in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Print {
    /// Whole number with thousands separators.
    Grouped,
    /// Milliseconds with precision that suits their size.
    Latency,
    /// Milliseconds as "850 ms" or "1.25 s".
    Duration,
    /// A fraction as a percentage with this many decimals.
    Percent(usize),
    /// A plain number with this many decimals.
    Fixed(usize),
}

/// Which statistic of a level's spread a CSV column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    Median,
    Min,
    Max,
    Cv,
}

/// The names the outputs give a figure; `None` (or empty): the output leaves it out.
#[derive(Debug, Clone, Copy)]
pub struct Labels {
    /// `lanebench compare` (and its `--threshold` / `--fail-on` names).
    pub compare: Option<&'static str>,
    /// `lanebench export` measure name.
    pub export: Option<&'static str>,
    /// summary.csv columns, each with the statistic it holds.
    pub csv: &'static [(&'static str, Stat)],
    /// The report's column heading.
    pub report: Option<&'static str>,
}

/// One figure.
#[derive(Clone, Copy)]
pub struct Metric {
    /// Stable name of the figure.
    pub key: &'static str,
    /// The results.json field it is stored in (in a target or a level), or derived from.
    pub field: &'static str,
    /// Unit of the printed value; "%" marks a fraction printed times 100.
    pub unit: &'static str,
    pub direction: Direction,
    pub source: Source,
    pub print: Print,
    pub labels: Labels,
}

/// Every figure, in the order compare and export list them (the CSV lists its level
/// columns in this order too).
pub static METRICS: &[Metric] = &[
    Metric {
        key: "instructions",
        field: "cost.instructions_per_request",
        unit: "instr/req",
        direction: Direction::LowerIsBetter,
        source: Source::Counted,
        print: Print::Grouped,
        labels: Labels {
            compare: Some("instructions"),
            export: Some("instructions"),
            csv: &[],
            report: None,
        },
    },
    Metric {
        key: "rps",
        field: "rps",
        unit: "req/s",
        direction: Direction::HigherIsBetter,
        source: Source::Level {
            level: |l| Some(l.rps),
            repeat: Some(|r| Some(r.load.rps)),
        },
        print: Print::Grouped,
        labels: Labels {
            compare: None,
            export: None,
            csv: &[
                ("rps_median", Stat::Median),
                ("rps_min", Stat::Min),
                ("rps_max", Stat::Max),
                ("rps_cv", Stat::Cv),
            ],
            report: None,
        },
    },
    Metric {
        key: "throughput",
        field: "success_rps",
        unit: "req/s",
        direction: Direction::HigherIsBetter,
        source: Source::Level {
            level: |l| Some(*l.throughput()),
            repeat: Some(|r| Some(r.throughput())),
        },
        print: Print::Grouped,
        labels: Labels {
            compare: Some("qps"),
            export: Some("throughput"),
            csv: &[("success_rps_median", Stat::Median)],
            report: Some("QPS (median)"),
        },
    },
    Metric {
        key: "p50",
        field: "p50_ms",
        unit: "ms",
        direction: Direction::LowerIsBetter,
        source: Source::Level {
            level: |l| Some(l.p50_ms),
            repeat: Some(|r| Some(r.load.latency_ms.p50)),
        },
        print: Print::Latency,
        labels: Labels {
            compare: Some("p50"),
            export: Some("latency-p50"),
            csv: &[("p50_ms", Stat::Median)],
            report: Some("p50 ms"),
        },
    },
    Metric {
        key: "p90",
        field: "p90_ms",
        unit: "ms",
        direction: Direction::LowerIsBetter,
        source: Source::Level {
            level: |l| Some(l.p90_ms),
            repeat: Some(|r| Some(r.load.latency_ms.p90)),
        },
        print: Print::Latency,
        labels: Labels {
            compare: None,
            export: Some("latency-p90"),
            csv: &[("p90_ms", Stat::Median)],
            report: Some("p90 ms"),
        },
    },
    Metric {
        key: "p99",
        field: "p99_ms",
        unit: "ms",
        direction: Direction::LowerIsBetter,
        source: Source::Level {
            level: |l| Some(l.p99_ms),
            repeat: Some(|r| Some(r.load.latency_ms.p99)),
        },
        print: Print::Latency,
        labels: Labels {
            compare: Some("p99"),
            export: Some("latency-p99"),
            csv: &[("p99_ms", Stat::Median)],
            report: Some("p99 ms"),
        },
    },
    Metric {
        key: "p999",
        field: "p999_ms",
        unit: "ms",
        direction: Direction::LowerIsBetter,
        source: Source::Level {
            level: |l| Some(l.p999_ms),
            repeat: Some(|r| Some(r.load.latency_ms.p999)),
        },
        print: Print::Latency,
        labels: Labels {
            compare: Some("p999"),
            export: Some("latency-p999"),
            csv: &[("p999_ms", Stat::Median)],
            report: Some("p99.9 ms"),
        },
    },
    Metric {
        key: "error_rate",
        field: "error_rate",
        unit: "%",
        direction: Direction::LowerIsBetter,
        source: Source::Level {
            level: |l| Some(l.error_rate),
            repeat: Some(|r| Some(r.load.error_rate)),
        },
        print: Print::Percent(2),
        labels: Labels {
            compare: Some("errors"),
            export: Some("error-rate"),
            csv: &[("error_rate", Stat::Median)],
            report: Some("errors"),
        },
    },
    Metric {
        key: "server_cpu_utilisation",
        field: "server_cpu_utilisation",
        unit: "%",
        direction: Direction::Neither,
        source: Source::Level {
            level: |l| Spread::of(&[l.server_cpu_utilisation]),
            repeat: None,
        },
        print: Print::Percent(0),
        labels: Labels {
            compare: None,
            export: None,
            csv: &[("server_cpu_utilisation", Stat::Median)],
            report: Some("server CPU"),
        },
    },
    Metric {
        key: "cpu_per_success",
        field: "server_cpu_us_per_success",
        unit: "µs/req",
        direction: Direction::LowerIsBetter,
        source: Source::Level {
            level: LevelResult::cpu_per_success,
            repeat: Some(RepeatResult::cpu_us_per_success),
        },
        print: Print::Fixed(1),
        labels: Labels {
            compare: Some("cpu-per-request"),
            export: Some("cpu-per-request"),
            csv: &[],
            report: Some("CPU µs/success"),
        },
    },
    Metric {
        key: "generator_cpu_utilisation",
        field: "generator_cpu_utilisation",
        unit: "%",
        direction: Direction::Neither,
        source: Source::Level {
            level: |l| Spread::of(&[l.generator_cpu_utilisation]),
            repeat: None,
        },
        print: Print::Percent(0),
        labels: Labels {
            compare: None,
            export: None,
            csv: &[("generator_cpu_utilisation", Stat::Median)],
            report: Some("generator CPU"),
        },
    },
    Metric {
        key: "qps",
        field: "qps",
        unit: "req/s",
        direction: Direction::HigherIsBetter,
        source: Source::Target(|t| one(t.throughput())),
        print: Print::Grouped,
        labels: Labels {
            compare: None,
            export: None,
            csv: &[("qps", Stat::Median)],
            report: Some("QPS"),
        },
    },
    Metric {
        key: "memory_peak",
        field: "memory_mb.peak",
        unit: "MiB",
        direction: Direction::LowerIsBetter,
        source: Source::Target(|t| one(t.memory_mb.as_ref().map(|m| m.peak))),
        print: Print::Fixed(1),
        labels: Labels {
            compare: Some("memory"),
            export: Some("memory-peak"),
            csv: &[("memory_peak_mb", Stat::Median)],
            report: None,
        },
    },
    Metric {
        key: "memory_idle",
        field: "memory_mb.idle",
        unit: "MiB",
        direction: Direction::LowerIsBetter,
        source: Source::Target(|t| one(t.memory_mb.as_ref().map(|m| m.idle))),
        print: Print::Fixed(1),
        labels: Labels {
            compare: None,
            export: Some("memory-idle"),
            csv: &[("memory_idle_mb", Stat::Median)],
            report: None,
        },
    },
    Metric {
        key: "memory_steady",
        field: "memory_mb.steady",
        unit: "MiB",
        direction: Direction::LowerIsBetter,
        source: Source::Target(|t| one(t.memory_mb.as_ref().map(|m| m.steady))),
        print: Print::Fixed(1),
        labels: Labels {
            compare: None,
            export: None,
            csv: &[("memory_steady_mb", Stat::Median)],
            report: None,
        },
    },
    Metric {
        key: "startup",
        field: "startup_ms",
        unit: "ms",
        direction: Direction::LowerIsBetter,
        source: Source::Target(|t| t.startup_ms),
        print: Print::Duration,
        labels: Labels {
            compare: Some("startup"),
            export: Some("startup"),
            csv: &[("startup_ms", Stat::Median)],
            report: Some("Startup Time"),
        },
    },
    Metric {
        key: "cold_start",
        field: "cold_start_ms",
        unit: "ms",
        direction: Direction::LowerIsBetter,
        source: Source::Target(|t| t.cold_start_ms),
        print: Print::Duration,
        labels: Labels {
            compare: Some("cold-start"),
            export: Some("cold-start"),
            csv: &[("cold_start_ms", Stat::Median)],
            report: Some("Cold Start"),
        },
    },
    Metric {
        key: "first_request",
        field: "first_request_ms",
        unit: "ms",
        direction: Direction::LowerIsBetter,
        source: Source::Target(|t| t.first_request_ms),
        print: Print::Duration,
        labels: Labels {
            compare: None,
            export: None,
            csv: &[("first_request_ms", Stat::Median)],
            report: None,
        },
    },
    Metric {
        key: "time_to_steady",
        field: "time_to_steady_ms",
        unit: "ms",
        direction: Direction::LowerIsBetter,
        source: Source::Target(|t| one(t.time_to_steady_ms)),
        print: Print::Duration,
        labels: Labels {
            compare: None,
            export: None,
            csv: &[],
            report: None,
        },
    },
    Metric {
        key: "build",
        field: "build_s",
        unit: "s",
        direction: Direction::LowerIsBetter,
        source: Source::Target(|t| one(t.build_s)),
        print: Print::Fixed(1),
        labels: Labels {
            compare: None,
            export: None,
            csv: &[],
            report: None,
        },
    },
];

/// The order of summary.csv's per-target columns (a file layout older than the table).
pub const CSV_TARGET_COLUMNS: [&str; 7] = [
    "qps",
    "startup",
    "cold_start",
    "first_request",
    "memory_idle",
    "memory_steady",
    "memory_peak",
];

/// A single value as a spread of one.
fn one(value: Option<f64>) -> Option<Spread> {
    Spread::of(&[value?])
}

impl Metric {
    /// Every row: [`METRICS`], then a service chain's ([`CHAIN_METRICS`]), a
    /// resilience run's ([`RESILIENCE_METRICS`]) and a capacity run's
    /// ([`CAPACITY_METRICS`]).
    pub fn all() -> impl Iterator<Item = &'static Metric> {
        METRICS
            .iter()
            .chain(CHAIN_METRICS)
            .chain(RESILIENCE_METRICS)
            .chain(CAPACITY_METRICS)
    }

    /// The row of `key`.
    pub fn find(key: &str) -> Option<&'static Metric> {
        Metric::all().find(|m| m.key == key)
    }

    /// The row compare names `name`.
    pub fn for_compare(name: &str) -> Option<&'static Metric> {
        Metric::all().find(|m| m.labels.compare == Some(name))
    }

    /// True for a figure that is better higher.
    pub fn higher_is_better(&self) -> bool {
        self.direction == Direction::HigherIsBetter
    }

    /// True when values are fractions shown as percentages.
    pub fn is_percent(&self) -> bool {
        self.unit == "%"
    }

    /// True for a figure of each load level.
    pub fn is_per_level(&self) -> bool {
        matches!(self.source, Source::Level { .. } | Source::Chain { .. })
    }

    /// True for a figure of the whole target (one per run).
    pub fn is_per_target(&self) -> bool {
        matches!(self.source, Source::Target(_))
    }

    /// The summary of the figure at `level` (`None` for a target-wide figure).
    pub fn of_level(&self, level: &LevelResult) -> Option<Spread> {
        match self.source {
            Source::Level { level: pick, .. } | Source::Chain { level: pick, .. } => pick(level),
            _ => None,
        }
    }

    /// The figure's values per repeat of `level` of `target` (what compare pools).
    pub fn repeat_values(&self, target: &TargetResult, level: &LevelResult) -> Vec<f64> {
        match self.source {
            Source::Chain { repeats, .. } => repeats(target, level),
            _ => level
                .repeats
                .iter()
                .filter_map(|r| self.of_repeat(r))
                .collect(),
        }
    }

    /// The figure's value in one repeat, when it has one per repeat.
    pub fn of_repeat(&self, repeat: &RepeatResult) -> Option<f64> {
        match self.source {
            Source::Level {
                repeat: Some(pick), ..
            } => pick(repeat),
            _ => None,
        }
    }

    /// The figure of a whole target (`None` for a per-level figure).
    pub fn of_target(&self, target: &TargetResult) -> Option<Spread> {
        match self.source {
            Source::Target(pick) => pick(target),
            _ => None,
        }
    }

    /// `value` as the report prints it.
    pub fn print(&self, value: f64) -> String {
        match self.print {
            Print::Grouped => grouped(value),
            Print::Latency => latency_ms(value),
            Print::Duration => duration_ms(value),
            Print::Percent(digits) => format!("{:.digits$}%", value * 100.0),
            Print::Fixed(digits) => format!("{value:.digits$}"),
        }
    }
}

impl Stat {
    /// This statistic of `spread`.
    pub fn of(self, spread: &Spread) -> Option<f64> {
        match self {
            Stat::Median => Some(spread.median),
            Stat::Min => Some(spread.min),
            Stat::Max => Some(spread.max),
            Stat::Cv => spread.cv,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_output_names_are_unique() {
        let names = |pick: fn(&Metric) -> Option<&'static str>| {
            let mut seen: Vec<&str> = Metric::all().filter_map(pick).collect();
            let n = seen.len();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), n, "{seen:?}");
        };
        names(|m| Some(m.key));
        names(|m| Some(m.field));
        names(|m| m.labels.compare);
        names(|m| m.labels.export);
        let mut columns: Vec<&str> = Metric::all()
            .flat_map(|m| m.labels.csv.iter().map(|c| c.0))
            .collect();
        let n = columns.len();
        columns.sort();
        columns.dedup();
        assert_eq!(columns.len(), n);
        for key in CSV_TARGET_COLUMNS {
            let row = Metric::find(key).expect("a CSV column names a row");
            assert!(matches!(row.source, Source::Target(_)) && !row.labels.csv.is_empty());
        }
    }
}
