//! One resilience episode (a scenario's `[[fault]]`): a steady open-loop load of
//! `start + duration + after`, the fault switched on and off on its schedule from the
//! measuring thread (so the instants are read the moment each switch took effect), the
//! proxy, the user service's memory and `/health` watched beside it (`watch`), and the
//! whole turned into a [`results::resilience::Episode`](crate::results::resilience::Episode)
//! whose figures are computed once there.
//!
//! Whatever happens, a fault switched on is switched off again before this returns: the
//! next episode (or the order service's stop) must find a healthy system.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::drive::{Bench, LoadHook};
use super::failure::Failure;
use super::watch::{unix_ms, CountsReader, Probe, Reading, Watch};
use crate::load::result::LoadResult;
use crate::load::LoadSettings;
use crate::results::resilience::{
    BreakerSetting, Episode, EpisodeFigures, EpisodeSecond, HealthFigures, HealthPhases,
};
use crate::scenario::resilience::{FaultKind, FaultSpec};

/// Turns a fault on and off: the proxy's faults through its control port, `down` by
/// stopping the order service and starting it again.
pub trait FaultSwitch {
    fn on(&mut self, fault: &FaultKind) -> Result<(), String>;
    fn off(&mut self, fault: &FaultKind) -> Result<(), String>;
}

/// How one episode is run.
pub struct EpisodePlan<'p> {
    pub fault: &'p FaultSpec,
    pub breaker: BreakerSetting,
    pub breaker_failures: Option<u64>,
    pub health_rate: f64,
    /// The user service's health path (its manifest's).
    pub health_path: &'p str,
}

/// The fault's schedule, kept on the measuring thread.
struct Schedule<'s> {
    switch: &'s mut dyn FaultSwitch,
    fault: &'s FaultSpec,
    on_at: Option<f64>,
    off_at: Option<f64>,
    error: Option<String>,
}

impl LoadHook for Schedule<'_> {
    fn poll(&mut self, window_opens: Instant, load_stop: &AtomicBool) -> Option<Instant> {
        let on = window_opens + self.fault.start;
        let off = on + self.fault.duration;
        let now = Instant::now();
        if self.error.is_some() {
            return None;
        }
        // The instant a switch is issued: a proxy's takes effect within a moment, while
        // `down`'s start waits for the new process to be ready, which is part of what
        // the user service recovers from, not of the fault's length.
        let switched = if self.on_at.is_none() && now >= on {
            let at = unix_ms();
            self.switch
                .on(&self.fault.kind)
                .map(|()| self.on_at = Some(at))
        } else if self.on_at.is_some() && self.off_at.is_none() && now >= off {
            let at = unix_ms();
            self.switch
                .off(&self.fault.kind)
                .map(|()| self.off_at = Some(at))
        } else {
            Ok(())
        };
        if let Err(e) = switched {
            self.error = Some(format!("fault {}: {e}", self.fault.label()));
            load_stop.store(true, Ordering::SeqCst);
        }
        match (self.on_at, self.off_at) {
            (None, _) => Some(on),
            (Some(_), None) => Some(off),
            _ => None,
        }
    }
}

/// Runs one episode on `bench` with `load` (its duration is set here).
pub fn run_episode(
    bench: &mut Bench,
    mut load: LoadSettings,
    plan: &EpisodePlan,
    switch: &mut dyn FaultSwitch,
    counts: Option<CountsReader>,
) -> Result<Episode, Failure> {
    let fault = plan.fault;
    load.duration = Some(fault.length());
    load.warmup = std::time::Duration::ZERO;
    let health = (
        bench.process.addr(),
        plan.health_path.to_string(),
        plan.health_rate,
    );
    let watch = Watch::start(bench.process.pid(), counts, health)
        .map_err(|e| Failure::new(format!("episode watchers: {e}")))?;
    let phase = format!("fault {} ({})", fault.label(), plan.breaker.label());
    bench.observer.phase(bench.name, &phase);
    let mut schedule = Schedule {
        switch,
        fault,
        on_at: None,
        off_at: None,
        error: None,
    };
    let measured = bench.measure_with(load, &phase, &mut schedule);
    let (readings, probes) = watch.stop();
    // A fault left on is switched off, except an order service stopped when the run is
    // being stopped: starting it again only to stop it would delay the exit.
    let stopping = bench.stop.load(Ordering::SeqCst) && fault.kind == FaultKind::Down;
    if schedule.on_at.is_some() && schedule.off_at.is_none() && !stopping {
        let _ = schedule.switch.off(&fault.kind);
    }
    if let Some(error) = schedule.error {
        return Err(Failure::new(error));
    }
    let measured = measured?;
    let (Some(on_at), Some(off_at)) = (schedule.on_at, schedule.off_at) else {
        return Err(Failure::new(format!(
            "fault {}: the load ended before the fault's schedule did",
            fault.label()
        )));
    };
    let crashed = bench.process.try_exit_status().map(|status| {
        format!(
            "exited during the fault ({})",
            crate::targets::describe_status(status)
        )
    });
    Ok(episode(
        plan,
        &measured.load,
        (on_at, off_at),
        (&readings, &probes),
        crashed,
    ))
}

