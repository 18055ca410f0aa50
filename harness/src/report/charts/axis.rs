//! Chart axes: a linear f64 axis whose ticks are exactly the values given (one per
//! framework, or the percentile marks), and a value axis that turns logarithmic when its
//! values span more than [`LOG_SPAN`], with labels in the figure's [`Unit`].

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

use crate::report::view::{duration_ms, grouped};

/// Linear mapping of `low..high`, ticks at `keys`.
pub struct KeyedAxis {
    low: f64,
    high: f64,
    keys: Vec<f64>,
}

impl KeyedAxis {
    /// An axis over `range` with ticks at `keys`.
    pub fn new(range: Range<f64>, keys: Vec<f64>) -> KeyedAxis {
        KeyedAxis {
            low: range.start,
            high: range.end,
            keys,
        }
    }
}

impl Ranged for KeyedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = (self.high - self.low).max(f64::EPSILON);
        let fraction = (value - self.low) / span;
        limit.0 + (fraction * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.keys.clone()
    }

    fn range(&self) -> Range<f64> {
        self.low..self.high
    }
}

/// Values spanning more than this factor get a log axis, so the small ones stay visible.
pub const LOG_SPAN: f64 = 20.0;

/// The largest value an axis spans: a figure read from a file may be as large as a
/// float goes (1e308), and the axis top is a multiple of it. Larger values are drawn
/// at the top.
pub const MAX_AXIS_VALUE: f64 = 1e300;

/// The most ticks an axis draws, whatever its range (a guard: round ranges give 4-10).
const MAX_TICKS: usize = 64;

/// What a value axis measures: picks the words of its labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Requests per second.
    Rps,
    /// Milliseconds, written as ms or s.
    Ms,
    Mib,
    /// Microseconds.
    Us,
    /// A ratio such as "0.75x".
    Ratio,
}

impl Unit {
    /// A value as a label on a mark, in the figure's unit.
    pub fn value(self, v: f64) -> String {
        match self {
            Unit::Rps => format!("{} req/s", grouped(v)),
            Unit::Ms => duration_ms(v),
            Unit::Mib => format!("{} MiB", significant(v)),
            Unit::Us => format!("{} µs", significant(v)),
            Unit::Ratio => format!("{v:.2}x"),
        }
    }

    /// A value as a tick label, shorter than [`Unit::value`].
    pub fn tick(self, v: f64) -> String {
        match self {
            Unit::Rps if v >= 1e6 => format!("{}M", trimmed(v / 1e6)),
            Unit::Rps if v >= 1e3 => format!("{}K", trimmed(v / 1e3)),
            Unit::Rps => trimmed(v),
            Unit::Ms if v >= 1000.0 => format!("{} s", trimmed(v / 1000.0)),
            Unit::Ms => format!("{} ms", trimmed(v)),
            Unit::Mib => trimmed(v),
            Unit::Us => trimmed(v),
            Unit::Ratio => format!("{}x", trimmed(v)),
        }
    }
}

/// Three significant digits at most, at least the whole number: 8.4, 27.3, 281.
fn significant(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A tick value without trailing zeros: 2.50 -> "2.5", 10.0 -> "10".
fn trimmed(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A value axis, linear from zero or logarithmic when the values span more than
/// [`LOG_SPAN`], with round ticks.
#[derive(Debug, Clone)]
pub struct ValueAxis {
    low: f64,
    high: f64,
    log: bool,
    pub unit: Unit,
}

impl ValueAxis {
    /// An axis for `values` (bar ends, whisker ends, points) leaving the top `room`
    /// fraction of the axis free, for value labels or a legend.
    pub fn fit(values: &[f64], unit: Unit, room: f64) -> ValueAxis {
        let positive = values
            .iter()
            .copied()
            .filter(|v| *v > 0.0 && v.is_finite())
            .map(|v| v.min(MAX_AXIS_VALUE));
        // With nothing to show, a unit axis rather than a degenerate one.
        let max = positive.clone().fold(f64::NAN, f64::max);
        let max = if max.is_nan() { 1.0 } else { max };
        let min = positive.fold(max, f64::min);
        let keep = 1.0 - room.clamp(0.0, 0.8);
        if max / min > LOG_SPAN {
            // At least half a decade below the smallest bar, so it is not a sliver.
            let low = 10f64.powf((min / 3.0).log10().floor());
            // The room above the largest value, but never past the largest float.
            let top = low.log10() + (max.log10() - low.log10()) / keep;
            let high = 10f64.powf(top.min(307.0));
            ValueAxis {
                low,
                high,
                log: true,
                unit,
            }
        } else {
            ValueAxis {
                low: 0.0,
                high: max / keep,
                log: false,
                unit,
            }
        }
    }

    /// Where bars start: zero, or the bottom of a log axis.
    pub fn base(&self) -> f64 {
        self.low
    }

    /// The axis description with the scale named when it is logarithmic.
    pub fn describe(&self, what: &str) -> String {
        if self.log {
            format!("{what}, log scale")
        } else {
            what.to_string()
        }
    }

    fn position(&self, v: f64) -> f64 {
        if self.log {
            let v = v.max(self.low);
            (v.log10() - self.low.log10()) / (self.high.log10() - self.low.log10())
        } else {
            (v - self.low) / (self.high - self.low).max(f64::EPSILON)
        }
    }

    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let decades = (self.high / self.low).log10();
            let steps: &[f64] = if decades < 3.0 {
                &[1.0, 2.0, 5.0]
            } else {
                &[1.0]
            };
            // More than a dozen decades (only absurd figures span that many) get a
            // tick every few decades rather than hundreds of ticks.
            let stride = 10f64.powf((decades / 12.0).ceil().max(1.0));
            let mut out = Vec::new();
            let mut decade = self.low;
            while decade.is_finite() && decade <= self.high * 1.000_001 && out.len() < MAX_TICKS {
                out.extend(steps.iter().map(|s| s * decade).filter(|v| *v <= self.high));
                decade *= stride;
            }
            out.truncate(MAX_TICKS);
            out
        } else {
            let raw = (self.high - self.low) / 6.0;
            let magnitude = 10f64.powf(raw.log10().floor());
            let step = [1.0, 2.0, 5.0, 10.0]
                .iter()
                .map(|m| m * magnitude)
                .find(|s| *s >= raw)
                .unwrap_or(raw);
            (0..MAX_TICKS)
                .map(|i| self.low + step * i as f64)
                .take_while(|v| *v <= self.high)
                .collect()
        }
    }
}

