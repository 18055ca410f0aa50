//! When throughput is steady: the rule that ends a level's warm-up, and the time a fresh
//! process takes to reach its steady throughput.
//!
//! Both work on a series of one-second throughputs (successful responses per second).
//! **Steady** (warm-up): the last [`STEADY_WINDOWS`] seconds are each within
//! ±[`STEADY_TOLERANCE`] of their own median, or, once there are twice as many seconds,
//! the median of the last [`STEADY_WINDOWS`] is within ±[`STEADY_TOLERANCE`] of the
//! median of the [`STEADY_WINDOWS`] before them (no drift). A JIT runtime that is still
//! compiling climbs from block to block and fails both; a server on a machine whose CPU
//! speed swings by ±15% from second to second (seen on shared machines with little
//! steal) never has five seconds within ±5%, but stops drifting once warm, and the
//! second rule says so. Medians, not means, so one stalled second does not drag the
//! reference with it. **Time to steady** (from spawn): the first
//! second from which [`STEADY_WINDOWS`] seconds in a row are each within
//! ±[`REACHED_TOLERANCE`] of the steady value measured afterwards. Both rules are in
//! docs/metrics.md.

use crate::stats::median;

/// Consecutive one-second windows the rules look at.
pub const STEADY_WINDOWS: usize = 5;
/// Warm-up ends when the last windows are within this share of their median.
pub const STEADY_TOLERANCE: f64 = 0.05;
/// Time to steady: windows within this share of the steady value.
pub const REACHED_TOLERANCE: f64 = 0.10;

/// What the steady-state check says about a series so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Steadiness {
    /// Fewer windows than the rule needs.
    TooShort { have: usize },
    /// The last windows spread this much around their median (largest |x/median - 1|),
    /// and their median moved this much from the windows before (`None` until there
    /// are two blocks of windows).
    Varying { spread: f64, drift: Option<f64> },
    /// The rule holds, at this median throughput.
    Steady { median: f64 },
}

/// Applies the warm-up rule to the series of one-second throughputs.
pub fn steadiness(per_second: &[f64]) -> Steadiness {
    if per_second.len() < STEADY_WINDOWS {
        return Steadiness::TooShort {
            have: per_second.len(),
        };
    }
    let last = &per_second[per_second.len() - STEADY_WINDOWS..];
    let Some(m) = median(last).filter(|m| *m > 0.0) else {
        // Nothing served: not steady, and no spread to speak of.
        return Steadiness::Varying {
            spread: f64::INFINITY,
            drift: None,
        };
    };
    let spread = last.iter().map(|v| (v / m - 1.0).abs()).fold(0.0, f64::max);
    if spread <= STEADY_TOLERANCE {
        return Steadiness::Steady { median: m };
    }
    let drift = drift(per_second, m);
    if drift.is_some_and(|d| d <= STEADY_TOLERANCE) {
        return Steadiness::Steady { median: m };
    }
    Steadiness::Varying { spread, drift }
}

/// How far `last_median` (of the last block of windows) moved from the median of the
/// block before it; `None` with fewer than two blocks or an idle block before.
fn drift(per_second: &[f64], last_median: f64) -> Option<f64> {
    let n = per_second.len();
    if n < 2 * STEADY_WINDOWS {
        return None;
    }
    let before = median(&per_second[n - 2 * STEADY_WINDOWS..n - STEADY_WINDOWS])?;
    (before > 0.0).then(|| (last_median / before - 1.0).abs())
}

