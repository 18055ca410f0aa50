//! The statistics `lanebench compare` decides with: a seeded pseudo-random generator and a
//! percentile bootstrap confidence interval of the change between two samples' medians.
//!
//! Seeded so that the same two results files always give the same interval and verdict.

use crate::stats::median;

/// Resamples drawn per interval; 10 000 keeps the 2.5 % / 97.5 % quantiles stable to well
/// under a tenth of a percent for the sample sizes a benchmark has.
pub const RESAMPLES: usize = 10_000;

/// The fixed seed of every interval ("lanebenc" in ASCII).
pub const SEED: u64 = 0x6c61_6e65_6265_6e63;

/// Two-sided confidence level of the intervals.
pub const CONFIDENCE: f64 = 0.95;

/// SplitMix64 (Steele, Lea and Flood, 2014): tiny, fast and statistically sound enough
/// for resampling indices; a fixed seed makes every interval reproducible.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform index in `0..n` (`n > 0`). Multiply-shift instead of modulo, so small `n`
    /// carry no visible bias.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// How the change from baseline to candidate is expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contrast {
    /// candidate / baseline (1.0 = no change); for figures where relative change matters.
    Ratio,
    /// candidate - baseline (0.0 = no change); for rates that are often zero.
    Difference,
}

impl Contrast {
    /// The contrast of two values; `None` when a ratio's baseline is zero (unless both
    /// are) or negative (a client tax can be: a ratio to it would flip its sign).
    pub fn of(self, baseline: f64, candidate: f64) -> Option<f64> {
        match self {
            Contrast::Ratio if baseline < 0.0 => None,
            Contrast::Ratio if baseline == 0.0 => (candidate == 0.0).then_some(1.0),
            Contrast::Ratio => Some(candidate / baseline),
            Contrast::Difference => Some(candidate - baseline),
        }
    }
}

/// A closed interval of the contrast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// The value at quantile `q` of an ascending sorted sample, by the nearest-rank rule
/// (the smallest value with at least `q` of the sample at or below it).
pub fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Percentile bootstrap interval of `contrast(median(candidate*), median(baseline*))`:
/// `resamples` times, draw each sample with replacement at its own size, take the
/// contrast of the two medians; the interval runs from the (1-confidence)/2 to the
/// (1+confidence)/2 quantile of those contrasts. `None` when a sample is empty or every
/// resample's contrast is undefined (a ratio over a zero median).
pub fn median_contrast_interval(
    baseline: &[f64],
    candidate: &[f64],
    contrast: Contrast,
    resamples: usize,
    seed: u64,
) -> Option<Interval> {
    if baseline.is_empty() || candidate.is_empty() {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut scratch_base = vec![0.0; baseline.len()];
    let mut scratch_cand = vec![0.0; candidate.len()];
    let mut contrasts = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        resample(baseline, &mut scratch_base, &mut rng);
        resample(candidate, &mut scratch_cand, &mut rng);
        let (b, c) = (median(&scratch_base)?, median(&scratch_cand)?);
        if let Some(value) = contrast.of(b, c).filter(|v| v.is_finite()) {
            contrasts.push(value);
        }
    }
    contrasts.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    Some(Interval {
        low: nearest_rank(&contrasts, tail)?,
        high: nearest_rank(&contrasts, 1.0 - tail)?,
    })
}

fn resample(sample: &[f64], into: &mut [f64], rng: &mut SplitMix64) {
    for slot in into.iter_mut() {
        *slot = sample[rng.below(sample.len())];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // First outputs of the reference SplitMix64 for seed 0.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(rng.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn indices_stay_in_range_and_cover_it() {
        let mut rng = SplitMix64::new(7);
        let mut seen = [0usize; 3];
        for _ in 0..3000 {
            seen[rng.below(3)] += 1;
        }
        assert!(seen.iter().all(|&n| (900..1100).contains(&n)), "{seen:?}");
    }

    #[test]
    fn nearest_rank_quantiles() {
        let sorted: Vec<f64> = (1..=40).map(f64::from).collect();
        assert_eq!(nearest_rank(&sorted, 0.025), Some(1.0));
        assert_eq!(nearest_rank(&sorted, 0.5), Some(20.0));
        assert_eq!(nearest_rank(&sorted, 0.975), Some(39.0));
        assert_eq!(nearest_rank(&sorted, 1.0), Some(40.0));
        assert_eq!(nearest_rank(&[], 0.5), None);
    }

    #[test]
    fn constant_samples_give_a_point_interval() {
        let i =
            median_contrast_interval(&[100.0; 3], &[80.0; 4], Contrast::Ratio, 500, SEED).unwrap();
        assert_eq!((i.low, i.high), (0.8, 0.8));
        let d = median_contrast_interval(&[0.0; 2], &[0.01; 2], Contrast::Difference, 500, SEED)
            .unwrap();
        assert_eq!((d.low, d.high), (0.01, 0.01));
    }

    #[test]
    fn two_value_sample_has_the_exact_bootstrap_quantiles() {
        // Resampled medians of [80, 120]: 80 (1/4), 100 (1/2), 120 (1/4); so the 2.5 % and
        // 97.5 % quantiles of the ratio to 100 are exactly 0.8 and 1.2.
        let i =
            median_contrast_interval(&[100.0], &[80.0, 120.0], Contrast::Ratio, RESAMPLES, SEED)
                .unwrap();
        assert_eq!((i.low, i.high), (0.8, 1.2));
    }

    #[test]
    fn interval_of_separated_samples_lies_between_their_extreme_ratios() {
        let base = [100.0, 102.0, 98.0];
        let cand = [80.0, 81.0, 79.0];
        let i = median_contrast_interval(&base, &cand, Contrast::Ratio, RESAMPLES, SEED).unwrap();
        assert!(i.low >= 79.0 / 102.0 && i.high <= 81.0 / 98.0, "{i:?}");
        assert!(i.low < 0.8 && i.high > 0.8, "{i:?}");
    }

    #[test]
    fn three_repeats_with_overlapping_ranges_span_no_change() {
        // With three values, a resample's median is the maximum with probability 7/27,
        // so the interval reaches the ratio of the extremes: overlap means 1.0 is inside.
        let base = [1000.0, 800.0, 1200.0];
        let cand = [850.0, 700.0, 1100.0];
        let i = median_contrast_interval(&base, &cand, Contrast::Ratio, RESAMPLES, SEED).unwrap();
        assert!(i.low < 1.0 && i.high >= 1.0, "{i:?}");
    }

    #[test]
    fn the_same_seed_gives_the_same_interval() {
        let base = [10.0, 12.0, 11.0, 13.0];
        let cand = [11.0, 14.0, 12.5, 13.5];
        let a = median_contrast_interval(&base, &cand, Contrast::Ratio, 2000, SEED);
        let b = median_contrast_interval(&base, &cand, Contrast::Ratio, 2000, SEED);
        assert_eq!(a, b);
    }

    #[test]
    fn ratio_over_zero_is_undefined_unless_both_are_zero() {
        assert_eq!(Contrast::Ratio.of(0.0, 0.0), Some(1.0));
        assert_eq!(Contrast::Ratio.of(0.0, 1.0), None);
        assert_eq!(Contrast::Ratio.of(4.0, 5.0), Some(1.25));
        assert_eq!(Contrast::Difference.of(0.25, 0.5), Some(0.25));
    }
}
