//! Measuring one target: build, fresh launches for startup and cold start, then the
//! measured process with idle memory, the load ladder (with repeats), memory sampling
//! and the saturation verdict. Any failure ends the target as `failed` with its reason
//! and the server's last stderr lines; the processes are always stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cold_start::first_responses;
use super::environment::runtime_version;
use super::plan::prepare;
use super::results::{
    LevelResult, MemoryFigures, MemoryTriple, RepeatResult, Saturation, TargetResult, TargetStatus,
};
use super::{RunObserver, RunSettings};
use crate::load::result::LoadResult;
use crate::load::{LoadRun, LoadSettings};
use crate::sample::procfs::tree_usage;
use crate::sample::sampler::{MemorySampler, Sample};
use crate::sample::TargetCgroup;
use crate::stats::{median, Spread};
use crate::target::{build_target, free_loopback_port, LaunchOptions, Target, TargetProcess};

/// Grace between SIGTERM and SIGKILL when stopping a target.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Memory sampling interval during load.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(200);
/// Idle memory: this many samples, this far apart, after readiness.
const IDLE_SAMPLES: usize = 5;
const IDLE_SPACING: Duration = Duration::from_millis(200);
/// How often live totals are passed to the observer during load.
const POLL: Duration = Duration::from_millis(100);
/// Server CPU utilisation from which a level counts as server-bound.
pub const SERVER_BOUND: f64 = 0.75;
/// Generator utilisation from which a level counts as generator-bound (when the server is not).
pub const GENERATOR_BOUND: f64 = 0.90;

/// A failure that ends the target, with the server's stderr tail when there is one.
struct Failure {
    reason: String,
    stderr_tail: Vec<String>,
}

impl Failure {
    fn new(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            stderr_tail: Vec::new(),
        }
    }

    fn of(reason: impl Into<String>, process: &TargetProcess) -> Failure {
        Failure {
            reason: reason.into(),
            stderr_tail: process.stderr_tail(),
        }
    }
}

/// Measures one target; never panics on a misbehaving target.
pub fn measure_target(
    target: &Target,
    settings: &RunSettings,
    observer: &mut dyn RunObserver,
    stop: &Arc<AtomicBool>,
) -> TargetResult {
    if let Some(tool) = target.missing_tool() {
        return TargetResult::bare(
            &target.manifest,
            TargetStatus::Skipped,
            Some(format!("{tool} not found")),
        );
    }
    let mut result = TargetResult::bare(&target.manifest, TargetStatus::Ok, None);
    result.runtime_version = target
        .manifest
        .runtime_version
        .as_deref()
        .and_then(|c| runtime_version(c, &target.dir));
    if let Err(failure) = measure_into(target, settings, observer, stop, &mut result) {
        result.status = TargetStatus::Failed;
        result.reason = Some(failure.reason);
        result.stderr_tail = failure.stderr_tail;
    }
    result
}

fn measure_into(
    target: &Target,
    settings: &RunSettings,
    observer: &mut dyn RunObserver,
    stop: &Arc<AtomicBool>,
    result: &mut TargetResult,
) -> Result<(), Failure> {
    let name = target.name();
    observer.phase(name, "build");
    let log = settings
        .out_dir
        .join("logs")
        .join(format!("{name}-build.log"));
    let built = build_target(target, &log).map_err(|e| Failure::new(e.to_string()))?;
    result.build_s = Some(built.elapsed.as_secs_f64());

    let samples = settings.scenario.startup_samples.max(1) as usize;
    let (mut startup, mut cold, mut first) = (Vec::new(), Vec::new(), Vec::new());
    for sample in 1..=samples {
        check_stop(stop)?;
        observer.phase(name, &format!("startup {sample}/{samples}"));
        let (ready, cold_ms, first_ms) = time_fresh_launch(target, settings)?;
        startup.push(ready);
        cold.push(cold_ms);
        first.push(first_ms);
    }
    result.startup_ms = Spread::of(&startup);
    result.cold_start_ms = Spread::of(&cold);
    result.first_request_ms = Spread::of(&first);

    check_stop(stop)?;
    // The measured process gets its own cgroup where the machine allows one, so the
    // kernel's exact peak memory and CPU time are read beside the sampled figures.
    let cgroup = TargetCgroup::create(name).ok();
    let mut process = launch_in(target, settings, cgroup.as_ref())?;
    process
        .wait_ready(&target.manifest.health, target.manifest.ready_timeout)
        .map_err(|e| Failure::of(e.to_string(), &process))?;
    observer.phase(name, "idle memory");
    let idle = idle_usage(&process);
    let sampler_started = Instant::now();
    let sampler = MemorySampler::start(process.pid(), SAMPLE_INTERVAL);
    let mut windows = Vec::new();
    let outcome = run_ladder(
        target,
        settings,
        observer,
        stop,
        &mut process,
        sampler_started,
        &mut windows,
        result,
        cgroup.as_ref(),
    );
    let samples = sampler.stop();
    let mut memory = memory_figures(&idle, &samples, &windows);
    if let Some(cgroup) = &cgroup {
        memory.method = format!("procfs+{}", cgroup.kind());
        memory.cgroup_peak = cgroup.memory_peak_bytes().map(|b| b as f64 / 1_048_576.0);
    }
    result.memory_mb = Some(memory);
    stop_process(&mut process);
    outcome
}

