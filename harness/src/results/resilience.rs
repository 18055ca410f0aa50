//! The figures of a resilience run (a scenario with `[[fault]]`, issue 23): for each
//! target, each fault and each breaker setting, one **episode** of steady open-loop load
//! with the fault in its middle, recorded second by second, and the figures made from
//! it once, here, so that the report, the CSV and compare all read the same numbers
//! (docs/metrics.md, "Resilience").
//!
//! The method, in short:
//! - **before / during / after** are the whole seconds of the load's timeline wholly
//!   before the fault was switched on, wholly inside it, and wholly after it was switched
//!   off (a second that straddles a switch belongs to none);
//! - **goodput** is full answers (the expected status, not degraded) per second;
//! - **time to open** runs from the switch-on to the first instant after which the
//!   calls reaching the proxy stay at probe level (at most [`PROBE_SHARE`] of the calls
//!   per second before the fault, and never fewer than [`PROBE_FLOOR`] per second) for
//!   every remaining second of the fault; `None` when they never drop;
//! - **time to recover** runs from the switch-off to the start of the first second from
//!   which [`RECOVERY_RUN`] seconds in a row (or all that remain) have goodput within 10%
//!   of before and nothing degraded; `None` when that never happens in the episode;
//! - **isolated**: `/health`'s p99 during the fault within 2x its p99 before, and the
//!   user service alive at the end.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Calls per second that still count as "only probes": this share of the calls per
/// second before the fault...
pub const PROBE_SHARE: f64 = 0.05;
/// ...and never below this many, so that a few processes each probing once per open
/// period stay under it.
pub const PROBE_FLOOR: f64 = 10.0;
/// Goodput within this share of before counts as recovered.
pub const RECOVERED_WITHIN: f64 = 0.10;
/// Seconds in a row that must look recovered.
pub const RECOVERY_RUN: usize = 3;
/// `/health`'s p99 during the fault may be at most this many times its p99 before.
pub const ISOLATION_FACTOR: f64 = 2.0;

/// A target's episodes, in the order they ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResilienceTarget {
    pub episodes: Vec<Episode>,
}

/// One fault under one breaker setting: what was done, what was seen, what it means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// The fault's kind (`delay`, `error`, `blackhole`, `refuse`, `reset`, `down`).
    pub fault: String,
    /// Its label with its parameters ("delay 1500ms", "error 500").
    pub label: String,
    /// `on`: the target's breaker as configured; `off`: `BREAKER_FAILURES=0`.
    pub breaker: BreakerSetting,
    /// `BREAKER_FAILURES` given to the user service (none: the target's default, 5).
    #[serde(default)]
    pub breaker_failures: Option<u64>,
    /// Offered open-loop rate (requests/s).
    pub rate: f64,
    /// When the fault was switched on and off, seconds on the load's timeline.
    pub fault_on_s: f64,
    pub fault_off_s: f64,
    pub seconds: Vec<EpisodeSecond>,
    /// The `/health` probe, by phase.
    pub health: HealthPhases,
    /// Responses by status over the episode.
    pub status_codes: BTreeMap<String, u64>,
    /// Why the user service was not running at the end (it crashed or was killed).
    #[serde(default)]
    pub crashed: Option<String>,
    pub figures: EpisodeFigures,
}

/// Which breaker the user service ran with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BreakerSetting {
    On,
    Off,
}

impl BreakerSetting {
    pub fn label(self) -> &'static str {
        match self {
            BreakerSetting::On => "breaker on",
            BreakerSetting::Off => "breaker off",
        }
    }
}

/// One second of an episode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EpisodeSecond {
    /// Seconds since the load's measurement began (this covers [t, t+1)).
    pub t: u64,
    /// Answers with the expected status, not degraded.
    pub full: u64,
    /// Degraded fallbacks (`X-Degraded: true`).
    pub degraded: u64,
    /// Every other failure: wrong status (a 503 included), timeout, connection error.
    pub failed: u64,
    pub p99_ms: f64,
    /// Requests that reached the proxy from the user service in this second.
    #[serde(default)]
    pub calls: Option<u64>,
    /// The user service's resident memory, the largest sample of the second (MiB).
    #[serde(default)]
    pub rss_mib: Option<f64>,
    /// The user service's connections to the proxy, the largest count of the second.
    #[serde(default)]
    pub connections: Option<u64>,
    /// The user service's CPU time in this second (ms).
    #[serde(default)]
    pub cpu_ms: Option<f64>,
}

/// `/health` probe figures for each phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthPhases {
    pub before: HealthFigures,
    pub during: HealthFigures,
    pub after: HealthFigures,
}

