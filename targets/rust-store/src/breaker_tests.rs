//! The breaker's rules on a clock the tests move by hand, so no test depends on how fast the
//! machine is.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::{Breaker, BreakerSettings, Clock};
use crate::downstream::DownstreamError;

#[derive(Clone, Default)]
struct HandClock(Arc<AtomicU64>);

impl HandClock {
    fn set_ms(&self, ms: u64) {
        self.0.store(ms * 1_000_000, Ordering::SeqCst);
    }
    fn set_nanos(&self, nanos: u64) {
        self.0.store(nanos, Ordering::SeqCst);
    }
}

impl Clock for HandClock {
    fn now_nanos(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// N=3, open for 100 ms, with the clock at 0.
fn breaker() -> (Breaker<HandClock>, HandClock) {
    let clock = HandClock::default();
    let settings = BreakerSettings {
        failures: 3,
        open_for: Duration::from_millis(100),
    };
    (Breaker::with_clock(settings, clock.clone()), clock)
}

fn fail(breaker: &Breaker<HandClock>) {
    breaker.admit().expect("let through").settle(false);
}

fn succeed(breaker: &Breaker<HandClock>) {
    breaker.admit().expect("let through").settle(true);
}

fn is_open(breaker: &Breaker<HandClock>) -> bool {
    breaker.admit().is_none()
}

/// Opens the breaker with its third failure at `at_ms`.
fn open_at(breaker: &Breaker<HandClock>, clock: &HandClock, at_ms: u64) {
    for _ in 0..3 {
        clock.set_ms(at_ms);
        fail(breaker);
    }
    assert!(is_open(breaker));
}

#[test]
fn opens_after_n_consecutive_failures() {
    let (breaker, _clock) = breaker();
    fail(&breaker);
    fail(&breaker);
    assert!(!is_open(&breaker), "open after 2 of 3");
    fail(&breaker);
    for _ in 0..10 {
        assert!(is_open(&breaker));
    }
}

#[test]
fn a_success_resets_the_count() {
    let (breaker, _clock) = breaker();
    for _ in 0..5 {
        fail(&breaker);
        fail(&breaker);
        succeed(&breaker);
    }
    assert!(
        !is_open(&breaker),
        "failures that are not consecutive opened it"
    );
    fail(&breaker);
    fail(&breaker);
    fail(&breaker);
    assert!(is_open(&breaker));
}

#[test]
fn open_period_counts_from_the_opening_failure() {
    let (breaker, clock) = breaker();
    clock.set_ms(0);
    fail(&breaker);
    clock.set_ms(40);
    fail(&breaker);
    clock.set_ms(50);
    fail(&breaker);
    clock.set_nanos(150 * 1_000_000 - 1);
    assert!(is_open(&breaker), "probe before the open period ended");
    clock.set_ms(150);
    assert!(
        breaker.admit().is_some(),
        "no probe once the period is over"
    );
}

#[test]
fn half_open_lets_exactly_one_probe_through() {
    let (breaker, clock) = breaker();
    open_at(&breaker, &clock, 0);
    clock.set_ms(500);
    let probe = breaker.admit().expect("the probe");
    for _ in 0..10 {
        assert!(
            is_open(&breaker),
            "a second call while the probe is in flight"
        );
    }
    clock.set_ms(10_000);
    assert!(
        is_open(&breaker),
        "time alone must not release a second probe"
    );
    drop(probe);
}

#[test]
fn probe_success_closes_with_a_fresh_count() {
    let (breaker, clock) = breaker();
    open_at(&breaker, &clock, 0);
    clock.set_ms(100);
    breaker.admit().expect("the probe").settle(true);
    for _ in 0..5 {
        succeed(&breaker);
    }
    fail(&breaker);
    fail(&breaker);
    assert!(
        !is_open(&breaker),
        "the count from before the opening was kept"
    );
    fail(&breaker);
    assert!(is_open(&breaker));
}

#[test]
fn probe_failure_reopens_from_that_failure() {
    let (breaker, clock) = breaker();
    open_at(&breaker, &clock, 0);
    clock.set_ms(130);
    let probe = breaker.admit().expect("the probe");
    clock.set_ms(160);
    probe.settle(false);
    clock.set_nanos(260 * 1_000_000 - 1);
    assert!(is_open(&breaker));
    clock.set_ms(260);
    breaker.admit().expect("the next probe").settle(true);
    assert!(!is_open(&breaker));
}

#[test]
fn an_abandoned_probe_hands_over_to_the_next_call() {
    let (breaker, clock) = breaker();
    open_at(&breaker, &clock, 0);
    clock.set_ms(100);
    drop(breaker.admit().expect("the probe"));
    let probe = breaker.admit().expect("the next call is the probe");
    assert!(is_open(&breaker));
    probe.settle(true);
    assert!(!is_open(&breaker));
}

#[test]
fn outcomes_of_calls_from_before_the_opening_change_nothing() {
    let (breaker, clock) = breaker();
    let late_success = breaker.admit().unwrap();
    let late_failure = breaker.admit().unwrap();
    open_at(&breaker, &clock, 0);
    clock.set_ms(50);
    late_success.settle(true);
    late_failure.settle(false);
    assert!(is_open(&breaker), "a late success closed it");
    clock.set_nanos(100 * 1_000_000 - 1);
    assert!(is_open(&breaker), "a late failure moved the probe time");
    clock.set_ms(100);
    breaker.admit().expect("the probe").settle(true);
    // A call from the first closed period fails after the breaker closed again.
    let stale = breaker.admit().unwrap();
    open_at(&breaker, &clock, 200);
    clock.set_ms(300);
    breaker.admit().expect("the probe").settle(true);
    stale.settle(false);
    fail(&breaker);
    fail(&breaker);
    assert!(!is_open(&breaker), "a stale failure counted");
}

#[test]
fn concurrent_callers_get_one_probe() {
    let (breaker, clock) = breaker();
    open_at(&breaker, &clock, 0);
    clock.set_ms(100);
    let probes = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8).map(|_| scope.spawn(|| breaker.admit())).collect();
        let permits: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        permits.iter().filter(|permit| permit.is_some()).count()
    });
    assert_eq!(probes, 1);
}

