//! A generator thread's socket handling: connecting, writing a request, reading and
//! parsing the response, and what happens when the peer closes or fails. The event loop,
//! the request lifecycle and the measurements are in the parent module.

use std::io::{self, Read, Write};
use std::time::Instant;

use mio::{Interest, Token};

use super::super::connection::State;
use super::super::outcome::ErrorKind;
use super::super::protocol::{Progress, Protocol, Transport};
use super::{Worker, CONNECT_RETRY};

impl<P: Protocol> Worker<P> {
    pub(super) fn connect(&mut self, i: usize, now: Instant) {
        let conn = &mut self.conns[i];
        conn.sent = now;
        match P::Transport::connect(self.cfg.addr) {
            Ok(mut stream) => {
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
                self.protocol.opened(&mut conn.session);
                conn.state = State::Connecting;
                conn.opened += 1;
                conn.read_pending = false;
                conn.peer_closed = false;
            }
            Err(_) => self.fail_connect(i, now),
        }
    }

    pub(super) fn fail_connect(&mut self, i: usize, now: Instant) {
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

    pub(super) fn close(&mut self, i: usize) {
        let conn = &mut self.conns[i];
        if let Some(mut stream) = conn.stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
        if matches!(conn.state, State::Writing { .. } | State::Reading) {
            self.in_flight -= 1;
        }
        conn.state = State::Closed;
    }

    pub(super) fn flush(&mut self, i: usize, now: Instant) {
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
    pub(super) fn on_event(&mut self, i: usize, readable: bool, writable: bool, closed: bool) {
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

    pub(super) fn finish_connect(&mut self, i: usize, now: Instant) {
        let stream = self.conns[i]
            .stream
            .as_ref()
            .expect("connecting implies a socket");
        match stream.connected() {
            Ok(true) => {
                self.conns[i].state = State::Idle;
                self.conns[i].free_at = now;
                self.on_idle(i, now);
            }
            Ok(false) => {}
            Err(_) => self.fail_connect(i, now),
        }
    }

    pub(super) fn read(&mut self, i: usize) {
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
                    match self
                        .protocol
                        .received(&mut conn.session, &self.read_buf[..n])
                    {
                        Ok(Progress::Complete(response)) => return self.complete(i, response),
                        // A short read drained the socket: the next bytes bring a new edge.
                        // Not so for an end-of-file already seen, which must be read now.
                        Ok(Progress::NeedMore) if n < self.read_buf.len() && !conn.peer_closed => {
                            return
                        }
                        Ok(Progress::NeedMore) => {}
                        Err(kind) => return self.fail_request(i, kind, Instant::now()),
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

    pub(super) fn on_eof(&mut self, i: usize) {
        if self.conns[i].state == State::Idle {
            // The server closed an idle keep-alive connection: not an error, just reopen.
            return self.reopen(i);
        }
        match self.protocol.closed(&mut self.conns[i].session) {
            Some(response) => self.complete(i, response),
            None => self.fail_request(i, ErrorKind::Read, Instant::now()),
        }
    }

    pub(super) fn reopen(&mut self, i: usize) {
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
            // Closed loop: the next request is due now, so the reconnect is inside its
            // latency (the rule in docs/metrics.md, "Connect time").
            None => {
                self.conns[i].due.get_or_insert(now);
                self.connect(i, now)
            }
        }
    }
}
