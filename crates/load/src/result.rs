//! The result of one load run: the single serializable struct every output (human
//! summary, JSON, results files, reports) is made from, and how it is computed from the
//! threads' merged recorders.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::hdr_log::encode_histogram;
use super::histogram::ns_to_ms;
use super::outcome::ErrorCounts;
use super::recorder::{Censored, Recorder};
use super::segment::Segment;
/// A second of the timeline is part of the result; it is defined beside its collector.
pub use super::timeline::TimelinePoint;

/// Version of the load result layout. 2: latency histograms in ns (were µs), censored
/// requests in the histograms, `success_rps`, the send-lag histogram. Merging refuses
/// results of another version; readers of version 1 derive what it lacks
/// ([`LoadResult::upgrade`]).
pub const LOAD_SCHEMA_VERSION: u32 = 2;

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

/// TLS handshakes of a window: how many, and how long they took (ms).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct HandshakeSummary {
    pub count: u64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl HandshakeSummary {
    /// Summarizes a histogram recorded in nanoseconds.
    pub fn from_histogram(h: &Histogram<u64>) -> HandshakeSummary {
        HandshakeSummary {
            count: h.len(),
            p50: ns_to_ms(h.value_at_quantile(0.50)),
            p99: ns_to_ms(h.value_at_quantile(0.99)),
            max: ns_to_ms(h.max()),
            mean: h.mean() / 1e6,
        }
    }
}

impl LatencySummary {
    /// Summarizes a histogram recorded in nanoseconds.
    pub fn from_histogram(h: &Histogram<u64>) -> LatencySummary {
        if h.is_empty() {
            return LatencySummary::default();
        }
        let ms = ns_to_ms;
        LatencySummary {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1e6,
            min: ms(h.min()),
            stdev: h.stdev() / 1e6,
        }
    }
}

/// One point of the latency distribution, for percentile plots.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuantilePoint {
    pub percentile: f64,
    pub ms: f64,
}

/// What the generator threads counted of the open-loop schedule (summed over threads).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduleCounts {
    /// Sends the schedule intended in the window.
    pub planned: u64,
    /// Sends that went out.
    pub sent: u64,
    /// Sends whose send lag exceeded the bound (`--max-send-lag`).
    pub late: u64,
    /// Sends that left after their intended time because their connection was still
    /// busy (waiting for an answer, or reconnecting): the server's delay, not ours.
    pub queued: u64,
}

impl ScheduleCounts {
    /// Adds another thread's counts.
    pub fn add(&mut self, other: &ScheduleCounts) {
        self.planned = self.planned.saturating_add(other.planned);
        self.sent = self.sent.saturating_add(other.sent);
        self.late = self.late.saturating_add(other.late);
        self.queued = self.queued.saturating_add(other.queued);
    }
}

/// Send lag percentiles in milliseconds (see `docs/metrics.md`, "Send lag").
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LagSummary {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl LagSummary {
    /// Summarizes a send-lag histogram recorded in nanoseconds.
    pub fn from_histogram(h: &Histogram<u64>) -> LagSummary {
        if h.is_empty() {
            return LagSummary::default();
        }
        LagSummary {
            p50: ns_to_ms(h.value_at_quantile(0.50)),
            p90: ns_to_ms(h.value_at_quantile(0.90)),
            p99: ns_to_ms(h.value_at_quantile(0.99)),
            max: ns_to_ms(h.max()),
            mean: h.mean() / 1e6,
        }
    }
}

/// Open-loop schedule keeping over the measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScheduleSummary {
    /// Sends the schedule intended in the window.
    pub planned: u64,
    /// Sends that went out.
    pub sent: u64,
    /// Sends whose send lag exceeded `max_send_lag_ms` (version 1: more than 2 ms after
    /// the intended time, for any reason).
    pub late: u64,
    /// Intended sends that never went out before the end (the server fell behind);
    /// computed when the threads' counts are merged.
    pub unsent: u64,
    /// Sends that waited for their connection to be free (see [`ScheduleCounts`]).
    #[serde(default)]
    pub queued: u64,
    /// Send lag: actual send minus the later of the intended time and the moment the
    /// connection was free to send.
    #[serde(default)]
    pub lag_ms: LagSummary,
    /// The bound on the lag's p99 (`--max-send-lag`).
    #[serde(default)]
    pub max_send_lag_ms: f64,
    /// The run did not deliver the load it planned: the generator sent late (lag p99
    /// above the bound) or requests were left unsent. Its latency figures describe a
    /// lighter load than asked for.
    #[serde(default)]
    pub generator_limited: bool,
    /// Why `generator_limited` is set, one reason each.
    #[serde(default)]
    pub limited_by: Vec<String>,
}

