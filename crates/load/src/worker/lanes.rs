//! A lane's request: when it may start (closed loop: as soon as the lane is free; open
//! loop: at its slot), how it goes out on its link, and what its answer or failure is
//! recorded as.

use std::time::Instant;

use super::super::connection::{xorshift, LinkState};
use super::super::outcome::ErrorKind;
use super::super::protocol::{Event, Protocol, Response, Transport};
use super::super::recorder::CensorKind;
use super::super::schedule::Schedule;
use super::Worker;

impl<P: Protocol, T: Transport> Worker<P, T> {
    /// Lane `i` has no request out: start one now (closed loop) or at its slot (open
    /// loop), once its link can carry it.
    pub(super) fn on_lane_free(&mut self, i: usize, now: Instant) {
        if self.lanes[i].in_flight || self.budget_spent() || self.past_end(now) {
            return;
        }
        if now < self.cfg.start {
            // Links open during the lead time; the first request waits for the start.
            return self.arm_lane_timer(i, self.cfg.start);
        }
        let j = self.lanes[i].link;
        let closed_loop = self.cfg.schedule.is_none();
        if self.links[j].state != LinkState::Open || self.link_retiring(j) {
            // The link's opening frees the lane again. Closed loop: the request is due
            // now, so the reconnect is inside its latency.
            if closed_loop {
                self.lanes[i].due.get_or_insert(now);
            }
            if self.links[j].state == LinkState::Closed && !self.links[j].timer_armed {
                self.connect(j, now);
            }
            return;
        }
        if !self.protocol.can_send(&self.links[j].session) {
            if !self.lanes[i].blocked {
                self.lanes[i].blocked = true;
                self.links[j].blocked += 1;
            }
            if closed_loop {
                self.lanes[i].due.get_or_insert(now);
            }
            return;
        }
        match self.cfg.schedule {
            None => {
                let due = self.lanes[i].due.take().unwrap_or(now);
                self.start_request(i, due, now)
            }
            Some(schedule) => self.send_if_due(i, schedule, now),
        }
    }

    /// No more requests on link `j`'s socket: the server said so (or closed its side),
    /// or it carried its `--reconnect-every` share.
    pub(super) fn link_retiring(&self, j: usize) -> bool {
        let link = &self.links[j];
        // A request started on a socket the peer closed would never reach the server,
        // yet fail as a read error.
        link.peer_closed
            || self.protocol.retiring(&link.session)
            || self
                .cfg
                .reconnect_every
                .is_some_and(|n| link.sent_on_socket >= n)
    }

