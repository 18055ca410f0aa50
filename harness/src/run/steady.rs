//! When throughput is steady: the rule that ends a level's warm-up, and the time a fresh
//! process takes to reach its steady throughput.
//!
//! Both work on a series of one-second throughputs (successful responses per second).
//!
//! **Steady** (warm-up) depends on what the process has shown. A process **ramped** when,
//! in a warm-up's seconds so far, some [`RAMP_SECONDS`] seconds in a row have a median
//! at least [`RAMP_FACTOR`] times (or at most 1/[`RAMP_FACTOR`] of) the median of its
//! first [`RAMP_SECONDS`]: what a JIT runtime does on its first load (3-20x over its
//! first 10-15 s in the recorded Spring Boot warm-ups, 1.6-1.9x already by the fifth
//! second). A process that ramped once is judged by the trend rule on every later
//! warm-up too, because after its ramp a JIT climbs slowly for minutes. The warm-up ends
//! at the first second (at least [`STEADY_WINDOWS`]) at which:
//!
//! - **flat, shown** ([`SteadyBy::FlatTrend`], any process): over the last
//!   [`TREND_WINDOW`] seconds (all of them while there are fewer), the whole confidence
//!   interval of the trend lies within ±[`TREND_TOLERANCE`]. The trend is the Theil–Sen
//!   slope (the median of the slopes between every pair of seconds) with Sen's
//!   distribution-free interval (the pairwise slopes ranked; the bounds at the ranks that
//!   Kendall's statistic gives for [`TREND_Z`]), relative to the window's median and per
//!   [`TREND_PERIOD_S`] seconds;
//! - **settled** ([`SteadyBy::Settled`], only a process that never ramped): the last
//!   [`STEADY_WINDOWS`] seconds are each within ±[`SETTLED_TOLERANCE`] of their median,
//!   or their median is within ±[`SETTLED_TOLERANCE`] of the median of the
//!   [`STEADY_WINDOWS`] before them; unless the trend over the same window as above is
//!   shown beyond ±[`TREND_TOLERANCE`] at [`SHOWN_CONFIDENCE`] (a climb or fall so clean
//!   that the noise hides nothing: the settled rule alone passes a noiseless climb of up
//!   to 10% per 5 s).
//!
//! Why two. A JIT after its ramp climbs by a few percent per 5 s for minutes (C2
//! compiling one hot path after another); two neighbouring medians 3% apart pass any
//! bound wide enough for the second-to-second swings of a shared machine, so the settled
//! rule alone called the recorded Spring Boot warm-ups steady at 16-22 s, at a third of
//! their throughput after a minute. A slope with an interval sees the climb: a climb of
//! 3% per 5 s stays outside the bound at any noise. But showing a trend flat takes as
//! long as the noise needs, and this machine's throughput moves in steps of ±30% that
//! last 5-20 s, mostly without steal to show for them (a compiled server's recorded warm-ups:
//! harness/tests/fixtures/warmup/), so a compiled server, which has nothing to warm,
//! waited 10-36 s for the trend where the settled rule took 5-12 s. The ramp tells the
//! two apart before the settled rule could end a JIT's warm-up: its seconds climb too
//! steeply to be settled until long after the ramp shows. What this cannot tell is a
//! process that climbs slowly from its first second without a ramp, by less than the
//! noise: no rule that ends in 5-10 s can see that (neither could the trend rule, whose
//! interval is that wide after a few seconds). Theil–Sen, not least squares, so that a
//! stalled second or a burst does not tilt the line; a bounded window, so that a JIT that
//! has levelled off is not held back long by its own earlier climb. Medians in the
//! ramp and the settled rule, so that one stalled second decides nothing. The numbers
//! and the recorded series: docs/metrics.md.
//!
//! **Time to steady** (from spawn): the first second from which the median of
//! [`STEADY_WINDOWS`] seconds in a row is within ±[`REACHED_TOLERANCE`] of the steady
//! value measured afterwards.

use crate::stats::median;

