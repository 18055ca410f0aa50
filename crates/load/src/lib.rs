//! The load engine: drives HTTP keep-alive traffic at a server and measures it.
//!
//! Settings are validated before anything starts ([`LoadSettings`]); [`LoadRun::start`]
//! spawns the generator threads (one `mio` event loop each, see `worker`), which share
//! nothing on the request path; [`LoadRun::wait`] merges their recorders into one
//! [`LoadResult`]. Closed loop sends the next request as soon as a response arrives;
//! open loop (`rate`) follows a fixed schedule and measures latency from each request's
//! intended send time (see `schedule`). The engine never prints: progress is sampled by
//! the caller through [`LoadRun::live`]. How requests and responses are framed on the
//! wire is behind the protocol seam (`protocol`; HTTP/1.1 is `protocol::http1`): the
//! scheduler, the recorder, the histograms and the result know nothing of it.

pub mod bounds;
mod connection;
pub mod cpus;
pub mod hdr_log;
pub mod histogram;
pub mod live;
pub mod merge;
mod merge_input;
pub mod outcome;
pub mod precise_timer;
pub mod protocol;
/// Blocking HTTP/1.1 exchanges for the harness (readiness, cold start, counts, verify).
pub use protocol::http1::exchange;
pub mod recorder;
pub mod request;
pub mod result;
pub mod schedule;
pub mod segment;
pub mod template;
pub mod timeline;
pub mod wire;
pub mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cpus::CpuList;
use hdr_log::HdrLogWriter;
use live::{LiveCounters, LiveSnapshot};
use protocol::http1::Http1;
use protocol::http2::Http2;
use protocol::tls::{TlsConfig, TlsStream};
use protocol::{ClientProtocol, PlainTcp, Protocol, Transport};
use recorder::Recorder;
use request::RequestPlan;
use result::{LoadResult, RunFacts, ScheduleCounts};
use schedule::Schedule;
use segment::Segment;
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
    /// Open loop: a send lag p99 above this makes the run generator-limited.
    pub max_send_lag: Duration,
    /// After the deadline, wait up to `timeout` for the answers still out instead of
    /// cutting them off (they then enter the histograms at their real latency).
    pub wait_in_flight: bool,
    /// CPUs to pin generator threads to (thread i to the i-th CPU, round robin).
    pub cpus: Option<CpuList>,
}

/// The default bound on the open-loop send lag's p99.
pub const DEFAULT_MAX_SEND_LAG: Duration = Duration::from_millis(1);

/// What a run does besides its settings: which share of a split run it drives, and
/// where its per-second histograms are logged.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Drive only this segment of the run (`settings.connections`, `settings.requests`
    /// and `settings.rate` stay the whole run's figures).
    pub segment: Option<Segment>,
    /// Write each measured second's histogram to this HdrHistogram interval log.
    pub hdr_log: Option<PathBuf>,
    /// Start (before the warm-up) at this wall-clock time, so that the workers of a
    /// split run measure the same window.
    pub start_at: Option<SystemTime>,
    /// What the client speaks: HTTP/1.1 or HTTP/2, over TCP or TLS, how many requests
    /// each connection carries at once (HTTP/1.1 over TCP, one, unless said).
    pub protocol: ClientProtocol,
}

/// Where a result came from, recorded in it for `lanebench merge`.
#[derive(Debug, Clone)]
struct Provenance {
    segment: Option<Segment>,
    measure_start_unix_ms: u64,
    start_at_unix_ms: Option<u64>,
    hdr_log: Option<PathBuf>,
    /// The first failure to write the interval log; fails the run at the end.
    hdr_log_failure: Arc<Mutex<Option<String>>>,
    protocol: protocol::ProtocolFacts,
}

/// A run in progress.
pub struct LoadRun {
    live: Arc<LiveCounters>,
    handles: Vec<JoinHandle<std::io::Result<WorkerReport>>>,
    settings: LoadSettings,
    start: Instant,
    measure_start: Instant,
    timeline: Arc<TimelineCollector>,
    provenance: Provenance,
}

/// Where a run is, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveStatus {
    /// Before the start (`--start-at` not reached yet).
    pub waiting_for_start: bool,
    pub warming_up: bool,
    /// Time since measuring started (zero while warming up).
    pub measured: Duration,
    pub totals: LiveSnapshot,
}

impl LoadRun {
    /// Starts the generator threads. `stop` ends the run early when set (e.g. on Ctrl-C);
    /// what was measured until then is still returned by [`LoadRun::wait`].
    pub fn start(settings: LoadSettings, stop: Arc<AtomicBool>) -> std::io::Result<LoadRun> {
        LoadRun::start_with(settings, RunOptions::default(), stop)
    }

