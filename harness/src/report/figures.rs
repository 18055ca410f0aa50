//! The figures charts draw, picked from a [`TargetResult`] once so that every chart and
//! table shows the same number: the headline QPS with its spread over repeats, the
//! median repeat a curve is drawn from, server CPU per successful response, the warm-up
//! curve (the run's own from spawn, or a stand-in for older results), and the published QPS ratios beside the measured ones.

use crate::load::result::LoadResult;
use crate::results::{LevelResult, RepeatResult, TargetResult};
use crate::stats::Spread;

use super::claims::PublishedClaims;
use super::comparable::level_at;
use super::verdicts::FigureCheck;
use super::view::{headline_level, ReportView};

/// The headline QPS (the table's figure) with min-max over the headline level's repeats.
pub fn qps_spread(target: &TargetResult) -> Option<Spread> {
    let level = headline_level(target)?;
    let mut spread = *level.throughput();
    // `qps` is the stored headline; the level's median is the same number, but the table
    // prints `qps`, so the bar is drawn from it.
    spread.median = target.throughput().unwrap_or(spread.median);
    Some(spread)
}

/// The repeat whose success QPS is the median of the level's repeats (the lower middle one for an
/// even count), so a curve drawn from one repeat is the typical one, not the first.
pub fn median_repeat(level: &LevelResult) -> Option<&RepeatResult> {
    let mut repeats: Vec<&RepeatResult> = level.repeats.iter().collect();
    repeats.sort_by(|a, b| a.throughput().total_cmp(&b.throughput()));
    repeats.get(repeats.len().saturating_sub(1) / 2).copied()
}

/// Server CPU per successful response at the headline level.
pub fn cost_per_success(target: &TargetResult) -> Option<Spread> {
    headline_level(target)?.cpu_per_success()
}

/// Where a warm-up curve comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarmupSource {
    /// The run's own curve: every second of the first load on a fresh process (its
    /// warm-up, then the first level's first repeat), x in seconds since spawn.
    FromSpawn,
    /// Results without that curve: the first ladder level's measured windows on the
    /// ladder's clock (warm-up windows between repeats are gaps).
    FirstLevel,
}

/// One framework's successful responses per second from its first second of load, as
/// one or more segments.
pub struct WarmupSeries {
    pub segments: Vec<Vec<(f64, f64)>>,
    pub source: WarmupSource,
    /// The level the curve was measured at.
    pub connections: usize,
    /// Where the warm-up ended on the curve (results that kept it only).
    pub end: Option<WarmupEnd>,
}

/// Where a warm-up ended on its curve, and how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarmupEnd {
    /// x of the first measured second.
    pub at: f64,
    /// Seconds of load the warm-up took.
    pub seconds: f64,
    /// Declared steady (`Some(true)`), cut off by `warmup_max` (`Some(false)`), or not
    /// checked (`None`).
    pub steady: Option<bool>,
}

impl WarmupEnd {
    /// How the end reads in the chart's label and tooltip.
    pub fn describe(&self) -> &'static str {
        match self.steady {
            Some(true) => "steady",
            Some(false) => "not steady (cap)",
            None => "warm-up end",
        }
    }
}

/// The warm-up curve of a target: the run's curve from spawn when the results carry one,
/// else the first level's repeats in the order they ran.
pub fn warmup_curve(target: &TargetResult) -> Option<WarmupSeries> {
    if let Some(curve) = &target.warmup_curve {
        let start = curve.load_started_ms / 1000.0;
        let points = curve.per_second.iter().enumerate();
        return Some(WarmupSeries {
            segments: vec![points.map(|(i, v)| (start + i as f64, *v)).collect()],
            source: WarmupSource::FromSpawn,
            connections: curve.connections,
            end: curve.warmup_s.map(|seconds| WarmupEnd {
                at: start + seconds,
                seconds,
                steady: curve.steady,
            }),
        });
    }
    let level = target.levels.first()?;
    let mut start = 0.0;
    let mut segments = Vec::new();
    for repeat in &level.repeats {
        let load = &repeat.load;
        start += load.warmup_s;
        segments.push(whole_seconds(load, start));
        start += load.duration_s;
    }
    Some(WarmupSeries {
        segments,
        source: WarmupSource::FirstLevel,
        connections: level.connections,
        end: None,
    })
}

/// A load's per-second successful responses at `offset + t`, leaving out a last second
/// that covers only part of a second (it would show a false drop).
pub fn whole_seconds(load: &LoadResult, offset: f64) -> Vec<(f64, f64)> {
    load.timeline
        .iter()
        .filter(|p| (p.t + 1) as f64 <= load.duration_s + 0.05)
        .map(|p| (offset + p.t as f64, p.successes as f64))
        .collect()
}

/// One published framework's QPS ratio to the report's reference, published and
/// measured, with the verdict the claims check gave it.
pub struct ClaimRatio<'a> {
    pub framework: &'a str,
    /// The target measured for it (its colour).
    pub target: &'a str,
    /// The published ratio, carried over to the report's reference when that is not the
    /// published one (see [`claim_ratios`]); `None` when it cannot be.
    pub published: Option<f64>,
    /// `None` when the target or the reference was not measured.
    pub measured: Option<f64>,
    /// The verdict's words and its reason, as the claims table prints them.
    pub verdict: String,
    pub detail: String,
}

/// The QPS claims beside the measured ratios, in the claims file's order.
///
/// The claims are ratios to the published reference. For another reference R, a
/// published ratio is carried over through the published reference's measured ratio to
/// R, so each pair of bars differs exactly as the verdict's ratios do.
pub fn claim_ratios<'a>(
    claims: &'a PublishedClaims,
    checks: &[FigureCheck],
    view: &ReportView,
) -> Vec<ClaimRatio<'a>> {
    let carry_over = if view.reference == claims.reference {
        Some(1.0)
    } else {
        view.measured(&claims.reference)
            .and_then(|published| measured_ratio(claims, published, view))
    };
    claims
        .claims
        .iter()
        .map(|claim| {
            let check = checks
                .iter()
                .find(|c| c.framework == claim.framework && c.figure == "QPS");
            ClaimRatio {
                framework: &claim.framework,
                target: &claim.target,
                published: carry_over.map(|c| claims.published_ratio(claim) * c),
                measured: view
                    .measured(&claim.target)
                    .and_then(|t| measured_ratio(claims, t, view)),
                verdict: check
                    .map_or("not checked", |c| c.verdict.as_str())
                    .to_string(),
                detail: check.map(|c| c.detail.clone()).unwrap_or_default(),
            }
        })
        .collect()
}

/// `target`'s ratio to the report's reference as the verdict measures it: at the
/// published load's connections when both have that level, else the headline ratio.
fn measured_ratio(
    claims: &PublishedClaims,
    target: &TargetResult,
    view: &ReportView,
) -> Option<f64> {
    let at = |t| level_at(t, claims.connections);
    match (at(target), view.baseline.and_then(at)) {
        (Some(level), Some(base)) => level.ratio_to(base),
        _ => view.ratio(target),
    }
}
