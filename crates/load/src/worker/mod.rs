//! One generator thread: a `mio` event loop driving its share of the connections.
//!
//! Why not a general-purpose client: a generator that spends CPU on per-request
//! allocation, channels, locks or task wake-ups becomes the bottleneck it is supposed to
//! measure. Here each request costs one `write` and (usually) one `read` system call, the
//! request bytes are prepared before the run, responses are parsed in place and never
//! stored, and the measurements go into this thread's own `Recorder`.
//!
//! Sockets are registered edge-triggered for both directions once per connection. A read
//! shorter than the buffer means the socket is drained, so the loop does not pay for the
//! extra `read` that would only return `WouldBlock`.
//!
//! Open loop sleeps on a [`PreciseTimer`] rather than on `epoll_wait`'s millisecond
//! timeout, so a send leaves within microseconds of its slot; how late each one left is
//! recorded as the send lag. Socket handling is in `io`, the end-of-window accounting of
//! requests that never got an answer in `finish`. The loop is generic over the wire
//! protocol (`protocol`): it opens, writes, reads and times; the protocol says where an
//! answer ends.

mod finish;
mod io;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use super::connection::{xorshift, Conn, State};
use super::live::{LiveCounters, LiveSnapshot};
use super::outcome::ErrorKind;
use super::precise_timer::PreciseTimer;
use super::protocol::{Protocol, Response};
use super::recorder::{CensorKind, Recorder};
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
/// The poll token of the precise timer (connections use their index).
const TIMER: Token = Token(usize::MAX);
/// With the precise timer armed, the poll's own millisecond timeout is only a backstop.
const BACKSTOP: Duration = Duration::from_millis(2);

/// Everything one thread needs to run; built by the run from validated settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub thread: usize,
    /// Global indices of this thread's connections (they fix each one's schedule offset).
    pub connections: std::ops::Range<usize>,
    /// Connections over all threads (spaces the `{seq}` numbers of each connection).
    pub total_connections: usize,
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

/// Runs one generator thread to completion, speaking `protocol`.
pub fn run_worker<P: Protocol>(config: WorkerConfig, protocol: P) -> std::io::Result<WorkerReport> {
    if let Some(cpus) = &config.pin {
        cpus.pin_current_thread()?;
    }
    let mut worker = Worker::new(config, protocol)?;
    worker.run()?;
    Ok(worker.into_report())
}

struct Worker<P: Protocol> {
    cfg: WorkerConfig,
    protocol: P,
    poll: Poll,
    /// Open loop only: sub-millisecond wake-ups for scheduled sends.
    timer: Option<PreciseTimer>,
    conns: Vec<Conn<P>>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
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

impl<P: Protocol> Worker<P> {
    fn new(cfg: WorkerConfig, protocol: P) -> std::io::Result<Worker<P>> {
        let conns = cfg
            .connections
            .clone()
            .map(|index| Conn::new(index, cfg.start, protocol.session()))
            .collect();
        let poll = Poll::new()?;
        let timer = match cfg.schedule {
            Some(_) => Some(PreciseTimer::register(poll.registry(), TIMER)?),
            None => None,
        };
        Ok(Worker {
            recorder: Recorder::new(cfg.schedule.is_some(), None),
            poll,
            timer,
            conns,
            timers: BinaryHeap::new(),
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
        })
    }

