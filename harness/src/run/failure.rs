//! A failure that ends a target's measurement, with the server's last stderr lines when
//! there is a server to blame.

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
