//! One measured process of a target: launched fresh, its idle memory taken, then for
//! each level of the ladder a warm-up until steady and the level's repeats, with its
//! memory sampled throughout. The process is always stopped, and whatever was measured
//! before a failure is kept.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::drive::{Bench, Warmup};
use super::episodes::{run_episodes, FaultTools};
use super::failure::{check_stop, pause, Failure, RETRY_PAUSE};
use super::outcome::{ComponentRecord, LevelRun, MemoryRecord, SessionOutcome};
use super::process::run_processes;
use super::summary::judge_repeats;
use super::{RunObserver, RunSettings};
use crate::load::LoadSettings;
use crate::results::caveat::{describe_all, Caveat};
use crate::results::{RepeatResult, SetAside, WarmupCurve};
use crate::sample::procfs::tree_usage;
use crate::sample::sampler::{MemorySampler, Sample};
use crate::sample::TargetCgroup;
use crate::scenario::plan::prepare;
use crate::system::{launch_and_use, Components, Launch, Silent};
use crate::targets::{free_loopback_port, Target, TargetProcess};

/// Memory sampling interval during load.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(200);
/// Idle memory: this many samples, this far apart, after readiness.
const IDLE_SAMPLES: usize = 5;
const IDLE_SPACING: Duration = Duration::from_millis(200);
/// The load of a repeated attempt warms its fresh connections this long first.
const RETRY_WARMUP: Duration = Duration::from_secs(1);

/// What one session does.
#[derive(Debug, Clone, Copy)]
pub struct SessionPlan {
    /// The round it belongs to, from 1.
    pub round: usize,
    /// Repeats of each level on this process.
    pub repeats: u32,
    /// A capacity run's session instead of the ladder (scenarios with `[capacity]`).
    pub capacity: Option<super::capacity::CapacityStep>,
}

/// The warm-up a repeat follows: its seconds (0 after another repeat) and whether it
/// ended steady (`None`: not checked).
#[derive(Debug, Clone, PartialEq)]
struct Warmed {
    seconds: f64,
    steady: Option<bool>,
    /// It ended at its cap with throughput still rising.
    climbing: bool,
    /// Successful responses per second of the load this level has had so far.
    series: Vec<f64>,
}

impl Warmed {
    /// What the level's next repeat follows once the kept attempt was measured after this warm
    /// state: no warm-up of its own, the state of the last warm-up (that of a warm-up
    /// measured again, if `kept` needed one), and the kept attempt's seconds added to
    /// the level's load. Regression: every later repeat once took the level's first
    /// warm-up's state, so after a first repeat that was measured again after more
    /// warm-up, which ended steady, each later repeat was still "climbing" and was
    /// measured again too.
    fn next_repeat(mut self, kept_seconds: Vec<f64>) -> Warmed {
        self.seconds = 0.0;
        self.series.extend(kept_seconds);
        self
    }
}

/// What a session runs against.
pub struct SessionContext<'a, 'f> {
    pub target: &'a Target,
    pub settings: &'a RunSettings,
    pub stop: &'a Arc<AtomicBool>,
    /// Added to the target's environment (database mode).
    pub env: &'a [(String, String)],
    /// The components beside the service (the database in database mode), measured
    /// beside it and watched for death.
    pub components: Components<'a>,
    /// A resilience run's means of injecting faults (scenarios with `[[fault]]`).
    pub faults: Option<FaultTools<'f>>,
}

/// Runs one session of `target`.
pub fn run_session(
    context: SessionContext,
    observer: &mut dyn RunObserver,
    plan: SessionPlan,
) -> SessionOutcome {
    let SessionContext {
        target,
        settings,
        stop,
        env,
        components,
        faults,
    } = context;
    let failed = |failure| SessionOutcome {
        failure: Some(failure),
        ..SessionOutcome::default()
    };
    if let Err(failure) = check_stop(stop) {
        return failed(failure);
    }
    // The measured process gets its own cgroup where the machine allows one, so the
    // kernel's exact peak memory and CPU time are read beside the sampled figures.
    let cgroup = TargetCgroup::create(target.name()).ok();
    let port = match free_loopback_port() {
        Ok(port) => port,
        Err(e) => return failed(Failure::new(e.to_string())),
    };
    let mut processes = run_processes(settings);
    processes.cgroup = cgroup.as_ref();
    let launch = Launch { port, env };
    let ran = launch_and_use(
        &mut processes,
        &mut Silent,
        target,
        &launch,
        None,
        |_, process, ready| {
            let running = Running {
                target,
                settings,
                stop,
                process,
                cgroup: cgroup.as_ref(),
                components,
                faults,
            };
            Ok(measure(running, observer, plan, ready))
        },
    );
    match ran {
        Ok(ran) => ran.used,
        Err(error) => failed(error.into()),
    }
}

