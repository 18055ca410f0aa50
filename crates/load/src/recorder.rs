//! Per-thread measurement state: latency histograms, the per-second timeline, error and
//! status tallies. Each generator thread owns one `Recorder` outright (no locks, no
//! channels on the request path); the run merges them once at the end.
//!
//! Latency is recorded in nanoseconds in HDR histograms with 3 significant digits, so
//! every percentile is within 0.1% of the exact value (a 20 µs loopback answer is told
//! apart from a 20.02 µs one; whole microseconds would have been a 5% step there) and
//! memory does not depend on the number of requests.
//!
//! What enters the latency histograms: every complete response, and every request whose
//! answer never came, at the time it had waited when it was given up (a lower bound of
//! its real latency, see [`Censored`]). Leaving those out would bias the tail low exactly
//! when a server stalls. Requests that failed outright (reset, unparsable answer) are
//! errors, not latency samples. Each second's histogram is handed to the shared
//! [`TimelineCollector`] when the second is over and then reused, so memory does not
//! depend on the run's length either.

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::histogram::new_histogram;
use super::outcome::{ErrorCounts, ErrorKind};
use super::timeline::{SecondCounts, TimelineCollector};

/// Requests that got no answer but enter the latency histograms at the time they had
/// waited (a lower bound), counted by why they were cut short. Field names are JSON keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Censored {
    /// Abandoned at the request timeout.
    pub timeout: u64,
    /// Still waiting for the answer when the measured window closed.
    pub in_flight_at_end: u64,
    /// Open loop: due in the window but never sent (their connection was busy).
    pub unsent: u64,
}

impl Censored {
    /// All censored requests.
    pub fn total(&self) -> u64 {
        self.timeout + self.in_flight_at_end + self.unsent
    }

    pub fn merge(&mut self, other: &Censored) {
        // Saturating: merged parts come from files, whose counts are not trusted.
        self.timeout = self.timeout.saturating_add(other.timeout);
        self.in_flight_at_end = self.in_flight_at_end.saturating_add(other.in_flight_at_end);
        self.unsent = self.unsent.saturating_add(other.unsent);
    }
}

