//! Open-loop arithmetic: when each request is *intended* to be sent.
//!
//! A rate of R requests/s over C connections gives every connection its own fixed
//! schedule with period C/R, the connections staggered by 1/R so that the aggregate is
//! evenly spaced. Request k of connection i is intended at `(i + k*C) / R` seconds after the
//! start, computed from the start each time (never accumulated) so the schedule cannot
//! drift. Latency is measured from that intended instant: a server that stalls cannot
//! hide its queueing delay by slowing the generator down (coordinated omission).

use std::time::Duration;

/// The whole run's open-loop schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    rate: f64,
    connections: u64,
}

impl Schedule {
    /// A schedule of `rate` requests/s spread over `connections` connections.
    /// Both must be positive (checked when settings are validated).
    pub fn new(rate: f64, connections: usize) -> Schedule {
        debug_assert!(rate > 0.0 && connections > 0);
        Schedule {
            rate,
            connections: connections as u64,
        }
    }

    /// Offset from the run start at which request `k` of connection `conn` is intended.
    #[inline]
    pub fn intended_offset(&self, conn: usize, k: u64) -> Duration {
        let slot = conn as f64 + k as f64 * self.connections as f64;
        // A slot beyond what a Duration holds is never due; saturate instead of panicking.
        Duration::try_from_secs_f64(slot / self.rate).unwrap_or(Duration::MAX)
    }

    /// Number of requests of connection `conn` intended strictly before `offset`.
    pub fn due_before(&self, conn: usize, offset: Duration) -> u64 {
        let slots = offset.as_secs_f64() * self.rate;
        let first = conn as f64;
        if slots <= first {
            return 0;
        }
        // Slots conn, conn+C, ... that are < slots.
        ((slots - first) / self.connections as f64).ceil() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_staggered_and_periodic() {
        let s = Schedule::new(1000.0, 4);
        assert_eq!(s.intended_offset(0, 0), Duration::ZERO);
        assert_eq!(s.intended_offset(1, 0), Duration::from_millis(1));
        assert_eq!(s.intended_offset(3, 0), Duration::from_millis(3));
        assert_eq!(s.intended_offset(0, 1), Duration::from_millis(4));
        assert_eq!(s.intended_offset(2, 10), Duration::from_millis(42));
    }

    #[test]
    fn aggregate_schedule_is_evenly_spaced() {
        let s = Schedule::new(250.0, 3);
        let mut all: Vec<Duration> = (0..3)
            .flat_map(|c| (0..100).map(move |k| s.intended_offset(c, k)))
            .collect();
        all.sort();
        for pair in all.windows(2) {
            let gap = pair[1] - pair[0];
            assert!((gap.as_secs_f64() - 0.004).abs() < 1e-9, "gap {gap:?}");
        }
    }

    #[test]
    fn no_drift_over_long_runs() {
        let s = Schedule::new(3.0, 1);
        // One billion periods later the offset is exact to the nanosecond.
        let k = 1_000_000_000u64;
        let expected = Duration::from_secs(k / 3) + Duration::from_nanos(333_333_333);
        let got = s.intended_offset(0, k);
        assert!(got.abs_diff(expected) < Duration::from_micros(1), "{got:?}");
    }

    #[test]
    fn due_before_counts_slots() {
        let s = Schedule::new(1000.0, 4);
        assert_eq!(s.due_before(0, Duration::ZERO), 0);
        assert_eq!(s.due_before(0, Duration::from_micros(1)), 1);
        assert_eq!(s.due_before(1, Duration::from_millis(1)), 0);
        assert_eq!(s.due_before(1, Duration::from_micros(1001)), 1);
        // 10 s at 1000/s over 4 connections: 2500 each, 10000 in all.
        let total: u64 = (0..4)
            .map(|c| s.due_before(c, Duration::from_secs(10)))
            .sum();
        assert_eq!(total, 10_000);
    }
}