/// Launches a fresh process and times spawn -> ready -> every scenario request answered.
/// Returns (startup, cold start, first request) in ms.
fn time_fresh_launch(target: &Target, settings: &RunSettings) -> Result<(f64, f64, f64), Failure> {
    let mut process = launch(target, settings)?;
    let ready = process
        .wait_ready(&target.manifest.health, target.manifest.ready_timeout)
        .map_err(|e| Failure::of(e.to_string(), &process))?;
    let (requests, _) =
        prepare(&settings.scenario, process.addr()).map_err(|e| Failure::new(e.to_string()))?;
    let latencies = first_responses(process.addr(), &requests, settings.scenario.timeout)
        .map_err(|e| Failure::of(format!("cold start: {e}"), &process))?;
    let cold = process.spawned_at().elapsed();
    stop_process(&mut process);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok((
        ms(ready),
        ms(cold),
        latencies.first().map_or(0.0, |d| ms(*d)),
    ))
}

fn launch(target: &Target, settings: &RunSettings) -> Result<TargetProcess, Failure> {
    launch_in(target, settings, None)
}

fn launch_in(
    target: &Target,
    settings: &RunSettings,
    cgroup: Option<&TargetCgroup>,
) -> Result<TargetProcess, Failure> {
    let port = free_loopback_port().map_err(|e| Failure::new(e.to_string()))?;
    let options = LaunchOptions {
        port,
        workers: settings.server_cpus.len(),
        cpus: Some(settings.server_cpus.clone()),
        env: Vec::new(),
    };
    TargetProcess::launch_in(target, &options, cgroup).map_err(|e| Failure::new(e.to_string()))
}

fn stop_process(process: &mut TargetProcess) {
    let _ = process.stop(STOP_GRACE);
}

fn check_stop(stop: &AtomicBool) -> Result<(), Failure> {
    if stop.load(Ordering::SeqCst) {
        return Err(Failure::new("interrupted"));
    }
    Ok(())
}