    fn send_if_due(&mut self, i: usize, schedule: Schedule, now: Instant) {
        let lane = &self.lanes[i];
        let Some(due) = self
            .cfg
            .start
            .checked_add(schedule.intended_offset(lane.index, lane.next_k))
        else {
            // Beyond any clock: never due, so nothing is sent or armed.
            return;
        };
        if due <= now {
            self.lanes[i].next_k += 1;
            self.start_request(i, due, now);
        } else {
            self.arm_lane_timer(i, due);
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
        let lane = &mut self.lanes[i];
        lane.rng = xorshift(lane.rng);
        lane.request = self.cfg.plan.pick(lane.rng);
        let request = self.cfg.plan.get(lane.request);
        if let Some(dynamic) = &request.dynamic {
            let seq = lane.started * self.cfg.total_lanes as u64 + lane.index as u64;
            dynamic.render(&mut lane.rng, seq, &mut lane.out, &mut lane.scratch);
        }
        lane.started += 1;
        lane.intended = intended;
        lane.sent = now;
        lane.in_flight = true;
        let wire: &[u8] = if request.dynamic.is_some() {
            &lane.out
        } else {
            &request.bytes
        };
        let link = &mut self.links[lane.link];
        self.protocol.send(
            &mut link.session,
            i,
            lane.request,
            request,
            wire,
            &mut link.out,
        );
        link.in_flight += 1;
        link.sent_on_socket += 1;
        self.in_flight += 1;
        let j = lane.link;
        self.mark_dirty(j);
    }

    /// Open loop: the send lag is measured from the later of the slot and the moment the
    /// lane was free, so a server holding the previous answer past this slot (its delay,
    /// already in the corrected latency) is not blamed on the generator.
    fn count_send(&mut self, i: usize, intended: Instant, now: Instant) {
        let free_at = self.lanes[i].free_at;
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

    pub(super) fn mark_dirty(&mut self, j: usize) {
        if !self.links[j].dirty {
            self.links[j].dirty = true;
            self.dirty.push(j);
        }
    }

    fn counted(&self, i: usize) -> bool {
        let lane = &self.lanes[i];
        lane.in_flight && self.measuring && lane.intended >= self.cfg.measure_start
    }

    /// Lane `i`'s request is over (answered or failed): the lane and its link are free
    /// of it.
    fn release(&mut self, i: usize, now: Instant) {
        let lane = &mut self.lanes[i];
        if lane.in_flight {
            lane.in_flight = false;
            lane.free_at = now;
            self.links[lane.link].in_flight -= 1;
            self.in_flight -= 1;
        }
    }

    fn answered(&mut self, i: usize, response: Response, now: Instant) {
        if self.counted(i) {
            let at = self.window_offset(now);
            let lane = &self.lanes[i];
            let judged = if response.degraded {
                Some(ErrorKind::Degraded)
            } else {
                self.cfg
                    .plan
                    .get(lane.request)
                    .expect
                    .judge(response.status)
            };
            self.recorder.record_response(
                response.status,
                judged.is_none(),
                now - lane.intended,
                now - lane.sent,
                at,
            );
            if let Some(kind) = judged {
                self.recorder.record_error(kind, at);
            }
            self.publish_live();
        }
        self.release(i, now);
    }

    fn lane_failed(&mut self, i: usize, kind: ErrorKind, now: Instant) {
        if self.counted(i) {
            self.recorder.record_error(kind, self.window_offset(now));
            self.publish_live();
        }
        self.release(i, now);
    }

    /// Records what the protocol reported for link `j`, then lets the freed lanes go on
    /// (or retires the link once nothing is left on it). `events` is emptied.
    pub(super) fn handle_events(&mut self, j: usize, events: &mut Vec<crate::protocol::Event>) {
        if events.is_empty() {
            return;
        }
        let now = Instant::now();
        for event in events.iter() {
            match *event {
                Event::Answered { lane, response } => self.answered(lane, response, now),
                Event::Failed { lane, kind } => self.lane_failed(lane, kind, now),
            }
        }
        if self.link_retiring(j) {
            if self.links[j].in_flight == 0 {
                self.reopen(j);
            } else if self.cfg.schedule.is_none() {
                for event in events.iter() {
                    let (Event::Answered { lane, .. } | Event::Failed { lane, .. }) = *event;
                    self.lanes[lane].due.get_or_insert(now);
                }
            }
            events.clear();
            return;
        }
        for event in events.drain(..) {
            let (Event::Answered { lane, .. } | Event::Failed { lane, .. }) = event;
            self.on_lane_free(lane, now);
        }
        self.unblock(j, now);
    }

    /// Lanes that waited for the protocol's permission try again.
    pub(super) fn unblock(&mut self, j: usize, now: Instant) {
        if self.links[j].blocked == 0 || !self.protocol.can_send(&self.links[j].session) {
            return;
        }
        for i in self.links[j].lanes.clone() {
            if self.lanes[i].blocked {
                self.lanes[i].blocked = false;
                self.links[j].blocked -= 1;
                self.lanes[i].free_at = self.lanes[i].free_at.max(now);
                self.on_lane_free(i, now);
                if self.links[j].blocked > 0 && !self.protocol.can_send(&self.links[j].session) {
                    return;
                }
            }
        }
    }

    /// Every request out on link `j` fails with `kind`; then the link reconnects.
    pub(super) fn fail_link(&mut self, j: usize, kind: ErrorKind, now: Instant) {
        for i in self.links[j].lanes.clone() {
            if self.lanes[i].in_flight {
                self.lane_failed(i, kind, now);
            }
        }
        self.reopen(j);
    }

    pub(super) fn expire_timeouts(&mut self, now: Instant) {
        for j in 0..self.links.len() {
            let link = &self.links[j];
            let connecting = matches!(
                link.state,
                LinkState::Connecting | LinkState::Handshaking | LinkState::Preface
            );
            if connecting && now.saturating_duration_since(link.connect_started) >= self.cfg.timeout
            {
                self.fail_connect(j, now);
                continue;
            }
            if link.in_flight == 0 {
                continue;
            }
            for i in link.lanes.clone() {
                let lane = &self.lanes[i];
                if lane.in_flight && now.saturating_duration_since(lane.sent) >= self.cfg.timeout {
                    self.time_out(i, now);
                }
            }
        }
    }

    /// Lane `i` waited too long: in the tail at the time it waited, not dropped. Only
    /// its stream goes when the protocol can drop one; otherwise the whole connection
    /// goes, and every request out on it with it.
    fn time_out(&mut self, i: usize, now: Instant) {
        let j = self.lanes[i].link;
        let link = &mut self.links[j];
        if self.protocol.cancel(&mut link.session, i, &mut link.out) {
            self.censor(i, now);
            self.lane_failed(i, ErrorKind::Timeout, now);
            self.mark_dirty(j);
            self.on_lane_free(i, now);
            return;
        }
        for k in self.links[j].lanes.clone() {
            if self.lanes[k].in_flight {
                self.censor(k, now);
                self.lane_failed(k, ErrorKind::Timeout, now);
            }
        }
        self.reopen(j);
    }

    fn censor(&mut self, i: usize, now: Instant) {
        if self.counted(i) {
            let lane = &self.lanes[i];
            self.recorder.record_censored(
                CensorKind::Timeout,
                now - lane.intended,
                Some(now - lane.sent),
                self.window_offset(now),
            );
        }
    }
}
