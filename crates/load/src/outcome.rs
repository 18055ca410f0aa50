//! How a single request ended: the error classes the generator distinguishes, and the
//! per-run tally of them.
//!
//! The classes follow the order in which a request can fail on the wire: connecting,
//! writing the request, reading the response, making sense of it, and finally judging its
//! status. A response whose status is not the expected one is an error, never a success.

use serde::Serialize;

/// Why a request failed. Each variant is one counter in [`ErrorCounts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The TCP connection could not be established (refused, unreachable, timed out).
    Connect,
    /// No complete response arrived within the request timeout.
    Timeout,
    /// Reading failed: reset, or the server closed before the response was complete.
    Read,
    /// Writing the request failed (broken pipe, reset).
    Write,
    /// The bytes received are not a valid response (HTTP/1.1), or break the framing
    /// (HTTP/2).
    Parse,
    /// HTTP/2: the server reset the request's stream (RST_STREAM).
    StreamReset,
    /// HTTP/2: the server's GOAWAY refused the request's stream (above its last id).
    GoAway,
    /// A complete response with an unexpected 4xx status.
    Status4xx,
    /// A complete response the server marked as a degraded fallback (`X-Degraded: true`),
    /// whatever its status.
    Degraded,
    /// A complete response with an unexpected 5xx status.
    Status5xx,
    /// A complete response with an unexpected status outside 4xx/5xx (e.g. 200 when 201 was expected).
    StatusOther,
}

/// Which statuses count as success for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedStatus {
    /// Any 2xx or 3xx status (what wrk and oha treat as success).
    SuccessOrRedirect,
    /// Exactly this status.
    Exactly(u16),
}

impl ExpectedStatus {
    /// Judges a received status: `None` when it was expected, otherwise the error class.
    pub fn judge(self, status: u16) -> Option<ErrorKind> {
        let expected = match self {
            ExpectedStatus::SuccessOrRedirect => (200..400).contains(&status),
            ExpectedStatus::Exactly(code) => status == code,
        };
        if expected {
            return None;
        }
        Some(match status {
            400..=499 => ErrorKind::Status4xx,
            500..=599 => ErrorKind::Status5xx,
            _ => ErrorKind::StatusOther,
        })
    }
}

/// Error tally by class. Field names are the JSON keys of the `errors` object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ErrorCounts {
    pub connect: u64,
    pub timeout: u64,
    pub read: u64,
    pub write: u64,
    pub parse: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    pub status_other: u64,
    /// Answers marked degraded (absent from files that never had one).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub degraded: u64,
    /// HTTP/2: streams the server reset (RST_STREAM).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stream_reset: u64,
    /// HTTP/2: streams a GOAWAY refused.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub goaway: u64,
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

impl ErrorCounts {
    /// Counts one error of the given class.
    #[inline]
    pub fn add(&mut self, kind: ErrorKind) {
        let slot = match kind {
            ErrorKind::Connect => &mut self.connect,
            ErrorKind::Timeout => &mut self.timeout,
            ErrorKind::Read => &mut self.read,
            ErrorKind::Write => &mut self.write,
            ErrorKind::Parse => &mut self.parse,
            ErrorKind::Status4xx => &mut self.status_4xx,
            ErrorKind::Status5xx => &mut self.status_5xx,
            ErrorKind::StatusOther => &mut self.status_other,
            ErrorKind::Degraded => &mut self.degraded,
            ErrorKind::StreamReset => &mut self.stream_reset,
            ErrorKind::GoAway => &mut self.goaway,
        };
        *slot += 1;
    }

    /// Adds another tally into this one.
    pub fn merge(&mut self, other: &ErrorCounts) {
        // Saturating: merged parts come from files, whose counts are not trusted.
        self.connect = self.connect.saturating_add(other.connect);
        self.timeout = self.timeout.saturating_add(other.timeout);
        self.read = self.read.saturating_add(other.read);
        self.write = self.write.saturating_add(other.write);
        self.parse = self.parse.saturating_add(other.parse);
        self.status_4xx = self.status_4xx.saturating_add(other.status_4xx);
        self.status_5xx = self.status_5xx.saturating_add(other.status_5xx);
        self.status_other = self.status_other.saturating_add(other.status_other);
        self.degraded = self.degraded.saturating_add(other.degraded);
        self.stream_reset = self.stream_reset.saturating_add(other.stream_reset);
        self.goaway = self.goaway.saturating_add(other.goaway);
    }

    /// All errors of every class.
    pub fn total(&self) -> u64 {
        // Saturating: counts merged from files are not trusted to stay small.
        [
            self.transport(),
            self.status_4xx,
            self.status_5xx,
            self.status_other,
            self.degraded,
        ]
        .into_iter()
        .fold(0, u64::saturating_add)
    }

    /// Errors that produced no response at all (everything but the status classes).
    pub fn transport(&self) -> u64 {
        [
            self.connect,
            self.timeout,
            self.read,
            self.write,
            self.parse,
            self.stream_reset,
            self.goaway,
        ]
        .into_iter()
        .fold(0, u64::saturating_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_expectation_accepts_2xx_and_3xx_only() {
        let any = ExpectedStatus::SuccessOrRedirect;
        assert_eq!(any.judge(200), None);
        assert_eq!(any.judge(204), None);
        assert_eq!(any.judge(301), None);
        assert_eq!(any.judge(404), Some(ErrorKind::Status4xx));
        assert_eq!(any.judge(503), Some(ErrorKind::Status5xx));
        assert_eq!(any.judge(101), Some(ErrorKind::StatusOther));
    }

    #[test]
    fn exact_expectation_flags_other_successes() {
        let created = ExpectedStatus::Exactly(201);
        assert_eq!(created.judge(201), None);
        assert_eq!(created.judge(200), Some(ErrorKind::StatusOther));
        assert_eq!(created.judge(400), Some(ErrorKind::Status4xx));
        assert_eq!(ExpectedStatus::Exactly(404).judge(404), None);
    }

    #[test]
    fn counts_add_merge_and_total() {
        let mut a = ErrorCounts::default();
        a.add(ErrorKind::Connect);
        a.add(ErrorKind::Status5xx);
        a.add(ErrorKind::Status5xx);
        let mut b = ErrorCounts::default();
        b.add(ErrorKind::Parse);
        b.add(ErrorKind::StatusOther);
        a.merge(&b);
        assert_eq!(a.connect, 1);
        assert_eq!(a.status_5xx, 2);
        assert_eq!(a.parse, 1);
        assert_eq!(a.total(), 5);
        assert_eq!(a.transport(), 2);
    }
}
