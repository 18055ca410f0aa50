//! One generator thread: a `mio` event loop driving its share of the connections.
//!
//! Why not a general-purpose client: a generator that spends CPU on per-request
//! allocation, channels, locks or task wake-ups becomes the bottleneck it is supposed to
//! measure. Here a request costs a copy into its link's buffer and a share of one `write`
//! and one `read` system call, the request bytes are prepared before the run, responses
//! are parsed in place and never stored, and the measurements go into this thread's own
//! `Recorder`.
//!
//! The unit of scheduling is the *lane* (one request at a time, its own open-loop
//! slots); a *link* (one socket) carries one lane, or several when requests are
//! pipelined or multiplexed as HTTP/2 streams (see `connection`). Requests started in
//! one turn of the loop leave in one write per link.
//!
//! Sockets are registered edge-triggered for both directions once per connection. On
//! plain TCP a read shorter than the buffer means the socket is drained, so the loop
//! does not pay for the extra `read` that would only return `WouldBlock`.
//!
//! Open loop sleeps on a [`PreciseTimer`] rather than on `epoll_wait`'s millisecond
//! timeout, so a send leaves within microseconds of its slot; how late each one left is
//! recorded as the send lag. Socket handling is in `io`, the lanes' requests in `lanes`,
//! the end-of-window accounting of requests that never got an answer in `finish`. The
//! loop is generic over the framing (`Protocol`) and the socket (`Transport`): it opens,
//! writes, reads and times; the protocol says which lane an answer belongs to.

mod finish;
mod io;
mod lanes;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use super::connection::{Lane, Link};
use super::live::{LiveCounters, LiveSnapshot};
use super::precise_timer::PreciseTimer;
use super::protocol::{Event, Protocol, Transport};
use super::recorder::Recorder;
use super::request::RequestPlan;
use super::result::ScheduleCounts;
use super::schedule::Schedule;
use super::timeline::TimelineCollector;
use crate::cpus::{thread_cpu_time, CpuList};

/// How often in-flight requests are checked against the timeout.
const TIMEOUT_SCAN: Duration = Duration::from_millis(10);
/// Pause before reconnecting after a failed connect, so a dead server is not hammered in a
/// tight loop (each attempt still counts as a connect error).
const CONNECT_RETRY: Duration = Duration::from_millis(10);
/// Per-thread read buffer; responses larger than this are read in several calls.
const READ_BUFFER: usize = 64 * 1024;
/// The poll token of the precise timer (links use their index).
const TIMER: Token = Token(usize::MAX);
/// With the precise timer armed, the poll's own millisecond timeout is only a backstop.
const BACKSTOP: Duration = Duration::from_millis(2);

/// Everything one thread needs to run; built by the run from validated settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub thread: usize,
    /// Global indices of this thread's connections; connection `c` carries lanes
    /// `c * depth .. (c + 1) * depth`, whose global indices fix their schedule offsets.
    pub connections: std::ops::Range<usize>,
    /// Lanes over all threads (spaces the `{seq}` numbers of each lane).
    pub total_lanes: usize,
    /// Lanes per connection (pipeline depth, or HTTP/2 streams).
    pub depth: usize,
    /// Reopen a connection after this many requests on it.
    pub reconnect_every: Option<u64>,
    pub addr: SocketAddr,
    pub plan: Arc<RequestPlan>,
    pub schedule: Option<Schedule>,
    pub start: Instant,
    pub measure_start: Instant,
    /// End of the measured window; `None` when only a request count bounds the run.
    pub end: Option<Instant>,
    /// Measured requests this thread may start; `None` for no limit.
    pub request_budget: Option<u64>,
    pub timeout: Duration,
    /// A send lagging more than this counts as late.
    pub max_send_lag: Duration,
    /// After the deadline, wait up to `timeout` for the requests still out.
    pub wait_in_flight: bool,
    pub pin: Option<CpuList>,
    pub stop: Arc<AtomicBool>,
    pub live: Arc<LiveCounters>,
    pub timeline: Arc<TimelineCollector>,
}

/// What a thread hands back when it is done.
#[derive(Debug)]
pub struct WorkerReport {
    pub recorder: Recorder,
    /// This thread's CPU time (user + system) inside the measured window.
    pub cpu: Duration,
    /// When this thread stopped measuring.
    pub finished: Instant,
    pub schedule: ScheduleCounts,
    /// Connections opened after the first, for any reason.
    pub reconnects: u64,
}

