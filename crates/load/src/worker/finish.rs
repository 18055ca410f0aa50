//! Closing a generator thread's measured window: the requests that never got an answer
//! enter the latency histograms at the time they had waited (censored), so the tail is
//! not biased low when the server stalls; then the schedule's plan for the window is
//! counted and the last timeline second is handed over.

use std::ops::Range;
use std::time::{Duration, Instant};

use super::super::protocol::{Protocol, Transport};
use super::super::recorder::{CensorKind, Recorder};
use super::super::schedule::Schedule;
use super::Worker;
use crate::cpus::thread_cpu_time;

impl<P: Protocol, T: Transport> Worker<P, T> {
    pub(super) fn end_measuring(&mut self) {
        let now = Instant::now();
        if !self.measuring {
            self.begin_measuring();
        }
        self.cpu_in_window = thread_cpu_time().saturating_sub(self.cpu_at_start);
        let end = self.cfg.end.map_or(now, |end| end.min(now));
        // Waiting for the requests still out went on past the deadline: what is still
        // out now was abandoned now.
        let cut = if self.cfg.wait_in_flight { now } else { end };
        self.censor_in_flight(cut);
        if let Some(schedule) = self.cfg.schedule {
            self.schedule.planned = self.censor_unsent(schedule, end);
        }
        self.recorder.finish();
        self.finished = Some(end.max(self.cfg.measure_start));
        self.publish_live();
    }

    /// Requests sent in the window whose answer had not come by `cut`.
    fn censor_in_flight(&mut self, cut: Instant) {
        let at = self.window_offset(cut);
        for i in 0..self.lanes.len() {
            let lane = &self.lanes[i];
            if !(lane.in_flight && lane.intended >= self.cfg.measure_start) {
                continue;
            }
            let (intended, sent) = (lane.intended, lane.sent);
            self.recorder.record_censored(
                CensorKind::InFlightAtEnd,
                cut.saturating_duration_since(intended),
                Some(cut.saturating_duration_since(sent)),
                at,
            );
        }
    }

    /// Open loop: every slot of the window that was due before `end` but never sent
    /// enters the corrected histogram at `end` minus its intended time. Returns the
    /// number of slots the window planned for this thread's connections.
    ///
    /// Slots whose waits share a histogram bucket are recorded in one step, so the work
    /// is bounded by the number of buckets, not by how many slots a rate the server (or
    /// the generator) could not follow left unsent.
    fn censor_unsent(&mut self, schedule: Schedule, end: Instant) -> u64 {
        let window_start = self.cfg.measure_start - self.cfg.start;
        let window_end = end.max(self.cfg.measure_start) - self.cfg.start;
        let at = self.window_offset(end);
        let mut planned = 0u64;
        for i in 0..self.lanes.len() {
            let (index, next_k) = (self.lanes[i].index, self.lanes[i].next_k);
            let first = schedule.due_before(index, window_start);
            let last = schedule.due_before(index, window_end);
            planned = planned.saturating_add(last.saturating_sub(first));
            let slots = next_k.max(first)..last;
            record_unsent_slots(&mut self.recorder, &schedule, index, slots, window_end, at);
        }
        planned
    }
}

/// Records the unsent `slots` of connection `conn`, each as having waited from its
/// intended time to `window_end`. Slots whose waits share a histogram bucket are
/// recorded in one step, so the work is bounded by the number of buckets, not by how
/// many slots a rate the server (or the generator) could not follow left unsent.
fn record_unsent_slots(
    recorder: &mut Recorder,
    schedule: &Schedule,
    conn: usize,
    slots: Range<u64>,
    window_end: Duration,
    at: Duration,
) {
    let mut k = slots.start;
    while k < slots.end {
        let waited = window_end.saturating_sub(schedule.intended_offset(conn, k));
        let floor = recorder.bucket_floor(waited);
        // Slots intended at or before `window_end - floor` wait at least `floor`.
        let limit = window_end.saturating_sub(floor) + Duration::from_nanos(1);
        let next = schedule.due_before(conn, limit).clamp(k + 1, slots.end);
        recorder.record_unsent(waited, next - k, at);
        k = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsent_slots_in_bulk_match_one_by_one() {
        let schedule = Schedule::new(50_000.0, 3);
        let window_end = Duration::from_secs(2);
        let at = Duration::from_millis(1999);
        let slots = 5..schedule.due_before(1, window_end);
        let mut bulk = Recorder::new(true, None);
        record_unsent_slots(&mut bulk, &schedule, 1, slots.clone(), window_end, at);
        let mut single = Recorder::new(true, None);
        for k in slots.clone() {
            let waited = window_end.saturating_sub(schedule.intended_offset(1, k));
            single.record_censored(CensorKind::Unsent, waited, None, at);
        }
        assert_eq!(bulk.censored.unsent, slots.end - slots.start);
        assert_eq!(bulk.censored, single.censored);
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                bulk.latency.value_at_quantile(q),
                single.latency.value_at_quantile(q),
                "quantile {q}"
            );
        }
    }

    #[test]
    fn a_year_of_unsent_slots_at_the_highest_rate_is_recorded_at_once() {
        let schedule = Schedule::new(crate::bounds::MAX_RATE, 1);
        let year = crate::bounds::MAX_DURATION;
        let slots = 0..schedule.due_before(0, year);
        let mut recorder = Recorder::new(true, None);
        record_unsent_slots(&mut recorder, &schedule, 0, slots.clone(), year, year);
        assert_eq!(recorder.censored.unsent, slots.end);
        assert_eq!(recorder.latency.len(), slots.end);
    }
}
