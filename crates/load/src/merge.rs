//! Merging the results of the workers of a split run (`--segment I/N`) into the one
//! result a single big generator would have produced: counts are summed, latency comes
//! from the sum of the workers' HDR histograms (never from averaged percentiles), and
//! the timelines are aligned on the wall clock.
//!
//! Decisions: inputs must be the complete set of segments `0..N` of one run (same
//! result schema and lanebench version, URL, mode, rate, warm-up, connections and N),
//! whose measured windows start within 1% of the run's duration of each other (start
//! them with one `--start-at`); anything else is refused rather than merged into a
//! misleading figure (a rate summed over windows that do not overlap is no rate). The timeline's per-second p99 is
//! exact (from the workers' `--hdr-log` interval logs) when every input has a readable
//! log; otherwise it is the max of the workers' p99s and `timeline_p99_exact` is false.
//! What a merge takes in (a worker's file) and the checks on each part's figures and on
//! the set are in `merge_input`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use std::time::Duration;

use super::hdr_log::{decode_histogram, read_log};
use super::histogram::{new_histogram, ns_to_ms};
use super::merge_input::{check_compatible, check_figures};
pub use super::merge_input::{read_worker, MergeError, WorkerResult, MAX_START_SPREAD};
use super::outcome::ErrorCounts;
use super::recorder::{Censored, Recorder};
use super::result::{LoadMode, LoadResult, RunFacts, ScheduleCounts, TimelinePoint};

/// The merged result, plus notes worth telling the user (e.g. an inexact timeline).
#[derive(Debug, Clone)]
pub struct Merged {
    pub result: LoadResult,
    pub warnings: Vec<String>,
}

/// Merges the complete set of segments of one run.
pub fn merge_workers(workers: &[WorkerResult]) -> Result<Merged, MergeError> {
    let first = workers.first().ok_or_else(|| MergeError {
        path: PathBuf::from("-"),
        problem: "no worker results to merge".into(),
    })?;
    for w in workers {
        check_figures(&w.result).map_err(|problem| MergeError {
            path: w.path.clone(),
            problem,
        })?;
    }
    check_compatible(workers)?;
    let mut sums = Sums::new(&first.result);
    for w in workers {
        sums.add(w)?;
    }
    let Sums {
        latency,
        uncorrected,
        send_lag,
        handshake,
        errors,
        censored,
        drained,
        status_codes,
        schedule,
        requests,
        successes,
        bytes_read,
        reconnects,
        threads,
        cpu_s,
        duration_s,
        mut cpus,
    } = sums;
    if let Some(all) = cpus.as_mut() {
        all.sort_unstable();
        all.dedup();
    }
    let (timeline, timeline_p99_exact, warnings) = merge_timelines(workers);
    // The merged totals go through the same builder as a single run's, so a merged
    // result can never be computed differently from one big generator's.
    let mut totals = Recorder::new(uncorrected.is_some(), None);
    totals.latency = latency;
    totals.uncorrected = uncorrected;
    totals.send_lag = send_lag;
    totals.handshake = handshake;
    totals.errors = errors;
    totals.censored = censored;
    totals.drained = drained;
    totals.requests = requests;
    totals.successes = successes;
    totals.bytes_read = bytes_read;
    for (code, count) in &status_codes {
        let slot = code
            .parse::<usize>()
            .ok()
            .filter(|&c| c < totals.statuses.len())
            .unwrap_or(0);
        totals.statuses[slot] = totals.statuses[slot].saturating_add(*count);
    }
    let facts = RunFacts {
        url: first.result.url.clone(),
        connections: first.result.connections,
        threads,
        rate: first.result.rate,
        warmup: secs(first.result.warmup_s),
        measured: secs(duration_s.max(1e-9)),
        generator_cpu: secs(cpu_s),
        cpus,
        schedule,
        max_send_lag: secs(
            first
                .result
                .schedule
                .as_ref()
                .map_or(0.0, |s| s.max_send_lag_ms)
                / 1e3,
        ),
        reconnects,
        segment: None,
        measure_start_unix_ms: workers
            .iter()
            .map(|w| w.result.measure_start_unix_ms)
            .min()
            .unwrap_or_default(),
        start_at_unix_ms: first.result.start_at_unix_ms,
        hdr_log: None,
        protocol: first
            .result
            .protocol
            .clone()
            .unwrap_or_else(|| crate::protocol::ClientProtocol::default().facts(None)),
    };
    let mut result = LoadResult::build(facts, &totals, timeline);
    result.lanebench_version = first.result.lanebench_version.clone();
    result.timeline_p99_exact = timeline_p99_exact;
    Ok(Merged { result, warnings })
}

/// Seconds as a duration; the figures were checked, so the fallback is never taken.
fn secs(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or_default()
}

