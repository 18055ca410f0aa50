//! A generator thread's socket handling: connecting (and the transport's handshake),
//! writing a link's buffered requests, reading and handing bytes to the protocol, and
//! what happens when the peer closes or fails. The event loop is in the parent module,
//! the lanes' requests in `lanes`.

use std::io;
use std::time::Instant;

use mio::{Interest, Token};

use super::super::connection::LinkState;
use super::super::outcome::ErrorKind;
use super::super::protocol::transport::{read_some, write_some};
use super::super::protocol::{Protocol, Transport};
use super::{Worker, CONNECT_RETRY};

impl<P: Protocol, T: Transport> Worker<P, T> {
    pub(super) fn connect(&mut self, j: usize, now: Instant) {
        let link = &mut self.links[j];
        link.connect_started = now;
        let mut stream = match T::connect(self.cfg.addr, &self.transport) {
            Ok(stream) => stream,
            Err(_) => return self.fail_connect(j, now),
        };
        let interest = Interest::READABLE | Interest::WRITABLE;
        if self
            .poll
            .registry()
            .register(&mut stream, Token(j), interest)
            .is_err()
        {
            return self.fail_connect(j, now);
        }
        link.stream = Some(stream);
        link.state = LinkState::Connecting;
        link.opened += 1;
        link.out.clear();
        link.written = 0;
        link.unflushed = false;
        link.sent_on_socket = 0;
        link.peer_closed = false;
        self.protocol.opened(&mut link.session, &mut link.out);
    }

    pub(super) fn fail_connect(&mut self, j: usize, now: Instant) {
        self.close(j);
        if !self.measuring && now >= self.cfg.measure_start {
            self.begin_measuring();
        }
        if self.measuring {
            self.recorder
                .record_error(ErrorKind::Connect, self.window_offset(now));
        }
        self.arm_link_timer(j, now + CONNECT_RETRY);
    }

    /// Drops link `j`'s socket. Requests still out on it are forgotten: callers record
    /// them first.
    pub(super) fn close(&mut self, j: usize) {
        let link = &mut self.links[j];
        if let Some(mut stream) = link.stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
        link.state = LinkState::Closed;
        link.blocked = 0;
        for i in link.lanes.clone() {
            let lane = &mut self.lanes[i];
            lane.blocked = false;
            if lane.in_flight {
                lane.in_flight = false;
                self.in_flight -= 1;
            }
        }
        link.in_flight = 0;
    }

    /// Closes link `j` and opens it again: in open loop when its next request is due,
    /// not before; in closed loop now, with the reconnect inside the next requests'
    /// latency (the rule in docs/metrics.md, "Connect time").
    pub(super) fn reopen(&mut self, j: usize) {
        self.close(j);
        let now = Instant::now();
        match self.cfg.schedule {
            Some(schedule) => {
                let due = self.links[j]
                    .lanes
                    .clone()
                    .map(|i| schedule.intended_offset(self.lanes[i].index, self.lanes[i].next_k))
                    .min()
                    .and_then(|offset| self.cfg.start.checked_add(offset));
                match due {
                    Some(due) if due > now => self.arm_link_timer(j, due),
                    Some(_) => self.connect(j, now),
                    None => {}
                }
            }
            None => {
                for i in self.links[j].lanes.clone() {
                    self.lanes[i].due.get_or_insert(now);
                }
                self.connect(j, now)
            }
        }
    }

    /// `closed`: the peer shut its side (or the socket failed), so reading must go on to
    /// the end-of-file even after a short read.
    pub(super) fn on_event(&mut self, j: usize, readable: bool, writable: bool, closed: bool) {
        // The clock is read only where it is needed.
        match self.links[j].state {
            LinkState::Closed => {}
            LinkState::Connecting => {
                if readable || writable {
                    self.finish_connect(j, Instant::now());
                }
            }
            LinkState::Handshaking => self.continue_handshake(j, Instant::now()),
            LinkState::Preface | LinkState::Open => {
                if writable {
                    self.write_link(j);
                }
                if readable && self.links[j].stream.is_some() {
                    self.links[j].peer_closed |= closed;
                    self.read(j);
                }
            }
        }
    }

    fn finish_connect(&mut self, j: usize, now: Instant) {
        let stream = self.links[j]
            .stream
            .as_mut()
            .expect("connecting implies a socket");
        match stream.connected() {
            Ok(true) => {
                self.links[j].tcp_done = now;
                self.links[j].state = LinkState::Handshaking;
                self.continue_handshake(j, now);
            }
            Ok(false) => {}
            Err(_) => self.fail_connect(j, now),
        }
    }

