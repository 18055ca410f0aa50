//! A target's memory figures from the samples of its sessions: idle, steady (during
//! measured windows) and peak, in PSS where every process offers it, RSS beside, and the
//! cgroup's exact peak where one was kept (see docs/metrics.md for how they relate).

use super::outcome::MemoryRecord;
use crate::results::{MemoryFigures, MemoryTriple};
use crate::sample::sampler::Sample;
use crate::stats::median;

/// Pools the sessions' samples: idle and steady are medians over every session's
/// samples, the peaks the largest of any.
pub fn memory_figures(records: &[MemoryRecord]) -> Option<MemoryFigures> {
    let first = records.first()?;
    let mib = |bytes: u64| bytes as f64 / 1_048_576.0;
    let all_samples = || records.iter().flat_map(|r| r.idle.iter().chain(&r.samples));
    let pss_available =
        records.iter().all(|r| !r.idle.is_empty()) && all_samples().all(|s| s.pss_bytes.is_some());
    let pss_or_rss = |s: &Sample| match (pss_available, s.pss_bytes) {
        (true, Some(pss)) => mib(pss),
        _ => mib(s.rss_bytes),
    };
    let triple = |value: &dyn Fn(&Sample) -> f64| {
        let idle: Vec<f64> = records
            .iter()
            .flat_map(|r| r.idle.iter().map(value))
            .collect();
        let idle_v = median(&idle).unwrap_or(0.0);
        let steady: Vec<f64> = records
            .iter()
            .flat_map(|r| {
                r.samples
                    .iter()
                    .filter(|s| {
                        r.windows
                            .iter()
                            .any(|(from, to)| s.at >= *from && s.at <= *to)
                    })
                    .map(value)
            })
            .collect();
        MemoryTriple {
            idle: idle_v,
            steady: median(&steady).unwrap_or(idle_v),
            peak: all_samples().map(value).fold(0.0, f64::max),
        }
    };
    let main = triple(&pss_or_rss);
    let rss = triple(&|s: &Sample| mib(s.rss_bytes));
    let cgroup_kind = records
        .iter()
        .find_map(|r| r.cgroup.as_ref().map(|(k, _)| k.clone()));
    let cgroup_peak = records
        .iter()
        .filter_map(|r| r.cgroup.as_ref().and_then(|(_, peak)| *peak))
        .reduce(f64::max);
    let last = records.last().unwrap_or(first);
    Some(MemoryFigures {
        idle: main.idle,
        steady: main.steady,
        peak: main.peak,
        metric: if pss_available { "pss" } else { "rss" }.to_string(),
        method: match cgroup_kind {
            Some(kind) => format!("procfs+{kind}"),
            None => "procfs".to_string(),
        },
        rss: Some(rss),
        processes: last
            .samples
            .last()
            .or(last.idle.last())
            .map_or(0, |s| s.processes),
        cgroup_peak,
        interval_ms: first.interval.as_millis() as u64,
    })
}
