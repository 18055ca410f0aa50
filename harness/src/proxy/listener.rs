//! The relay port's listener and the connections it let in, as a `Refuse` fault needs
//! them: stop listening (new connects are refused by the kernel), close every client
//! connection still open, and later listen again on the same port.
//!
//! Stopping is `shutdown(SHUT_RD)` on the listening socket: on Linux it wakes a blocked
//! `accept` (with EINVAL), resets the connections waiting in the backlog and leaves the
//! socket bound but not listening, so the port stays taken while the fault lasts (a
//! program that binds without `SO_REUSEADDR` cannot have it). Listening again is a new
//! socket bound to the same port (`listen` on the old one may succeed and still refuse
//! every connect once it had accepted connections); the old one is closed then.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

/// The longest a `Refuse` waits for connections that were being set up when the
/// listener stopped: their upstream connect's own timeout, and a margin.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(6);

/// A relayed connection the proxy can close on its own.
pub(super) trait Closable: Send + Sync {
    /// Closes the client's connection and its upstream connection.
    fn close_by_proxy(&self);
}

#[derive(Default)]
struct GateState {
    refusing: bool,
    /// The accept loop has seen the listener stop and waits.
    parked: bool,
    stopped: bool,
    /// Accepted connections not yet registered (their upstream connect is under way).
    starting: u64,
    next_id: u64,
    open: HashMap<u64, Weak<dyn Closable>>,
}

/// The listener and the registry of open client connections.
pub(super) struct Gate {
    addr: SocketAddr,
    /// The socket listening now (or, during a `Refuse`, the one that was).
    listener: Mutex<Arc<TcpListener>>,
    state: Mutex<GateState>,
    changed: Condvar,
}

/// What the accept loop does after `accept` failed.
pub(super) enum AfterError {
    /// The listener was stopped for a `Refuse` and listens again now.
    Resume,
    /// The proxy is stopping.
    Stop,
    /// An error of the moment: try again.
    Retry,
}

impl Gate {
    pub(super) fn new(listener: TcpListener, addr: SocketAddr) -> Gate {
        Gate {
            addr,
            listener: Mutex::new(Arc::new(listener)),
            state: Mutex::new(GateState::default()),
            changed: Condvar::new(),
        }
    }

    /// The socket to accept on.
    pub(super) fn listener(&self) -> Arc<TcpListener> {
        let listener = self.listener.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(&listener)
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The accept loop took a connection, which will register or give up.
    pub(super) fn starting(&self) {
        self.lock().starting += 1;
    }

    /// A starting connection ended before it registered (its upstream was refused, or
    /// no thread could run it).
    pub(super) fn gave_up(&self) {
        let mut state = self.lock();
        state.starting = state.starting.saturating_sub(1);
        self.changed.notify_all();
    }

    /// Registers an open connection: its id, or `None` when a `Refuse` is in effect and
    /// the caller must close it at once.
    pub(super) fn register(&self, conn: Weak<dyn Closable>) -> Option<u64> {
        let mut state = self.lock();
        state.starting = state.starting.saturating_sub(1);
        self.changed.notify_all();
        if state.refusing {
            return None;
        }
        let id = state.next_id;
        state.next_id += 1;
        state.open.insert(id, conn);
        Some(id)
    }

    pub(super) fn deregister(&self, id: u64) {
        self.lock().open.remove(&id);
    }

    /// Called by the accept loop when `accept` failed: while a `Refuse` is in effect it
    /// waits here until it ends (or the proxy stops).
    pub(super) fn after_accept_error(&self) -> AfterError {
        let mut state = self.lock();
        if state.stopped {
            return AfterError::Stop;
        }
        if !state.refusing {
            return AfterError::Retry;
        }
        state.parked = true;
        self.changed.notify_all();
        while state.refusing && !state.stopped {
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.parked = false;
        if state.stopped {
            AfterError::Stop
        } else {
            AfterError::Resume
        }
    }

    /// Stops listening and closes every open client connection; returns how many it
    /// closed once none is left open and none is being set up.
    pub(super) fn refuse(&self) -> u64 {
        {
            let mut state = self.lock();
            if state.refusing {
                return 0;
            }
            state.refusing = true;
        }
        let listener = self.listener();
        // SAFETY: shutdown takes a descriptor the listener owns and no pointer.
        unsafe { libc::shutdown(listener.as_raw_fd(), libc::SHUT_RD) };
        let state = self.lock();
        // Once the accept loop is parked it took its last connection and counted it.
        let (mut state, _) = self
            .changed
            .wait_timeout_while(state, SETTLE_TIMEOUT, |s| !s.parked && !s.stopped)
            .unwrap_or_else(|e| e.into_inner());
        let open: Vec<_> = state
            .open
            .drain()
            .filter_map(|(_, c)| c.upgrade())
            .collect();
        drop(state);
        for conn in &open {
            conn.close_by_proxy();
        }
        // Connections still being set up find `refusing` when they register and close
        // themselves; they are counted there.
        let state = self.lock();
        let _ = self
            .changed
            .wait_timeout_while(state, SETTLE_TIMEOUT, |s| s.starting > 0);
        open.len() as u64
    }

    /// Listens again after a `Refuse`, and lets the accept loop go on.
    pub(super) fn listen_again(&self) -> std::io::Result<()> {
        let mut state = self.lock();
        if !state.refusing {
            return Ok(());
        }
        // std binds with SO_REUSEADDR, which lets the new socket share the port with
        // the stopped one and with the connections it accepted.
        let fresh = TcpListener::bind(self.addr)?;
        *self.listener.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(fresh);
        state.refusing = false;
        self.changed.notify_all();
        Ok(())
    }

    /// Lets a parked accept loop end.
    pub(super) fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_all();
    }
}