    fn continue_handshake(&mut self, j: usize, now: Instant) {
        let stream = self.links[j]
            .stream
            .as_mut()
            .expect("handshaking implies a socket");
        match stream.handshake() {
            Ok(true) => {}
            Ok(false) => return,
            Err(_) => return self.fail_connect(j, now),
        }
        if T::has_handshake() && !P::accepts_alpn(stream.alpn()) {
            return self.fail_connect(j, now);
        }
        if T::has_handshake() && self.measuring {
            let took = Instant::now().saturating_duration_since(self.links[j].tcp_done);
            self.recorder.record_handshake(took);
        }
        self.links[j].state = LinkState::Preface;
        self.mark_dirty(j);
        // Bytes may have come with the handshake's last records.
        self.read(j);
        self.open_if_ready(j);
    }

    /// The protocol's set-up is done: every lane of link `j` may send.
    pub(super) fn open_if_ready(&mut self, j: usize) {
        let link = &self.links[j];
        if link.state != LinkState::Preface || !self.protocol.ready(&link.session) {
            return;
        }
        self.links[j].state = LinkState::Open;
        let now = Instant::now();
        for i in self.links[j].lanes.clone() {
            self.lanes[i].free_at = now;
            self.on_lane_free(i, now);
        }
    }

    /// Writes the links that have bytes waiting.
    pub(super) fn write_dirty(&mut self) {
        while let Some(j) = self.dirty.pop() {
            self.links[j].dirty = false;
            if matches!(self.links[j].state, LinkState::Preface | LinkState::Open) {
                self.write_link(j);
            }
        }
    }

    /// Writes what link `j` has waiting, as far as the socket takes it; the rest goes
    /// on the next writable edge.
    pub(super) fn write_link(&mut self, j: usize) {
        let link = &mut self.links[j];
        let Some(stream) = link.stream.as_mut() else {
            return;
        };
        if link.written < link.out.len() {
            match write_some(stream, &link.out[link.written..]) {
                Ok(n) => link.written += n,
                Err(_) => return self.fail_link(j, ErrorKind::Write, Instant::now()),
            }
            if link.written < link.out.len() {
                return;
            }
            link.out.clear();
            link.written = 0;
            link.unflushed = true;
        }
        if link.unflushed {
            match stream.flush() {
                Ok(()) => link.unflushed = false,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => self.fail_link(j, ErrorKind::Write, Instant::now()),
            }
        }
    }

    pub(super) fn read(&mut self, j: usize) {
        let socket = self.links[j].opened;
        let mut events = std::mem::take(&mut self.events);
        loop {
            let link = &mut self.links[j];
            let Some(stream) = link.stream.as_mut() else {
                break;
            };
            match read_some(stream, &mut self.read_buf) {
                Ok(0) => {
                    self.on_eof(j, &mut events);
                    break;
                }
                Ok(n) => {
                    if self.measuring {
                        self.recorder.bytes_read += n as u64;
                    }
                    let received = self.protocol.received(
                        &mut link.session,
                        &self.read_buf[..n],
                        &mut link.out,
                        &mut events,
                    );
                    if !link.out.is_empty() {
                        self.mark_dirty(j);
                    }
                    let drained = n < self.read_buf.len() && T::short_read_drains();
                    let peer_closed = self.links[j].peer_closed;
                    self.handle_events(j, &mut events);
                    if let Err(kind) = received {
                        self.fail_link(j, kind, Instant::now());
                        break;
                    }
                    if self.links[j].opened != socket || self.links[j].stream.is_none() {
                        break; // the link was retired and reopened: a new socket
                    }
                    self.open_if_ready(j);
                    // A short read drained the socket: the next bytes bring a new edge.
                    // Not so for an end-of-file already seen, which must be read now.
                    if drained && !peer_closed {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.fail_link(j, ErrorKind::Read, Instant::now());
                    break;
                }
            }
        }
        events.clear();
        self.events = events;
    }

    fn on_eof(&mut self, j: usize, events: &mut Vec<crate::protocol::Event>) {
        let now = Instant::now();
        if self.links[j].state != LinkState::Open {
            // Closed before it could carry a request (an HTTP/2 preface refused).
            return self.fail_connect(j, now);
        }
        if self.links[j].in_flight == 0 {
            // The server closed an idle keep-alive connection: not an error, just reopen.
            return self.reopen(j);
        }
        let socket = self.links[j].opened;
        // The lanes failed below wait for the next socket, not this one.
        self.links[j].peer_closed = true;
        self.protocol.closed(&mut self.links[j].session, events);
        self.handle_events(j, events);
        if self.links[j].opened == socket && self.links[j].stream.is_some() {
            self.fail_link(j, ErrorKind::Read, now);
        }
    }
}
