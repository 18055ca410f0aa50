//! A background thread that samples a target's process tree at a fixed interval.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::procfs::tree_usage;

/// One sample of a target's process tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// When the sample was taken, since the sampler started.
    pub at: Duration,
    /// Sum of resident set sizes, in bytes.
    pub rss_bytes: u64,
    /// Sum of proportional set sizes, in bytes, if every process's could be read.
    pub pss_bytes: Option<u64>,
    /// Number of processes in the tree.
    pub processes: usize,
    /// CPU time (user + system) of the live processes so far.
    pub cpu: Duration,
}

/// Samples the tree of one process group leader until stopped. Moments when no
/// process of the tree is alive are not recorded (a zero would only distort medians).
#[derive(Debug)]
pub struct MemorySampler {
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MemorySampler {
    /// Starts sampling the tree of `leader` now and then every `interval` (kept on a
    /// fixed schedule: a slow sample delays only itself, never the ones after it).
    pub fn start(leader: u32, interval: Duration) -> MemorySampler {
        let interval = interval.max(Duration::from_millis(1));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = mpsc::channel::<()>();
        let shared = Arc::clone(&samples);
        let thread = std::thread::Builder::new()
            .name(format!("sampler-{leader}"))
            .spawn(move || {
                let started = Instant::now();
                let mut next = started;
                loop {
                    let usage = tree_usage(leader);
                    if usage.processes > 0 {
                        lock(&shared).push(Sample {
                            at: started.elapsed(),
                            rss_bytes: usage.rss_bytes,
                            pss_bytes: usage.pss_bytes,
                            processes: usage.processes,
                            cpu: usage.cpu,
                        });
                    }
                    let now = Instant::now();
                    while next <= now {
                        next += interval;
                    }
                    match stopped.recv_timeout(next - now) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            });
        // A thread that cannot be spawned leaves an empty sample list, which callers
        // already treat as "no figures"; it is not worth failing a run over.
        MemorySampler {
            samples,
            stop: Some(stop),
            thread: thread.ok(),
        }
    }

    /// The samples taken so far, oldest first.
    pub fn snapshot(&self) -> Vec<Sample> {
        lock(&self.samples).clone()
    }

    /// Stops the sampling thread, waits for it, and returns every sample taken.
    pub fn stop(mut self) -> Vec<Sample> {
        self.halt();
        std::mem::take(&mut *lock(&self.samples))
    }

    fn halt(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MemorySampler {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Locks the sample list; a poisoned lock still holds valid samples.
fn lock(samples: &Mutex<Vec<Sample>>) -> MutexGuard<'_, Vec<Sample>> {
    samples
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