    /// [`LoadRun::start`] for one segment of a split run, with an interval log and/or
    /// another protocol.
    pub fn start_with(
        settings: LoadSettings,
        options: RunOptions,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<LoadRun> {
        let client = options.protocol.clone();
        let invalid = |e: protocol::SettingsError| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
        };
        let http2 = || Http2::new(&settings.plan, &client).map_err(invalid);
        match (client.http2, &client.tls) {
            (false, None) => {
                LoadRun::start_speaking::<_, PlainTcp>(settings, options, Http1, (), stop)
            }
            (false, Some(tls)) => {
                let tls = TlsConfig::new(tls, &[Http1::ALPN]).map_err(invalid)?;
                LoadRun::start_speaking::<_, TlsStream>(settings, options, Http1, tls, stop)
            }
            (true, None) => {
                let http2 = http2()?;
                LoadRun::start_speaking::<_, PlainTcp>(settings, options, http2, (), stop)
            }
            (true, Some(tls)) => {
                let tls = TlsConfig::new(tls, &[Http2::ALPN]).map_err(invalid)?;
                let http2 = http2()?;
                LoadRun::start_speaking::<_, TlsStream>(settings, options, http2, tls, stop)
            }
        }
    }

    /// [`LoadRun::start_with`] over a given framing and transport (each generator
    /// thread gets its own copy); `options.protocol` gives the depth, the reconnects and
    /// what the result states.
    pub fn start_speaking<P: Protocol, T: Transport>(
        settings: LoadSettings,
        options: RunOptions,
        protocol: P,
        transport: T::Config,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<LoadRun> {
        check_bounds(&settings)?;
        let segment = options.segment.unwrap_or(Segment::WHOLE);
        let mine = segment.connections(settings.connections);
        if mine.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "segment {segment} of {} connections has no connection",
                    settings.connections
                ),
            ));
        }
        let threads = settings.threads.clamp(1, mine.len());
        let live = Arc::new(LiveCounters::new(threads));
        let plan = Arc::new(settings.plan.clone());
        // The whole run's schedule: this segment's global connection indices pick its slots.
        let depth = options.protocol.depth();
        let total_lanes = settings.connections.saturating_mul(depth);
        let schedule = settings.rate.map(|rate| Schedule::new(rate, total_lanes));
        let (start, start_at_unix_ms) = start_instant(options.start_at);
        let measure_start = start + settings.warmup;
        // Whole milliseconds, so that the JSON and the interval log carry the same instant.
        let measure_start_unix_ms = match start_at_unix_ms {
            Some(ms) => ms + settings.warmup.as_millis() as u64,
            None => {
                unix_ms(SystemTime::now() + measure_start.saturating_duration_since(Instant::now()))
            }
        };
        let measure_start_wall = UNIX_EPOCH + Duration::from_millis(measure_start_unix_ms);
        let provenance = Provenance {
            segment: options.segment,
            measure_start_unix_ms,
            start_at_unix_ms,
            hdr_log: options.hdr_log.clone(),
            hdr_log_failure: Arc::new(Mutex::new(None)),
            protocol: options.protocol.facts(protocol.http2_facts()),
        };
        let timeline = Arc::new(timeline_for(
            threads,
            options.hdr_log.as_deref(),
            measure_start_wall,
            &provenance.hdr_log_failure,
        )?);
        let end = settings.duration.map(|d| measure_start + d);
        let mut handles = Vec::with_capacity(threads);
        for thread in 0..threads {
            let local = share(mine.len(), threads, thread);
            let config = WorkerConfig {
                thread,
                connections: mine.start + local.start..mine.start + local.end,
                total_lanes,
                depth,
                reconnect_every: options.protocol.reconnect_every,
                addr: settings.addr,
                plan: Arc::clone(&plan),
                schedule,
                start,
                measure_start,
                end,
                request_budget: settings.requests.map(|n| {
                    let r = share_u64(segment.requests(n), threads, thread);
                    r.end - r.start
                }),
                timeout: settings.timeout,
                max_send_lag: settings.max_send_lag,
                wait_in_flight: settings.wait_in_flight,
                pin: settings.cpus.as_ref().map(|cpus| pin_for(cpus, thread)),
                stop: Arc::clone(&stop),
                live: Arc::clone(&live),
                timeline: Arc::clone(&timeline),
            };
            let protocol = protocol.clone();
            let transport = transport.clone();
            let handle = std::thread::Builder::new()
                .name(format!("lanebench-gen-{thread}"))
                .spawn(move || run_worker::<P, T>(config, protocol, transport))?;
            handles.push(handle);
        }
        Ok(LoadRun {
            live,
            handles,
            settings,
            start,
            measure_start,
            timeline,
            provenance,
        })
    }

    /// Current totals and phase.
    pub fn live(&self) -> LiveStatus {
        let now = Instant::now();
        LiveStatus {
            waiting_for_start: now < self.start,
            warming_up: now < self.measure_start,
            measured: now.saturating_duration_since(self.measure_start),
            totals: self.live.snapshot(),
        }
    }

    /// The seconds of the measured window that every thread has finished, so far.
    pub fn closed_seconds(&self) -> Vec<result::TimelinePoint> {
        self.timeline.closed_so_far()
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
        let result = merge_reports(
            &self.settings,
            self.measure_start,
            &self.timeline,
            &self.provenance,
            reports,
        );
        if let Some(problem) = self
            .provenance
            .hdr_log_failure
            .lock()
            .ok()
            .and_then(|f| f.clone())
        {
            return Err(std::io::Error::other(problem));
        }
        Ok(result)
    }
}