    fn run(&mut self) -> std::io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let now = Instant::now();
        for i in 0..self.conns.len() {
            self.connect(i, now);
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

    fn should_stop(&mut self, now: Instant) -> bool {
        if self.cfg.stop.load(Ordering::Relaxed) {
            return true;
        }
        if let Some(end) = self.cfg.end.filter(|&end| now >= end) {
            let draining = self.cfg.wait_in_flight && self.in_flight > 0;
            return !(draining && now < end + self.cfg.timeout);
        }
        let budget_spent = self
            .cfg
            .request_budget
            .is_some_and(|b| self.measuring && self.issued >= b);
        budget_spent && self.in_flight == 0
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
        self.recorder = Recorder::new(
            self.cfg.schedule.is_some(),
            Some(Arc::clone(&self.cfg.timeline)),
        );
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
            reconnects: self.conns.iter().map(|c| c.opened.saturating_sub(1)).sum(),
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
        while let Some(&Reverse((at, i))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            self.conns[i].timer_armed = false;
            // A fresh clock per timer: earlier sends of this batch took time, and the
            // send lag must include it.
            let now = Instant::now();
            match self.conns[i].state {
                State::Closed => self.connect(i, now),
                State::Idle => self.on_idle(i, now),
                _ => {}
            }
        }
    }

    fn arm_timer(&mut self, i: usize, at: Instant) {
        if !self.conns[i].timer_armed {
            self.conns[i].timer_armed = true;
            self.timers.push(Reverse((at, i)));
        }
    }

    /// The connection is open and idle: send now (closed loop) or when due (open loop).
    fn on_idle(&mut self, i: usize, now: Instant) {
        if self
            .cfg
            .request_budget
            .is_some_and(|b| self.measuring && self.issued >= b)
        {
            return;
        }
        if self.past_end(now) {
            return;
        }
        if now < self.cfg.start {
            // Connections open during the lead time; the first request waits for the start.
            return self.arm_timer(i, self.cfg.start);
        }
        match self.cfg.schedule {
            None => {
                // Due when the connection freed up, or when it had to reconnect.
                let due = self.conns[i].due.take().unwrap_or(now);
                self.start_request(i, due, now)
            }
            Some(schedule) => self.send_if_due(i, schedule, now),
        }
    }

    fn send_if_due(&mut self, i: usize, schedule: Schedule, now: Instant) {
        let conn = &self.conns[i];
        let Some(due) = self
            .cfg
            .start
            .checked_add(schedule.intended_offset(conn.index, conn.next_k))
        else {
            // Beyond any clock: never due, so nothing is sent or armed.
            return;
        };
        if due <= now {
            self.conns[i].next_k += 1;
            self.start_request(i, due, now);
        } else {
            self.arm_timer(i, due);
        }
    }

    fn start_request(&mut self, i: usize, intended: Instant, now: Instant) {
        if !self.measuring && intended >= self.cfg.measure_start {
            // The loop may not have noticed the window opening yet; this request is in it.
            self.begin_measuring();
        }
        let counted = self.measuring && intended >= self.cfg.measure_start;
        if counted {
            self.issued += 1;
            if self.cfg.schedule.is_some() {
                self.count_send(i, intended, now);
            }
        }
        let conn = &mut self.conns[i];
        conn.rng = xorshift(conn.rng);
        conn.request = self.cfg.plan.pick(conn.rng);
        if let Some(dynamic) = &self.cfg.plan.get(conn.request).dynamic {
            let seq = conn.started * self.cfg.total_connections as u64 + conn.index as u64;
            dynamic.render(&mut conn.rng, seq, &mut conn.out, &mut conn.scratch);
        }
        conn.started += 1;
        conn.intended = intended;
        conn.sent = now;
        self.protocol
            .expect(&mut conn.session, self.cfg.plan.get(conn.request));
        conn.state = State::Writing { written: 0 };
        self.in_flight += 1;
        self.flush(i, now);
    }

    /// Open loop: the send lag is measured from the later of the slot and the moment the
    /// connection was free, so a server holding the previous answer past this slot (its
    /// delay, already in the corrected latency) is not blamed on the generator.
    fn count_send(&mut self, i: usize, intended: Instant, now: Instant) {
        let free_at = self.conns[i].free_at;
        let lag = now.saturating_duration_since(intended.max(free_at));
        self.schedule.sent += 1;
        if free_at > intended {
            self.schedule.queued += 1;
        }
        if lag > self.cfg.max_send_lag {
            self.schedule.late += 1;
        }
        self.recorder.record_send_lag(lag);
    }

    fn complete(&mut self, i: usize, response: Response) {
        let now = Instant::now();
        let at = self.window_offset(now);
        let conn = &mut self.conns[i];
        conn.state = State::Idle;
        conn.free_at = now;
        self.in_flight -= 1;
        if self.measuring && conn.intended >= self.cfg.measure_start {
            let judged = if response.degraded {
                Some(crate::outcome::ErrorKind::Degraded)
            } else {
                self.cfg
                    .plan
                    .get(conn.request)
                    .expect
                    .judge(response.status)
            };
            self.recorder.record_response(
                response.status,
                judged.is_none(),
                now - conn.intended,
                now - conn.sent,
                at,
            );
            if let Some(kind) = judged {
                self.recorder.record_error(kind, at);
            }
            self.publish_live();
        }
        if response.keep_alive {
            self.on_idle(i, now);
        } else {
            self.reopen(i);
        }
    }

    fn counted_in_flight(&self, i: usize) -> bool {
        let conn = &self.conns[i];
        let in_flight = matches!(conn.state, State::Writing { .. } | State::Reading);
        in_flight && self.measuring && conn.intended >= self.cfg.measure_start
    }

    fn fail_request(&mut self, i: usize, kind: ErrorKind, now: Instant) {
        if self.counted_in_flight(i) {
            self.recorder.record_error(kind, self.window_offset(now));
            self.publish_live();
        }
        self.reopen(i);
    }

    fn expire_timeouts(&mut self, now: Instant) {
        for i in 0..self.conns.len() {
            let conn = &self.conns[i];
            if now.saturating_duration_since(conn.sent) < self.cfg.timeout {
                continue;
            }
            match conn.state {
                State::Writing { .. } | State::Reading => {
                    if self.counted_in_flight(i) {
                        // Given up on: in the tail at the time it waited, not dropped.
                        let (intended, sent) = (conn.intended, conn.sent);
                        self.recorder.record_censored(
                            CensorKind::Timeout,
                            now - intended,
                            Some(now - sent),
                            self.window_offset(now),
                        );
                    }
                    self.fail_request(i, ErrorKind::Timeout, now)
                }
                State::Connecting => self.fail_connect(i, now),
                _ => {}
            }
        }
    }
}