/// Seconds the warm-up rule needs at least, the runs of seconds the settled rule
/// compares, and the run time-to-steady takes a median over.
pub const STEADY_WINDOWS: usize = 5;
/// Settled: the last seconds within this share of their median, or their median within
/// it of the seconds before.
pub const SETTLED_TOLERANCE: f64 = 0.05;
/// A ramp is judged on medians of this many seconds in a row.
pub const RAMP_SECONDS: usize = 3;
/// Ramped: a later run of seconds at least this many times (or at most 1/this of) the
/// first. Above the steps of a compiled server on a noisy machine (at most 1.8x in the
/// recordings), below a JIT's ramp.
pub const RAMP_FACTOR: f64 = 2.0;
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
/// A settled process is still moving when its trend's interval at this confidence lies
/// wholly outside ±[`TREND_TOLERANCE`]: so high that the steps of a noisy machine seldom
/// reach it, since the settled rule exists to end their warm-ups early.
pub const SHOWN_CONFIDENCE: f64 = 0.999;
/// The normal quantile for [`SHOWN_CONFIDENCE`].
pub const SHOWN_Z: f64 = 3.29;
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
    /// A process that never ramped: its last seconds agree, or their median with the
    /// seconds' before.
    Settled,
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
/// first second; `ramped`: the process has ramped (see [`ramped`]), in this warm-up or
/// before.
pub fn steadiness(per_second: &[f64], ramped: bool) -> Steadiness {
    if per_second.len() < STEADY_WINDOWS {
        return Steadiness::TooShort {
            have: per_second.len(),
        };
    }
    let window = &per_second[per_second.len().saturating_sub(TREND_WINDOW)..];
    let Some(m) = median(window).filter(|m| *m > 0.0) else {
        return Steadiness::Idle;
    };
    let Some(slopes) = Slopes::of(window, m) else {
        return Steadiness::Idle;
    };
    let trend = slopes.trend(TREND_Z);
    // The 99.9% interval of the same slopes: the settled rule's veto.
    let shown_moving = || {
        let t = slopes.trend(SHOWN_Z);
        t.low > TREND_TOLERANCE || t.high < -TREND_TOLERANCE
    };
    let by = if trend.low >= -TREND_TOLERANCE && trend.high <= TREND_TOLERANCE {
        SteadyBy::FlatTrend
    } else if !ramped && settled(per_second) && !shown_moving() {
        SteadyBy::Settled
    } else {
        return Steadiness::Varying { trend };
    };
    Steadiness::Steady {
        median: m,
        trend,
        by,
    }
}

/// Whether `per_second` (a warm-up's seconds so far) has ramped: a run of
/// [`RAMP_SECONDS`] whose median is [`RAMP_FACTOR`] times that of the first run or more,
/// or 1/[`RAMP_FACTOR`] of it or less. An idle start (nothing served in most of the first
/// seconds) followed by service is a ramp too.
pub fn ramped(per_second: &[f64]) -> bool {
    let Some(first) = per_second.get(..RAMP_SECONDS).and_then(median) else {
        return false;
    };
    per_second[1..].windows(RAMP_SECONDS).any(|w| {
        median(w).is_some_and(|m| {
            if first > 0.0 {
                m >= RAMP_FACTOR * first || m * RAMP_FACTOR <= first
            } else {
                m > 0.0
            }
        })
    })
}

/// The settled rule: the last [`STEADY_WINDOWS`] seconds each within
/// [`SETTLED_TOLERANCE`] of their median, or that median within it of the median of the
/// [`STEADY_WINDOWS`] before.
fn settled(per_second: &[f64]) -> bool {
    let n = per_second.len();
    let last = &per_second[n - STEADY_WINDOWS..];
    let Some(m) = median(last).filter(|m| *m > 0.0) else {
        return false;
    };
    let near = |v: f64| (v / m - 1.0).abs() <= SETTLED_TOLERANCE;
    if last.iter().all(|v| near(*v)) {
        return true;
    }
    n >= 2 * STEADY_WINDOWS
        && median(&per_second[n - 2 * STEADY_WINDOWS..n - STEADY_WINDOWS])
            .is_some_and(|before| before > 0.0 && (m / before - 1.0).abs() <= SETTLED_TOLERANCE)
}

/// The slopes between every pair of a window's seconds, sorted: the trend and each of its
/// intervals are read from them, so they are computed once per look.
struct Slopes {
    /// Seconds in the window.
    n: usize,
    sorted: Vec<f64>,
    /// From slopes per second to relative change per [`TREND_PERIOD_S`].
    scale: f64,
}

impl Slopes {
    /// The pairwise slopes of `window`, relative to `level`; `None` for fewer than two
    /// finite values.
    fn of(window: &[f64], level: f64) -> Option<Slopes> {
        let n = window.len();
        let mut sorted = Vec::with_capacity(n * n.saturating_sub(1) / 2);
        for (i, a) in window.iter().enumerate() {
            for (d, b) in window[i + 1..].iter().enumerate() {
                sorted.push((b - a) / (d + 1) as f64);
            }
        }
        sorted.retain(|s| s.is_finite());
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        Some(Slopes {
            n,
            sorted,
            scale: TREND_PERIOD_S / level,
        })
    }

    /// The Theil–Sen slope and Sen's interval for it at the normal quantile `z`.
    fn trend(&self, z: f64) -> Trend {
        let count = self.sorted.len();
        // Kendall's S has variance n(n-1)(2n+5)/18 under no trend; the interval's bounds
        // are the pairwise slopes (count ∓ z·sd(S))/2 ranks from either end.
        let nf = self.n as f64;
        let half = z * (nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0).sqrt();
        let lower_rank = ((count as f64 - half) / 2.0).floor().max(0.0) as usize;
        let upper_rank = ((count as f64 + half) / 2.0).ceil() as usize;
        let at = |rank: usize| self.sorted[rank.min(count - 1)] * self.scale;
        Trend {
            seconds: self.n,
            slope: median(&self.sorted).unwrap_or(0.0) * self.scale,
            low: at(lower_rank),
            high: at(upper_rank.saturating_sub(1)),
        }
    }
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