/// One phase of the `/health` probe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthFigures {
    pub probes: u64,
    /// Probes without a 200 within the probe's timeout.
    pub failed: u64,
    #[serde(default)]
    pub p50_ms: Option<f64>,
    #[serde(default)]
    pub p99_ms: Option<f64>,
}

impl HealthFigures {
    /// The figures of `latencies_ms` (the answered probes) and `failed` unanswered ones.
    pub fn of(mut latencies_ms: Vec<f64>, failed: u64) -> HealthFigures {
        latencies_ms.sort_by(f64::total_cmp);
        let pick = |q: f64| -> Option<f64> {
            let n = latencies_ms.len();
            (n > 0).then(|| latencies_ms[((q * n as f64).ceil() as usize).clamp(1, n) - 1])
        };
        HealthFigures {
            probes: latencies_ms.len() as u64 + failed,
            failed,
            p50_ms: pick(0.50),
            p99_ms: pick(0.99),
        }
    }
}

/// What an episode means: computed once from its seconds by [`EpisodeFigures::of`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpisodeFigures {
    /// Full answers per second before, during and after the fault.
    pub goodput_before: f64,
    pub goodput_during: f64,
    pub goodput_after: f64,
    /// Degraded answers and other failures per second during the fault.
    pub degraded_per_s_during: f64,
    pub failed_per_s_during: f64,
    /// The worst second's p99 during the fault (ms): the upstream tail the fault caused.
    pub p99_during_ms: f64,
    /// From the fault's start until calls to the order service drop to probes (s).
    #[serde(default)]
    pub time_to_open_s: Option<f64>,
    /// Calls reaching the order service per upstream request during the fault.
    #[serde(default)]
    pub calls_per_request_during: Option<f64>,
    /// The same before the fault (the mix's share that calls downstream).
    #[serde(default)]
    pub calls_per_request_before: Option<f64>,
    #[serde(default)]
    pub health_p99_before_ms: Option<f64>,
    #[serde(default)]
    pub health_p99_during_ms: Option<f64>,
    /// From the fault's end until service is back to normal (s).
    #[serde(default)]
    pub time_to_recover_s: Option<f64>,
    /// Peak resident memory (MiB) and connections to the order service before and
    /// during the fault: a pile-up shows as growth.
    #[serde(default)]
    pub rss_peak_before_mib: Option<f64>,
    #[serde(default)]
    pub rss_peak_during_mib: Option<f64>,
    #[serde(default)]
    pub connections_peak_before: Option<u64>,
    #[serde(default)]
    pub connections_peak_during: Option<u64>,
    /// The user service's CPU µs per request before the fault: with the breaker on and
    /// off, what having a breaker costs when nothing fails.
    #[serde(default)]
    pub cpu_us_per_request_before: Option<f64>,
    /// 5xx answers other than the contract's 503 (each one a failure of the contract).
    pub other_5xx: u64,
    pub crashed: bool,
    /// `/health` stayed within [`ISOLATION_FACTOR`] of its p99 before, and nothing crashed.
    pub isolated: bool,
}

/// Which phase a second belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Before,
    During,
    After,
    Straddling,
}