/// Refuses settings that did not come through the parsers' bounds (a library caller's),
/// so that no clock or schedule arithmetic below can overflow.
fn check_bounds(settings: &LoadSettings) -> std::io::Result<()> {
    let durations = [
        ("duration", settings.duration.unwrap_or_default()),
        ("warmup", settings.warmup),
        ("timeout", settings.timeout),
        ("max_send_lag", settings.max_send_lag),
    ];
    let mut problems = durations
        .iter()
        .filter(|(_, d)| *d > crate::bounds::MAX_DURATION)
        .map(|(name, d)| format!("{name} {d:?} is longer than 365 days"))
        .collect::<Vec<_>>();
    if let Some(Err(e)) = settings.rate.map(crate::bounds::check_rate) {
        problems.push(e.to_string());
    }
    match problems.first() {
        None => Ok(()),
        Some(problem) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            problem.clone(),
        )),
    }
}

/// When the run starts: at the agreed wall-clock time (whole milliseconds, as every
/// worker of a split run reads it), or after a little lead time so that every thread
/// has connected before the clock starts.
fn start_instant(start_at: Option<SystemTime>) -> (Instant, Option<u64>) {
    let now = Instant::now();
    match start_at {
        Some(at) => {
            let ms = unix_ms(at);
            let at = UNIX_EPOCH + Duration::from_millis(ms);
            let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
            (now + wait, Some(ms))
        }
        None => (now + Duration::from_millis(20), None),
    }
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// The collector of a run; with an interval log, every closed second is also written to it.
fn timeline_for(
    threads: usize,
    hdr_log: Option<&std::path::Path>,
    measure_start: SystemTime,
    failure: &Arc<Mutex<Option<String>>>,
) -> std::io::Result<TimelineCollector> {
    let Some(path) = hdr_log else {
        return Ok(TimelineCollector::new(threads));
    };
    let mut writer = HdrLogWriter::create(path, measure_start)
        .map_err(|e| std::io::Error::new(e.kind(), format!("--hdr-log {}: {e}", path.display())))?;
    let failure = Arc::clone(failure);
    Ok(TimelineCollector::with_sink(
        threads,
        Box::new(move |second, histogram| {
            if let Err(e) = writer.write_second(second, histogram) {
                let mut slot = failure.lock().unwrap_or_else(|p| p.into_inner());
                slot.get_or_insert_with(|| format!("--hdr-log {}: {e}", writer.path().display()));
            }
        }),
    ))
}

fn merge_reports(
    settings: &LoadSettings,
    measure_start: Instant,
    timeline: &TimelineCollector,
    provenance: &Provenance,
    reports: Vec<WorkerReport>,
) -> LoadResult {
    let mut merged = Recorder::new(settings.rate.is_some(), None);
    let mut cpu = Duration::ZERO;
    let mut schedule = ScheduleCounts::default();
    let mut reconnects = 0;
    let mut finished = measure_start;
    for report in &reports {
        merged.merge(&report.recorder);
        cpu += report.cpu;
        schedule.add(&report.schedule);
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
        max_send_lag: settings.max_send_lag,
        reconnects,
        segment: provenance.segment,
        measure_start_unix_ms: provenance.measure_start_unix_ms,
        start_at_unix_ms: provenance.start_at_unix_ms,
        hdr_log: provenance.hdr_log.as_ref().map(|p| p.display().to_string()),
        protocol: provenance.protocol.clone(),
    };
    let seconds = facts.measured.as_secs_f64().ceil() as u64;
    LoadResult::build(facts, &merged, timeline.finish(seconds))
}

/// The contiguous share of `total` items that part `index` of `parts` takes: shares
/// differ by at most one and cover `0..total` with no gap and no overlap.
pub fn share(total: usize, parts: usize, index: usize) -> std::ops::Range<usize> {
    let r = share_u64(total as u64, parts, index);
    r.start as usize..r.end as usize
}

/// [`share`] of a count that may be as large as `u64::MAX` (a `-n` budget): the products
/// are taken in 128 bits so that no budget overflows.
pub fn share_u64(total: u64, parts: usize, index: usize) -> std::ops::Range<u64> {
    let at = |i: usize| (total as u128 * i as u128 / parts.max(1) as u128) as u64;
    at(index)..at(index + 1)
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