/// The running system a session measures.
struct Running<'a, 'p, 'f> {
    target: &'a Target,
    settings: &'a RunSettings,
    stop: &'a Arc<AtomicBool>,
    process: &'p mut TargetProcess,
    cgroup: Option<&'a TargetCgroup>,
    components: Components<'a>,
    faults: Option<FaultTools<'f>>,
}

/// Idle memory, then the ladder, with memory sampled throughout; whatever was measured
/// before a failure is kept.
fn measure(
    running: Running,
    observer: &mut dyn RunObserver,
    plan: SessionPlan,
    ready: Duration,
) -> SessionOutcome {
    let Running {
        target,
        settings,
        stop,
        process,
        cgroup,
        components,
        faults,
    } = running;
    let mut outcome = SessionOutcome::default();
    observer.phase(target.name(), "idle memory");
    let record = |pid| MemoryRecord {
        idle: idle_usage(pid),
        interval: SAMPLE_INTERVAL,
        ..MemoryRecord::default()
    };
    let mut memory = record(process.pid());
    // Every component that is a process of ours is sampled like the service.
    let pids: Vec<(usize, u32)> = components
        .iter()
        .enumerate()
        .filter_map(|(index, c)| Some((index, c.pid()?)))
        .collect();
    let records: Vec<MemoryRecord> = pids.iter().map(|(_, pid)| record(*pid)).collect();
    let sampler_started = Instant::now();
    let sampler = MemorySampler::start(process.pid(), SAMPLE_INTERVAL);
    let samplers: Vec<MemorySampler> = pids
        .iter()
        .map(|(_, pid)| MemorySampler::start(*pid, SAMPLE_INTERVAL))
        .collect();
    let mut bench = Bench {
        name: target.name(),
        settings,
        observer,
        stop,
        process,
        cgroup,
        components,
        component_failure: None,
        ramped: false,
    };
    let ladder = Ladder {
        plan,
        ready,
        sampler_started,
    };
    let ran = match (faults, plan.capacity) {
        (Some(tools), _) => run_episodes(&mut bench, &mut outcome, tools, target),
        (None, Some(step)) => {
            let windows = &mut memory.windows;
            super::capacity::run_session(&mut bench, &mut outcome, windows, sampler_started, step)
        }
        (None, None) => ladder.run(&mut bench, &mut outcome, &mut memory.windows),
    };
    if let Err(failure) = ran {
        outcome.failure = Some(bench.component_failure.take().unwrap_or(failure));
    }
    memory.samples = sampler.stop();
    let mut sampled: Vec<Option<MemoryRecord>> = vec![None; bench.components.len()];
    for (((index, _), mut record), sampler) in pids.into_iter().zip(records).zip(samplers) {
        record.samples = sampler.stop();
        record.windows = memory.windows.clone();
        record.cgroup = bench.components[index].cgroup().map(cgroup_peak);
        sampled[index] = Some(record);
    }
    for (figures, record) in bench.component_figures().into_iter().zip(sampled) {
        outcome.components.push(ComponentRecord {
            name: figures.name,
            role: figures.role,
            cpus: figures.cpus,
            record,
        });
    }
    memory.cgroup = cgroup.map(cgroup_peak);
    outcome.memory = Some(memory);
    outcome
}

/// The ladder of one session.
struct Ladder {
    plan: SessionPlan,
    ready: Duration,
    sampler_started: Instant,
}

