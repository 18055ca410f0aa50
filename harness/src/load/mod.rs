//! The load engine: drives HTTP/1.1 keep-alive traffic at a server and measures it.
//!
//! Settings are validated before anything starts ([`LoadSettings`]); [`LoadRun::start`]
//! spawns the generator threads (one `mio` event loop each, see `worker`), which share
//! nothing on the request path; [`LoadRun::wait`] merges their recorders into one
//! [`LoadResult`]. Closed loop sends the next request as soon as a response arrives;
//! open loop (`rate`) follows a fixed schedule and measures latency from each request's
//! intended send time (see `schedule`). The engine never prints: progress is sampled by
//! the caller through [`LoadRun::live`].

mod connection;
pub mod live;
pub mod outcome;
pub mod recorder;
pub mod request;
pub mod response;
pub mod result;
pub mod schedule;
pub mod timeline;
pub mod worker;

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cpus::CpuList;
use live::{LiveCounters, LiveSnapshot};
use recorder::Recorder;
use request::RequestPlan;
use result::{LoadResult, RunFacts, ScheduleSummary};
use schedule::Schedule;
use timeline::TimelineCollector;
use worker::{run_worker, WorkerConfig, WorkerReport};

/// Validated settings for one load run.
#[derive(Debug, Clone)]
pub struct LoadSettings {
    /// Shown in results; the address below is what is connected to.
    pub url: String,
    pub addr: SocketAddr,
    pub plan: RequestPlan,
    pub connections: usize,
    /// Generator threads; never more than connections.
    pub threads: usize,
    /// Measured duration; `None` when only `requests` bounds the run.
    pub duration: Option<Duration>,
    /// Stop after this many measured requests.
    pub requests: Option<u64>,
    /// Traffic sent before measuring starts, not counted.
    pub warmup: Duration,
    /// Open loop: requests per second over all connections.
    pub rate: Option<f64>,
    pub timeout: Duration,
    /// CPUs to pin generator threads to (thread i to the i-th CPU, round robin).
    pub cpus: Option<CpuList>,
}

/// A run in progress.
pub struct LoadRun {
    live: Arc<LiveCounters>,
    handles: Vec<JoinHandle<std::io::Result<WorkerReport>>>,
    settings: LoadSettings,
    measure_start: Instant,
    timeline: Arc<TimelineCollector>,
}

/// Where a run is, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveStatus {
    pub warming_up: bool,
    /// Time since measuring started (zero while warming up).
    pub measured: Duration,
    pub totals: LiveSnapshot,
}

impl LoadRun {
    /// Starts the generator threads. `stop` ends the run early when set (e.g. on Ctrl-C);
    /// what was measured until then is still returned by [`LoadRun::wait`].
    pub fn start(settings: LoadSettings, stop: Arc<AtomicBool>) -> std::io::Result<LoadRun> {
        let threads = settings.threads.clamp(1, settings.connections.max(1));
        let live = Arc::new(LiveCounters::new(threads));
        let timeline = Arc::new(TimelineCollector::new(threads));
        let plan = Arc::new(settings.plan.clone());
        let schedule = settings
            .rate
            .map(|rate| Schedule::new(rate, settings.connections));
        // A little lead time so that every thread has connected before the clock starts.
        let start = Instant::now() + Duration::from_millis(20);
        let measure_start = start + settings.warmup;
        let end = settings.duration.map(|d| measure_start + d);
        let mut handles = Vec::with_capacity(threads);
        for thread in 0..threads {
            let config = WorkerConfig {
                thread,
                connections: share(settings.connections, threads, thread),
                total_connections: settings.connections,
                addr: settings.addr,
                plan: Arc::clone(&plan),
                schedule,
                start,
                measure_start,
                end,
                request_budget: settings.requests.map(|n| {
                    let r = share(n as usize, threads, thread);
                    (r.end - r.start) as u64
                }),
                timeout: settings.timeout,
                pin: settings.cpus.as_ref().map(|cpus| pin_for(cpus, thread)),
                stop: Arc::clone(&stop),
                live: Arc::clone(&live),
                timeline: Arc::clone(&timeline),
            };
            let handle = std::thread::Builder::new()
                .name(format!("lanebench-gen-{thread}"))
                .spawn(move || run_worker(config))?;
            handles.push(handle);
        }
        Ok(LoadRun {
            live,
            handles,
            settings,
            measure_start,
            timeline,
        })
    }

    /// Current totals and phase.
    pub fn live(&self) -> LiveStatus {
        let now = Instant::now();
        LiveStatus {
            warming_up: now < self.measure_start,
            measured: now.saturating_duration_since(self.measure_start),
            totals: self.live.snapshot(),
        }
    }

    /// When the measured window starts (after the warm-up).
    pub fn measure_start(&self) -> Instant {
        self.measure_start
    }

    /// True once every generator thread has finished.
    pub fn is_finished(&self) -> bool {
        self.handles.iter().all(|h| h.is_finished())
    }

    /// Waits for the threads and merges what they measured.
    pub fn wait(self) -> std::io::Result<LoadResult> {
        let mut reports = Vec::with_capacity(self.handles.len());
        for handle in self.handles {
            let report = handle
                .join()
                .map_err(|_| std::io::Error::other("a generator thread panicked"))??;
            reports.push(report);
        }
        Ok(merge_reports(
            &self.settings,
            self.measure_start,
            &self.timeline,
            reports,
        ))
    }
}

fn merge_reports(
    settings: &LoadSettings,
    measure_start: Instant,
    timeline: &TimelineCollector,
    reports: Vec<WorkerReport>,
) -> LoadResult {
    let mut merged = Recorder::new(settings.rate.is_some(), None);
    let mut cpu = Duration::ZERO;
    let mut schedule = ScheduleSummary::default();
    let mut reconnects = 0;
    let mut finished = measure_start;
    for report in &reports {
        merged.merge(&report.recorder);
        cpu += report.cpu;
        schedule.planned += report.schedule.planned;
        schedule.sent += report.schedule.sent;
        schedule.late += report.schedule.late;
        reconnects += report.reconnects;
        finished = finished.max(report.finished);
    }
    let facts = RunFacts {
        url: settings.url.clone(),
        connections: settings.connections,
        threads: reports.len(),
        rate: settings.rate,
        warmup: settings.warmup,
        measured: finished - measure_start,
        generator_cpu: cpu,
        cpus: settings.cpus.as_ref().map(|c| c.cpus().to_vec()),
        schedule: settings.rate.map(|_| schedule),
        reconnects,
    };
    let seconds = facts.measured.as_secs_f64().ceil() as u64;
    LoadResult::build(facts, &merged, timeline.finish(seconds))
}

/// The contiguous share of `total` items that part `index` of `parts` takes: shares
/// differ by at most one and cover `0..total` with no gap and no overlap.
pub fn share(total: usize, parts: usize, index: usize) -> std::ops::Range<usize> {
    let start = total * index / parts;
    let end = total * (index + 1) / parts;
    start..end
}

fn pin_for(cpus: &CpuList, thread: usize) -> CpuList {
    let cpu = cpus.cpus()[thread % cpus.len()];
    cpu.to_string()
        .parse()
        .expect("a single CPU index is a valid list")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_without_gap_or_overlap() {
        for total in [0usize, 1, 7, 64, 100] {
            for parts in 1..=9 {
                let mut next = 0;
                for i in 0..parts {
                    let r = share(total, parts, i);
                    assert_eq!(r.start, next);
                    assert!(r.end - r.start <= total / parts + 1);
                    next = r.end;
                }
                assert_eq!(next, total);
            }
        }
    }
}
