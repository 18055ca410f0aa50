//! The per-second timeline of a run, merged across generator threads as the run goes so
//! that memory stays flat however long it lasts.
//!
//! Every thread submits one latency histogram per second of the measured window (an
//! empty one for a quiet second), once per second — a lock taken once a second, never
//! per request. A second is closed, and its histogram reduced to the figures the
//! timeline keeps (requests, successes, errors, p99), as soon as every thread has submitted it;
//! so only the last few seconds' histograms are ever held. A thread that reports a
//! second more than [`LATE_SECONDS`] after the newest one (a thread stuck in a system
//! call) still has its counts added, but its latencies no longer enter that second's p99.

use std::collections::BTreeMap;
use std::sync::Mutex;

use hdrhistogram::Histogram;

use serde::{Deserialize, Serialize};

use super::histogram::{new_histogram, ns_to_ms};

/// One second of the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Seconds since measurement started (this point covers [t, t+1)).
    pub t: u64,
    pub requests: u64,
    /// Responses with the expected status (0 in results of schema version 1 until
    /// `LoadResult::upgrade` derives it).
    #[serde(default)]
    pub successes: u64,
    pub errors: u64,
    /// Of `errors`, the answers marked as a degraded fallback (`X-Degraded: true`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub degraded: u64,
    pub p99_ms: f64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl TimelinePoint {
    /// A second in which nothing happened.
    pub fn quiet(t: u64) -> TimelinePoint {
        TimelinePoint {
            t,
            requests: 0,
            successes: 0,
            errors: 0,
            degraded: 0,
            p99_ms: 0.0,
        }
    }
}

/// How far behind the newest submitted second a second may stay open.
pub const LATE_SECONDS: u64 = 3;

struct OpenSecond {
    histogram: Histogram<u64>,
    counts: SecondCounts,
    reports: usize,
}

/// What one thread counted in one second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecondCounts {
    pub requests: u64,
    pub successes: u64,
    pub errors: u64,
    /// Of `errors`, degraded fallbacks.
    pub degraded: u64,
}

impl SecondCounts {
    fn add(&mut self, other: SecondCounts) {
        self.requests += other.requests;
        self.successes += other.successes;
        self.errors += other.errors;
        self.degraded += other.degraded;
    }
}

/// Receives each second's merged histogram as the second closes (e.g. `--hdr-log`).
pub type SecondSink = Box<dyn FnMut(u64, &Histogram<u64>) + Send>;

#[derive(Default)]
struct State {
    open: BTreeMap<u64, OpenSecond>,
    closed: BTreeMap<u64, TimelinePoint>,
    sink: Option<SecondSink>,
}

/// Collects the per-second submissions of `threads` threads.
pub struct TimelineCollector {
    threads: usize,
    state: Mutex<State>,
}

