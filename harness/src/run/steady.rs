//! When throughput is steady: the rule that ends a level's warm-up, and the time a fresh
//! process takes to reach its steady throughput.
//!
//! Both work on a series of one-second throughputs (successful responses per second).
//!
//! **Steady** (warm-up) is decided on trends: the Theil–Sen slope of a run of seconds (the
//! median of the slopes between every pair of them) with Sen's distribution-free
//! confidence interval (the pairwise slopes ranked; the bounds at the ranks that Kendall's
//! statistic gives for [`TREND_Z`]), relative to the run's median and per
//! [`TREND_PERIOD_S`] seconds. The warm-up ends at the first second at which either holds:
//!
//! - **flat, shown** ([`SteadyBy::FlatTrend`]): over the last [`TREND_WINDOW`] seconds (all
//!   of them while there are fewer), the whole interval lies within ±[`TREND_TOLERANCE`];
//! - **no trend since the first second** ([`SteadyBy::FlatFromStart`]), while the warm-up
//!   is at most [`TREND_WINDOW`] seconds long: over all its seconds the interval includes
//!   zero and the slope is within ±[`TREND_TOLERANCE`], after twice [`STEADY_WINDOWS`]
//!   seconds, or after [`STEADY_WINDOWS`] if every second is within ±[`QUIET_TOLERANCE`]
//!   of their median.
//!
//! Why: a JIT runtime after its first 20 s climbs by a few percent per 5 s (C2 compiling
//! one hot path after another), and the rule before this one ("the median of the last
//! 5 s is within 5% of the 5 s before") passed that, because two neighbouring medians 3%
//! apart pass any bound wide enough for the ±15% second-to-second swings of a shared
//! machine. A slope over a longer window sees the climb, and an interval instead of a
//! point estimate makes that window as long as the noise needs: a climb of 3% per 5 s is
//! outside the bound at any noise. Showing flatness under ±15% noise takes about half a
//! minute, though, which a compiled server that never warmed would pay on every level;
//! the second rule lets a warm-up that has had no trend from its first second end about
//! as early as the old rule did. It is safe for a JIT because a process that is warming
//! climbs from its first second of load, steeply (3-20x over the first 10-15 s in the
//! recorded Spring Boot warm-ups), so its warm-up never qualifies and the first rule
//! judges the slow climb that follows. What neither can tell is a climb that starts with
//! the warm-up's first second and is smaller than the noise. Theil–Sen, not least
//! squares, so that a stalled second or a burst does not tilt the line; a bounded window,
//! so that a JIT that has levelled off is not held back long by its own earlier climb.
//! The numbers and the recorded series: docs/metrics.md.
//!
//! **Time to steady** (from spawn): the first second from which the median of
//! [`STEADY_WINDOWS`] seconds in a row is within ±[`REACHED_TOLERANCE`] of the steady
//! value measured afterwards.

use crate::stats::median;

/// Seconds the warm-up rule needs at least, and the run of seconds time-to-steady takes
/// a median over.
pub const STEADY_WINDOWS: usize = 5;
/// The trend is fitted over at most this many of the last seconds.
pub const TREND_WINDOW: usize = 30;
/// The trend is stated as relative change over this many seconds.
pub const TREND_PERIOD_S: f64 = 5.0;
/// Steady: the trend's whole confidence interval within ±this (per [`TREND_PERIOD_S`]).
pub const TREND_TOLERANCE: f64 = 0.02;
/// The trend interval's confidence: two-sided 90%, so that each side alone is a 5% test
/// (a climb at the bound's edge is called flat about one time in 20 per look).
pub const TREND_CONFIDENCE: f64 = 0.90;
/// The normal quantile for [`TREND_CONFIDENCE`].
pub const TREND_Z: f64 = 1.645;
/// "No trend since the first second" after [`STEADY_WINDOWS`] seconds needs every second
/// within this share of their median; after twice as many it does not.
pub const QUIET_TOLERANCE: f64 = 0.05;
/// Time to steady: windows within this share of the steady value.
pub const REACHED_TOLERANCE: f64 = 0.10;