impl ScheduleSummary {
    fn build(
        counts: ScheduleCounts,
        lag: Option<&Histogram<u64>>,
        bound: Duration,
    ) -> ScheduleSummary {
        let lag_ms = lag.map(LagSummary::from_histogram).unwrap_or_default();
        let max_send_lag_ms = bound.as_secs_f64() * 1e3;
        let unsent = counts.planned.saturating_sub(counts.sent);
        let mut limited_by = Vec::new();
        if lag_ms.p99 > max_send_lag_ms {
            limited_by.push(format!(
                "send lag p99 {:.3} ms is above --max-send-lag {:.3} ms",
                lag_ms.p99, max_send_lag_ms
            ));
        }
        if unsent > 0 {
            limited_by.push(format!(
                "{unsent} planned requests were never sent (every connection was waiting for an answer: more connections, or the server is saturated)"
            ));
        }
        ScheduleSummary {
            planned: counts.planned,
            sent: counts.sent,
            late: counts.late,
            unsent,
            queued: counts.queued,
            lag_ms,
            max_send_lag_ms,
            generator_limited: !limited_by.is_empty(),
            limited_by,
        }
    }
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
    /// [`LOAD_SCHEMA_VERSION`] of the lanebench that wrote it (1 when absent).
    #[serde(default = "version_one")]
    pub schema_version: u32,
    pub url: String,
    pub mode: LoadMode,
    pub connections: usize,
    /// Requested rate in requests/s (open loop only).
    pub rate: Option<f64>,
    pub warmup_s: f64,
    /// Complete responses of any status in the measured window.
    pub requests: u64,
    pub duration_s: f64,
    /// `requests / duration_s`: every response, whatever its status (as wrk counts).
    pub rps: f64,
    /// Responses with the expected status.
    #[serde(default)]
    pub successes: u64,
    /// `successes / duration_s`: what ranks and compares (a server answering 503 fast is
    /// not fast).
    #[serde(default)]
    pub success_rps: f64,
    pub bytes_read: u64,
    pub transfer_mb_s: f64,
    /// Latency from the intended send time (open loop) or the send (closed loop).
    pub latency_ms: LatencySummary,
    /// Open loop only: latency from the actual send (service time, not corrected).
    pub latency_uncorrected_ms: Option<LatencySummary>,
    pub latency_distribution: Vec<QuantilePoint>,
    /// Requests in the latency histograms without an answer, at the time they had
    /// waited: that much of the tail is a lower bound.
    #[serde(default)]
    pub censored: Censored,
    /// With `--wait-in-flight`: answers that came after the deadline, in the latency
    /// histograms at their real latency but not in `requests` (rates are the window's).
    #[serde(default)]
    pub drained: u64,
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
    /// Open loop only: the send-lag histogram, encoded the same way.
    #[serde(default)]
    pub send_lag_hdr: Option<String>,
    /// The agreed start of a split run (`--start-at`), epoch milliseconds.
    #[serde(default)]
    pub start_at_unix_ms: Option<u64>,
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
    /// What the client spoke; absent in results from before protocols were chosen
    /// (HTTP/1.1 over TCP, one request in flight per connection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<crate::protocol::ProtocolFacts>,
    /// TLS only: the handshakes of the window, from the TCP connect's completion to the
    /// first request allowed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_handshake_ms: Option<HandshakeSummary>,
    /// TLS only: the handshake histogram, encoded like `latency_hdr`, for exact merges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_handshake_hdr: Option<String>,
    /// False when a merged timeline's p99 is the max of the workers' p99s rather than
    /// the p99 of the merged per-second histograms (some input had no interval log).
    #[serde(default = "exact_by_default")]
    pub timeline_p99_exact: bool,
}