/// Runs one generator thread to completion, speaking `protocol` over `T`.
pub fn run_worker<P: Protocol, T: Transport>(
    config: WorkerConfig,
    protocol: P,
    transport: T::Config,
) -> std::io::Result<WorkerReport> {
    if let Some(cpus) = &config.pin {
        cpus.pin_current_thread()?;
    }
    let mut worker = Worker::<P, T>::new(config, protocol, transport)?;
    worker.run()?;
    Ok(worker.into_report())
}

/// What a timer wakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Wake {
    Lane(usize),
    Link(usize),
}

struct Worker<P: Protocol, T: Transport> {
    cfg: WorkerConfig,
    protocol: P,
    transport: T::Config,
    poll: Poll,
    /// Open loop only: sub-millisecond wake-ups for scheduled sends.
    timer: Option<PreciseTimer>,
    links: Vec<Link<P, T>>,
    lanes: Vec<Lane>,
    timers: BinaryHeap<Reverse<(Instant, Wake)>>,
    /// Links with bytes to write before the loop sleeps.
    dirty: Vec<usize>,
    /// What the protocol reported from the last bytes (reused: no allocation).
    events: Vec<Event>,
    recorder: Recorder,
    measuring: bool,
    cpu_at_start: Duration,
    cpu_in_window: Duration,
    issued: u64,
    in_flight: usize,
    schedule: ScheduleCounts,
    read_buf: Box<[u8]>,
    finished: Option<Instant>,
}

impl<P: Protocol, T: Transport> Worker<P, T> {
    fn new(cfg: WorkerConfig, protocol: P, transport: T::Config) -> std::io::Result<Worker<P, T>> {
        let depth = cfg.depth.max(1);
        let mut links = Vec::new();
        let mut lanes = Vec::new();
        for (link, connection) in cfg.connections.clone().enumerate() {
            let first = lanes.len();
            for j in 0..depth {
                lanes.push(Lane::new(connection * depth + j, link, cfg.start));
            }
            links.push(Link::new(first..lanes.len(), cfg.start, protocol.session()));
        }
        let poll = Poll::new()?;
        let timer = match cfg.schedule {
            Some(_) => Some(PreciseTimer::register(poll.registry(), TIMER)?),
            None => None,
        };
        Ok(Worker {
            recorder: Worker::<P, T>::new_recorder(&cfg, None),
            poll,
            timer,
            links,
            lanes,
            timers: BinaryHeap::new(),
            dirty: Vec::new(),
            events: Vec::new(),
            measuring: false,
            cpu_at_start: Duration::ZERO,
            cpu_in_window: Duration::ZERO,
            issued: 0,
            in_flight: 0,
            schedule: ScheduleCounts::default(),
            read_buf: vec![0; READ_BUFFER].into_boxed_slice(),
            finished: None,
            cfg,
            protocol,
            transport,
        })
    }

    fn new_recorder(cfg: &WorkerConfig, timeline: Option<Arc<TimelineCollector>>) -> Recorder {
        let recorder = Recorder::new(cfg.schedule.is_some(), timeline);
        if T::has_handshake() {
            recorder.with_handshakes()
        } else {
            recorder
        }
    }

