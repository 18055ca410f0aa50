//! Faults the proxy injects between a user service and its order service (issue 23):
//! what each one is, the switch every connection consults, and what a connection does
//! with one request under a fault.
//!
//! The switch is read on every request, so its "no fault" answer is one relaxed atomic
//! load; the fault's parameters (and the error share's accumulator, which every
//! connection shares so that the share holds over the whole proxy) sit behind a lock
//! that only a request under a fault takes. The harness keeps the schedule and flips
//! the switch through the control port; the listener side of `Refuse` is
//! `super::listener`'s.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The longest delay a `Delay` fault may add: longer is no longer a slow dependency but
/// a dead one, which `Blackhole` is.
pub const MAX_DELAY_MS: u64 = 600_000;
/// How long after its blackhole ended a connection that swallowed requests is closed, if
/// its client has not closed it: long enough for any client's own timeout to act first.
pub const BLACKHOLE_CLOSE_AFTER: Duration = Duration::from_secs(30);
/// How often a connection that swallowed requests looks whether it is time to close it.
pub(super) const BLACKHOLE_TICK: Duration = Duration::from_millis(500);
/// The body of every injected error answer.
pub const INJECTED_BODY: &str = r#"{"error":"injected by the lanebench proxy"}"#;
/// The share accumulator's unit: shares are counted in billionths, so the sum is exact.
const SHARE_UNIT: u64 = 1_000_000_000;
/// How often a request waiting for its turn (an injected answer behind forwarded ones,
/// or a delay) looks whether its connection has ended meanwhile.
const WAIT_SLICE: Duration = Duration::from_millis(20);

/// A fault the proxy injects, as `PUT /fault` takes it and `GET /counts` shows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Fault {
    /// Every request is relayed.
    #[default]
    None,
    /// Every request waits `delay_ms` from the moment it was read before it is forwarded.
    Delay { delay_ms: u64 },
    /// This share (0 < share <= 1) of requests is answered `status` by the proxy and
    /// never forwarded: deterministically, every request adds the share to an
    /// accumulator and is errored when it reaches a whole request.
    Error { status: u16, share: f64 },
    /// Requests are read and swallowed: never forwarded, never answered.
    Blackhole,
    /// The listening socket is closed and every open client connection with it.
    Refuse,
    /// Each answer is read whole, only part of it is written to the client, and then the
    /// client's connection is reset and the upstream's closed.
    Reset,
}

const NONE: u8 = 0;
const ACTIVE: u8 = 1;

impl Fault {
    /// The fault in a `PUT /fault` body, checked: unknown fields are refused for every
    /// kind (serde's `deny_unknown_fields` does not reach the variants without fields of
    /// an internally tagged enum), and so are values out of range.
    pub fn parse(json: &[u8]) -> Result<Fault, String> {
        let value: serde_json::Value =
            serde_json::from_slice(json).map_err(|e| format!("not JSON: {e}"))?;
        let fault: Fault = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        let known = serde_json::to_value(&fault).map_err(|e| e.to_string())?;
        if let (Some(sent), Some(known)) = (value.as_object(), known.as_object()) {
            if let Some(unknown) = sent.keys().find(|key| !known.contains_key(*key)) {
                return Err(format!("unknown field `{unknown}`"));
            }
        }
        fault.validate()?;
        Ok(fault)
    }

    /// Why this fault cannot be injected, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Fault::Delay { delay_ms } if delay_ms > MAX_DELAY_MS => Err(format!(
                "delay_ms {delay_ms} is over the most a delay may be, {MAX_DELAY_MS}"
            )),
            Fault::Error { status, .. } if !(200..=599).contains(&status) => Err(format!(
                "status {status} is not a final HTTP status (200..=599)"
            )),
            // Written so that NaN fails too.
            Fault::Error { share, .. } if !(share > 0.0 && share <= 1.0) => {
                Err(format!("share {share} is not in (0, 1]"))
            }
            _ => Ok(()),
        }
    }
}

/// What a connection does with one whole request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    /// Sent upstream, its answer relayed.
    Forward,
    /// Sent upstream once this instant has come.
    DelayUntil(Instant),
    /// Answered by the proxy with this status, not sent upstream.
    Error(u16),
    /// Neither sent nor answered.
    Swallow,
    /// Sent upstream; only part of its answer reaches the client, then a reset.
    Cut,
}

/// What the switch holds behind its lock.
#[derive(Debug, Default)]
struct Setting {
    fault: Fault,
    /// The error share in billionths, and how much of the next errored request has
    /// accumulated.
    share: u64,
    accumulated: u64,
    /// When each blackhole so far ended; a blackhole's number is its index here.
    blackhole_ends: Vec<Instant>,
}

/// The fault in effect, read by every connection.
#[derive(Debug, Default)]
pub(super) struct FaultSwitch {
    kind: AtomicU8,
    setting: Mutex<Setting>,
}

