//! The result of one load run: the single serializable struct every output (human
//! summary, JSON, results files, reports) is made from, and how it is computed from the
//! threads' merged recorders.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::hdr_log::encode_histogram;
use super::outcome::ErrorCounts;
use super::recorder::Recorder;
use super::segment::Segment;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
    pub min: f64,
    pub stdev: f64,
}

impl LatencySummary {
    /// Summarizes a histogram recorded in microseconds.
    pub fn from_histogram(h: &Histogram<u64>) -> LatencySummary {
        if h.is_empty() {
            return LatencySummary::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
            min: ms(h.min()),
            stdev: h.stdev() / 1000.0,
        }
    }
}

/// One point of the latency distribution, for percentile plots.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuantilePoint {
    pub percentile: f64,
    pub ms: f64,
}

/// One second of the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Seconds since measurement started (this point covers [t, t+1)).
    pub t: u64,
    pub requests: u64,
    pub errors: u64,
    pub p99_ms: f64,
}

/// Open-loop schedule keeping over the measured window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleSummary {
    /// Sends the schedule intended in the window.
    pub planned: u64,
    /// Sends that went out.
    pub sent: u64,
    /// Sends that left more than 2 ms after their intended time.
    pub late: u64,
    /// Intended sends that never went out before the end (the server fell behind);
    /// computed when the threads' counts are merged.
    pub unsent: u64,
}

/// The generator's own resource use, to judge whether it was the bottleneck.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorUsage {
    pub threads: usize,
    /// CPU time (user + system) of the generator threads in the measured window.
    pub cpu_s: f64,
    /// `cpu_s / (duration_s * threads)`: 1.0 means every generator thread was always busy.
    pub utilisation: f64,
    /// CPUs the threads were pinned to, if any.
    pub cpus: Option<Vec<usize>>,
}

/// Closed loop (as fast as responses come back) or open loop (fixed arrival rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadMode {
    Closed,
    Open,
}

/// Everything one load run measured. Field names are the JSON keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadResult {
    pub url: String,
    pub mode: LoadMode,
    pub connections: usize,
    /// Requested rate in requests/s (open loop only).
    pub rate: Option<f64>,
    pub warmup_s: f64,
    /// Complete responses of any status in the measured window.
    pub requests: u64,
    pub duration_s: f64,
    /// `requests / duration_s`.
    pub rps: f64,
    pub bytes_read: u64,
    pub transfer_mb_s: f64,
    /// Latency from the intended send time (open loop) or the send (closed loop).
    pub latency_ms: LatencySummary,
    /// Open loop only: latency from the actual send (service time, not corrected).
    pub latency_uncorrected_ms: Option<LatencySummary>,
    pub latency_distribution: Vec<QuantilePoint>,
    pub errors: ErrorCounts,
    pub error_total: u64,
    /// Errors / (responses + requests that got no response).
    pub error_rate: f64,
    pub status_codes: BTreeMap<String, u64>,
    pub schedule: Option<ScheduleSummary>,
    pub reconnects: u64,
    pub timeline: Vec<TimelinePoint>,
    pub generator: GeneratorUsage,
    /// The whole latency histogram (base64 of its V2+deflate serialization), so that
    /// results of separate processes merge exactly (`lanebench merge`).
    #[serde(default)]
    pub latency_hdr: Option<String>,
    /// Open loop only: the uncorrected histogram, encoded the same way.
    #[serde(default)]
    pub latency_uncorrected_hdr: Option<String>,
    /// Which share of a split run this is (`--segment`); none for a whole run.
    #[serde(default)]
    pub segment: Option<Segment>,
    /// Version of the lanebench that measured it (merging refuses mixed versions).
    #[serde(default)]
    pub lanebench_version: String,
    /// Wall-clock milliseconds since the epoch when the measured window began; aligns
    /// the timelines of workers on the wall clock.
    #[serde(default)]
    pub measure_start_unix_ms: u64,
    /// The per-second interval log written with `--hdr-log`.
    #[serde(default)]
    pub hdr_log: Option<String>,
    /// False when a merged timeline's p99 is the max of the workers' p99s rather than
    /// the p99 of the merged per-second histograms (some input had no interval log).
    #[serde(default = "exact_by_default")]
    pub timeline_p99_exact: bool,
}