#[test]
fn concurrent_failures_open_once_after_n() {
    let clock = HandClock::default();
    let settings = BreakerSettings {
        failures: 64,
        open_for: Duration::from_millis(100),
    };
    let breaker = Breaker::with_clock(settings, clock);
    let permits: Vec<_> = (0..63).map(|_| breaker.admit().unwrap()).collect();
    std::thread::scope(|scope| {
        for permit in permits {
            scope.spawn(|| permit.settle(false));
        }
    });
    assert!(!is_open(&breaker), "open before the 64th failure");
    breaker.admit().unwrap().settle(false);
    assert!(is_open(&breaker));
}

/// Polls a future that never waits (the tests' calls are ready at once).
fn ready<T>(future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the call waited"),
    }
}

#[test]
fn a_refused_call_is_never_made() {
    let (breaker, clock) = breaker();
    open_at(&breaker, &clock, 0);
    let made = AtomicBool::new(false);
    let result = ready(breaker.call(async {
        made.store(true, Ordering::SeqCst);
        Ok::<_, DownstreamError>(())
    }));
    assert!(!made.load(Ordering::SeqCst));
    let error = result.unwrap_err();
    assert_eq!(error.message(), "orders unavailable: circuit open");
}

#[test]
fn call_records_the_outcome() {
    let (breaker, _clock) = breaker();
    for _ in 0..3 {
        let result = ready(breaker.call(async { Err::<(), _>(DownstreamError::status(500)) }));
        assert!(result.is_err());
    }
    assert!(is_open(&breaker));
}

#[test]
fn the_breaker_is_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Breaker>();
}
