//! Execution segments: how worker `I` of `N` (on one machine or many) takes its share of
//! one run so that the `N` workers together generate exactly the run one big generator
//! would: the connections (and with them the open-loop schedule slots and the `{seq}`
//! numbers, which are both derived from global connection indices) and the `-n` request
//! budget are split with no gap and no overlap.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::share;

/// Worker `index` (0-based, like Kubernetes' `JOB_COMPLETION_INDEX`) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub index: usize,
    pub count: usize,
}

/// Why a `--segment` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SegmentError(String);

impl FromStr for Segment {
    type Err = SegmentError;

    fn from_str(text: &str) -> Result<Segment, SegmentError> {
        let bad = |why: &str| SegmentError(format!("'{text}': {why} (expected I/N, e.g. 0/4)"));
        let (index, count) = text.split_once('/').ok_or_else(|| bad("no '/'"))?;
        let index: usize = index.trim().parse().map_err(|_| bad("I is not a number"))?;
        let count: usize = count.trim().parse().map_err(|_| bad("N is not a number"))?;
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index >= count {
            return Err(bad("I must be below N (I counts from 0)"));
        }
        Ok(Segment { index, count })
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Segment {
    /// The whole run as a single segment.
    pub const WHOLE: Segment = Segment { index: 0, count: 1 };

    /// Global indices of the connections this segment drives, out of `total`.
    pub fn connections(&self, total: usize) -> Range<usize> {
        share(total, self.count, self.index)
    }

    /// This segment's share of a run-wide request budget.
    pub fn requests(&self, total: u64) -> u64 {
        let r = super::share_u64(total, self.count, self.index);
        r.end - r.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Schedule;
    use std::time::Duration;

    #[test]
    fn parses_and_refuses() {
        assert_eq!("2/4".parse(), Ok(Segment { index: 2, count: 4 }));
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2", ""] {
            assert!(bad.parse::<Segment>().is_err(), "{bad}");
        }
    }

    #[test]
    fn segments_partition_connections_and_requests() {
        for total in [1usize, 7, 64, 100] {
            for count in 1..=8 {
                let mut seen = vec![0u32; total];
                let mut requests = 0;
                for index in 0..count {
                    let s = Segment { index, count };
                    for c in s.connections(total) {
                        seen[c] += 1;
                    }
                    requests += s.requests(4001);
                }
                assert!(seen.iter().all(|&n| n == 1), "{total} over {count}");
                assert_eq!(requests, 4001);
            }
        }
    }

    #[test]
    fn segments_partition_the_open_loop_schedule() {
        // The whole run's intended send times, and those of 3 segments built the way a
        // worker builds them (the schedule of ALL connections, its own global indices).
        let (rate, total) = (1000.0, 10);
        let window = Duration::from_secs(2);
        let schedule = Schedule::new(rate, total);
        let slots = |conns: Range<usize>| -> Vec<Duration> {
            conns
                .flat_map(|c| {
                    let n = schedule.due_before(c, window);
                    (0..n).map(move |k| schedule.intended_offset(c, k))
                })
                .collect()
        };
        let mut whole = slots(0..total);
        let mut parts: Vec<Duration> = (0..3)
            .flat_map(|index| slots(Segment { index, count: 3 }.connections(total)))
            .collect();
        whole.sort();
        parts.sort();
        assert_eq!(whole.len(), 2000);
        assert_eq!(parts, whole, "no gap, no overlap");
    }
}
