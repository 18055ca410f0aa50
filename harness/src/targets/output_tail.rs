//! A bounded record of the last lines a target process wrote, filled by a reader thread.
//!
//! Only the tail is kept: it is what explains a crash, and keeping everything would let
//! a chatty server grow the harness's memory during a long run.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How many lines each captured stream keeps.
pub const TAIL_LINES: usize = 50;

#[derive(Debug, Default)]
struct TailState {
    lines: VecDeque<String>,
    closed: bool,
}

/// Shared ring of the last [`TAIL_LINES`] lines of one output stream.
#[derive(Debug, Clone, Default)]
pub struct OutputTail {
    state: Arc<(Mutex<TailState>, Condvar)>,
}

impl OutputTail {
    /// Starts a detached thread copying `stream` line by line into a new tail.
    ///
    /// The thread is not joined: a grandchild that escaped the process group could keep
    /// the pipe open forever, and that must not hang the harness.
    pub fn capture<R: Read + Send + 'static>(stream: R, thread_name: &str) -> OutputTail {
        let tail = OutputTail::default();
        let writer = tail.clone();
        let spawned = std::thread::Builder::new()
            .name(thread_name.to_string())
            .spawn(move || writer.copy_from(stream));
        if spawned.is_err() {
            tail.mark_closed();
        }
        tail
    }

    fn copy_from<R: Read>(&self, stream: R) {
        let mut reader = BufReader::new(stream);
        let mut buffer = Vec::new();
        loop {
            buffer.clear();
            match reader.read_until(b'\n', &mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(_) => self.push(String::from_utf8_lossy(&buffer).trim_end().to_string()),
            }
        }
        self.mark_closed();
    }

    fn push(&self, line: String) {
        let mut state = self.state.0.lock().unwrap_or_else(|e| e.into_inner());
        if state.lines.len() == TAIL_LINES {
            state.lines.pop_front();
        }
        state.lines.push_back(line);
    }

    fn mark_closed(&self) {
        let (lock, signal) = &*self.state;
        lock.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        signal.notify_all();
    }

    /// Waits up to `timeout` for the stream to reach end of file, so the tail read
    /// after a process exits includes its final words.
    pub fn wait_closed(&self, timeout: Duration) {
        let (lock, signal) = &*self.state;
        let state = lock.lock().unwrap_or_else(|e| e.into_inner());
        let _ = signal.wait_timeout_while(state, timeout, |state| !state.closed);
    }

    /// A copy of the kept lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        let state = self.state.0.lock().unwrap_or_else(|e| e.into_inner());
        state.lines.iter().cloned().collect()
    }
}