impl Ladder {
    fn run(
        &self,
        bench: &mut Bench,
        outcome: &mut SessionOutcome,
        windows: &mut Vec<(Duration, Duration)>,
    ) -> Result<(), Failure> {
        let scenario = &bench.settings.scenario;
        let (_, requests) =
            prepare(scenario, bench.process.addr()).map_err(|e| Failure::new(e.to_string()))?;
        for &connections in &scenario.connections {
            check_stop(bench.stop)?;
            let load = bench.level_load(&requests, connections);
            let phase = format!("load {connections}c warm-up (round {})", self.plan.round);
            bench.observer.phase(bench.name, &phase);
            let load_started = bench.process.spawned_at().elapsed();
            let warmup = bench.warm_up(load.clone(), &phase, &[])?;
            let mut level = LevelRun {
                connections,
                rate: scenario.rate,
                repeats: Vec::new(),
                baseline: None,
            };
            // Only the first repeat follows the warm-up; later ones follow a repeat.
            let mut warmed = Warmed {
                seconds: warmup.used.as_secs_f64(),
                steady: warmup.steady,
                climbing: warmup.climbing,
                series: warmup.per_second.clone(),
            };
            for repeat in 1..=self.plan.repeats {
                check_stop(bench.stop)?;
                let phase = format!("load {connections}c {repeat}/{}", self.plan.repeats);
                let (measured, after) =
                    self.measure_repeat(bench, &load, &phase, windows, warmed)?;
                warmed = after.next_repeat(measured.load.whole_second_successes());
                if outcome.curve.is_none() {
                    // A repeat measured again does not continue the warm-up's seconds.
                    let first = (measured.attempt == 1).then_some(&measured.load);
                    outcome.curve = Some(self.curve(&warmup, load_started, first, connections));
                }
                level.repeats.push(measured);
            }
            if scenario.chain.is_some() {
                level.baseline = Some(self.measure_baseline(bench, connections, windows)?);
            }
            outcome.levels.push(level);
        }
        Ok(())
    }

    /// One repeat, measured again while it has caveats (noise on any side, a
    /// closed-loop level that saturated neither, a warm-up that ended at its cap still
    /// moving), up to the run's `retry_noisy` times: after a pause, or, for a warm-up
    /// that was not steady, after another warm-up (the server needs more warm load, not
    /// rest). The first clean attempt is kept; when none is, the last one, with its
    /// caveats. Every attempt set aside is recorded with why. Returns the kept attempt
    /// and the warm state it was measured after.
    fn measure_repeat(
        &self,
        bench: &mut Bench,
        load: &LoadSettings,
        phase: &str,
        windows: &mut Vec<(Duration, Duration)>,
        mut warmed: Warmed,
    ) -> Result<(RepeatResult, Warmed), Failure> {
        let mut set_aside = Vec::new();
        let mut attempt = 1;
        loop {
            let label = match attempt {
                1 => phase.to_string(),
                n => format!("{phase} (attempt {n})"),
            };
            let mut repeat = self.measure_attempt(bench, load, &label, windows, attempt)?;
            repeat.warmup_s = warmed.seconds;
            repeat.steady = warmed.steady;
            repeat.still_climbing = warmed.climbing;
            let components = bench.component_figures();
            let judged = judge_repeats(std::slice::from_ref(&repeat), bench.settings, &components);
            let retries_left = attempt <= bench.settings.retry_noisy as usize;
            let may_help = judged.caveats.iter().any(Caveat::retry_may_help);
            if judged.caveats.is_empty() || !retries_left || !may_help {
                repeat.set_aside = set_aside;
                return Ok((repeat, warmed));
            }
            let unsteady = judged.caveats.iter().any(Caveat::needs_more_warmup);
            let how = if unsteady {
                "after more warm-up"
            } else {
                "after a pause"
            };
            let why = describe_all(&judged.caveats);
            bench.observer.retrying(bench.name, &label, how, &why);
            set_aside.push(SetAside {
                attempt,
                caveats: judged.caveats,
                saturation: judged.saturation,
                success_rps: repeat.load.success_rps,
                p99_ms: repeat.load.latency_ms.p99,
                server_cpu_utilisation: judged.server,
                generator_cpu_utilisation: judged.generator,
            });
            if unsteady {
                // The climb so far, then more of it: the next warm-up must show it over.
                warmed.series.extend(repeat.load.whole_second_successes());
                let again = format!("{phase} warm-up again");
                let more = bench.warm_up(load.clone(), &again, &warmed.series)?;
                warmed.seconds += more.used.as_secs_f64();
                warmed.steady = more.steady;
                warmed.climbing = more.climbing;
                warmed.series.extend(more.per_second);
            } else {
                pause(bench.stop, RETRY_PAUSE)?;
            }
            attempt += 1;
        }
    }