fn exact_by_default() -> bool {
    true
}

/// The raw inputs [`LoadResult::build`] needs besides the merged recorder.
#[derive(Debug, Clone)]
pub struct RunFacts {
    pub url: String,
    pub connections: usize,
    pub threads: usize,
    pub rate: Option<f64>,
    pub warmup: Duration,
    pub measured: Duration,
    pub generator_cpu: Duration,
    pub cpus: Option<Vec<usize>>,
    pub schedule: Option<ScheduleSummary>,
    pub reconnects: u64,
    pub segment: Option<Segment>,
    pub measure_start_unix_ms: u64,
    pub hdr_log: Option<String>,
}

impl LoadResult {
    /// Builds the result from the merged recorder of all threads.
    pub fn build(facts: RunFacts, recorder: &Recorder, timeline: Vec<TimelinePoint>) -> LoadResult {
        let duration_s = facts.measured.as_secs_f64().max(1e-9);
        let errors = recorder.errors;
        let attempts = recorder.requests + errors.transport();
        let status_codes = recorder
            .statuses
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(code, &n)| {
                (
                    if code == 0 {
                        "other".to_string()
                    } else {
                        code.to_string()
                    },
                    n,
                )
            })
            .collect();
        let cpu_s = facts.generator_cpu.as_secs_f64();
        LoadResult {
            url: facts.url,
            mode: if facts.rate.is_some() {
                LoadMode::Open
            } else {
                LoadMode::Closed
            },
            connections: facts.connections,
            rate: facts.rate,
            warmup_s: facts.warmup.as_secs_f64(),
            requests: recorder.requests,
            duration_s,
            rps: recorder.requests as f64 / duration_s,
            bytes_read: recorder.bytes_read,
            transfer_mb_s: recorder.bytes_read as f64 / duration_s / 1_048_576.0,
            latency_ms: LatencySummary::from_histogram(&recorder.latency),
            latency_uncorrected_ms: recorder
                .uncorrected
                .as_ref()
                .map(LatencySummary::from_histogram),
            latency_distribution: distribution(&recorder.latency),
            error_total: errors.total(),
            error_rate: if attempts == 0 {
                0.0
            } else {
                errors.total() as f64 / attempts as f64
            },
            errors,
            status_codes,
            schedule: facts.schedule.map(|s| ScheduleSummary {
                unsent: s.planned.saturating_sub(s.sent),
                ..s
            }),
            reconnects: facts.reconnects,
            timeline,
            generator: GeneratorUsage {
                threads: facts.threads,
                cpu_s,
                utilisation: cpu_s / (duration_s * facts.threads.max(1) as f64),
                cpus: facts.cpus,
            },
            latency_hdr: Some(encode_histogram(&recorder.latency)),
            latency_uncorrected_hdr: recorder.uncorrected.as_ref().map(encode_histogram),
            segment: facts.segment,
            lanebench_version: env!("CARGO_PKG_VERSION").to_string(),
            measure_start_unix_ms: facts.measure_start_unix_ms,
            hdr_log: facts.hdr_log,
            timeline_p99_exact: true,
        }
    }
}

/// Percentiles at 0, 50, 75, 87.5, ... (halving the distance to 100 each step), the usual
/// HDR percentile-plot spacing, up to the maximum.
pub fn distribution(h: &Histogram<u64>) -> Vec<QuantilePoint> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut points = Vec::new();
    let mut quantile = 0.0f64;
    loop {
        let value = h.value_at_quantile(quantile);
        points.push(QuantilePoint {
            percentile: quantile * 100.0,
            ms: value as f64 / 1000.0,
        });
        if value >= h.max() || quantile >= 0.999_999 {
            break;
        }
        quantile = 1.0 - (1.0 - quantile) / 2.0;
    }
    points.push(QuantilePoint {
        percentile: 100.0,
        ms: h.max() as f64 / 1000.0,
    });
    points
}
