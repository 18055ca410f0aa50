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

/// Indices of the outliers of a sample by the modified Z-score (Iglewicz and Hoaglin):
/// `0.6745 * (x - median) / MAD`, where MAD is the median absolute deviation from the
/// median, beyond ±3.5. Robust where mean ± k·σ is not: the outlier itself does not
/// widen the yardstick. With MAD 0 (most values identical) nothing is an outlier.
pub fn outliers(values: &[f64]) -> Vec<usize> {
    let Some(m) = median(values) else {
        return Vec::new();
    };
    let deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    let Some(mad) = median(&deviations).filter(|mad| *mad > 0.0) else {
        return Vec::new();
    };
    values
        .iter()
        .enumerate()
        .filter(|(_, v)| (0.6745 * (*v - m) / mad).abs() > 3.5)
        .map(|(i, _)| i)
        .collect()
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
    /// Arithmetic mean (0 in files written before it was recorded).
    #[serde(default)]
    pub mean: f64,
    /// Sample standard deviation, `None` for a single value.
    #[serde(default)]
    pub stdev: Option<f64>,
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
            mean: 0.0,
            stdev: None,
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
            mean: mean(values).unwrap_or(median),
            stdev: sample_stdev(values),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_z_score_outliers() {
        // Ten launches around 12 ms and a first one with a cold page cache.
        let launches = [41.0, 12.1, 11.9, 12.3, 12.0, 12.2, 11.8, 12.4, 12.0, 12.1];
        assert_eq!(outliers(&launches), vec![0]);
        assert!(outliers(&[12.0, 12.1, 11.9, 12.3]).is_empty());
        assert!(outliers(&[5.0; 6]).is_empty(), "MAD 0");
        assert!(outliers(&[]).is_empty());
        let s = Spread::of(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(s.mean, 2.5);
        assert!((s.stdev.unwrap() - 1.290_994).abs() < 1e-6);
    }

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
