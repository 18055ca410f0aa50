//! Driving one load at the measured process: the warm-up that waits for steady
//! throughput, and a measured repeat with the server's CPU time and the noise on its
//! CPUs over the exact measured window.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::failure::Failure;
use super::steady::{ramped, steadiness, Steadiness};
use super::{RunObserver, RunSettings};
use crate::load::cpus::process_cpu_time;
use crate::load::request::RequestPlan;
use crate::load::result::LoadResult;
use crate::load::{LoadRun, LoadSettings, DEFAULT_MAX_SEND_LAG};
use crate::results::caveat::{Side, SideNoise};
use crate::results::chain::HopRecord;
use crate::results::{ComponentCpuTime, ComponentFigures};
use crate::sample::cpustat::{noise_between, CpuStat, Noise};
use crate::sample::procfs::tree_usage;
use crate::sample::TargetCgroup;
use crate::system::{Component, Components};
use crate::targets::TargetProcess;

/// How often live totals are passed to the observer during load.
const POLL: Duration = Duration::from_millis(100);

/// Work done on the measuring thread while a load runs.
pub trait LoadHook {
    /// Called at every poll with the instant the measured window opens (and the load's
    /// stop flag, to end it early); returns when it wants to be called next, if sooner
    /// than the next poll.
    fn poll(&mut self, window_opens: Instant, load_stop: &AtomicBool) -> Option<Instant>;
}

/// No work.
struct NoHook;

impl LoadHook for NoHook {
    fn poll(&mut self, _: Instant, _: &AtomicBool) -> Option<Instant> {
        None
    }
}

/// The measured process and where a load on it reports.
pub struct Bench<'a> {
    pub name: &'a str,
    pub settings: &'a RunSettings,
    pub observer: &'a mut dyn RunObserver,
    pub stop: &'a Arc<AtomicBool>,
    pub process: &'a mut TargetProcess,
    pub cgroup: Option<&'a TargetCgroup>,
    /// The components beside the service (the database in database mode): their CPU
    /// is read beside the server's and the death of any ends the load.
    pub components: Components<'a>,
    /// Set when a component died under a load: the reason the session failed.
    pub component_failure: Option<Failure>,
    /// The process ramped in some warm-up (a JIT warming): every later warm-up on it is
    /// judged by the trend alone (`steady::steadiness`).
    pub ramped: bool,
}

/// One measured repeat.
#[derive(Debug, Clone)]
pub struct Measured {
    pub load: LoadResult,
    pub server_cpu_s: f64,
    /// The server's CPUs.
    pub noise: Option<Noise>,
    /// Every side's CPUs: the server's, the generator's, each component's own.
    pub noise_by_side: Vec<SideNoise>,
    /// The CPU time of each component beside the service that is a process of ours.
    pub components: Vec<ComponentCpuTime>,
    /// A service chain's hop over the window, from the component that times it.
    pub hop: Option<HopRecord>,
}

/// CPU counters at one edge of a measured window.
#[derive(Debug, Clone)]
struct Counters {
    server: Duration,
    generator: Duration,
    /// Each component's CPU time, in the order of `Bench::components`.
    components: Vec<Option<Duration>>,
    stat: CpuStat,
}

/// How a warm-up went.
#[derive(Debug, Clone, PartialEq)]
pub struct Warmup {
    /// How long it ran.
    pub used: Duration,
    /// Ended steady (`None`: the scenario does not check).
    pub steady: Option<bool>,
    /// Successful responses in each second of it.
    pub per_second: Vec<f64>,
    /// Not steady, and its throughput was still rising at the end: the trend's whole
    /// interval above zero (a JIT still compiling), as against wandering up and down.
    pub climbing: bool,
}