/// The figures that add up across workers.
struct Sums {
    latency: Histogram<u64>,
    uncorrected: Option<Histogram<u64>>,
    send_lag: Option<Histogram<u64>>,
    /// TLS runs: the handshakes.
    handshake: Option<Histogram<u64>>,
    errors: ErrorCounts,
    censored: Censored,
    drained: u64,
    status_codes: BTreeMap<String, u64>,
    schedule: Option<ScheduleCounts>,
    requests: u64,
    successes: u64,
    bytes_read: u64,
    reconnects: u64,
    threads: usize,
    cpu_s: f64,
    /// The longest worker's measured window.
    duration_s: f64,
    /// Every worker's pinned CPUs; none as soon as one worker was not pinned.
    cpus: Option<Vec<usize>>,
}

impl Sums {
    fn new(first: &LoadResult) -> Sums {
        Sums {
            latency: new_histogram(),
            uncorrected: (first.mode == LoadMode::Open).then(new_histogram),
            send_lag: (first.mode == LoadMode::Open).then(new_histogram),
            handshake: first.tls_handshake_hdr.as_ref().map(|_| new_histogram()),
            errors: ErrorCounts::default(),
            censored: Censored::default(),
            drained: 0,
            status_codes: BTreeMap::new(),
            schedule: first.schedule.as_ref().map(|_| ScheduleCounts::default()),
            requests: 0,
            successes: 0,
            bytes_read: 0,
            reconnects: 0,
            threads: 0,
            cpu_s: 0.0,
            duration_s: 0.0,
            cpus: Some(Vec::new()),
        }
    }

    fn add(&mut self, w: &WorkerResult) -> Result<(), MergeError> {
        let r = &w.result;
        add_encoded(
            &mut self.latency,
            r.latency_hdr.as_deref(),
            &w.path,
            "latency_hdr",
        )?;
        if let Some(h) = self.uncorrected.as_mut() {
            let encoded = r.latency_uncorrected_hdr.as_deref();
            add_encoded(h, encoded, &w.path, "latency_uncorrected_hdr")?;
        }
        if let Some(h) = self.send_lag.as_mut() {
            add_encoded(h, r.send_lag_hdr.as_deref(), &w.path, "send_lag_hdr")?;
        }
        if let Some(h) = self.handshake.as_mut() {
            let encoded = r.tls_handshake_hdr.as_deref();
            add_encoded(h, encoded, &w.path, "tls_handshake_hdr")?;
        }
        self.errors.merge(&r.errors);
        self.censored.merge(&r.censored);
        // Saturating: the counts come from files.
        self.drained = self.drained.saturating_add(r.drained);
        for (code, n) in &r.status_codes {
            let sum = self.status_codes.entry(code.clone()).or_default();
            *sum = sum.saturating_add(*n);
        }
        if let (Some(total), Some(s)) = (self.schedule.as_mut(), r.schedule.as_ref()) {
            total.add(&ScheduleCounts {
                planned: s.planned,
                sent: s.sent,
                late: s.late,
                queued: s.queued,
            });
        }
        self.requests = self.requests.saturating_add(r.requests);
        self.successes = self.successes.saturating_add(r.successes);
        self.bytes_read = self.bytes_read.saturating_add(r.bytes_read);
        self.reconnects = self.reconnects.saturating_add(r.reconnects);
        self.threads = self.threads.saturating_add(r.generator.threads);
        self.cpu_s += r.generator.cpu_s;
        self.duration_s = self.duration_s.max(r.duration_s);
        match (self.cpus.as_mut(), &r.generator.cpus) {
            (Some(all), Some(mine)) => all.extend(mine),
            _ => self.cpus = None,
        }
        Ok(())
    }
}

fn add_encoded(
    into: &mut Histogram<u64>,
    encoded: Option<&str>,
    path: &Path,
    field: &str,
) -> Result<(), MergeError> {
    let refuse = |problem: String| MergeError {
        path: path.to_path_buf(),
        problem,
    };
    let encoded = encoded.ok_or_else(|| {
        refuse(format!(
            "has no latency histogram ({field}); record it with this lanebench"
        ))
    })?;
    let h = decode_histogram(encoded).map_err(|e| refuse(e.to_string()))?;
    into.add(&h).map_err(|e| refuse(format!("{e:?}")))
}

/// Where a worker's interval log is: as recorded, or else next to its JSON (results
/// copied off other machines keep their file names, not their paths).
fn find_log(worker: &WorkerResult) -> Option<PathBuf> {
    let recorded = PathBuf::from(worker.result.hdr_log.as_ref()?);
    if recorded.is_file() {
        return Some(recorded);
    }
    let beside = worker.path.parent()?.join(recorded.file_name()?);
    beside.is_file().then_some(beside)
}