impl std::fmt::Debug for TimelineCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimelineCollector")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl TimelineCollector {
    /// A collector expecting one submission per second from each of `threads` threads.
    pub fn new(threads: usize) -> TimelineCollector {
        TimelineCollector {
            threads: threads.max(1),
            state: Mutex::new(State::default()),
        }
    }

    /// Like [`TimelineCollector::new`], also handing every closed second's merged
    /// histogram to `sink` (called under the collector's lock, once a second).
    pub fn with_sink(threads: usize, sink: SecondSink) -> TimelineCollector {
        let collector = TimelineCollector::new(threads);
        collector
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .sink = Some(sink);
        collector
    }

    /// Adds one thread's figures for `second` (seconds since measuring started).
    pub fn submit(&self, second: u64, histogram: &Histogram<u64>, counts: SecondCounts) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(point) = state.closed.get_mut(&second) {
            point.requests += counts.requests;
            point.successes += counts.successes;
            point.errors += counts.errors;
            point.degraded += counts.degraded;
            return;
        }
        let open = state.open.entry(second).or_insert_with(|| OpenSecond {
            histogram: new_histogram(),
            counts: SecondCounts::default(),
            reports: 0,
        });
        open.histogram
            .add(histogram)
            .expect("histograms share bounds");
        open.counts.add(counts);
        open.reports += 1;
        let complete = open.reports >= self.threads;
        if complete {
            close(&mut state, second);
        }
        let stale: Vec<u64> = state
            .open
            .keys()
            .copied()
            .filter(|&s| s + LATE_SECONDS < second)
            .collect();
        for s in stale {
            close(&mut state, s);
        }
    }

    /// The seconds closed so far (every thread has handed them over), in order: a live
    /// view of the per-second figures, exact to the engine's clock.
    pub fn closed_so_far(&self) -> Vec<TimelinePoint> {
        let state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.closed.values().copied().collect()
    }

    /// Closes every second and returns the timeline from second 0 to the last busy one,
    /// at least `seconds` long, with quiet seconds as zeros.
    pub fn finish(&self, seconds: u64) -> Vec<TimelinePoint> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let open: Vec<u64> = state.open.keys().copied().collect();
        for s in open {
            close(&mut state, s);
        }
        let last = state
            .closed
            .keys()
            .next_back()
            .map_or(0, |s| s + 1)
            .max(seconds);
        (0..last)
            .map(|t| {
                state
                    .closed
                    .get(&t)
                    .copied()
                    .unwrap_or_else(|| TimelinePoint::quiet(t))
            })
            .collect()
    }
}

fn close(state: &mut State, second: u64) {
    if let Some(open) = state.open.remove(&second) {
        let p99_ms = if open.histogram.is_empty() {
            0.0
        } else {
            ns_to_ms(open.histogram.value_at_quantile(0.99))
        };
        if let Some(sink) = state.sink.as_mut() {
            sink(second, &open.histogram);
        }
        state.closed.insert(
            second,
            TimelinePoint {
                t: second,
                requests: open.counts.requests,
                successes: open.counts.successes,
                errors: open.counts.errors,
                degraded: open.counts.degraded,
                p99_ms,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(requests: u64, errors: u64) -> SecondCounts {
        SecondCounts {
            requests,
            successes: requests - errors.min(requests),
            errors,
            degraded: 0,
        }
    }

    fn histogram(values: &[u64]) -> Histogram<u64> {
        let mut h = new_histogram();
        for &v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn seconds_close_when_every_thread_reported_and_p99_is_of_the_merge() {
        let c = TimelineCollector::new(2);
        c.submit(0, &histogram(&[1_000_000; 99]), counts(99, 0));
        assert_eq!(
            c.state.lock().unwrap().open.len(),
            1,
            "waits for the second thread"
        );
        c.submit(0, &histogram(&[50_000_000]), counts(1, 2));
        assert!(c.state.lock().unwrap().open.is_empty());
        let timeline = c.finish(2);
        assert_eq!(timeline.len(), 2);
        assert_eq!((timeline[0].requests, timeline[0].errors), (100, 2));
        assert_eq!(timeline[0].successes, 99);
        assert!(
            (timeline[0].p99_ms - 1.0).abs() < 0.001,
            "99 of 100 values are 1 ms: {}",
            timeline[0].p99_ms
        );
        assert_eq!(timeline[1], TimelinePoint::quiet(1));
    }

    #[test]
    fn open_seconds_stay_bounded_when_a_thread_is_silent() {
        let c = TimelineCollector::new(2);
        for second in 0..100 {
            c.submit(second, &histogram(&[1_000_000]), counts(1, 0));
            assert!(c.state.lock().unwrap().open.len() as u64 <= LATE_SECONDS + 1);
        }
        // The silent thread's late report still counts.
        c.submit(10, &histogram(&[1_000_000]), counts(5, 1));
        let timeline = c.finish(0);
        assert_eq!(timeline.len(), 100);
        assert_eq!(timeline[10].requests, 6);
        assert_eq!(timeline[10].errors, 1);
    }
}