impl Bench<'_> {
    /// The load of one level (or episode) on the measured process: the scenario's mix, rate,
    /// duration and timeout, from the generator's CPUs.
    pub fn level_load(&self, plan: &RequestPlan, connections: usize) -> LoadSettings {
        let scenario = &self.settings.scenario;
        let generator_cpus = &self.settings.generator_cpus;
        LoadSettings {
            url: format!(
                "{}://{}/ ({})",
                self.settings.protocol.scheme(),
                self.process.addr(),
                scenario.name
            ),
            addr: self.process.addr(),
            plan: plan.clone(),
            connections,
            threads: generator_cpus.len().min(connections),
            duration: Some(scenario.duration),
            requests: None,
            // The warm-up is its own load, right before.
            warmup: Duration::ZERO,
            rate: scenario.rate,
            timeout: scenario.timeout,
            max_send_lag: DEFAULT_MAX_SEND_LAG,
            // Every request of the window at its real latency: a cut-off one is a lower
            // bound, and a slow server's level has few requests.
            wait_in_flight: true,
            cpus: Some(generator_cpus.clone()),
        }
    }

    /// The server's CPU time so far: exact from its cgroup (which also keeps the time
    /// of exited workers), otherwise summed over its live process tree.
    fn server_cpu(&self) -> Duration {
        self.cgroup
            .and_then(|c| c.cpu_usage())
            .unwrap_or_else(|| tree_usage(self.process.pid()).cpu)
    }

    /// The components beside the service as results name them, with the CPUs each
    /// was pinned to (no memory yet).
    pub fn component_figures(&self) -> Vec<ComponentFigures> {
        self.components
            .iter()
            .map(|c| ComponentFigures {
                name: c.name().to_string(),
                role: c.role(),
                cpus: c.cpus().map(|l| l.cpus().to_vec()).unwrap_or_default(),
                memory_mb: None,
            })
            .collect()
    }

    /// The component runs on (some of) the server's CPUs.
    fn shares_server_cpus(&self, component: &dyn Component) -> bool {
        let server_cpus = self.settings.server_cpus.cpus();
        component
            .cpus()
            .is_some_and(|cpus| cpus.cpus().iter().any(|c| server_cpus.contains(c)))
    }

    /// The component runs on (some of) the generator's CPUs.
    fn shares_generator_cpus(&self, component: &dyn Component) -> bool {
        let generator_cpus = self.settings.generator_cpus.cpus();
        component
            .cpus()
            .is_some_and(|cpus| cpus.cpus().iter().any(|c| generator_cpus.contains(c)))
    }

    /// Starts a load, stopped early by the run's stop flag or the server's death.
    fn start(&mut self, load: LoadSettings) -> Result<(LoadRun, Arc<AtomicBool>), Failure> {
        let load_stop = Arc::new(AtomicBool::new(false));
        let options = crate::load::RunOptions {
            protocol: self.settings.client_protocol(),
            ..crate::load::RunOptions::default()
        };
        let run = LoadRun::start_with(load, options, Arc::clone(&load_stop))
            .map_err(|e| Failure::new(format!("load generator: {e}")))?;
        Ok((run, load_stop))
    }

    fn should_end(&mut self) -> bool {
        for component in self.components.iter_mut() {
            if let Err(e) = component.check_running() {
                let role = component.role().label();
                self.component_failure = Some(Failure::new(format!("{role}: {e}")));
                return true;
            }
        }
        self.stop.load(Ordering::SeqCst) || self.process.try_exit_status().is_some()
    }

    /// A component died under the load just driven.
    fn component_died(&mut self) -> Result<(), Failure> {
        match self.component_failure.clone() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// Runs one measured load and reads the server's CPU and the CPUs' noise when its
    /// window opens and when it ends.
    pub fn measure(&mut self, load: LoadSettings, phase: &str) -> Result<Measured, Failure> {
        self.measure_with(load, phase, &mut NoHook)
    }

    /// Like [`Bench::measure`], with `hook` polled on this thread throughout the load
    /// and woken when it asks (a resilience episode switches its faults there).
    pub fn measure_with(
        &mut self,
        load: LoadSettings,
        phase: &str,
        hook: &mut dyn LoadHook,
    ) -> Result<Measured, Failure> {
        let (run, load_stop) = self.start(load)?;
        let mut at_start = None;
        let mut wake = None;
        while !run.is_finished() {
            if self.should_end() {
                load_stop.store(true, Ordering::SeqCst);
            }
            // Wake exactly when the measured window opens, to read the counters then.
            let until_window = run
                .measure_start()
                .saturating_duration_since(Instant::now());
            let mut nap = match at_start {
                None if !until_window.is_zero() => until_window.min(POLL),
                _ => POLL,
            };
            if let Some(wake) = wake {
                nap = nap.min(Instant::saturating_duration_since(&wake, Instant::now()));
            }
            std::thread::sleep(nap);
            wake = hook.poll(run.measure_start(), &load_stop);
            if at_start.is_none() && Instant::now() >= run.measure_start() {
                at_start = Some(self.counters());
                self.components.iter_mut().for_each(|c| c.window_opened());
            }
            self.observer.live(self.name, phase, &run.live());
        }
        let end = self.counters();
        let load = run
            .wait()
            .map_err(|e| Failure::new(format!("load generator: {e}")))?;
        // After the wait, so that the answers still in flight at the deadline are in.
        let hop = self
            .components
            .iter_mut()
            .find_map(|c| c.window_closed().filter(|_| at_start.is_some()));
        self.component_died()?;
        let start = at_start.unwrap_or_else(|| end.clone());
        let mut measured = self.measured(load, &start, &end);
        measured.hop = hop;
        Ok(measured)
    }

    /// The counters read when a measured window opens and when it closes.
    fn counters(&self) -> Counters {
        Counters {
            server: self.server_cpu(),
            // The harness's own threads (generator workers, samplers, this one) are all
            // pinned to the generator's CPUs: its process time is the generator side's.
            generator: process_cpu_time(),
            components: self.components.iter().map(|c| c.cpu_time()).collect(),
            stat: CpuStat::now(),
        }
    }

    /// A repeat's figures from its load and the counters around its window.
    fn measured(&self, load: LoadResult, start: &Counters, end: &Counters) -> Measured {
        let own = end.server.saturating_sub(start.server);
        // Each component's time over the window, when it could be read at both edges.
        let times: Vec<(&dyn Component, Duration)> = self
            .components
            .iter()
            .zip(start.components.iter().zip(&end.components))
            .filter_map(|(c, pair)| match pair {
                (Some(a), Some(b)) => Some((&**c as &dyn Component, b.saturating_sub(*a))),
                _ => None,
            })
            .collect();
        // On the server's CPUs a component's time is the system under test's, not noise.
        let on_server: Duration = times
            .iter()
            .filter(|(c, _)| self.shares_server_cpus(*c))
            .map(|(_, time)| *time)
            .sum();
        let noise_on = |cpus: &[usize], own| noise_between(&start.stat, &end.stat, cpus, own);
        let noise = noise_on(self.settings.server_cpus.cpus(), own + on_server);
        let mut by_side: Vec<SideNoise> = noise
            .map(|n| SideNoise::of(Side::Server, n))
            .into_iter()
            .collect();
        // A component on the generator's CPUs (the proxy between two services) is ours too.
        let on_generator: Duration = times
            .iter()
            .filter(|(c, _)| self.shares_generator_cpus(*c))
            .map(|(_, time)| *time)
            .sum();
        let generator = end.generator.saturating_sub(start.generator) + on_generator;
        if let Some(n) = noise_on(self.settings.generator_cpus.cpus(), generator) {
            by_side.push(SideNoise::of(Side::Generator, n));
        }
        for (component, time) in &times {
            let cpus = self.own_cpus(*component);
            if let Some(n) = cpus.and_then(|cpus| noise_on(&cpus, *time)) {
                by_side.push(SideNoise::of(Side::Component(component.role()), n));
            }
        }
        Measured {
            noise,
            noise_by_side: by_side,
            server_cpu_s: own.as_secs_f64(),
            components: times
                .iter()
                .map(|(c, time)| ComponentCpuTime {
                    name: c.name().to_string(),
                    cpu_s: time.as_secs_f64(),
                })
                .collect(),
            load,
            hop: None,
        }
    }

    /// The component's CPUs when it has its own (shared with neither the server nor
    /// the generator); its noise is read there.
    fn own_cpus(&self, component: &dyn Component) -> Option<Vec<usize>> {
        let cpus = component.cpus()?;
        let (server, generator) = (
            self.settings.server_cpus.cpus(),
            self.settings.generator_cpus.cpus(),
        );
        let own = cpus
            .cpus()
            .iter()
            .all(|c| !server.contains(c) && !generator.contains(c));
        own.then(|| cpus.cpus().to_vec())
    }

    /// Keeps `load` on until throughput is steady (at least `warmup`, at most
    /// `warmup_max`), or for exactly `warmup` when the scenario does not check. `before`
    /// holds the seconds of load the process had just before, on this level (empty for
    /// a level's first warm-up): steadiness is judged on them and this warm-up's together,
    /// so a warm-up that follows a climb must show the climb over, not just a short
    /// flat stretch of its own.
    pub fn warm_up(
        &mut self,
        mut load: LoadSettings,
        phase: &str,
        before: &[f64],
    ) -> Result<Warmup, Failure> {
        let scenario = &self.settings.scenario;
        let (min, check) = (scenario.warmup, scenario.steady_state);
        let max = if check { scenario.warmup_max } else { min };
        if max.is_zero() {
            return Ok(Warmup {
                used: Duration::ZERO,
                steady: check.then_some(true),
                per_second: Vec::new(),
                climbing: false,
            });
        }
        load.duration = Some(max);
        load.warmup = Duration::ZERO;
        let (run, load_stop) = self.start(load)?;
        let mut steady = check.then_some(false);
        while !run.is_finished() {
            std::thread::sleep(POLL);
            if self.should_end() {
                load_stop.store(true, Ordering::SeqCst);
            }
            let per_second: Vec<f64> = run
                .closed_seconds()
                .iter()
                .map(|p| p.successes as f64)
                .collect();
            let elapsed = Duration::from_secs(per_second.len() as u64);
            let series = [before, &per_second].concat();
            self.ramped |= ramped(&series);
            let verdict = steadiness(&series, self.ramped);
            if elapsed >= min && (!check || matches!(verdict, Steadiness::Steady { .. })) {
                steady = check.then_some(true);
                load_stop.store(true, Ordering::SeqCst);
            }
            let note = warming_note(verdict, elapsed, min, max, check, self.ramped);
            self.observer.warming(self.name, phase, &note);
        }
        let result = run
            .wait()
            .map_err(|e| Failure::new(format!("load generator (warm-up): {e}")))?;
        self.component_died()?;
        let per_second = result.whole_second_successes();
        let series = [before, &per_second].concat();
        self.ramped |= ramped(&series);
        let climbing = steady == Some(false)
            && matches!(
                steadiness(&series, self.ramped),
                Steadiness::Varying { trend } if trend.low > 0.0
            );
        Ok(Warmup {
            used: Duration::from_secs_f64(result.duration_s),
            steady,
            per_second,
            climbing,
        })
    }
}

