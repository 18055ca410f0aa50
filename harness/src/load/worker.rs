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

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::connection::{xorshift, Conn, State};
use super::live::LiveCounters;
use super::outcome::ErrorKind;
use super::recorder::Recorder;
use super::request::RequestPlan;
use super::response::{Progress, Response};
use super::result::ScheduleSummary;
use super::schedule::Schedule;
use super::timeline::TimelineCollector;
use crate::cpus::{thread_cpu_time, CpuList};

/// How often in-flight requests are checked against the timeout.
const TIMEOUT_SCAN: Duration = Duration::from_millis(10);
/// Pause before reconnecting after a failed connect, so a dead server is not hammered in a
/// tight loop (each attempt still counts as a connect error).
const CONNECT_RETRY: Duration = Duration::from_millis(10);
/// A send that leaves later than this after its intended time counts as behind schedule
/// (the event loop's timer resolution is one millisecond).
const LATE_SEND: Duration = Duration::from_millis(2);
/// Per-thread read buffer; responses larger than this are read in several calls.
const READ_BUFFER: usize = 64 * 1024;

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
    pub schedule: ScheduleSummary,
    /// Connections opened after the first, for any reason.
    pub reconnects: u64,
}

/// Runs one generator thread to completion.
pub fn run_worker(config: WorkerConfig) -> io::Result<WorkerReport> {
    if let Some(cpus) = &config.pin {
        cpus.pin_current_thread()?;
    }
    let mut worker = Worker::new(config)?;
    worker.run()?;
    Ok(worker.into_report())
}

struct Worker {
    cfg: WorkerConfig,
    poll: Poll,
    conns: Vec<Conn>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    recorder: Recorder,
    measuring: bool,
    cpu_at_start: Duration,
    cpu_in_window: Duration,
    issued: u64,
    in_flight: usize,
    schedule: ScheduleSummary,
    read_buf: Box<[u8]>,
    finished: Option<Instant>,
}

impl Worker {
    fn new(cfg: WorkerConfig) -> io::Result<Worker> {
        let conns = cfg
            .connections
            .clone()
            .map(|index| Conn::new(index, cfg.start))
            .collect();
        Ok(Worker {
            recorder: Recorder::new(cfg.schedule.is_some(), None),
            poll: Poll::new()?,
            conns,
            timers: BinaryHeap::new(),
            measuring: false,
            cpu_at_start: Duration::ZERO,
            cpu_in_window: Duration::ZERO,
            issued: 0,
            in_flight: 0,
            schedule: ScheduleSummary::default(),
            read_buf: vec![0; READ_BUFFER].into_boxed_slice(),
            finished: None,
            cfg,
        })
    }

