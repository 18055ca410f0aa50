//! A linear f64 axis whose ticks are exactly the values given (one per framework, or the
//! percentile marks), with labels left to the chart's formatter.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

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