impl Ranged for ValueAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        limit.0 + (self.position(*value) * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks()
    }

    fn range(&self) -> Range<f64> {
        self.low..self.high
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_spans_get_a_log_axis_with_decade_ticks() {
        // Startup from 7 ms to 8.4 s: linear would squash the fast ones to nothing.
        let axis = ValueAxis::fit(&[7.0, 12.0, 8400.0], Unit::Ms, 0.2);
        assert!(axis.log);
        assert_eq!(axis.base(), 1.0);
        assert_eq!(&axis.ticks()[..4], &[1.0, 10.0, 100.0, 1000.0]);
        let labels: Vec<String> = axis.ticks().iter().map(|t| Unit::Ms.tick(*t)).collect();
        assert_eq!(&labels[..4], &["1 ms", "10 ms", "100 ms", "1 s"]);
        assert!(axis.describe("Startup").ends_with("log scale"));
        // The largest value leaves the top fifth free for its label.
        assert!((axis.position(8400.0) - 0.8).abs() < 1e-9);
    }

    #[test]
    fn narrow_spans_stay_linear_from_zero() {
        let axis = ValueAxis::fit(&[30_000.0, 45_000.0], Unit::Rps, 0.25);
        assert!(!axis.log);
        assert_eq!(axis.base(), 0.0);
        assert_eq!(
            axis.ticks(),
            [0.0, 10_000.0, 20_000.0, 30_000.0, 40_000.0, 50_000.0, 60_000.0]
        );
        assert_eq!(Unit::Rps.tick(20_000.0), "20K");
        assert_eq!(Unit::Rps.value(45_000.4), "45,000 req/s");
        assert_eq!(axis.describe("QPS"), "QPS");
    }

    #[test]
    fn no_values_give_a_unit_axis() {
        let axis = ValueAxis::fit(&[], Unit::Us, 0.2);
        assert_eq!((axis.low, axis.high), (0.0, 1.25));
        assert!(!axis.ticks().is_empty() && axis.ticks().len() < 20);
    }

    #[test]
    fn huge_and_non_finite_figures_give_bounded_ticks() {
        for values in [
            vec![1e308],
            vec![1.0, 1e308],
            vec![f64::INFINITY, f64::NAN, 5.0],
            vec![f64::MAX, f64::MIN_POSITIVE],
        ] {
            let axis = ValueAxis::fit(&values, Unit::Rps, 0.25);
            let ticks = axis.ticks();
            assert!(!ticks.is_empty() && ticks.len() <= MAX_TICKS, "{values:?}");
            assert!(ticks.iter().all(|t| t.is_finite()), "{values:?}: {ticks:?}");
            assert!(axis.high.is_finite() && axis.low.is_finite(), "{values:?}");
        }
    }

    #[test]
    fn value_labels_carry_the_unit() {
        assert_eq!(Unit::Ms.value(6.21), "6.2 ms");
        assert_eq!(Unit::Ms.value(8400.0), "8.40 s");
        assert_eq!(Unit::Mib.value(8.4004), "8.40 MiB");
        assert_eq!(Unit::Mib.value(281.2), "281 MiB");
        assert_eq!(Unit::Us.value(41.25), "41.2 µs");
        assert_eq!(Unit::Ratio.value(0.7512), "0.75x");
    }
}
