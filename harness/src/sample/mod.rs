//! Memory and CPU figures of a running target: sampling its process tree through
//! `/proc`, or reading the kernel's own accounting from a per-target cgroup.
//!
//! Method, and why:
//! - **The whole tree counts.** A target is whatever its `run` command starts: a JVM,
//!   a node cluster master and its workers, a uvicorn supervisor and its workers, the
//!   `sh` that launched them. Each target runs in its own process group, so the tree is
//!   every process in that group plus any descendant that left it (by `setsid`), found
//!   in one scan of `/proc`.
//! - **PSS next to RSS.** Forked workers share their parent's pages copy-on-write, and
//!   RSS counts a shared page once in every process that maps it, so summing RSS
//!   over-counts multi-process servers. PSS (`/proc/PID/smaps_rollup`) divides each
//!   shared page among the processes sharing it, so the sum is the tree's real
//!   footprint. RSS is kept because every platform has it and single-process servers
//!   read the same either way.
//! - **CPU time** is `utime + stime` from `/proc/PID/stat` over the same processes,
//!   converted from clock ticks; a phase's CPU time is the difference between its
//!   last and first sample.
//! - **Sampling** runs in a background thread every 100-250 ms. The idle figure is the
//!   median of a short burst after startup, the steady figure the median during the
//!   measured load, the peak the largest sample. Samples can miss a short spike.
//! - **Cgroups are exact.** When the harness can give a target its own cgroup, the
//!   kernel charges every page and every CPU nanosecond of every process in it, even
//!   ones that live between two samples, and tracks the true peak. Those figures
//!   (including page cache and kernel memory the target causes) replace sampling where
//!   available, and results name the method that produced them ([`MeasurementMethod`]).

pub mod cgroup;
pub mod procfs;
pub mod sampler;

use std::time::Duration;

pub use cgroup::{CgroupError, TargetCgroup};
pub use procfs::{tree_pids, tree_usage, TreeUsage};
pub use sampler::{MemorySampler, Sample};

/// Which method produced a target's memory and CPU figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MeasurementMethod {
    /// Kernel accounting of a cgroup v2 (`memory.peak`, `memory.current`, `cpu.stat`).
    #[serde(rename = "cgroup-v2")]
    CgroupV2,
    /// Kernel accounting of cgroup v1 (`memory.max_usage_in_bytes`, `cpuacct.usage`).
    #[serde(rename = "cgroup-v1")]
    CgroupV1,
    /// Periodic samples of the process tree from `/proc`.
    #[serde(rename = "procfs")]
    Procfs,
}

impl MeasurementMethod {
    /// The name used in results: `cgroup-v2`, `cgroup-v1` or `procfs`.
    pub fn as_str(self) -> &'static str {
        match self {
            MeasurementMethod::CgroupV2 => "cgroup-v2",
            MeasurementMethod::CgroupV1 => "cgroup-v1",
            MeasurementMethod::Procfs => "procfs",
        }
    }

    /// The method a created cgroup provides.
    pub fn of(cgroup: &TargetCgroup) -> MeasurementMethod {
        match cgroup.kind() {
            "cgroup-v2" => MeasurementMethod::CgroupV2,
            _ => MeasurementMethod::CgroupV1,
        }
    }
}

/// Memory figures over a set of samples (one phase).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryFigures {
    /// How many samples the figures come from.
    pub samples: usize,
    /// Median of the samples' RSS sums, in bytes.
    pub median_rss_bytes: u64,
    /// Largest RSS sum sampled, in bytes.
    pub peak_rss_bytes: u64,
    /// Median PSS sum, if every sample has one.
    pub median_pss_bytes: Option<u64>,
    /// Largest PSS sum, if every sample has one.
    pub peak_pss_bytes: Option<u64>,
    /// Largest number of processes seen in the tree.
    pub max_processes: usize,
}

/// Median of `values` (mean of the two middle values for an even count); `None` when
/// empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    })
}

/// Median and peak memory of `samples`; `None` when there are none.
pub fn summarize(samples: &[Sample]) -> Option<MemoryFigures> {
    let rss: Vec<f64> = samples.iter().map(|s| s.rss_bytes as f64).collect();
    let pss: Option<Vec<u64>> = samples.iter().map(|s| s.pss_bytes).collect();
    let pss_median = pss.as_ref().and_then(|pss| {
        let values: Vec<f64> = pss.iter().map(|&v| v as f64).collect();
        median(&values)
    });
    Some(MemoryFigures {
        samples: samples.len(),
        median_rss_bytes: median(&rss)?.round() as u64,
        peak_rss_bytes: samples.iter().map(|s| s.rss_bytes).max()?,
        median_pss_bytes: pss_median.map(|m| m.round() as u64),
        peak_pss_bytes: pss.and_then(|pss| pss.into_iter().max()),
        max_processes: samples.iter().map(|s| s.processes).max()?,
    })
}

/// The samples taken in `[from, to)` since the sampler started (one phase).
pub fn window(samples: &[Sample], from: Duration, to: Duration) -> Vec<Sample> {
    samples
        .iter()
        .filter(|s| s.at >= from && s.at < to)
        .copied()
        .collect()
}

/// CPU time used between the first and last of `samples`; `None` with fewer than two.
/// Saturates at zero if a process exited in between and took its time with it.
pub fn cpu_between(samples: &[Sample]) -> Option<Duration> {
    match samples {
        [first, .., last] => Some(last.cpu.saturating_sub(first.cpu)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: u64, rss: u64, pss: Option<u64>, cpu_ms: u64) -> Sample {
        Sample {
            at: Duration::from_millis(at_ms),
            rss_bytes: rss,
            pss_bytes: pss,
            processes: 1 + (at_ms / 100) as usize,
            cpu: Duration::from_millis(cpu_ms),
        }
    }

    #[test]
    fn median_handles_odd_even_and_empty() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
    }

    #[test]
    fn summarize_reports_median_peak_and_pss_only_when_complete() {
        let samples = [
            sample(0, 100, Some(60), 0),
            sample(100, 300, Some(80), 5),
            sample(200, 200, Some(70), 9),
        ];
        let figures = summarize(&samples).expect("figures");
        assert_eq!(figures.samples, 3);
        assert_eq!(figures.median_rss_bytes, 200);
        assert_eq!(figures.peak_rss_bytes, 300);
        assert_eq!(figures.median_pss_bytes, Some(70));
        assert_eq!(figures.peak_pss_bytes, Some(80));
        assert_eq!(figures.max_processes, 3);

        let partial = [sample(0, 100, Some(60), 0), sample(100, 100, None, 0)];
        let figures = summarize(&partial).expect("figures");
        assert_eq!(figures.median_pss_bytes, None);
        assert_eq!(figures.peak_pss_bytes, None);
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn window_and_cpu_between_select_a_phase() {
        let samples: Vec<Sample> = (0..10).map(|i| sample(i * 100, 1, None, i * 30)).collect();
        let phase = window(
            &samples,
            Duration::from_millis(300),
            Duration::from_millis(700),
        );
        assert_eq!(phase.len(), 4);
        assert_eq!(cpu_between(&phase), Some(Duration::from_millis(90)));
        assert_eq!(cpu_between(&phase[..1]), None);
    }

    #[test]
    fn method_names_match_results() {
        assert_eq!(MeasurementMethod::CgroupV1.as_str(), "cgroup-v1");
        let json = serde_json::to_string(&MeasurementMethod::CgroupV2).unwrap();
        assert_eq!(json, "\"cgroup-v2\"");
        assert_eq!(MeasurementMethod::Procfs.as_str(), "procfs");
    }
}