/// What the progress line says while a level warms up, and why it still does.
fn warming_note(
    verdict: Steadiness,
    elapsed: Duration,
    min: Duration,
    max: Duration,
    check: bool,
    ramped: bool,
) -> String {
    use super::steady::{
        SteadyBy, Trend, STEADY_WINDOWS, TREND_CONFIDENCE, TREND_PERIOD_S, TREND_TOLERANCE,
    };
    let at = format!("warm-up {}s/{}s", elapsed.as_secs(), max.as_secs());
    if !check || elapsed < min {
        return format!(
            "{at}: the minimum warm-up ({}s) is not over",
            min.as_secs_f64()
        );
    }
    let percent = |v: f64| format!("{:+.1}%", v * 100.0);
    let trend = |t: Trend| {
        format!(
            "trend {} per {}s over the last {} s, {:.0}% interval {}..{}",
            percent(t.slope),
            TREND_PERIOD_S,
            t.seconds,
            TREND_CONFIDENCE * 100.0,
            percent(t.low),
            percent(t.high)
        )
    };
    match verdict {
        Steadiness::TooShort { have } => {
            format!("{at}: {have} of {STEADY_WINDOWS} seconds for the steadiness check")
        }
        Steadiness::Idle => format!("{at}: nothing served yet"),
        Steadiness::Varying { trend: t } => format!(
            "{at}: not steady yet ({}; it must lie within ±{:.0}%{})",
            trend(t),
            TREND_TOLERANCE * 100.0,
            if ramped {
                ", the process ramped so the trend alone decides"
            } else {
                ""
            }
        ),
        Steadiness::Steady {
            trend: t,
            by: SteadyBy::FlatTrend,
            ..
        } => format!("{at}: steady ({})", trend(t)),
        Steadiness::Steady {
            trend: t,
            by: SteadyBy::Settled,
            ..
        } => format!(
            "{at}: steady (settled: the last {STEADY_WINDOWS} s agree, no ramp seen; {})",
            trend(t)
        ),
    }
}