fn exact_by_default() -> bool {
    true
}

fn version_one() -> u32 {
    1
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
    pub schedule: Option<ScheduleCounts>,
    /// The bound on the send lag's p99 (open loop).
    pub max_send_lag: Duration,
    pub reconnects: u64,
    pub segment: Option<Segment>,
    pub measure_start_unix_ms: u64,
    pub start_at_unix_ms: Option<u64>,
    pub hdr_log: Option<String>,
    pub protocol: crate::protocol::ProtocolFacts,
}

impl LoadResult {
    /// Successful responses in each whole second of the measured window: a load stopped
    /// mid-second has a short last second, which would read as a drop.
    pub fn whole_second_successes(&self) -> Vec<f64> {
        let whole = (self.duration_s.floor() as usize).min(self.timeline.len());
        self.timeline[..whole]
            .iter()
            .map(|p| p.successes as f64)
            .collect()
    }

    /// Builds the result from the merged recorder of all threads.
    pub fn build(facts: RunFacts, recorder: &Recorder, timeline: Vec<TimelinePoint>) -> LoadResult {
        let duration_s = facts.measured.as_secs_f64().max(1e-9);
        let errors = recorder.errors;
        let attempts = recorder.requests.saturating_add(errors.transport());
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
            schema_version: LOAD_SCHEMA_VERSION,
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
            successes: recorder.successes,
            success_rps: recorder.successes as f64 / duration_s,
            bytes_read: recorder.bytes_read,
            transfer_mb_s: recorder.bytes_read as f64 / duration_s / 1_048_576.0,
            latency_ms: LatencySummary::from_histogram(&recorder.latency),
            latency_uncorrected_ms: recorder
                .uncorrected
                .as_ref()
                .map(LatencySummary::from_histogram),
            latency_distribution: distribution(&recorder.latency),
            censored: recorder.censored,
            drained: recorder.drained,
            error_total: errors.total(),
            error_rate: if attempts == 0 {
                0.0
            } else {
                errors.total() as f64 / attempts as f64
            },
            errors,
            status_codes,
            schedule: facts.schedule.map(|counts| {
                ScheduleSummary::build(counts, recorder.send_lag.as_ref(), facts.max_send_lag)
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
            send_lag_hdr: recorder.send_lag.as_ref().map(encode_histogram),
            start_at_unix_ms: facts.start_at_unix_ms,
            segment: facts.segment,
            lanebench_version: env!("CARGO_PKG_VERSION").to_string(),
            measure_start_unix_ms: facts.measure_start_unix_ms,
            hdr_log: facts.hdr_log,
            protocol: Some(facts.protocol),
            tls_handshake_ms: recorder
                .handshake
                .as_ref()
                .filter(|h| !h.is_empty())
                .map(HandshakeSummary::from_histogram),
            tls_handshake_hdr: recorder.handshake.as_ref().map(encode_histogram),
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
            ms: ns_to_ms(value),
        });
        if value >= h.max() || quantile >= 0.999_999 {
            break;
        }
        quantile = 1.0 - (1.0 - quantile) / 2.0;
    }
    points.push(QuantilePoint {
        percentile: 100.0,
        ms: ns_to_ms(h.max()),
    });
    points
}