/// The second of the merged timeline that a wall-clock instant falls in.
fn merged_second(base_ms: u64, unix_ms: u64) -> u64 {
    unix_ms.saturating_sub(base_ms) / 1000
}

fn merge_timelines(workers: &[WorkerResult]) -> (Vec<TimelinePoint>, bool, Vec<String>) {
    let base = workers
        .iter()
        .map(|w| w.result.measure_start_unix_ms)
        .min()
        .unwrap_or_default();
    let mut points: BTreeMap<u64, TimelinePoint> = BTreeMap::new();
    for w in workers {
        for p in &w.result.timeline {
            let at = (w.result.measure_start_unix_ms).saturating_add(p.t.saturating_mul(1000));
            let t = merged_second(base, at);
            let merged = points.entry(t).or_insert(TimelinePoint::quiet(t));
            merged.requests = merged.requests.saturating_add(p.requests);
            merged.successes = merged.successes.saturating_add(p.successes);
            merged.errors = merged.errors.saturating_add(p.errors);
            merged.degraded = merged.degraded.saturating_add(p.degraded);
            merged.p99_ms = merged.p99_ms.max(p.p99_ms);
        }
    }
    let mut warnings = Vec::new();
    let len = points.keys().next_back().map_or(0, |t| t + 1);
    let exact = match exact_p99s(workers, base, len) {
        Ok(p99s) => {
            for (t, point) in points.iter_mut() {
                point.p99_ms = p99s.get(t).copied().unwrap_or(0.0);
            }
            true
        }
        Err(why) => {
            warnings.push(format!(
                "timeline p99 is the max of the workers' p99s, not exact: {why}"
            ));
            false
        }
    };
    let timeline = (0..len)
        .map(|t| {
            points
                .get(&t)
                .copied()
                .unwrap_or_else(|| TimelinePoint::quiet(t))
        })
        .collect();
    (timeline, exact, warnings)
}

