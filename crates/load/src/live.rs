//! Live counters that the generator threads publish and a progress display may sample,
//! without the threads ever waiting on the reader.
//!
//! Each thread owns one cache-line-padded slot and only ever stores into it (a plain
//! relaxed store, no read-modify-write), so publishing costs next to nothing on the
//! request path and threads never contend.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot {
    requests: AtomicU64,
    successes: AtomicU64,
    errors: AtomicU64,
}

/// Counters of all generator threads of one run.
#[derive(Debug)]
pub struct LiveCounters {
    slots: Vec<Slot>,
}

/// A sum over all threads at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveSnapshot {
    /// Complete responses counted so far in the measured window.
    pub requests: u64,
    /// Responses with the expected status so far in the measured window.
    pub successes: u64,
    /// Errors counted so far in the measured window.
    pub errors: u64,
}

impl LiveCounters {
    /// Counters for `threads` threads, all zero.
    pub fn new(threads: usize) -> LiveCounters {
        LiveCounters {
            slots: (0..threads).map(|_| Slot::default()).collect(),
        }
    }

    /// Publishes thread `thread`'s running totals.
    #[inline]
    pub fn publish(&self, thread: usize, totals: LiveSnapshot) {
        let slot = &self.slots[thread];
        slot.requests.store(totals.requests, Ordering::Relaxed);
        slot.successes.store(totals.successes, Ordering::Relaxed);
        slot.errors.store(totals.errors, Ordering::Relaxed);
    }

    /// Sums every thread's last published totals.
    pub fn snapshot(&self) -> LiveSnapshot {
        self.slots
            .iter()
            .fold(LiveSnapshot::default(), |acc, s| LiveSnapshot {
                requests: acc.requests + s.requests.load(Ordering::Relaxed),
                successes: acc.successes + s.successes.load(Ordering::Relaxed),
                errors: acc.errors + s.errors.load(Ordering::Relaxed),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_sums_threads() {
        let live = LiveCounters::new(3);
        let totals = |requests, successes, errors| LiveSnapshot {
            requests,
            successes,
            errors,
        };
        live.publish(0, totals(10, 9, 1));
        live.publish(2, totals(5, 5, 0));
        live.publish(0, totals(12, 11, 1));
        assert_eq!(live.snapshot(), totals(17, 16, 1));
    }
}
