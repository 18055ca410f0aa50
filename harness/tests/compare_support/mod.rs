//! What the compare tests share: reshaping a stored run into repeats with known noise.

use lanebench::load::result::LoadResult;
use lanebench::results::RunResults;
use lanebench::stats::Spread;

/// Gives every level `factors.len()` repeats, copies of its first one passed through
/// `edit(target, factor, load)`, and recomputes the level's spreads like the run does.
pub fn reshape(
    results: &mut RunResults,
    factors: &[f64],
    edit: impl Fn(&str, f64, &mut LoadResult),
) {
    for target in &mut results.targets {
        for level in &mut target.levels {
            let first = level.repeats[0].clone();
            level.repeats = factors
                .iter()
                .map(|&factor| {
                    let mut repeat = first.clone();
                    edit(&target.name, factor, &mut repeat.load);
                    repeat
                })
                .collect();
            let spread = |f: fn(&LoadResult) -> f64| {
                Spread::of(&level.repeats.iter().map(|r| f(&r.load)).collect::<Vec<_>>()).unwrap()
            };
            level.rps = spread(|l| l.rps);
            level.success_rps = spread(|l| l.success_rps);
            level.p50_ms = spread(|l| l.latency_ms.p50);
            level.p90_ms = spread(|l| l.latency_ms.p90);
            level.p99_ms = spread(|l| l.latency_ms.p99);
            level.p999_ms = spread(|l| l.latency_ms.p999);
            level.error_rate = spread(|l| l.error_rate);
        }
    }
}