/// Per merged second, the p99 of the sum of every worker's logged histograms. Intervals
/// are kept encoded and decoded one second at a time into one histogram, so memory is
/// bounded by the logs' size, not by one full histogram per logged second.
fn exact_p99s(workers: &[WorkerResult], base: u64, len: u64) -> Result<BTreeMap<u64, f64>, String> {
    let mut seconds: BTreeMap<u64, Vec<(PathBuf, String)>> = BTreeMap::new();
    for w in workers {
        let path =
            find_log(w).ok_or_else(|| format!("{} has no readable --hdr-log", w.path.display()))?;
        for interval in read_log(&path).map_err(|e| e.to_string())? {
            let t = merged_second(base, interval.start_unix_ms);
            if t >= len {
                return Err(format!(
                    "{} has an interval at second {t}, after the run's {len} s",
                    path.display()
                ));
            }
            seconds
                .entry(t)
                .or_default()
                .push((path.clone(), interval.encoded));
        }
    }
    let mut sum = new_histogram();
    let mut p99s = BTreeMap::new();
    for (t, encoded) in seconds {
        sum.reset();
        for (path, text) in &encoded {
            let h = decode_histogram(text).map_err(|e| format!("{}: {e}", path.display()))?;
            sum.add(&h)
                .map_err(|e| format!("{}: {e:?}", path.display()))?;
        }
        let p99 = if sum.is_empty() {
            0.0
        } else {
            ns_to_ms(sum.value_at_quantile(0.99))
        };
        p99s.insert(t, p99);
    }
    Ok(p99s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::Recorder;
    use crate::result::RunFacts;
    use crate::segment::Segment;
    use std::time::Duration;

    /// A worker result built from `values` the way a run builds one.
    fn worker(index: usize, count: usize, values: &[u64], start_ms: u64) -> WorkerResult {
        let mut recorder = Recorder::new(false, None);
        for &us in values {
            let latency = Duration::from_micros(us);
            recorder.record_response(200, true, latency, latency, Duration::ZERO);
        }
        let facts = RunFacts {
            url: "http://127.0.0.1:9/".into(),
            connections: 8,
            threads: 1,
            rate: None,
            warmup: Duration::ZERO,
            measured: Duration::from_secs(2),
            generator_cpu: Duration::from_millis(500),
            cpus: None,
            schedule: None,
            max_send_lag: Duration::from_millis(1),
            reconnects: 0,
            segment: Some(Segment { index, count }),
            measure_start_unix_ms: start_ms,
            start_at_unix_ms: None,
            hdr_log: None,
            protocol: crate::protocol::ClientProtocol::default().facts(None),
        };
        let timeline = vec![TimelinePoint {
            t: 0,
            requests: values.len() as u64,
            successes: values.len() as u64,
            errors: 0,
            degraded: 0,
            p99_ms: 1.0,
        }];
        WorkerResult {
            path: PathBuf::from(format!("worker-{index}.json")),
            result: LoadResult::build(facts, &recorder, timeline),
        }
    }

    fn values(seed: u64, n: usize) -> Vec<u64> {
        // A spread from microseconds to seconds, different per part.
        (0..n as u64)
            .map(|i| (i * 7919 + seed * 104_729) % 2_000_000 + 1 + (i % 13) * 50_000)
            .collect()
    }

    #[test]
    fn merging_parts_equals_the_histogram_of_the_whole() {
        let parts: Vec<Vec<u64>> = (0..4).map(|p| values(p, 2500 + p as usize * 333)).collect();
        let workers: Vec<WorkerResult> = parts
            .iter()
            .enumerate()
            .map(|(i, v)| worker(i, 4, v, 1_000_000))
            .collect();
        let whole_values: Vec<u64> = parts.concat();
        let whole = worker(0, 1, &whole_values, 1_000_000).result;
        let merged = merge_workers(&workers).unwrap().result;
        assert_eq!(merged.requests, whole.requests);
        assert_eq!(
            merged.latency_hdr, whole.latency_hdr,
            "identical histograms"
        );
        assert_eq!(merged.latency_ms, whole.latency_ms, "every percentile");
        assert_eq!(merged.latency_distribution, whole.latency_distribution);
        assert_eq!(merged.status_codes, whole.status_codes);
        assert_eq!(merged.generator.threads, 4);
        assert!((merged.generator.cpu_s - 2.0).abs() < 1e-9);
        // Averaging the parts' p99s would not give the whole's p99 here.
        let averaged: f64 = workers.iter().map(|w| w.result.latency_ms.p99).sum::<f64>() / 4.0;
        assert_ne!(averaged, whole.latency_ms.p99);
    }

    #[test]
    fn timelines_align_on_the_wall_clock() {
        // Windows 15 ms apart in a 2 s run (within 1%): the later worker's second 0
        // still falls in merged second 0.
        let a = worker(0, 2, &[1_000; 10], 5_990);
        let b = worker(1, 2, &[1_000; 7], 6_005);
        let merged = merge_workers(&[a, b]).unwrap();
        let t: Vec<(u64, u64)> = merged
            .result
            .timeline
            .iter()
            .map(|p| (p.t, p.requests))
            .collect();
        assert_eq!(t, vec![(0, 17)]);
        assert_eq!(merged.result.successes, 17);
        assert!(!merged.result.timeline_p99_exact, "no interval logs");
        assert_eq!(merged.warnings.len(), 1);
        assert_eq!(merged.result.measure_start_unix_ms, 5_990);
    }

    #[test]
    fn refuses_windows_that_start_more_than_one_percent_apart() {
        // 2 s runs: 20 ms apart is the limit.
        let ok = merge_workers(&[worker(0, 2, &[5], 10_000), worker(1, 2, &[6], 10_020)]);
        assert!(ok.is_ok());
        let err = merge_workers(&[worker(0, 2, &[5], 10_000), worker(1, 2, &[6], 10_021)])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("worker-1.json: its measured window starts 21 ms after"),
            "{err}"
        );
        assert!(err.contains("--start-at"), "{err}");
    }

    #[test]
    fn refuses_mixed_duplicate_missing_and_histogramless_inputs() {
        let ok = || (worker(0, 2, &[5], 0), worker(1, 2, &[6], 0));
        let problem = |ws: &[WorkerResult]| merge_workers(ws).unwrap_err().to_string();

        let (a, _) = ok();
        assert!(problem(&[a]).contains("segment 1/2 of this run is missing"));
        let (a, _) = ok();
        let dup = worker(0, 2, &[7], 0);
        assert!(problem(&[a, dup]).contains("also in"));
        let (a, mut b) = ok();
        b.result.url = "http://127.0.0.1:10/".into();
        assert!(problem(&[a, b]).starts_with("worker-1.json: url"));
        let (a, mut b) = ok();
        b.result.lanebench_version = "0.0.0".into();
        assert!(problem(&[a, b]).contains("lanebench version"));
        let (a, mut b) = ok();
        b.result.schema_version = 1;
        assert!(problem(&[a, b]).contains("result schema version 1 differs"));
        let (a, mut b) = ok();
        b.result.latency_hdr = None;
        assert!(problem(&[a, b]).contains("no latency histogram (latency_hdr)"));
        let (a, _) = ok();
        let other_count = worker(1, 3, &[5], 0);
        assert!(problem(&[a, other_count]).contains("segment count"));
        let (mut a, b) = ok();
        a.result.rate = Some(100.0);
        assert!(problem(&[a, b]).contains("mode"));
    }
}