/// Why a request entered the histograms without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CensorKind {
    Timeout,
    InFlightAtEnd,
    Unsent,
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
    /// Complete responses with the expected status.
    pub successes: u64,
    /// Requests in the histograms without an answer.
    pub censored: Censored,
    /// Answers that came after the deadline while waiting for them (`--wait-in-flight`):
    /// in the histograms at their real latency, not in `requests` (the rate is the
    /// window's).
    pub drained: u64,
    /// Open loop only: how late each send left after it could have (see `worker`).
    pub send_lag: Option<Histogram<u64>>,
    pub bytes_read: u64,
    /// TLS only: how long each handshake of the window took, from the TCP connect's
    /// completion to the first byte of a request being allowed out.
    pub handshake: Option<Histogram<u64>>,
    /// Responses by status code (index = code; codes above 599 land in 0).
    pub statuses: Vec<u64>,
    timeline: Option<Arc<TimelineCollector>>,
    interval: Histogram<u64>,
    interval_second: u64,
    interval_requests: u64,
    interval_successes: u64,
    interval_errors: u64,
    interval_degraded: u64,
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
            successes: 0,
            censored: Censored::default(),
            drained: 0,
            send_lag: open_loop.then(new_histogram),
            bytes_read: 0,
            handshake: None,
            statuses: vec![0; 600],
            timeline,
            interval: new_histogram(),
            interval_second: 0,
            interval_requests: 0,
            interval_successes: 0,
            interval_errors: 0,
            interval_degraded: 0,
        }
    }

    /// Records a complete response. `corrected` is measured from the intended send time,
    /// `service` from the actual one (equal in closed loop); `at` is the time since the
    /// start of measurement, which picks the timeline second. `success`: the status was
    /// the expected one.
    #[inline]
    pub fn record_response(
        &mut self,
        status: u16,
        success: bool,
        corrected: Duration,
        service: Duration,
        at: Duration,
    ) {
        self.record_latency(corrected, Some(service), at);
        self.requests += 1;
        self.interval_requests += 1;
        if success {
            self.successes += 1;
            self.interval_successes += 1;
        }
        let slot = if (status as usize) < self.statuses.len() {
            status as usize
        } else {
            0
        };
        self.statuses[slot] += 1;
    }

    /// Records a request cut short without an answer: it enters the histograms at the
    /// time it had waited. `service` is none for a request that was never sent (it
    /// enters only the corrected histogram: it had no service time).
    pub fn record_censored(
        &mut self,
        kind: CensorKind,
        corrected: Duration,
        service: Option<Duration>,
        at: Duration,
    ) {
        self.record_latency(corrected, service, at);
        match kind {
            CensorKind::Timeout => self.censored.timeout += 1,
            CensorKind::InFlightAtEnd => self.censored.in_flight_at_end += 1,
            CensorKind::Unsent => self.censored.unsent += 1,
        }
    }

    /// Open loop: records `count` slots that were due but never sent, all as having
    /// waited `corrected` (they share its histogram bucket, see [`Recorder::bucket_floor`]).
    pub fn record_unsent(&mut self, corrected: Duration, count: u64, at: Duration) {
        self.roll_interval(at);
        let ns = to_nanos(corrected);
        self.latency.saturating_record_n(ns, count);
        self.interval.saturating_record_n(ns, count);
        self.censored.unsent = self.censored.unsent.saturating_add(count);
    }

    /// The smallest latency that the histograms cannot tell apart from `corrected`:
    /// every value from it up to `corrected` lands in the same bucket.
    pub fn bucket_floor(&self, corrected: Duration) -> Duration {
        let ns = to_nanos(corrected).min(self.latency.high());
        Duration::from_nanos(self.latency.lowest_equivalent(ns))
    }

    /// Records an answer that came after the deadline (`--wait-in-flight`).
    pub fn record_drained(&mut self, corrected: Duration, service: Duration, at: Duration) {
        self.record_latency(corrected, Some(service), at);
        self.drained += 1;
    }

    /// Records how late an open-loop send left after it could have.
    #[inline]
    pub fn record_send_lag(&mut self, lag: Duration) {
        if let Some(h) = self.send_lag.as_mut() {
            h.saturating_record(to_nanos(lag));
        }
    }

    #[inline]
    fn record_latency(&mut self, corrected: Duration, service: Option<Duration>, at: Duration) {
        self.roll_interval(at);
        let corrected_ns = to_nanos(corrected);
        self.latency.saturating_record(corrected_ns);
        self.interval.saturating_record(corrected_ns);
        if let (Some(uncorrected), Some(service)) = (self.uncorrected.as_mut(), service) {
            uncorrected.saturating_record(to_nanos(service));
        }
    }

    /// Records one TLS handshake's duration (a recorder made with [`Recorder::with_handshakes`]).
    #[inline]
    pub fn record_handshake(&mut self, took: Duration) {
        if let Some(h) = self.handshake.as_mut() {
            h.saturating_record(to_nanos(took));
        }
    }

    /// The recorder keeps a histogram of handshake durations (TLS runs).
    pub fn with_handshakes(mut self) -> Recorder {
        self.handshake = Some(new_histogram());
        self
    }

    /// Records a failed request.
    #[inline]
    pub fn record_error(&mut self, kind: ErrorKind, at: Duration) {
        self.roll_interval(at);
        self.errors.add(kind);
        self.interval_errors += 1;
        if kind == ErrorKind::Degraded {
            self.interval_degraded += 1;
        }
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
                SecondCounts {
                    requests: self.interval_requests,
                    successes: self.interval_successes,
                    errors: self.interval_errors,
                    degraded: self.interval_degraded,
                },
            );
        }
        if !self.interval.is_empty() {
            self.interval.reset();
        }
        self.interval_requests = 0;
        self.interval_successes = 0;
        self.interval_errors = 0;
        self.interval_degraded = 0;
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
        if let (Some(mine), Some(theirs)) = (self.send_lag.as_mut(), other.send_lag.as_ref()) {
            mine.add(theirs).expect("histograms share bounds");
        }
        match (self.handshake.as_mut(), other.handshake.as_ref()) {
            (Some(mine), Some(theirs)) => mine.add(theirs).expect("histograms share bounds"),
            (None, Some(theirs)) => self.handshake = Some(theirs.clone()),
            _ => {}
        }
        self.errors.merge(&other.errors);
        self.censored.merge(&other.censored);
        self.drained += other.drained;
        self.requests += other.requests;
        self.successes += other.successes;
        self.bytes_read += other.bytes_read;
        for (mine, theirs) in self.statuses.iter_mut().zip(&other.statuses) {
            *mine += theirs;
        }
    }
}

