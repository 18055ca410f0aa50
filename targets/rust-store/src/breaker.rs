//! The circuit breaker of service-to-service mode (`targets/CONTRACT.md`, "Circuit breaker"):
//! one per process, shared by every worker, around each call to the order service.
//!
//! No maintained Rust crate is named by the contract, so this is a small state machine of its
//! own, lock-free on every call:
//! - closed: a call costs one atomic load to be let through, and a success two more (the
//!   state, and the failure count, written only when it is not already 0);
//! - open: a call is refused after two atomic loads (the state and when the probe may go);
//! - half-open: the first call to win a compare-and-swap is the one probe, the others see the
//!   probe in flight and are refused.
//!
//! A mutex is taken only by the failure that reaches `BREAKER_FAILURES`, so that setting the
//! reopening time and opening the breaker happen together.
//!
//! Each state change starts a new generation. The outcome of a call let through in an
//! earlier generation (still in flight when the breaker opened) changes nothing: the open
//! period runs its full length from the failure that opened it, as the contract says.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::DownstreamError;

/// `BREAKER_FAILURES` and `BREAKER_OPEN_MS`, already checked; `BREAKER_FAILURES=0` is
/// represented by having no settings (and so no breaker) at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open the breaker; at least 1.
    pub failures: u64,
    /// How long it stays open, from the failure that opened it.
    pub open_for: Duration,
}

/// Nanoseconds on a monotonic clock; tests drive their own.
pub trait Clock: Send + Sync {
    fn now_nanos(&self) -> u64;
}

/// `Instant`, counted from when the breaker was made (so it fits a `u64` for 584 years).
pub struct MonotonicClock(Instant);

impl Clock for MonotonicClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

// The state word: generation << 2 | phase.
const CLOSED: u64 = 0;
const OPEN: u64 = 1;
const PROBING: u64 = 2;
const PHASE: u64 = 3;

const fn state(generation: u64, phase: u64) -> u64 {
    generation << 2 | phase
}

/// The process's breaker. `Send + Sync`: share it behind an `Arc` or a static.
pub struct Breaker<C: Clock = MonotonicClock> {
    settings: BreakerSettings,
    clock: C,
    state: AtomicU64,
    /// Consecutive failures while closed.
    failures: AtomicU64,
    /// When an open breaker lets its probe through (clock nanoseconds); meaningful while open.
    probe_at: AtomicU64,
    /// Held only while a closed breaker opens.
    opening: Mutex<()>,
}

impl Breaker<MonotonicClock> {
    pub fn new(settings: BreakerSettings) -> Self {
        Self::with_clock(settings, MonotonicClock(Instant::now()))
    }
}

/// Leave to make one call to the order service; its outcome is given back with
/// [`Permit::settle`]. A probe dropped unsettled (its request was abandoned, e.g. the client
/// went away) gave no verdict on the order service, so the next call is the probe instead.
#[must_use = "a permit's outcome must be settled"]
pub struct Permit<'a, C: Clock> {
    breaker: &'a Breaker<C>,
    generation: u64,
    probe: bool,
    settled: bool,
}

impl<C: Clock> Breaker<C> {
    pub fn with_clock(settings: BreakerSettings, clock: C) -> Self {
        Self {
            settings: BreakerSettings {
                failures: settings.failures.max(1),
                ..settings
            },
            clock,
            state: AtomicU64::new(state(0, CLOSED)),
            failures: AtomicU64::new(0),
            probe_at: AtomicU64::new(0),
            opening: Mutex::new(()),
        }
    }

    /// Runs `call` if the breaker lets it through and records its outcome; a refused call is
    /// the error "circuit open" at once, without `call` being polled.
    pub async fn call<T>(
        &self,
        call: impl Future<Output = Result<T, DownstreamError>>,
    ) -> Result<T, DownstreamError> {
        let Some(permit) = self.admit() else {
            return Err(DownstreamError::circuit_open());
        };
        let result = call.await;
        permit.settle(result.is_ok());
        result
    }

    /// Leave for one call, or `None` while open or while the half-open probe is in flight.
    #[inline]
    pub fn admit(&self) -> Option<Permit<'_, C>> {
        let current = self.state.load(Ordering::Acquire);
        let generation = current >> 2;
        let probe = match current & PHASE {
            CLOSED => false,
            OPEN => {
                if self.clock.now_nanos() < self.probe_at.load(Ordering::Acquire) {
                    return None;
                }
                // Of all the calls that see the open period over, one wins: the probe.
                let probing = state(generation, PROBING);
                self.state
                    .compare_exchange(current, probing, Ordering::AcqRel, Ordering::Acquire)
                    .ok()?;
                true
            }
            _ => return None,
        };
        Some(Permit {
            breaker: self,
            generation,
            probe,
            settled: false,
        })
    }

    fn succeeded(&self, generation: u64, probe: bool) {
        if probe {
            self.failures.store(0, Ordering::Relaxed);
            self.state
                .store(state(generation + 1, CLOSED), Ordering::Release);
        } else if self.state.load(Ordering::Acquire) == state(generation, CLOSED)
            && self.failures.load(Ordering::Relaxed) != 0
        {
            self.failures.store(0, Ordering::Relaxed);
        }
    }

    fn failed(&self, generation: u64, probe: bool) {
        if probe {
            self.open(generation);
            return;
        }
        let closed = state(generation, CLOSED);
        if self.state.load(Ordering::Acquire) != closed {
            return;
        }
        if self.failures.fetch_add(1, Ordering::AcqRel) + 1 < self.settings.failures {
            return;
        }
        let _opening = self.opening.lock().unwrap_or_else(|e| e.into_inner());
        // Another failure of the same run may have opened it already.
        if self.state.load(Ordering::Acquire) == closed {
            self.open(generation);
        }
    }

    /// Opens for the full period from now (the failure that opens it); the caller owns the
    /// state (the probe, or the opening lock on a closed breaker).
    fn open(&self, generation: u64) {
        let open_for = u64::try_from(self.settings.open_for.as_nanos()).unwrap_or(u64::MAX);
        let probe_at = self.clock.now_nanos().saturating_add(open_for);
        self.failures.store(0, Ordering::Relaxed);
        self.probe_at.store(probe_at, Ordering::Release);
        self.state
            .store(state(generation + 1, OPEN), Ordering::Release);
    }

    /// The probe was abandoned: open again with the probe time already passed.
    fn abandoned(&self, generation: u64) {
        self.state
            .store(state(generation + 1, OPEN), Ordering::Release);
    }
}

impl<C: Clock> Permit<'_, C> {
    /// Records the call's outcome: `success` is false for any failure that gives the fallback.
    pub fn settle(mut self, success: bool) {
        self.settled = true;
        if success {
            self.breaker.succeeded(self.generation, self.probe);
        } else {
            self.breaker.failed(self.generation, self.probe);
        }
    }
}

impl<C: Clock> Drop for Permit<'_, C> {
    fn drop(&mut self) {
        if self.probe && !self.settled {
            self.breaker.abandoned(self.generation);
        }
    }
}

#[cfg(test)]
#[path = "breaker_tests.rs"]
mod tests;