fn idle_usage(process: &TargetProcess) -> Vec<Sample> {
    let started = Instant::now();
    let mut samples = Vec::with_capacity(IDLE_SAMPLES);
    for i in 0..IDLE_SAMPLES {
        if i > 0 {
            std::thread::sleep(IDLE_SPACING);
        }
        let usage = tree_usage(process.pid());
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

#[allow(clippy::too_many_arguments)]
fn run_ladder(
    target: &Target,
    settings: &RunSettings,
    observer: &mut dyn RunObserver,
    stop: &Arc<AtomicBool>,
    process: &mut TargetProcess,
    sampler_started: Instant,
    windows: &mut Vec<(Duration, Duration)>,
    result: &mut TargetResult,
    cgroup: Option<&TargetCgroup>,
) -> Result<(), Failure> {
    let scenario = &settings.scenario;
    let (_, plan) = prepare(scenario, process.addr()).map_err(|e| Failure::new(e.to_string()))?;
    for &connections in &scenario.connections {
        let mut repeats = Vec::new();
        for repeat in 1..=scenario.repeats.max(1) {
            check_stop(stop)?;
            let phase = format!("load {connections}c {}/{}", repeat, scenario.repeats.max(1));
            observer.phase(target.name(), &phase);
            let load = LoadSettings {
                url: format!("http://{}/ ({})", process.addr(), scenario.name),
                addr: process.addr(),
                plan: plan.clone(),
                connections,
                threads: settings.generator_cpus.len().min(connections),
                duration: Some(scenario.duration),
                requests: None,
                warmup: scenario.warmup,
                rate: scenario.rate,
                timeout: scenario.timeout,
                cpus: Some(settings.generator_cpus.clone()),
            };
            let measured_from = sampler_started.elapsed() + scenario.warmup;
            let (load_result, server_cpu_s) =
                drive(load, process, cgroup, stop, observer, target.name(), &phase)?;
            windows.push((measured_from, sampler_started.elapsed()));
            if let Some(status) = process.try_exit_status() {
                return Err(Failure::of(
                    format!(
                        "exited during load ({})",
                        crate::target::describe_status(status)
                    ),
                    process,
                ));
            }
            repeats.push(RepeatResult {
                load: load_result,
                server_cpu_s,
            });
        }
        let level = summarize_level(connections, scenario.rate, repeats, settings);
        result.levels.push(level);
        headline(result);
    }
    Ok(())
}

/// Runs one load, reporting live totals, and measures the server's CPU time over the
/// measured window (sampled when the warm-up ends and when the load ends).
#[allow(clippy::too_many_arguments)]
fn drive(
    load: LoadSettings,
    process: &mut TargetProcess,
    cgroup: Option<&TargetCgroup>,
    stop: &Arc<AtomicBool>,
    observer: &mut dyn RunObserver,
    name: &str,
    phase: &str,
) -> Result<(LoadResult, f64), Failure> {
    // Stopped by the run's own stop flag, and also when the server dies: there is no
    // point in timing connection errors until the planned end.
    let load_stop = Arc::new(AtomicBool::new(false));
    let run = LoadRun::start(load, Arc::clone(&load_stop))
        .map_err(|e| Failure::new(format!("load generator: {e}")))?;
    let mut cpu_at_start = None;
    while !run.is_finished() {
        if stop.load(Ordering::SeqCst) || process.try_exit_status().is_some() {
            load_stop.store(true, Ordering::SeqCst);
        }
        // Wake exactly when the measured window opens, to read the server's CPU time then.
        let until_window = run
            .measure_start()
            .saturating_duration_since(Instant::now());
        let nap = if cpu_at_start.is_none() && !until_window.is_zero() {
            until_window.min(POLL)
        } else {
            POLL
        };
        std::thread::sleep(nap);
        if cpu_at_start.is_none() && Instant::now() >= run.measure_start() {
            cpu_at_start = Some(server_cpu(process, cgroup));
        }
        observer.live(name, phase, &run.live());
    }
    let cpu_at_end = server_cpu(process, cgroup);
    let result = run
        .wait()
        .map_err(|e| Failure::new(format!("load generator: {e}")))?;
    let server_cpu = cpu_at_end.saturating_sub(cpu_at_start.unwrap_or(cpu_at_end));
    Ok((result, server_cpu.as_secs_f64()))
}

/// The server's CPU time so far: exact from its cgroup (which also keeps the time of
/// exited workers), otherwise summed over its live process tree.
fn server_cpu(process: &TargetProcess, cgroup: Option<&TargetCgroup>) -> Duration {
    cgroup
        .and_then(|c| c.cpu_usage())
        .unwrap_or_else(|| tree_usage(process.pid()).cpu)
}

fn summarize_level(
    connections: usize,
    rate: Option<f64>,
    repeats: Vec<RepeatResult>,
    settings: &RunSettings,
) -> LevelResult {
    let pick = |f: &dyn Fn(&RepeatResult) -> f64| -> Spread {
        let values: Vec<f64> = repeats.iter().map(f).collect();
        Spread::of(&values).expect("a level has at least one repeat")
    };
    let server_cpus = settings.server_cpus.len().max(1) as f64;
    let server_util = median(
        &repeats
            .iter()
            .map(|r| r.server_cpu_s / (r.load.duration_s * server_cpus))
            .collect::<Vec<_>>(),
    )
    .unwrap_or(0.0);
    let generator_util = median(
        &repeats
            .iter()
            .map(|r| r.load.generator.utilisation)
            .collect::<Vec<_>>(),
    )
    .unwrap_or(0.0);
    let shared = settings.server_cpus == settings.generator_cpus;
    let saturation = judge_saturation(server_util, generator_util, shared);
    LevelResult {
        connections,
        rate,
        rps: pick(&|r| r.load.rps),
        p50_ms: pick(&|r| r.load.latency_ms.p50),
        p90_ms: pick(&|r| r.load.latency_ms.p90),
        p99_ms: pick(&|r| r.load.latency_ms.p99),
        p999_ms: pick(&|r| r.load.latency_ms.p999),
        error_rate: pick(&|r| r.load.error_rate),
        repeats,
        server_cpu_utilisation: server_util,
        generator_cpu_utilisation: generator_util,
        generator_bound: saturation == Saturation::Generator,
        saturation,
    }
}

/// Which side limited a level, from each side's CPU utilisation (see docs/metrics.md).
pub fn judge_saturation(server: f64, generator: f64, shared: bool) -> Saturation {
    if shared {
        Saturation::Shared
    } else if server >= SERVER_BOUND {
        Saturation::Server
    } else if generator >= GENERATOR_BOUND {
        Saturation::Generator
    } else {
        Saturation::Neither
    }
}

/// The headline QPS: the best median RPS across the ladder.
fn headline(result: &mut TargetResult) {
    if let Some(best) = result
        .levels
        .iter()
        .max_by(|a, b| a.rps.median.total_cmp(&b.rps.median))
    {
        result.qps = Some(best.rps.median);
        result.qps_connections = Some(best.connections);
    }
}

fn memory_figures(
    idle: &[Sample],
    samples: &[Sample],
    windows: &[(Duration, Duration)],
) -> MemoryFigures {
    let mib = |bytes: u64| bytes as f64 / 1_048_576.0;
    let pss_available =
        idle.iter().chain(samples).all(|s| s.pss_bytes.is_some()) && !idle.is_empty();
    let value = |s: &Sample| {
        if pss_available {
            mib(s.pss_bytes.unwrap_or(0))
        } else {
            mib(s.rss_bytes)
        }
    };
    let in_window = |s: &&Sample| {
        windows
            .iter()
            .any(|(from, to)| s.at >= *from && s.at <= *to)
    };
    let triple = |value: &dyn Fn(&Sample) -> f64| {
        let idle_v = median(&idle.iter().map(value).collect::<Vec<_>>()).unwrap_or(0.0);
        let steady: Vec<f64> = samples.iter().filter(in_window).map(value).collect();
        let steady_v = median(&steady).unwrap_or(idle_v);
        let peak = idle.iter().chain(samples).map(value).fold(0.0, f64::max);
        MemoryTriple {
            idle: idle_v,
            steady: steady_v,
            peak,
        }
    };
    let main = triple(&value);
    let rss = triple(&|s: &Sample| mib(s.rss_bytes));
    MemoryFigures {
        idle: main.idle,
        steady: main.steady,
        peak: main.peak,
        metric: if pss_available { "pss" } else { "rss" }.to_string(),
        method: "procfs".to_string(),
        rss: Some(rss),
        processes: samples.last().or(idle.last()).map_or(0, |s| s.processes),
        cgroup_peak: None,
        interval_ms: SAMPLE_INTERVAL.as_millis() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturation_verdicts() {
        assert_eq!(judge_saturation(0.95, 0.99, false), Saturation::Server);
        assert_eq!(judge_saturation(0.40, 0.97, false), Saturation::Generator);
        assert_eq!(judge_saturation(0.40, 0.30, false), Saturation::Neither);
        assert_eq!(judge_saturation(0.99, 0.99, true), Saturation::Shared);
    }

    fn sample(at_ms: u64, rss_mb: u64, pss_mb: Option<u64>) -> Sample {
        Sample {
            at: Duration::from_millis(at_ms),
            rss_bytes: rss_mb << 20,
            pss_bytes: pss_mb.map(|m| m << 20),
            processes: 2,
            cpu: Duration::ZERO,
        }
    }

    #[test]
    fn memory_uses_pss_and_only_measured_windows_for_steady() {
        let idle = vec![sample(0, 12, Some(10)), sample(200, 12, Some(10))];
        let during = vec![
            sample(100, 50, Some(40)),
            sample(1_100, 30, Some(20)),
            sample(1_300, 32, Some(22)),
        ];
        let windows = vec![(Duration::from_millis(1_000), Duration::from_millis(2_000))];
        let m = memory_figures(&idle, &during, &windows);
        assert_eq!(m.metric, "pss");
        assert_eq!(m.idle, 10.0);
        assert_eq!(
            m.steady, 21.0,
            "the warm-up sample at 100 ms is not steady state"
        );
        assert_eq!(m.peak, 40.0);
        assert_eq!(m.rss.unwrap().peak, 50.0);
    }

    #[test]
    fn memory_falls_back_to_rss_without_pss() {
        let idle = vec![sample(0, 12, None)];
        let m = memory_figures(&idle, &[], &[]);
        assert_eq!(m.metric, "rss");
        assert_eq!((m.idle, m.steady, m.peak), (12.0, 12.0, 12.0));
    }
}