    /// A service chain's client-tax baseline at this level: the plain request, served
    /// locally by the same user service process at the same concurrency, warmed up like
    /// a level and measured once.
    fn measure_baseline(
        &self,
        bench: &mut Bench,
        connections: usize,
        windows: &mut Vec<(Duration, Duration)>,
    ) -> Result<RepeatResult, Failure> {
        let scenario = super::chain::baseline_scenario(&bench.settings.scenario);
        let (_, requests) =
            prepare(&scenario, bench.process.addr()).map_err(|e| Failure::new(e.to_string()))?;
        let load = bench.level_load(&requests, connections);
        let phase = format!(
            "baseline {connections}c warm-up (round {})",
            self.plan.round
        );
        bench.observer.phase(bench.name, &phase);
        let warmup = bench.warm_up(load.clone(), &phase, &[])?;
        let label = format!("baseline {connections}c");
        let mut measured = self.measure_attempt(bench, &load, &label, windows, 1)?;
        measured.warmup_s = warmup.used.as_secs_f64();
        measured.steady = warmup.steady;
        measured.still_climbing = warmup.climbing;
        Ok(measured)
    }

    /// One measured attempt: the load, its window in the memory record, and the
    /// process checked alive afterwards.
    fn measure_attempt(
        &self,
        bench: &mut Bench,
        load: &LoadSettings,
        label: &str,
        windows: &mut Vec<(Duration, Duration)>,
        attempt: usize,
    ) -> Result<RepeatResult, Failure> {
        bench.observer.phase(bench.name, label);
        let mut this_load = load.clone();
        if attempt > 1 {
            // The pause left the connections idle: warm them again before the window.
            this_load.warmup = RETRY_WARMUP;
        }
        let measured_from = self.sampler_started.elapsed();
        let measured = bench.measure(this_load, label)?;
        windows.push((measured_from, self.sampler_started.elapsed()));
        if let Some(status) = bench.process.try_exit_status() {
            let died = format!(
                "exited during load ({})",
                crate::targets::describe_status(status)
            );
            return Err(Failure::of(died, bench.process));
        }
        Ok(RepeatResult {
            warmup_s: 0.0,
            steady: None,
            noise: measured.noise,
            noise_by_side: measured.noise_by_side,
            round: self.plan.round,
            server_cpu_s: measured.server_cpu_s,
            components: measured.components,
            load: measured.load,
            attempt,
            set_aside: Vec::new(),
            still_climbing: false,
            hop: measured.hop,
        })
    }

    /// The first load of the process: its warm-up seconds, then the first repeat's.
    fn curve(
        &self,
        warmup: &Warmup,
        load_started: Duration,
        first: Option<&crate::load::result::LoadResult>,
        connections: usize,
    ) -> WarmupCurve {
        let mut per_second = warmup.per_second.clone();
        let warmup_s = per_second.len() as f64;
        if let Some(first) = first {
            per_second.extend(first.whole_second_successes());
        }
        WarmupCurve {
            ready_ms: self.ready.as_secs_f64() * 1e3,
            load_started_ms: load_started.as_secs_f64() * 1e3,
            per_second,
            connections,
            warmup_s: Some(warmup_s),
            steady: warmup.steady,
        }
    }
}

/// A cgroup's kind and its exact peak memory (MiB), when it keeps one.
fn cgroup_peak(cgroup: &TargetCgroup) -> (String, Option<f64>) {
    let peak = cgroup.memory_peak_bytes().map(|b| b as f64 / 1_048_576.0);
    (cgroup.kind().to_string(), peak)
}

fn idle_usage(pid: u32) -> Vec<Sample> {
    let started = Instant::now();
    let mut samples = Vec::with_capacity(IDLE_SAMPLES);
    for i in 0..IDLE_SAMPLES {
        if i > 0 {
            std::thread::sleep(IDLE_SPACING);
        }
        let usage = tree_usage(pid);
        samples.push(Sample {
            at: started.elapsed(),
            rss_bytes: usage.rss_bytes,
            pss_bytes: usage.pss_bytes,
            processes: usage.processes,
            cpu: usage.cpu,
        });
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::Warmed;

    #[test]
    fn a_repeat_after_one_measured_again_follows_the_last_warm_up() {
        // The level's warm-up hit its cap climbing; the first repeat was measured again
        // after more warm-up, which ended steady: that is the state measure_repeat
        // returns, and the second repeat must follow it, not the first warm-up.
        let after_retry = Warmed {
            seconds: 75.0,
            steady: Some(true),
            climbing: false,
            series: vec![1.0, 2.0, 3.0, 3.0],
        };
        assert_eq!(
            after_retry.next_repeat(vec![3.0, 3.0]),
            Warmed {
                seconds: 0.0,
                steady: Some(true),
                climbing: false,
                series: vec![1.0, 2.0, 3.0, 3.0, 3.0, 3.0],
            }
        );
    }
}