impl FaultSwitch {
    fn lock(&self) -> std::sync::MutexGuard<'_, Setting> {
        self.setting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The hot path's question: no fault at all.
    pub(super) fn is_off(&self) -> bool {
        self.kind.load(Ordering::Relaxed) == NONE
    }

    /// The fault in effect.
    pub(super) fn current(&self) -> Fault {
        self.lock().fault.clone()
    }

    /// Puts `fault` in effect for every request read from now on; returns the one it
    /// replaces. A new error share starts with an empty accumulator.
    pub(super) fn set(&self, fault: Fault) -> Fault {
        let mut setting = self.lock();
        let was_blackhole = setting.fault == Fault::Blackhole;
        if was_blackhole && fault != Fault::Blackhole {
            setting.blackhole_ends.push(Instant::now());
        }
        if let Fault::Error { share, .. } = fault {
            let billionths = (share * SHARE_UNIT as f64).round() as u64;
            setting.share = billionths.clamp(1, SHARE_UNIT);
            setting.accumulated = 0;
        }
        let kind = if fault == Fault::None { NONE } else { ACTIVE };
        let old = std::mem::replace(&mut setting.fault, fault);
        self.kind.store(kind, Ordering::Relaxed);
        old
    }

    /// What to do with a request read whole at `read_at` on a connection in `conn`.
    pub(super) fn decide(&self, conn: &mut ConnFaults, read_at: Instant) -> Action {
        if conn.swallowing.is_some() {
            // Its earlier request is never answered, so no later answer could be put in
            // order after it: the connection only swallows from now on.
            return Action::Swallow;
        }
        let mut setting = self.lock();
        match setting.fault {
            Fault::None | Fault::Refuse => Action::Forward,
            Fault::Delay { delay_ms } => {
                Action::DelayUntil(read_at + Duration::from_millis(delay_ms))
            }
            Fault::Error { status, .. } => {
                setting.accumulated += setting.share;
                if setting.accumulated >= SHARE_UNIT {
                    setting.accumulated -= SHARE_UNIT;
                    Action::Error(status)
                } else {
                    Action::Forward
                }
            }
            Fault::Blackhole => {
                conn.swallowing = Some(setting.blackhole_ends.len());
                Action::Swallow
            }
            Fault::Reset => Action::Cut,
        }
    }

    /// Whether a connection that swallowed requests is due to be closed: its blackhole
    /// ended at least [`BLACKHOLE_CLOSE_AFTER`] ago.
    pub(super) fn blackhole_expired(&self, conn: &ConnFaults, now: Instant) -> bool {
        let Some(number) = conn.swallowing else {
            return false;
        };
        let setting = self.lock();
        setting
            .blackhole_ends
            .get(number)
            .is_some_and(|&ended| now.saturating_duration_since(ended) >= BLACKHOLE_CLOSE_AFTER)
    }
}

/// One connection's state as far as faults go.
#[derive(Debug, Default)]
pub(super) struct ConnFaults {
    /// The blackhole this connection swallowed requests in, once it has.
    swallowing: Option<usize>,
    /// Requests sent upstream on this connection so far.
    pub(super) forwarded: u64,
}

impl ConnFaults {
    /// Whether this connection must look at faults for its next request even with none
    /// in effect.
    pub(super) fn is_swallowing(&self) -> bool {
        self.swallowing.is_some()
    }
}

/// Waits until `deadline`, or until `ended` says the connection is gone; false then.
pub(super) fn wait_until(deadline: Instant, ended: impl Fn() -> bool) -> bool {
    loop {
        if ended() {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        std::thread::sleep((deadline - now).min(WAIT_SLICE));
    }
}

/// Waits until every request forwarded on the connection before this one has been
/// answered (`answered` counts the answers relayed whole), or until `ended`; false then.
/// An injected answer is written only then, so answers stay in order.
pub(super) fn wait_for_turn(
    answered: &AtomicU64,
    forwarded: u64,
    ended: impl Fn() -> bool,
) -> bool {
    let mut pause = Duration::from_micros(100);
    while answered.load(Ordering::Acquire) < forwarded {
        if ended() {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(WAIT_SLICE);
    }
    true
}

/// Writes the proxy's own error answer: keep-alive unless the request asked for a close;
/// no body for a HEAD request, nor for the two statuses that never have one.
pub(super) fn write_error(
    client: &TcpStream,
    status: u16,
    head_request: bool,
    keep_alive: bool,
) -> std::io::Result<()> {
    let mut answer = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    let bodyless = matches!(status, 204 | 304);
    if !bodyless {
        answer.push_str("Content-Type: application/json\r\n");
        answer.push_str(&format!("Content-Length: {}\r\n", INJECTED_BODY.len()));
    }
    if !keep_alive {
        answer.push_str("Connection: close\r\n");
    }
    answer.push_str("\r\n");
    if !bodyless && !head_request {
        answer.push_str(INJECTED_BODY);
    }
    (&*client).write_all(answer.as_bytes())
}

/// The reason phrase of `status` (clients ignore it; people reading a capture do not).
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Injected",
    }
}

