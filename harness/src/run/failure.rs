//! A failure that ends a target's measurement, with the server's last stderr lines when
//! there is a server to blame, and the pause before an attempt is measured again, which
//! ends early in one (the run's stop flag).

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::targets::TargetProcess;

/// Why a target's measurement stopped.
#[derive(Debug, Clone)]
pub struct Failure {
    pub reason: String,
    pub stderr_tail: Vec<String>,
}

impl Failure {
    pub fn new(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            stderr_tail: Vec::new(),
        }
    }

    /// A failure of a running server: keeps its stderr tail.
    pub fn of(reason: impl Into<String>, process: &TargetProcess) -> Failure {
        Failure {
            reason: reason.into(),
            stderr_tail: process.stderr_tail(),
        }
    }
}

/// The run was interrupted (Ctrl-C, SIGTERM).
pub fn check_stop(stop: &std::sync::atomic::AtomicBool) -> Result<(), Failure> {
    if stop.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(Failure::new("interrupted"));
    }
    Ok(())
}

/// Before measuring an attempt again: long enough for a passing burst elsewhere on the
/// machine to end, short beside a level.
pub const RETRY_PAUSE: Duration = Duration::from_secs(3);

/// Sleeps `length`, waking every 100 ms to honour the run's stop flag.
pub fn pause(stop: &AtomicBool, length: Duration) -> Result<(), Failure> {
    let until = Instant::now() + length;
    while Instant::now() < until {
        check_stop(stop)?;
        std::thread::sleep(Duration::from_millis(100).min(until - Instant::now()));
    }
    check_stop(stop)
}