fn phase(t: u64, on: f64, off: f64) -> Phase {
    let (start, end) = (t as f64, t as f64 + 1.0);
    if end <= on {
        Phase::Before
    } else if start >= on && end <= off {
        Phase::During
    } else if start >= off {
        Phase::After
    } else {
        Phase::Straddling
    }
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

impl EpisodeFigures {
    /// The figures of an episode's seconds, switch instants, health probe, status counts
    /// and end state.
    pub fn of(
        seconds: &[EpisodeSecond],
        (on, off): (f64, f64),
        health: &HealthPhases,
        status_codes: &BTreeMap<String, u64>,
        crashed: bool,
    ) -> EpisodeFigures {
        let in_phase = |p: Phase| seconds.iter().filter(move |s| phase(s.t, on, off) == p);
        let goodput = |p| mean(in_phase(p).map(|s| s.full as f64)).unwrap_or(0.0);
        let goodput_before = goodput(Phase::Before);
        let per_request = |p| {
            let calls: Option<u64> = in_phase(p).map(|s| s.calls).sum();
            let requests: u64 = in_phase(p).map(|s| s.full + s.degraded + s.failed).sum();
            calls
                .filter(|_| requests > 0)
                .map(|c| c as f64 / requests as f64)
        };
        let peak_rss = |p| in_phase(p).filter_map(|s| s.rss_mib).reduce(f64::max);
        let peak_connections = |p| in_phase(p).filter_map(|s| s.connections).max();
        let other_5xx = status_codes
            .iter()
            .filter(|(code, _)| code.starts_with('5') && code.as_str() != "503")
            .map(|(_, n)| n)
            .sum();
        let health_before = health.before.p99_ms;
        let health_during = health.during.p99_ms;
        let isolated = !crashed
            && match (health_before, health_during) {
                (Some(before), Some(during)) => during <= before * ISOLATION_FACTOR,
                _ => false,
            };
        EpisodeFigures {
            goodput_before,
            goodput_during: goodput(Phase::During),
            goodput_after: goodput(Phase::After),
            degraded_per_s_during: mean(in_phase(Phase::During).map(|s| s.degraded as f64))
                .unwrap_or(0.0),
            failed_per_s_during: mean(in_phase(Phase::During).map(|s| s.failed as f64))
                .unwrap_or(0.0),
            p99_during_ms: in_phase(Phase::During)
                .map(|s| s.p99_ms)
                .fold(0.0, f64::max),
            time_to_open_s: time_to_open(seconds, on, off),
            calls_per_request_during: per_request(Phase::During),
            calls_per_request_before: per_request(Phase::Before),
            health_p99_before_ms: health_before,
            health_p99_during_ms: health_during,
            time_to_recover_s: time_to_recover(seconds, off, goodput_before),
            rss_peak_before_mib: peak_rss(Phase::Before),
            rss_peak_during_mib: peak_rss(Phase::During),
            connections_peak_before: peak_connections(Phase::Before),
            connections_peak_during: peak_connections(Phase::During),
            cpu_us_per_request_before: cpu_per_request(in_phase(Phase::Before)),
            other_5xx,
            crashed,
            isolated,
        }
    }
}

/// CPU µs per answered request over the `seconds` that have CPU readings (none without
/// any).
fn cpu_per_request<'s>(seconds: impl Iterator<Item = &'s EpisodeSecond>) -> Option<f64> {
    let (mut cpu_ms, mut requests) = (0.0, 0u64);
    for s in seconds {
        let Some(cpu) = s.cpu_ms else {
            continue;
        };
        cpu_ms += cpu;
        requests += s.full + s.degraded + s.failed;
    }
    (requests > 0).then(|| cpu_ms * 1e3 / requests as f64)
}

/// See the module docs. Works on whole seconds: the first second of the fault (the one
/// the switch-on falls in included, the one the switch-off falls in not) from which
/// every later second of the fault is at probe level; the time is from the switch-on to
/// that second's start (at least 0).
fn time_to_open(seconds: &[EpisodeSecond], on: f64, off: f64) -> Option<f64> {
    // A second without a reading at both its edges (the sampler's first or last) says
    // nothing either way: it is left out, never taken as quiet.
    let normal = mean(
        seconds
            .iter()
            .filter(|s| phase(s.t, on, off) == Phase::Before)
            .filter_map(|s| s.calls.map(|c| c as f64)),
    )?;
    let probe_level = (normal * PROBE_SHARE).max(PROBE_FLOOR);
    let fault: Vec<&EpisodeSecond> = seconds
        .iter()
        // A second that straddles the switch-off holds calls after the fault.
        .filter(|s| (s.t as f64 + 1.0) > on && (s.t as f64 + 1.0) <= off)
        .collect();
    let fault: Vec<&EpisodeSecond> = fault.into_iter().filter(|s| s.calls.is_some()).collect();
    let quiet_from = (0..fault.len()).find(|&i| {
        fault[i..]
            .iter()
            .all(|s| s.calls.is_some_and(|c| c as f64 <= probe_level))
    })?;
    Some((fault[quiet_from].t as f64 - on).max(0.0))
}

/// See the module docs.
fn time_to_recover(seconds: &[EpisodeSecond], off: f64, goodput_before: f64) -> Option<f64> {
    if goodput_before <= 0.0 {
        return None;
    }
    let after: Vec<&EpisodeSecond> = seconds
        .iter()
        .filter(|s| s.t as f64 >= off.floor())
        .collect();
    let normal = |s: &EpisodeSecond| {
        s.degraded == 0 && s.full as f64 >= goodput_before * (1.0 - RECOVERED_WITHIN)
    };
    let from = (0..after.len()).find(|&i| {
        let run = &after[i..(i + RECOVERY_RUN).min(after.len())];
        run.iter().all(|s| normal(s))
    })?;
    Some((after[from].t as f64 - off).max(0.0))
}

#[cfg(test)]
mod tests;