/// How much of a held answer of `len` bytes a `Reset` fault lets through: half, at
/// least one byte, never all of it.
pub(super) fn cut_length(len: usize) -> usize {
    (len / 2).clamp(1, len.saturating_sub(1).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(json: &str) -> Result<Fault, String> {
        Fault::parse(json.as_bytes())
    }

    #[test]
    fn faults_read_and_write_as_tagged_json() {
        let cases = [
            (r#"{"kind":"none"}"#, Fault::None),
            (
                r#"{"kind":"delay","delay_ms":250}"#,
                Fault::Delay { delay_ms: 250 },
            ),
            (
                r#"{"kind":"error","status":503,"share":0.5}"#,
                Fault::Error {
                    status: 503,
                    share: 0.5,
                },
            ),
            (r#"{"kind":"blackhole"}"#, Fault::Blackhole),
            (r#"{"kind":"refuse"}"#, Fault::Refuse),
            (r#"{"kind":"reset"}"#, Fault::Reset),
        ];
        for (json, want) in cases {
            assert_eq!(fault(json).unwrap(), want, "{json}");
            assert_eq!(serde_json::to_string(&want).unwrap(), json);
        }
    }

    #[test]
    fn bad_faults_are_refused() {
        for json in [
            r#"{"kind":"delay","delay_ms":600001}"#,
            r#"{"kind":"delay"}"#,
            r#"{"kind":"error","status":503,"share":0}"#,
            r#"{"kind":"error","status":503,"share":1.5}"#,
            r#"{"kind":"error","status":503,"share":-0.1}"#,
            r#"{"kind":"error","status":99,"share":1}"#,
            r#"{"kind":"error","status":101,"share":1}"#,
            r#"{"kind":"error","status":600,"share":1}"#,
            r#"{"kind":"error","status":70000,"share":1}"#,
            r#"{"kind":"delay","delay_ms":5,"extra":1}"#,
            r#"{"kind":"blackhole","extra":1}"#,
            r#"{"kind":"slow"}"#,
            r#"{"delay_ms":5}"#,
            "[]",
            "not json",
        ] {
            assert!(fault(json).is_err(), "{json}");
        }
        assert!(fault(r#"{"kind":"error","status":200,"share":1}"#).is_ok());
        assert!(fault(r#"{"kind":"delay","delay_ms":600000}"#).is_ok());
    }

    #[test]
    fn the_error_share_is_exact_over_any_hundred_requests() {
        for share in [0.5, 0.3, 0.01, 0.999, 1.0, 1.0 / 3.0] {
            let switch = FaultSwitch::default();
            switch.set(Fault::Error { status: 503, share });
            let now = Instant::now();
            let errored: Vec<bool> = (0..1000)
                .map(|_| {
                    let action = switch.decide(&mut ConnFaults::default(), now);
                    action == Action::Error(503)
                })
                .collect();
            let want = (100.0 * share).round() as i64;
            for window in errored.windows(100) {
                let got = window.iter().filter(|e| **e).count() as i64;
                assert!((got - want).abs() <= 1, "share {share}: {got} of 100");
            }
        }
    }

    #[test]
    fn a_connection_that_swallowed_swallows_until_closed_30_s_after_its_blackhole() {
        let switch = FaultSwitch::default();
        assert!(switch.is_off());
        let now = Instant::now();
        let mut conn = ConnFaults::default();
        assert_eq!(switch.decide(&mut conn, now), Action::Forward);
        switch.set(Fault::Blackhole);
        assert!(!switch.is_off());
        assert_eq!(switch.decide(&mut conn, now), Action::Swallow);
        assert!(!switch.blackhole_expired(&conn, now + Duration::from_secs(3600)));
        switch.set(Fault::None);
        let ended = Instant::now();
        assert_eq!(switch.decide(&mut conn, now), Action::Swallow);
        assert_eq!(
            switch.decide(&mut ConnFaults::default(), now),
            Action::Forward
        );
        assert!(!switch.blackhole_expired(&conn, ended));
        let later = ended + BLACKHOLE_CLOSE_AFTER + Duration::from_millis(1);
        assert!(switch.blackhole_expired(&conn, later));
        // A later blackhole does not postpone the end of the first.
        switch.set(Fault::Blackhole);
        assert!(switch.blackhole_expired(&conn, later));
        assert!(!switch.blackhole_expired(&ConnFaults::default(), later));
    }

    #[test]
    fn a_cut_answer_is_never_empty_and_never_whole() {
        for len in [2, 3, 17, 100, 4096] {
            let cut = cut_length(len);
            assert!(cut >= 1 && cut < len, "{len}: {cut}");
        }
    }
}
