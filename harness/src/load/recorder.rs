//! Per-thread measurement state: latency histograms, the per-second timeline, error and
//! status tallies. Each generator thread owns one `Recorder` outright (no locks, no
//! channels on the request path); the run merges them once at the end.
//!
//! Latency is recorded in microseconds in HDR histograms with 3 significant digits, so
//! every percentile is within 0.1% of the exact value and memory does not depend on the
//! number of requests. Each second's histogram is handed to the shared
//! [`TimelineCollector`] when the second is over and then reused, so memory does not
//! depend on the run's length either.

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::outcome::{ErrorCounts, ErrorKind};
use super::timeline::TimelineCollector;

/// Highest latency tracked: one hour in µs. Anything above is clamped to it.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;
/// HDR precision: 3 significant digits.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// Creates an empty latency histogram with the project's bounds and precision.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, SIGNIFICANT_DIGITS)
        .expect("static histogram bounds are valid")
}

/// Everything one thread measured. Merged across threads into the run's result.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Latency from the intended send time (open loop) or the actual send (closed loop).
    pub latency: Histogram<u64>,
    /// Open loop only: latency from the actual send time (service time).
    pub uncorrected: Option<Histogram<u64>>,
    pub errors: ErrorCounts,
    /// Complete responses of any status.
    pub requests: u64,
    pub bytes_read: u64,
    /// Responses by status code (index = code; codes above 599 land in 0).
    pub statuses: Vec<u64>,
    timeline: Option<Arc<TimelineCollector>>,
    interval: Histogram<u64>,
    interval_second: u64,
    interval_requests: u64,
    interval_errors: u64,
}

impl Recorder {
    /// An empty recorder; `open_loop` decides whether an uncorrected histogram is kept,
    /// `timeline` receives each finished second (none: no timeline is kept).
    pub fn new(open_loop: bool, timeline: Option<Arc<TimelineCollector>>) -> Recorder {
        Recorder {
            latency: new_histogram(),
            uncorrected: open_loop.then(new_histogram),
            errors: ErrorCounts::default(),
            requests: 0,
            bytes_read: 0,
            statuses: vec![0; 600],
            timeline,
            interval: new_histogram(),
            interval_second: 0,
            interval_requests: 0,
            interval_errors: 0,
        }
    }

    /// Records a complete response. `corrected` is measured from the intended send time,
    /// `service` from the actual one (equal in closed loop); `at` is the time since the
    /// start of measurement, which picks the timeline second.
    #[inline]
    pub fn record_response(
        &mut self,
        status: u16,
        corrected: Duration,
        service: Duration,
        at: Duration,
    ) {
        self.roll_interval(at);
        let corrected_us = to_micros(corrected);
        self.latency.saturating_record(corrected_us);
        self.interval.saturating_record(corrected_us);
        if let Some(uncorrected) = self.uncorrected.as_mut() {
            uncorrected.saturating_record(to_micros(service));
        }
        self.requests += 1;
        self.interval_requests += 1;
        let slot = if (status as usize) < self.statuses.len() {
            status as usize
        } else {
            0
        };
        self.statuses[slot] += 1;
    }

    /// Records a failed request.
    #[inline]
    pub fn record_error(&mut self, kind: ErrorKind, at: Duration) {
        self.roll_interval(at);
        self.errors.add(kind);
        self.interval_errors += 1;
    }

    /// Closes the current timeline second; call once when measurement ends.
    pub fn finish(&mut self) {
        self.flush_interval();
    }

    /// Moves the timeline to the second containing `at`, submitting the seconds before
    /// it (quiet ones too, so the collector knows every thread is past them). Called on
    /// every record and by the event loop at least every few milliseconds.
    #[inline]
    pub fn roll_interval(&mut self, at: Duration) {
        let second = at.as_secs();
        while second > self.interval_second {
            self.flush_interval();
            self.interval_second += 1;
        }
    }

    fn flush_interval(&mut self) {
        if let Some(timeline) = &self.timeline {
            timeline.submit(
                self.interval_second,
                &self.interval,
                self.interval_requests,
                self.interval_errors,
            );
        }
        if !self.interval.is_empty() {
            self.interval.reset();
        }
        self.interval_requests = 0;
        self.interval_errors = 0;
    }

    /// Merges another thread's recorder into this one (both must be finished).
    pub fn merge(&mut self, other: &Recorder) {
        self.latency
            .add(&other.latency)
            .expect("histograms share bounds");
        if let (Some(mine), Some(theirs)) = (self.uncorrected.as_mut(), other.uncorrected.as_ref())
        {
            mine.add(theirs).expect("histograms share bounds");
        }
        self.errors.merge(&other.errors);
        self.requests += other.requests;
        self.bytes_read += other.bytes_read;
        for (mine, theirs) in self.statuses.iter_mut().zip(&other.statuses) {
            *mine += theirs;
        }
    }
}

#[inline]
fn to_micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_percentiles_equal_a_single_recorder() {
        let mut whole = Recorder::new(false, None);
        let mut a = Recorder::new(false, None);
        let mut b = Recorder::new(false, None);
        for i in 1..=10_000u64 {
            let latency = Duration::from_micros(i * 37 % 50_000 + 1);
            let at = Duration::from_millis(i / 3);
            whole.record_response(200, latency, latency, at);
            let half = if i % 2 == 0 { &mut a } else { &mut b };
            half.record_response(200, latency, latency, at);
        }
        a.merge(&b);
        assert_eq!(a.requests, whole.requests);
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                a.latency.value_at_quantile(q),
                whole.latency.value_at_quantile(q)
            );
        }
    }

    #[test]
    fn timeline_gets_every_second_including_quiet_ones() {
        let timeline = Arc::new(TimelineCollector::new(1));
        let mut r = Recorder::new(true, Some(Arc::clone(&timeline)));
        let ms = Duration::from_millis;
        r.record_response(200, ms(5), ms(1), ms(100));
        r.record_response(500, ms(7), ms(2), ms(900));
        r.record_error(ErrorKind::Status5xx, ms(900));
        r.record_error(ErrorKind::Timeout, ms(2500));
        r.finish();
        let seconds: Vec<(u64, u64, u64)> = timeline
            .finish(3)
            .iter()
            .map(|p| (p.t, p.requests, p.errors))
            .collect();
        assert_eq!(seconds, vec![(0, 2, 1), (1, 0, 0), (2, 0, 1)]);
        assert_eq!(r.statuses[200], 1);
        assert_eq!(r.statuses[500], 1);
        assert_eq!(r.errors.total(), 2);
        assert!(r.uncorrected.as_ref().unwrap().max() < r.latency.max());
    }

    #[test]
    fn precision_is_three_significant_digits() {
        let mut r = Recorder::new(false, None);
        r.record_response(
            200,
            Duration::from_micros(123_456),
            Duration::ZERO,
            Duration::ZERO,
        );
        let p = r.latency.value_at_quantile(1.0);
        assert!(p.abs_diff(123_456) <= 123, "{p}");
    }
}