impl LoadResult {
    /// Brings a result of an earlier schema version up to this one where what it lacks
    /// can be derived exactly or nearly (its histograms stay in their own unit, so it
    /// still cannot be merged with new ones). Version 1 counted every response in
    /// `rps`; its successes are the responses without a status error. Its timeline's
    /// successes are requests minus errors of any class (a lower bound: it kept no
    /// per-second split of the errors).
    pub fn upgrade(&mut self) {
        if self.schema_version >= 2 {
            return;
        }
        let status_errors = self.errors.total() - self.errors.transport();
        self.successes = self.requests.saturating_sub(status_errors);
        self.success_rps = self.successes as f64 / self.duration_s.max(1e-9);
        for point in &mut self.timeline {
            point.successes = point.requests.saturating_sub(point.errors);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::new_histogram;

    fn lag_of(micros: &[u64]) -> Histogram<u64> {
        let mut h = new_histogram();
        for &us in micros {
            h.record(us * 1_000).unwrap();
        }
        h
    }

    fn counts(planned: u64, sent: u64) -> ScheduleCounts {
        ScheduleCounts {
            planned,
            sent,
            ..ScheduleCounts::default()
        }
    }

    #[test]
    fn the_lag_histogram_is_summarized_in_ms() {
        // 98 sends 20 µs late, one 900 µs, one 5 ms.
        let mut micros = vec![20; 98];
        micros.extend([900, 5_000]);
        let lag = LagSummary::from_histogram(&lag_of(&micros));
        assert!((lag.p50 - 0.020).abs() < 0.0001, "{lag:?}");
        assert!((lag.p99 - 0.900).abs() < 0.001, "{lag:?}");
        assert!((lag.max - 5.0).abs() < 0.005, "{lag:?}");
        assert_eq!(
            LagSummary::from_histogram(&new_histogram()),
            LagSummary::default()
        );
    }

    #[test]
    fn a_late_or_unsent_schedule_is_generator_limited() {
        let bound = Duration::from_millis(1);
        let on_time = ScheduleSummary::build(counts(100, 100), Some(&lag_of(&[30; 100])), bound);
        assert!(!on_time.generator_limited, "{on_time:?}");
        assert_eq!(on_time.max_send_lag_ms, 1.0);

        let late = ScheduleSummary::build(counts(100, 100), Some(&lag_of(&[2_000; 100])), bound);
        assert!(late.generator_limited);
        assert!(late.limited_by[0].contains("send lag p99"), "{late:?}");

        let unsent = ScheduleSummary::build(counts(100, 90), Some(&lag_of(&[30; 90])), bound);
        assert_eq!(unsent.unsent, 10);
        assert!(unsent.generator_limited);
        assert!(unsent.limited_by[0].contains("10 planned requests were never sent"));
    }

    #[test]
    fn success_rps_counts_only_expected_statuses() {
        let mut recorder = Recorder::new(false, None);
        let ms = Duration::from_millis(1);
        for status in [200, 200, 200, 503] {
            recorder.record_response(status, status == 200, ms, ms, ms);
        }
        let facts = RunFacts {
            url: "http://127.0.0.1:9/".into(),
            connections: 1,
            threads: 1,
            rate: None,
            warmup: Duration::ZERO,
            measured: Duration::from_secs(2),
            generator_cpu: Duration::ZERO,
            cpus: None,
            schedule: None,
            max_send_lag: crate::DEFAULT_MAX_SEND_LAG,
            reconnects: 0,
            segment: None,
            measure_start_unix_ms: 0,
            start_at_unix_ms: None,
            hdr_log: None,
            protocol: crate::protocol::ClientProtocol::default().facts(None),
        };
        let result = LoadResult::build(facts, &recorder, Vec::new());
        assert_eq!((result.rps, result.success_rps), (2.0, 1.5));
        assert_eq!(result.schema_version, LOAD_SCHEMA_VERSION);
    }

    #[test]
    fn version_one_results_derive_their_successes() {
        let json = r#"{"url":"u","mode":"closed","connections":1,"rate":null,"warmup_s":0,
            "requests":10,"duration_s":2,"rps":5,"bytes_read":0,"transfer_mb_s":0,
            "latency_ms":{"p50":1,"p90":1,"p99":1,"p999":1,"max":1,"mean":1,"min":1,"stdev":0},
            "latency_uncorrected_ms":null,"latency_distribution":[],
            "errors":{"connect":0,"timeout":1,"read":0,"write":0,"parse":0,"status_4xx":0,
                      "status_5xx":4,"status_other":0},
            "error_total":5,"error_rate":0.45,"status_codes":{"200":6,"503":4},"schedule":null,
            "reconnects":0,"timeline":[{"t":0,"requests":10,"errors":5,"p99_ms":1}],
            "generator":{"threads":1,"cpu_s":0,"utilisation":0,"cpus":null}}"#;
        let mut old: LoadResult = serde_json::from_str(json).unwrap();
        assert_eq!(old.schema_version, 1);
        old.upgrade();
        assert_eq!(old.successes, 6, "the timeout got no response; 4 were 503s");
        assert_eq!(old.success_rps, 3.0);
        assert_eq!(old.timeline[0].successes, 5, "a lower bound per second");
    }
}
