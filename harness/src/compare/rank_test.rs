//! The significance half of `lanebench compare`'s rule: a one-sided Mann-Whitney U test,
//! exact for the small samples benchmarks have. It asks how likely a split of the pooled
//! values at least this lopsided would be if baseline and candidate were the same.
//!
//! The percentile bootstrap alone is too confident with a handful of repeats (with two
//! per side any complete separation looks "significant"); the exact test cannot be:
//! with 2 values per side its smallest p-value is 1/6, with 3 it is 1/20.

/// Significance level of the one-sided test: a change counts when p <= ALPHA.
pub const ALPHA: f64 = 0.05;

/// Above this many pairs (`n * m`) the normal approximation replaces the exact count.
const EXACT_PAIRS: usize = 2_500;

/// U statistic: the number of (baseline, candidate) pairs where the candidate is larger,
/// ties counting one half.
pub fn u_candidate_greater(baseline: &[f64], candidate: &[f64]) -> f64 {
    let mut u = 0.0;
    for c in candidate {
        for b in baseline {
            if c > b {
                u += 1.0;
            } else if c == b {
                u += 0.5;
            }
        }
    }
    u
}

/// One-sided p-value that the candidate's values tend to be larger than the baseline's:
/// P(U >= observed U) when all splits of the pooled values are equally likely. Exact
/// (counted, ignoring ties) up to 2 500 pairs, normal approximation with continuity
/// correction beyond. `None` for an empty sample.
pub fn p_candidate_greater(baseline: &[f64], candidate: &[f64]) -> Option<f64> {
    let (n, m) = (baseline.len(), candidate.len());
    if n == 0 || m == 0 {
        return None;
    }
    let u = u_candidate_greater(baseline, candidate);
    if n * m > EXACT_PAIRS {
        let mean = (n * m) as f64 / 2.0;
        let sd = ((n * m * (n + m + 1)) as f64 / 12.0).sqrt();
        return Some(upper_normal_tail((u - 0.5 - mean) / sd));
    }
    let counts = u_distribution(n, m);
    let total: f64 = counts.iter().sum();
    let from = u.ceil() as usize;
    Some(counts[from.min(counts.len())..].iter().sum::<f64>() / total)
}

/// Number of orderings of `n` baseline and `m` candidate values giving each U = 0..=n*m.
/// Looking at the largest value: a candidate one beats all `n` baseline values, a
/// baseline one beats none, so N(n, m, u) = N(n, m-1, u-n) + N(n-1, m, u).
fn u_distribution(n: usize, m: usize) -> Vec<f64> {
    // row[j] holds N(i, j, .) for the current i.
    let mut row: Vec<Vec<f64>> = (0..=m).map(|_| vec![1.0]).collect();
    for i in 1..=n {
        let mut next: Vec<Vec<f64>> = Vec::with_capacity(m + 1);
        next.push(vec![1.0]);
        for j in 1..=m {
            let mut counts = vec![0.0; i * j + 1];
            for (u, c) in next[j - 1].iter().enumerate() {
                counts[u + i] += c;
            }
            for (u, c) in row[j].iter().enumerate() {
                counts[u] += c;
            }
            next.push(counts);
        }
        row = next;
    }
    row.pop().unwrap_or_else(|| vec![1.0])
}

/// P(Z >= z) for a standard normal Z (Abramowitz and Stegun 7.1.26, error < 1.5e-7).
fn upper_normal_tail(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    if z >= 0.0 {
        erfc / 2.0
    } else {
        1.0 - erfc / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_distribution_counts_every_ordering() {
        // n = m = 2: U = 0,1,2,3,4 in 1,1,2,1,1 of the C(4,2) = 6 orderings.
        assert_eq!(u_distribution(2, 2), vec![1.0, 1.0, 2.0, 1.0, 1.0]);
        assert_eq!(u_distribution(3, 3).iter().sum::<f64>(), 20.0);
        assert_eq!(u_distribution(1, 4), vec![1.0; 5]);
    }

    #[test]
    fn complete_separation_has_the_smallest_p() {
        let p = p_candidate_greater(&[1.0, 2.0], &[3.0, 4.0]).unwrap();
        assert!((p - 1.0 / 6.0).abs() < 1e-12);
        let p = p_candidate_greater(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
        assert!((p - 0.05).abs() < 1e-12);
        let p = p_candidate_greater(&[4.0, 5.0, 6.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!((p - 1.0).abs() < 1e-12);
    }

    #[test]
    fn one_overlap_in_four_per_side() {
        // U = 15 of 16; orderings with U >= 15: 2 of C(8,4) = 70.
        let p = p_candidate_greater(&[1.0, 2.0, 3.0, 5.0], &[4.0, 6.0, 7.0, 8.0]).unwrap();
        assert!((p - 2.0 / 70.0).abs() < 1e-12, "{p}");
    }

    #[test]
    fn identical_samples_are_far_from_significant() {
        let p = p_candidate_greater(&[5.0; 4], &[5.0; 4]).unwrap();
        assert!(p > 0.5, "{p}");
    }

    #[test]
    fn normal_tail_and_large_samples() {
        assert!((upper_normal_tail(0.0) - 0.5).abs() < 1e-7);
        assert!((upper_normal_tail(1.644_853_6) - 0.05).abs() < 1e-6);
        assert!((upper_normal_tail(-1.959_964) - 0.975).abs() < 1e-6);
        let base: Vec<f64> = (0..60).map(f64::from).collect();
        let shifted: Vec<f64> = base.iter().map(|v| v + 30.0).collect();
        assert!(p_candidate_greater(&base, &shifted).unwrap() < 1e-4);
        assert!(p_candidate_greater(&base, &base).unwrap() > 0.4);
    }
}
