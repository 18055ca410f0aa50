//! Small descriptive statistics over repeated measurements (repeats of a load level,
//! fresh launches of a target). Each function documents its exact definition, because
//! reports cite them.

use serde::{Deserialize, Serialize};

/// Median: the middle value of the sorted sample, or the mean of the two middle values
/// for an even count. `None` for an empty sample. NaNs are ignored.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

/// Arithmetic mean; `None` for an empty sample.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Sample standard deviation (n - 1 in the denominator); `None` below two values.
pub fn sample_stdev(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values)?;
    let var = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64;
    Some(var.sqrt())
}

/// Coefficient of variation: sample standard deviation / mean. `None` below two values
/// or for a zero mean.
pub fn coefficient_of_variation(values: &[f64]) -> Option<f64> {
    let m = mean(values)?;
    if m == 0.0 {
        return None;
    }
    Some(sample_stdev(values)? / m.abs())
}

/// Minimum, median and maximum of a sample, plus its coefficient of variation when there
/// are at least two values. This is how every repeated figure is reported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Number of values summarized.
    pub n: usize,
    /// Coefficient of variation (stdev / mean), `None` for a single value.
    pub cv: Option<f64>,
}

impl Spread {
    /// The spread of nothing measured (n = 0), for figures an older file lacks until
    /// they are derived.
    pub fn zero() -> Spread {
        Spread {
            median: 0.0,
            min: 0.0,
            max: 0.0,
            n: 0,
            cv: None,
        }
    }

    /// Summarizes a sample; `None` when it is empty.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let median = median(values)?;
        Some(Spread {
            median,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            n: values.len(),
            cv: coefficient_of_variation(values),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn spread_and_variation() {
        let s = Spread::of(&[10.0, 12.0, 14.0]).unwrap();
        assert_eq!((s.min, s.median, s.max, s.n), (10.0, 12.0, 14.0, 3));
        // stdev = 2, mean = 12
        assert!((s.cv.unwrap() - 2.0 / 12.0).abs() < 1e-12);
        assert_eq!(Spread::of(&[5.0]).unwrap().cv, None);
        assert_eq!(Spread::of(&[]), None);
    }
}