/// The first index from which the median of [`STEADY_WINDOWS`] values in a row is within
/// [`REACHED_TOLERANCE`] of `steady`; `None` if that never happens (or `steady` is 0).
/// The median, not every value: on a machine whose per-second throughput swings by ±15%
/// a warm compiled server would otherwise "reach" steady only when five seconds happen
/// to agree (35 s for hyperlane in one run), while a climbing JIT still needs its median
/// to arrive.
pub fn time_to_steady(per_second: &[f64], steady: f64) -> Option<usize> {
    if steady <= 0.0 || per_second.len() < STEADY_WINDOWS {
        return None;
    }
    per_second
        .windows(STEADY_WINDOWS)
        .position(|w| median(w).is_some_and(|m| (m / steady - 1.0).abs() <= REACHED_TOLERANCE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warming_series_is_not_steady_until_it_levels_off() {
        // A JIT climbing: 500, 1000, ..., 4000, then flat at 4500 with ±2% noise.
        let mut series: Vec<f64> = (1..=8).map(|s| 500.0 * s as f64).collect();
        assert!(matches!(steadiness(&series), Steadiness::Varying { spread, .. } if spread > 0.1));
        series.extend([4_450.0, 4_560.0, 4_500.0, 4_480.0]);
        assert!(matches!(steadiness(&series), Steadiness::Varying { .. }));
        series.push(4_520.0);
        match steadiness(&series) {
            Steadiness::Steady { median } => assert_eq!(median, 4_500.0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn short_never_steady_and_idle_series() {
        assert_eq!(steadiness(&[1.0, 1.0]), Steadiness::TooShort { have: 2 });
        // ±20% swings that also move the median from block to block never pass.
        let noisy: Vec<f64> = (0..60)
            .map(|i| if i % 2 == 0 { 40_000.0 } else { 55_000.0 })
            .collect();
        assert!(matches!(steadiness(&noisy), Steadiness::Varying { .. }));
        assert!(matches!(steadiness(&[0.0; 6]), Steadiness::Varying { .. }));
    }

    #[test]
    fn one_stalled_second_breaks_steadiness_but_not_the_median() {
        let series = [10_000.0, 10_100.0, 2_000.0, 9_900.0, 10_000.0];
        match steadiness(&series) {
            Steadiness::Varying { spread, drift } => {
                assert!((spread - 0.8).abs() < 1e-9);
                assert_eq!(drift, None, "one block only");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_flat_server_on_a_noisy_machine_is_steady_once_its_median_stops_moving() {
        // ±15% from second to second around 40k (measured on a shared 2-CPU machine).
        let first = [34_000.0, 46_000.0, 40_000.0, 37_000.0, 44_000.0];
        assert!(matches!(
            steadiness(&first),
            Steadiness::Varying { spread, drift: None } if spread > 0.1
        ));
        let mut series = first.to_vec();
        series.extend([45_000.0, 35_000.0, 41_000.0, 38_000.0, 43_000.0]);
        match steadiness(&series) {
            Steadiness::Steady { median } => assert_eq!(median, 41_000.0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_slow_climb_inside_the_noise_is_still_warming() {
        // A JIT gaining 3% a second under ±10% noise: the block medians move ~15%.
        let series: Vec<f64> = (0..15)
            .map(|i| 2_000.0 * (1.03f64).powi(i) * if i % 2 == 0 { 1.1 } else { 0.9 })
            .collect();
        match steadiness(&series) {
            Steadiness::Varying { drift: Some(d), .. } => assert!(d > 0.1, "{d}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn time_to_steady_is_the_first_of_five_seconds_whose_median_is_near_the_steady_value() {
        // Seconds 0-2 warming, then near 4500 with a dip at 6 that does not delay it.
        let series = [
            600.0, 1_800.0, 3_000.0, 3_900.0, 4_300.0, 4_600.0, 3_800.0, 4_400.0, 4_500.0, 4_550.0,
            4_480.0, 4_520.0,
        ];
        // Window 3..8 is 3900, 4300, 4600, 3800, 4400: median 4300, within 10%.
        assert_eq!(time_to_steady(&series, 4_500.0), Some(3));
        assert_eq!(time_to_steady(&series[..7], 4_500.0), None);
        // A warm server under ±15% noise is steady from its first window.
        let noisy = [34_000.0, 46_000.0, 40_000.0, 37_000.0, 44_000.0, 45_000.0];
        assert_eq!(time_to_steady(&noisy, 40_000.0), Some(0));
        assert_eq!(time_to_steady(&[4_500.0; 5], 4_500.0), Some(0));
        assert_eq!(time_to_steady(&[4_500.0; 5], 0.0), None);
    }
}