/// The episode's record from what was measured and watched.
fn episode(
    plan: &EpisodePlan,
    load: &LoadResult,
    (on_at, off_at): (f64, f64),
    (readings, probes): (&[Reading], &[Probe]),
    crashed: Option<String>,
) -> Episode {
    let start_ms = load.measure_start_unix_ms as f64;
    let on = (on_at - start_ms) / 1e3;
    let off = (off_at - start_ms) / 1e3;
    let seconds = seconds(load, readings, start_ms);
    let health = health_phases(probes, on_at, off_at);
    let status_codes: BTreeMap<String, u64> = load.status_codes.clone();
    let figures = EpisodeFigures::of(
        &seconds,
        (on, off),
        &health,
        &status_codes,
        crashed.is_some(),
    );
    Episode {
        fault: plan.fault.kind.name().to_string(),
        label: plan.fault.label(),
        breaker: plan.breaker,
        breaker_failures: plan.breaker_failures,
        rate: load.rate.unwrap_or_default(),
        fault_on_s: on,
        fault_off_s: off,
        seconds,
        health,
        status_codes,
        crashed,
        figures,
    }
}

/// The load's whole seconds, with the proxy's calls, the connections and the memory
/// of each second beside them.
fn seconds(load: &LoadResult, readings: &[Reading], start_ms: f64) -> Vec<EpisodeSecond> {
    let whole = (load.duration_s.floor() as usize).min(load.timeline.len());
    load.timeline[..whole]
        .iter()
        .map(|p| {
            let from = start_ms + p.t as f64 * 1e3;
            let to = from + 1e3;
            let within = || {
                readings
                    .iter()
                    .filter(move |r| r.unix_ms >= from && r.unix_ms < to)
            };
            let calls = match (calls_at(readings, from), calls_at(readings, to)) {
                (Some(a), Some(b)) => Some((b - a).max(0.0).round() as u64),
                _ => None,
            };
            EpisodeSecond {
                t: p.t,
                full: p.successes,
                degraded: p.degraded,
                failed: p.errors.saturating_sub(p.degraded),
                p99_ms: p.p99_ms,
                calls,
                rss_mib: within()
                    .filter_map(|r| r.rss_bytes)
                    .max()
                    .map(|b| b as f64 / 1_048_576.0),
                connections: within().filter_map(|r| r.calls.map(|c| c.1)).max(),
                cpu_ms: match (cpu_at(readings, from), cpu_at(readings, to)) {
                    (Some(a), Some(b)) => Some(((b - a) * 1e3).max(0.0)),
                    _ => None,
                },
            }
        })
        .collect()
}

/// The proxy's cumulative calls at `ms`, interpolated between the readings around it
/// (none outside the readings).
fn calls_at(readings: &[Reading], ms: f64) -> Option<f64> {
    interpolate(readings, ms, |r| r.calls.map(|c| c.0 as f64))
}

/// The user service's cumulative CPU seconds at `ms`, the same way.
fn cpu_at(readings: &[Reading], ms: f64) -> Option<f64> {
    interpolate(readings, ms, |r| r.cpu_s)
}

/// A cumulative reading at `ms`, interpolated linearly between the readings around it.
fn interpolate(
    readings: &[Reading],
    ms: f64,
    value: impl Fn(&Reading) -> Option<f64>,
) -> Option<f64> {
    let counted: Vec<(f64, f64)> = readings
        .iter()
        .filter_map(|r| value(r).map(|v| (r.unix_ms, v)))
        .collect();
    let after = counted.iter().position(|&(at, _)| at >= ms)?;
    let (t1, c1) = counted[after];
    if after == 0 {
        return (t1 == ms).then_some(c1);
    }
    let (t0, c0) = counted[after - 1];
    Some(c0 + (c1 - c0) * (ms - t0) / (t1 - t0).max(f64::MIN_POSITIVE))
}

fn health_phases(probes: &[Probe], on_at: f64, off_at: f64) -> HealthPhases {
    let phase = |keep: &dyn Fn(f64) -> bool| {
        let of: Vec<&Probe> = probes.iter().filter(|p| keep(p.due_unix_ms)).collect();
        let failed = of.iter().filter(|p| p.latency_ms.is_none()).count() as u64;
        HealthFigures::of(of.iter().filter_map(|p| p.latency_ms).collect(), failed)
    };
    HealthPhases {
        before: phase(&|at| at < on_at),
        during: phase(&|at| at >= on_at && at < off_at),
        after: phase(&|at| at >= off_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(unix_ms: f64, calls: u64) -> Reading {
        Reading {
            unix_ms,
            calls: Some((calls, 3)),
            rss_bytes: Some(1_048_576),
            cpu_s: None,
        }
    }

    #[test]
    fn calls_are_interpolated_between_readings() {
        let readings = [reading(1000.0, 0), reading(1200.0, 20), reading(1400.0, 60)];
        assert_eq!(calls_at(&readings, 1100.0), Some(10.0));
        assert_eq!(calls_at(&readings, 1300.0), Some(40.0));
        assert_eq!(calls_at(&readings, 1000.0), Some(0.0));
        assert_eq!(calls_at(&readings, 900.0), None);
        assert_eq!(calls_at(&readings, 1500.0), None);
    }

    #[test]
    fn probes_fall_into_their_phase_by_when_they_were_due() {
        let probes: Vec<Probe> = (0..30)
            .map(|i| Probe {
                due_unix_ms: i as f64 * 100.0,
                latency_ms: if i == 15 { None } else { Some(i as f64) },
            })
            .collect();
        let h = health_phases(&probes, 1000.0, 2000.0);
        assert_eq!(
            (h.before.probes, h.during.probes, h.after.probes),
            (10, 10, 10)
        );
        assert_eq!(h.during.failed, 1);
        assert_eq!(h.before.p99_ms, Some(9.0));
    }
}
