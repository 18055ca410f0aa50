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
    pub fn publish(&self, thread: usize, requests: u64, errors: u64) {
        let slot = &self.slots[thread];
        slot.requests.store(requests, Ordering::Relaxed);
        slot.errors.store(errors, Ordering::Relaxed);
    }

    /// Sums every thread's last published totals.
    pub fn snapshot(&self) -> LiveSnapshot {
        self.slots
            .iter()
            .fold(LiveSnapshot::default(), |acc, s| LiveSnapshot {
                requests: acc.requests + s.requests.load(Ordering::Relaxed),
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
        live.publish(0, 10, 1);
        live.publish(2, 5, 0);
        live.publish(0, 12, 1);
        assert_eq!(
            live.snapshot(),
            LiveSnapshot {
                requests: 17,
                errors: 1
            }
        );
    }
}