    fn run(&mut self) -> io::Result<()> {
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
            let wake = self.next_wake(next_scan);
            let wait = wake.saturating_duration_since(Instant::now());
            match self.poll.poll(&mut events, Some(wait)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for event in events.iter() {
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

    fn should_stop(&mut self, now: Instant) -> bool {
        if self.cfg.stop.load(Ordering::Relaxed) {
            return true;
        }
        if self.cfg.end.is_some_and(|end| now >= end) {
            return true;
        }
        let budget_spent = self
            .cfg
            .request_budget
            .is_some_and(|b| self.measuring && self.issued >= b);
        budget_spent && self.in_flight == 0
    }

    fn next_wake(&self, next_scan: Instant) -> Instant {
        let mut wake = next_scan;
        if let Some(Reverse((at, _))) = self.timers.peek() {
            wake = wake.min(*at);
        }
        if !self.measuring {
            wake = wake.min(self.cfg.measure_start);
        }
        if let Some(end) = self.cfg.end {
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

    fn end_measuring(&mut self) {
        let now = Instant::now();
        if !self.measuring {
            self.begin_measuring();
        }
        self.cpu_in_window = thread_cpu_time().saturating_sub(self.cpu_at_start);
        self.recorder.finish();
        let end = self.cfg.end.map_or(now, |end| end.min(now));
        self.finished = Some(end.max(self.cfg.measure_start));
        if let Some(schedule) = self.cfg.schedule {
            let window_start = self.cfg.measure_start - self.cfg.start;
            let window_end = end.max(self.cfg.measure_start) - self.cfg.start;
            self.schedule.planned = self
                .conns
                .iter()
                .map(|c| {
                    schedule.due_before(c.index, window_end)
                        - schedule.due_before(c.index, window_start)
                })
                .sum();
        }
        self.publish_live();
    }

    /// Publishes this thread's totals for progress displays (two relaxed stores).
    #[inline]
    fn publish_live(&self) {
        let errors = self.recorder.errors.total();
        self.cfg
            .live
            .publish(self.cfg.thread, self.recorder.requests, errors);
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
        while let Some(&Reverse((at, i))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            self.conns[i].timer_armed = false;
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

    fn connect(&mut self, i: usize, now: Instant) {
        let conn = &mut self.conns[i];
        conn.sent = now;
        match TcpStream::connect(self.cfg.addr) {
            Ok(mut stream) => {
                let _ = stream.set_nodelay(true);
                let interest = Interest::READABLE | Interest::WRITABLE;
                if let Err(_e) = self
                    .poll
                    .registry()
                    .register(&mut stream, Token(i), interest)
                {
                    self.fail_connect(i, now);
                    return;
                }
                conn.stream = Some(stream);
                conn.state = State::Connecting;
                conn.opened += 1;
                conn.read_pending = false;
                conn.peer_closed = false;
            }
            Err(_) => self.fail_connect(i, now),
        }
    }

    fn fail_connect(&mut self, i: usize, now: Instant) {
        self.close(i);
        if !self.measuring && now >= self.cfg.measure_start {
            self.begin_measuring();
        }
        if self.measuring {
            self.recorder
                .record_error(ErrorKind::Connect, self.window_offset(now));
        }
        self.arm_timer(i, now + CONNECT_RETRY);
    }

    fn close(&mut self, i: usize) {
        let conn = &mut self.conns[i];
        if let Some(mut stream) = conn.stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
        if matches!(conn.state, State::Writing { .. } | State::Reading) {
            self.in_flight -= 1;
        }
        conn.state = State::Closed;
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
        if self.cfg.end.is_some_and(|end| now >= end) {
            return;
        }
        if now < self.cfg.start {
            // Connections open during the lead time; the first request waits for the start.
            return self.arm_timer(i, self.cfg.start);
        }
        match self.cfg.schedule {
            None => self.start_request(i, now, now),
            Some(_) => self.send_if_due(i, now),
        }
    }

    fn send_if_due(&mut self, i: usize, now: Instant) {
        let Some(schedule) = self.cfg.schedule else {
            return self.start_request(i, now, now);
        };
        let conn = &self.conns[i];
        let due = self.cfg.start + schedule.intended_offset(conn.index, conn.next_k);
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
                self.schedule.sent += 1;
                if now - intended > LATE_SEND {
                    self.schedule.late += 1;
                }
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
        conn.parser
            .reset(self.cfg.plan.get(conn.request).body_expected);
        conn.state = State::Writing { written: 0 };
        self.in_flight += 1;
        self.flush(i, now);
    }

    fn flush(&mut self, i: usize, now: Instant) {
        let conn = &mut self.conns[i];
        let State::Writing { mut written } = conn.state else {
            return;
        };
        let request = self.cfg.plan.get(conn.request);
        let bytes: &[u8] = if request.dynamic.is_some() {
            &conn.out
        } else {
            &request.bytes
        };
        let stream = conn.stream.as_mut().expect("writing implies a socket");
        while written < bytes.len() {
            match stream.write(&bytes[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    conn.state = State::Writing { written };
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.fail_request(i, ErrorKind::Write, now),
            }
        }
        conn.state = State::Reading;
        if std::mem::take(&mut conn.read_pending) {
            self.read(i);
        }
    }

    /// `closed`: the peer shut its side (or the socket failed), so reading must go on to
    /// the end-of-file even after a short read.
    fn on_event(&mut self, i: usize, readable: bool, writable: bool, closed: bool) {
        // The clock is read only where it is needed: the common case (a response arriving)
        // reads it once, when the response is complete.
        match self.conns[i].state {
            State::Closed => {}
            State::Connecting => {
                if readable || writable {
                    self.finish_connect(i, Instant::now());
                }
            }
            State::Writing { .. } => {
                self.conns[i].read_pending |= readable;
                self.conns[i].peer_closed |= closed;
                if writable {
                    self.flush(i, Instant::now());
                }
            }
            State::Reading | State::Idle => {
                if readable {
                    self.conns[i].peer_closed |= closed;
                    self.read(i);
                }
            }
        }
    }

    fn finish_connect(&mut self, i: usize, now: Instant) {
        let stream = self.conns[i]
            .stream
            .as_ref()
            .expect("connecting implies a socket");
        match (stream.take_error(), stream.peer_addr()) {
            (Ok(None), Ok(_)) => {
                self.conns[i].state = State::Idle;
                self.on_idle(i, now);
            }
            (Ok(None), Err(e)) if e.kind() == io::ErrorKind::NotConnected => {}
            _ => self.fail_connect(i, now),
        }
    }

    fn read(&mut self, i: usize) {
        loop {
            let conn = &mut self.conns[i];
            let stream = conn.stream.as_mut().expect("reading implies a socket");
            match stream.read(&mut self.read_buf) {
                Ok(0) => return self.on_eof(i),
                Ok(n) => {
                    let idle = conn.state == State::Idle;
                    if self.measuring {
                        self.recorder.bytes_read += n as u64;
                    }
                    if idle {
                        // Bytes nobody asked for: the connection is out of step.
                        return self.fail_request(i, ErrorKind::Parse, Instant::now());
                    }
                    match conn.parser.feed(&self.read_buf[..n]) {
                        Ok(Progress::Complete(response)) => return self.complete(i, response),
                        // A short read drained the socket: the next bytes bring a new edge.
                        // Not so for an end-of-file already seen, which must be read now.
                        Ok(Progress::NeedMore) if n < self.read_buf.len() && !conn.peer_closed => {
                            return
                        }
                        Ok(Progress::NeedMore) => {}
                        Err(_) => return self.fail_request(i, ErrorKind::Parse, Instant::now()),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    if conn.state == State::Idle {
                        return self.reopen(i);
                    }
                    return self.fail_request(i, ErrorKind::Read, Instant::now());
                }
            }
        }
    }

    fn on_eof(&mut self, i: usize) {
        if self.conns[i].state == State::Idle {
            // The server closed an idle keep-alive connection: not an error, just reopen.
            return self.reopen(i);
        }
        match self.conns[i].parser.finish_on_close() {
            Some(response) => self.complete(i, response),
            None => self.fail_request(i, ErrorKind::Read, Instant::now()),
        }
    }

    fn reopen(&mut self, i: usize) {
        self.close(i);
        let now = Instant::now();
        match self.cfg.schedule {
            // Open loop: reconnect when the next request is due, not before.
            Some(schedule) => {
                let conn = &self.conns[i];
                let due = self.cfg.start + schedule.intended_offset(conn.index, conn.next_k);
                if due <= now {
                    self.connect(i, now);
                } else {
                    self.arm_timer(i, due);
                }
            }
            None => self.connect(i, now),
        }
    }

    fn complete(&mut self, i: usize, response: Response) {
        let now = Instant::now();
        let at = self.window_offset(now);
        let conn = &mut self.conns[i];
        conn.state = State::Idle;
        self.in_flight -= 1;
        if self.measuring && conn.intended >= self.cfg.measure_start {
            let expect = self.cfg.plan.get(conn.request).expect;
            self.recorder.record_response(
                response.status,
                now - conn.intended,
                now - conn.sent,
                at,
            );
            if let Some(kind) = expect.judge(response.status) {
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

    fn fail_request(&mut self, i: usize, kind: ErrorKind, now: Instant) {
        let conn = &self.conns[i];
        let in_flight = matches!(conn.state, State::Writing { .. } | State::Reading);
        if in_flight && self.measuring && conn.intended >= self.cfg.measure_start {
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
                    self.fail_request(i, ErrorKind::Timeout, now)
                }
                State::Connecting => self.fail_connect(i, now),
                _ => {}
            }
        }
    }
}