#[inline]
fn to_nanos(d: Duration) -> u64 {
    (d.as_nanos().min(u64::MAX as u128) as u64).max(1)
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
            whole.record_response(200, true, latency, latency, at);
            let half = if i % 2 == 0 { &mut a } else { &mut b };
            half.record_response(200, true, latency, latency, at);
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
        r.record_response(200, true, ms(5), ms(1), ms(100));
        r.record_response(500, false, ms(7), ms(2), ms(900));
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
            true,
            Duration::from_micros(123_456),
            Duration::ZERO,
            Duration::ZERO,
        );
        let p = r.latency.value_at_quantile(1.0);
        assert!(p.abs_diff(123_456_000) <= 123_456, "{p}");
    }

    #[test]
    fn sub_microsecond_resolution_near_loopback_service_times() {
        // 20.4 µs and 20.6 µs: whole microseconds would have made both 20.
        let mut r = Recorder::new(false, None);
        for ns in [20_400u64, 20_600] {
            r.record_response(
                200,
                true,
                Duration::from_nanos(ns),
                Duration::ZERO,
                Duration::ZERO,
            );
        }
        assert!(r.latency.value_at_quantile(0.0).abs_diff(20_400) <= 20);
        assert!(r.latency.value_at_quantile(1.0).abs_diff(20_600) <= 20);
        assert!(r.latency.value_at_quantile(0.0) < r.latency.value_at_quantile(1.0));
    }

    #[test]
    fn censored_requests_enter_the_histograms_at_their_elapsed_time() {
        let mut r = Recorder::new(true, None);
        let ms = Duration::from_millis;
        for _ in 0..98 {
            r.record_response(200, true, ms(1), ms(1), ms(10));
        }
        // A request abandoned at a 500 ms timeout, and one due 300 ms before the end that
        // never left: both bound the tail from below.
        r.record_censored(CensorKind::Timeout, ms(500), Some(ms(500)), ms(600));
        r.record_censored(CensorKind::Unsent, ms(300), None, ms(900));
        assert_eq!(r.latency.len(), 100);
        assert_eq!(
            r.uncorrected.as_ref().unwrap().len(),
            99,
            "unsent has no service time"
        );
        assert!(r.latency.value_at_quantile(0.99) >= 300_000_000);
        assert!(r.latency.max() >= 499_000_000);
        assert_eq!(
            r.censored,
            Censored {
                timeout: 1,
                in_flight_at_end: 0,
                unsent: 1
            }
        );
        assert_eq!(
            (r.requests, r.successes),
            (98, 98),
            "censored are not responses"
        );
    }

    #[test]
    fn successes_count_only_expected_statuses() {
        let mut r = Recorder::new(false, None);
        let ms = Duration::from_millis;
        r.record_response(200, true, ms(1), ms(1), ms(1));
        r.record_response(503, false, ms(1), ms(1), ms(1));
        r.record_response(503, false, ms(1), ms(1), ms(1));
        assert_eq!((r.requests, r.successes), (3, 1));
    }
}
