//! Why a downstream call gave no usable answer: one error type for the client and the
//! breaker around it, so that neither depends on the other's module.

use std::fmt;
use std::time::Duration;

/// Why a downstream call gave no usable answer; the text ends up in the 503 body.
#[derive(Debug)]
pub struct DownstreamError(pub String);

impl fmt::Display for DownstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl DownstreamError {
    pub fn timed_out(timeout: Duration) -> Self {
        Self(format!("no answer within {} ms", timeout.as_millis()))
    }

    /// The breaker refused the call (open, or its half-open probe in flight).
    pub fn circuit_open() -> Self {
        Self("circuit open".to_string())
    }

    pub fn status(status: u16) -> Self {
        Self(format!("order service answered {status}"))
    }

    /// The contract's 503 message.
    pub fn message(&self) -> String {
        format!("orders unavailable: {}", self.0)
    }
}
