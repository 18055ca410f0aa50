//! Per-thread measurement state: latency histograms, the per-second timeline, error and
//! status tallies. Each generator thread owns one `Recorder` outright (no locks, no
//! channels on the request path); the run merges them once at the end.
//!
//! Latency is recorded in microseconds in HDR histograms with 3 significant digits, so
//! every percentile is within 0.1% of the exact value and memory does not depend on the
//! number of requests. The timeline keeps one histogram per second, serialized in the
//! compact HdrHistogram V2 encoding as soon as its second is over, so a long run grows by
//! a few hundred bytes per second rather than by one entry per request.

use std::time::Duration;

use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;

use super::outcome::{ErrorCounts, ErrorKind};

/// Highest latency tracked: one hour in µs. Anything above is clamped to it.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;
/// HDR precision: 3 significant digits.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// Creates an empty latency histogram with the project's bounds and precision.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, SIGNIFICANT_DIGITS)
        .expect("static histogram bounds are valid")
}

/// One second of the timeline: second index from the start of measurement, counts, and
/// its latency histogram in V2 encoding.
#[derive(Debug, Clone)]
pub struct IntervalRecord {
    pub second: u64,
    pub requests: u64,
    pub errors: u64,
    pub histogram_v2: Vec<u8>,
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
    pub timeline: Vec<IntervalRecord>,
    interval: Histogram<u64>,
    interval_second: u64,
    interval_requests: u64,
    interval_errors: u64,
}

impl Recorder {
    /// An empty recorder; `open_loop` decides whether an uncorrected histogram is kept.
    pub fn new(open_loop: bool) -> Recorder {
        Recorder {
            latency: new_histogram(),
            uncorrected: open_loop.then(new_histogram),
            errors: ErrorCounts::default(),
            requests: 0,
            bytes_read: 0,
            statuses: vec![0; 600],
            timeline: Vec::new(),
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

    #[inline]
    fn roll_interval(&mut self, at: Duration) {
        let second = at.as_secs();
        if second != self.interval_second {
            self.flush_interval();
            self.interval_second = second;
        }
    }

    fn flush_interval(&mut self) {
        if self.interval_requests == 0 && self.interval_errors == 0 {
            return;
        }
        let mut encoded = Vec::new();
        V2Serializer::new()
            .serialize(&self.interval, &mut encoded)
            .expect("serializing a histogram into memory cannot fail");
        self.timeline.push(IntervalRecord {
            second: self.interval_second,
            requests: self.interval_requests,
            errors: self.interval_errors,
            histogram_v2: encoded,
        });
        self.interval.reset();
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
        self.timeline = merge_timelines(&self.timeline, &other.timeline);
    }
}

/// Merges two timelines second by second, adding counts and histograms exactly.
pub fn merge_timelines(a: &[IntervalRecord], b: &[IntervalRecord]) -> Vec<IntervalRecord> {
    let mut merged: std::collections::BTreeMap<u64, (u64, u64, Histogram<u64>)> =
        Default::default();
    for record in a.iter().chain(b) {
        let entry = merged
            .entry(record.second)
            .or_insert_with(|| (0, 0, new_histogram()));
        entry.0 += record.requests;
        entry.1 += record.errors;
        entry
            .2
            .add(decode_histogram(&record.histogram_v2))
            .expect("histograms share bounds");
    }
    merged
        .into_iter()
        .map(|(second, (requests, errors, histogram))| {
            let mut encoded = Vec::new();
            V2Serializer::new()
                .serialize(&histogram, &mut encoded)
                .expect("in-memory serialization");
            IntervalRecord {
                second,
                requests,
                errors,
                histogram_v2: encoded,
            }
        })
        .collect()
}

/// Decodes a V2-encoded histogram written by this module.
pub fn decode_histogram(bytes: &[u8]) -> Histogram<u64> {
    Deserializer::new()
        .deserialize(&mut &bytes[..])
        .expect("histograms written by this module decode")
}

#[inline]
fn to_micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn merged_percentiles_equal_a_single_recorder() {
        let mut whole = Recorder::new(false);
        let mut a = Recorder::new(false);
        let mut b = Recorder::new(false);
        for i in 1..=10_000u64 {
            let latency = Duration::from_micros(i * 37 % 50_000 + 1);
            let at = Duration::from_millis(i / 3);
            whole.record_response(200, latency, latency, at);
            let half = if i % 2 == 0 { &mut a } else { &mut b };
            half.record_response(200, latency, latency, at);
        }
        for r in [&mut whole, &mut a, &mut b] {
            r.finish();
        }
        a.merge(&b);
        assert_eq!(a.requests, whole.requests);
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                a.latency.value_at_quantile(q),
                whole.latency.value_at_quantile(q)
            );
        }
        assert_eq!(a.timeline.len(), whole.timeline.len());
        for (x, y) in a.timeline.iter().zip(&whole.timeline) {
            assert_eq!((x.second, x.requests), (y.second, y.requests));
            let (hx, hy) = (
                decode_histogram(&x.histogram_v2),
                decode_histogram(&y.histogram_v2),
            );
            assert_eq!(hx.value_at_quantile(0.99), hy.value_at_quantile(0.99));
        }
    }

    #[test]
    fn timeline_buckets_by_second_with_errors() {
        let mut r = Recorder::new(true);
        r.record_response(200, ms(5), ms(1), ms(100));
        r.record_response(500, ms(7), ms(2), ms(900));
        r.record_error(ErrorKind::Status5xx, ms(900));
        r.record_error(ErrorKind::Timeout, ms(2500));
        r.finish();
        let seconds: Vec<(u64, u64, u64)> = r
            .timeline
            .iter()
            .map(|i| (i.second, i.requests, i.errors))
            .collect();
        assert_eq!(seconds, vec![(0, 2, 1), (2, 0, 1)]);
        assert_eq!(r.statuses[200], 1);
        assert_eq!(r.statuses[500], 1);
        assert_eq!(r.errors.total(), 2);
        let uncorrected = r.uncorrected.as_ref().unwrap();
        assert!(uncorrected.max() < r.latency.max());
    }

    #[test]
    fn precision_is_three_significant_digits() {
        let mut r = Recorder::new(false);
        r.record_response(
            200,
            Duration::from_micros(123_456),
            Duration::ZERO,
            Duration::ZERO,
        );
        let p = r.latency.value_at_quantile(1.0);
        assert!(p.abs_diff(123_456) <= 123, "{p}");
    }

    #[test]
    fn memory_stays_flat_without_timeline_growth_per_request() {
        let mut r = Recorder::new(false);
        for i in 0..200_000u64 {
            r.record_response(
                200,
                Duration::from_micros(i % 10_000 + 1),
                Duration::ZERO,
                Duration::from_micros(i),
            );
        }
        r.finish();
        // 200k requests in 0.2 s: one timeline entry, histogram size independent of count.
        assert_eq!(r.timeline.len(), 1);
        assert!(r.timeline[0].histogram_v2.len() < 64 * 1024);
    }
}