    fn run(&mut self) -> std::io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let now = Instant::now();
        for j in 0..self.links.len() {
            self.connect(j, now);
        }
        let mut next_scan = now + TIMEOUT_SCAN;
        loop {
            let now = Instant::now();
            if !self.measuring && now >= self.cfg.measure_start {
                self.begin_measuring();
            }
            if self.should_stop(now) {
                break;
            }
            if self.measuring {
                // Hand finished seconds to the timeline even when no response arrives.
                self.recorder.roll_interval(self.window_offset(now));
            }
            self.fire_timers(now);
            if now >= next_scan {
                self.expire_timeouts(now);
                next_scan = now + TIMEOUT_SCAN;
            }
            self.write_dirty();
            self.wait(&mut events, self.next_wake(now, next_scan))?;
            for event in events.iter() {
                if event.token() == TIMER {
                    if let Some(timer) = self.timer.as_mut() {
                        timer.fired();
                    }
                    continue;
                }
                let closed = event.is_read_closed() || event.is_error();
                self.on_event(
                    event.token().0,
                    event.is_readable() || closed,
                    event.is_writable(),
                    closed,
                );
            }
            self.write_dirty();
        }
        self.end_measuring();
        Ok(())
    }

    /// Sleeps until a socket is ready or `wake`: on the precise timer in open loop, on
    /// the poll's millisecond timeout in closed loop (where nothing waits for a slot).
    fn wait(&mut self, events: &mut Events, wake: Instant) -> std::io::Result<()> {
        let timeout = match self.timer.as_mut() {
            Some(timer) => {
                timer.arm(wake)?;
                wake.saturating_duration_since(Instant::now()) + BACKSTOP
            }
            None => wake.saturating_duration_since(Instant::now()),
        };
        match self.poll.poll(events, Some(timeout)) {
            Err(e) if e.kind() != std::io::ErrorKind::Interrupted => Err(e),
            _ => Ok(()),
        }
    }

    fn past_end(&self, now: Instant) -> bool {
        self.cfg.end.is_some_and(|end| now >= end)
    }

    fn budget_spent(&self) -> bool {
        self.cfg
            .request_budget
            .is_some_and(|b| self.measuring && self.issued >= b)
    }

    fn should_stop(&mut self, now: Instant) -> bool {
        if self.cfg.stop.load(Ordering::Relaxed) {
            return true;
        }
        if let Some(end) = self.cfg.end.filter(|&end| now >= end) {
            let draining = self.cfg.wait_in_flight && self.in_flight > 0;
            return !(draining && now < end + self.cfg.timeout);
        }
        self.budget_spent() && self.in_flight == 0
    }

    fn next_wake(&self, now: Instant, next_scan: Instant) -> Instant {
        let mut wake = next_scan;
        if let Some(Reverse((at, _))) = self.timers.peek() {
            wake = wake.min(*at);
        }
        if !self.measuring {
            wake = wake.min(self.cfg.measure_start);
        }
        if let Some(end) = self.cfg.end.filter(|&end| end > now) {
            wake = wake.min(end);
        }
        wake
    }

    fn begin_measuring(&mut self) {
        self.measuring = true;
        self.recorder =
            Worker::<P, T>::new_recorder(&self.cfg, Some(Arc::clone(&self.cfg.timeline)));
        self.cpu_at_start = thread_cpu_time();
        self.issued = 0;
    }

    /// Publishes this thread's totals for progress displays (three relaxed stores).
    #[inline]
    fn publish_live(&self) {
        let totals = LiveSnapshot {
            requests: self.recorder.requests,
            successes: self.recorder.successes,
            errors: self.recorder.errors.total(),
        };
        self.cfg.live.publish(self.cfg.thread, totals);
    }

    fn into_report(self) -> WorkerReport {
        WorkerReport {
            reconnects: self.links.iter().map(|c| c.opened.saturating_sub(1)).sum(),
            recorder: self.recorder,
            cpu: self.cpu_in_window,
            finished: self.finished.unwrap_or(self.cfg.measure_start),
            schedule: self.schedule,
        }
    }

    /// Time since measuring started, for the timeline. A response that completes in the
    /// instant after the deadline (its batch of events was being handled) belongs to the
    /// last second of the window, not to a second after the run.
    #[inline]
    fn window_offset(&self, now: Instant) -> Duration {
        let now = match self.cfg.end {
            Some(end) if now >= end => end - Duration::from_nanos(1),
            _ => now,
        };
        now.saturating_duration_since(self.cfg.measure_start)
    }

    fn fire_timers(&mut self, now: Instant) {
        if self.past_end(now) {
            // Nothing starts after the deadline: no send, no reconnect.
            self.timers.clear();
            return;
        }
        while let Some(&Reverse((at, wake))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            // A fresh clock per timer: earlier sends of this batch took time, and the
            // send lag must include it.
            let now = Instant::now();
            match wake {
                Wake::Lane(i) => {
                    self.lanes[i].timer_armed = false;
                    self.on_lane_free(i, now);
                }
                Wake::Link(j) => {
                    self.links[j].timer_armed = false;
                    if self.links[j].stream.is_none() {
                        self.connect(j, now);
                    }
                }
            }
        }
    }

    fn arm_lane_timer(&mut self, i: usize, at: Instant) {
        if !self.lanes[i].timer_armed {
            self.lanes[i].timer_armed = true;
            self.timers.push(Reverse((at, Wake::Lane(i))));
        }
    }

    fn arm_link_timer(&mut self, j: usize, at: Instant) {
        if !self.links[j].timer_armed {
            self.links[j].timer_armed = true;
            self.timers.push(Reverse((at, Wake::Link(j))));
        }
    }
}
