//! Sub-millisecond wake-ups for the event loop: a `timerfd` registered in the worker's
//! `mio` poll.
//!
//! Why: `epoll_wait` takes its timeout in whole milliseconds, so an open-loop send that
//! waits for its slot leaves 0-1 ms late, and that delay would be counted as the server's
//! latency. A timerfd is armed with a nanosecond deadline and becomes readable when it
//! expires, which wakes `epoll_wait` within the kernel's timer precision (a few µs on an
//! idle CPU). The thread's timer slack is lowered to 1 ns as well, so the kernel does
//! not coalesce our wake-ups with others (the default slack is 50 µs). The loop still
//! sleeps between sends: nothing spins, so a low rate costs almost no CPU.
//!
//! The timer is re-armed only when the wanted deadline changes, and its expiry count is
//! read (cleared) only when it fired, so a busy loop that never sleeps pays no system
//! call for it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// A one-shot monotonic timer whose expiry is an event in a `mio` poll.
#[derive(Debug)]
pub struct PreciseTimer {
    fd: OwnedFd,
    /// The deadline the kernel timer is set to, if any.
    armed: Option<Instant>,
}

impl PreciseTimer {
    /// Creates the timer and registers it with `registry` under `token`.
    pub fn register(registry: &Registry, token: Token) -> io::Result<PreciseTimer> {
        // SAFETY: timerfd_create takes no pointers; a negative return is an error.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a file descriptor we just created and own alone.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
        lower_timer_slack();
        Ok(PreciseTimer { fd, armed: None })
    }

    /// Makes the poll wake at `at` (at once if it has passed). Re-arms only when the
    /// deadline differs from the one already set.
    pub fn arm(&mut self, at: Instant) -> io::Result<()> {
        if self.armed == Some(at) {
            return Ok(());
        }
        // Relative to now: Instant is CLOCK_MONOTONIC on Linux, but its raw value is not
        // exposed, and the gap between reading the clock and arming is well under a µs.
        let wait = at.saturating_duration_since(Instant::now());
        // A zero it_value would disarm the timer; one nanosecond fires at once.
        let nanos = wait.as_nanos().max(1);
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (nanos / 1_000_000_000) as libc::time_t,
                tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
            },
        };
        // SAFETY: `spec` is a valid itimerspec; the old value is not asked for (null).
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        self.armed = Some(at);
        Ok(())
    }

    /// Called when the poll reported the timer's token: clears the expiry so the next
    /// one is a new edge.
    pub fn fired(&mut self) {
        let mut expirations = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a local 8-byte buffer; a non-blocking read
        // with nothing pending returns EAGAIN, which is fine to ignore.
        unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                expirations.as_mut_ptr().cast(),
                expirations.len(),
            );
        }
        self.armed = None;
    }
}

/// Asks the kernel not to delay the calling thread's timer wake-ups (sleeps, poll
/// timeouts) to batch them: Linux's default slack is 50 µs, as large as a loopback
/// request.
pub fn lower_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes an integer argument and affects only this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll};
    use std::time::Duration;

    #[test]
    fn wakes_the_poll_at_a_sub_millisecond_deadline_and_rearms() {
        let mut poll = Poll::new().unwrap();
        let mut timer = PreciseTimer::register(poll.registry(), Token(7)).unwrap();
        let mut events = Events::with_capacity(4);
        for _ in 0..3 {
            let at = Instant::now() + Duration::from_micros(300);
            timer.arm(at).unwrap();
            // A long poll timeout: only the timer can end this wait early.
            poll.poll(&mut events, Some(Duration::from_secs(5)))
                .unwrap();
            assert!(Instant::now() >= at, "woke before the deadline");
            assert!(events.iter().any(|e| e.token() == Token(7)));
            timer.fired();
        }
    }

    #[test]
    fn a_passed_deadline_fires_at_once() {
        let mut poll = Poll::new().unwrap();
        let mut timer = PreciseTimer::register(poll.registry(), Token(1)).unwrap();
        let mut events = Events::with_capacity(4);
        timer
            .arm(Instant::now() - Duration::from_millis(5))
            .unwrap();
        let before = Instant::now();
        poll.poll(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        assert!(events.iter().any(|e| e.token() == Token(1)));
        assert!(before.elapsed() < Duration::from_secs(5));
    }
}