/// A trend over a window of seconds: relative change per [`TREND_PERIOD_S`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    /// Seconds it was fitted over.
    pub seconds: usize,
    /// The Theil–Sen slope.
    pub slope: f64,
    /// The confidence interval's bounds (`low <= slope <= high`).
    pub low: f64,
    pub high: f64,
}

/// Which rule found a warm-up steady.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SteadyBy {
    /// The trend over the last seconds is shown to be within the bound.
    FlatTrend,
    /// No trend from the warm-up's first second.
    FlatFromStart,
}

/// What the steady-state check says about a series so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Steadiness {
    /// Fewer windows than the rule needs.
    TooShort { have: usize },
    /// Nothing was served in the window.
    Idle,
    /// The trend over the last seconds may still be more than [`TREND_TOLERANCE`] either way.
    Varying { trend: Trend },
    /// Steady, at this median throughput over the trend's window.
    Steady {
        median: f64,
        trend: Trend,
        by: SteadyBy,
    },
}

/// Applies the warm-up rule to the series of one-second throughputs, from the warm-up's
/// first second.
pub fn steadiness(per_second: &[f64]) -> Steadiness {
    if per_second.len() < STEADY_WINDOWS {
        return Steadiness::TooShort {
            have: per_second.len(),
        };
    }
    let window = &per_second[per_second.len().saturating_sub(TREND_WINDOW)..];
    let Some((m, trend)) = median_and_trend(window) else {
        return Steadiness::Idle;
    };
    if trend.low >= -TREND_TOLERANCE && trend.high <= TREND_TOLERANCE {
        return Steadiness::Steady {
            median: m,
            trend,
            by: SteadyBy::FlatTrend,
        };
    }
    // Within the window the whole warm-up is the window.
    if window.len() == per_second.len() && flat_from_start(window, m, &trend) {
        return Steadiness::Steady {
            median: m,
            trend,
            by: SteadyBy::FlatFromStart,
        };
    }
    Steadiness::Varying { trend }
}

/// No trend over all of `series` (the whole warm-up): the interval includes zero and the
/// slope is within the bound, after ten seconds or after five quiet ones.
fn flat_from_start(series: &[f64], median: f64, trend: &Trend) -> bool {
    let no_trend = trend.low <= 0.0 && trend.high >= 0.0 && trend.slope.abs() <= TREND_TOLERANCE;
    let quiet = || {
        series
            .iter()
            .all(|v| (v / median - 1.0).abs() <= QUIET_TOLERANCE)
    };
    no_trend && (series.len() >= 2 * STEADY_WINDOWS || quiet())
}

/// The median of `window` and its trend; `None` when nothing was served.
fn median_and_trend(window: &[f64]) -> Option<(f64, Trend)> {
    let m = median(window).filter(|m| *m > 0.0)?;
    Some((m, trend(window, m)?))
}

/// The Theil–Sen slope of `window` and Sen's interval for it, relative to `level` and per
/// [`TREND_PERIOD_S`]; `None` for fewer than two finite values.
fn trend(window: &[f64], level: f64) -> Option<Trend> {
    let n = window.len();
    let mut slopes = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for (i, a) in window.iter().enumerate() {
        for (d, b) in window[i + 1..].iter().enumerate() {
            slopes.push((b - a) / (d + 1) as f64);
        }
    }
    slopes.retain(|s| s.is_finite());
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_by(f64::total_cmp);
    let count = slopes.len();
    // Kendall's S has variance n(n-1)(2n+5)/18 under no trend; the interval's bounds are
    // the pairwise slopes (count ∓ z·sd(S))/2 ranks from either end.
    let nf = n as f64;
    let half = TREND_Z * (nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0).sqrt();
    let lower_rank = ((count as f64 - half) / 2.0).floor().max(0.0) as usize;
    let upper_rank = ((count as f64 + half) / 2.0).ceil() as usize;
    let scale = TREND_PERIOD_S / level;
    Some(Trend {
        seconds: n,
        slope: median(&slopes)? * scale,
        low: slopes[lower_rank.min(count - 1)] * scale,
        high: slopes[upper_rank.saturating_sub(1).min(count - 1)] * scale,
    })
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
mod tests;
